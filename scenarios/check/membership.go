package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/journal"
)

// Membership checks when an observer node lost and (re)joined a peer: the sequence of
// "lost" / "joined" with times (initial discovery at start-up is not counted).
type Membership struct {
	Observer  string
	Peer      string
	Expected  []Transition // To is "lost" or "joined"
	Tolerance time.Duration
}

func (m Membership) Name() string { return fmt.Sprintf("membership %s seen by %s", m.Peer, m.Observer) }

func (m Membership) Check(entries []journal.Entry) Result {
	var got []Transition
	for _, e := range entries {
		if e.Node != m.Observer || e.Str("peer") != m.Peer {
			continue
		}
		switch {
		case e.Kind == journal.NodeLost || e.Kind == journal.NodeLeft:
			got = append(got, Transition{To: "lost", At: e.T})
		case e.Kind == journal.NodeJoined && e.Bool("reconnected"):
			got = append(got, Transition{To: "joined", At: e.T})
		}
	}
	render := func(ts []Transition, tol time.Duration) string {
		if len(ts) == 0 {
			return "no change"
		}
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = t.render(tol)
		}
		return strings.Join(parts, "→")
	}
	expected, actual := render(m.Expected, m.Tolerance), render(got, 0)
	for i := range max(len(got), len(m.Expected)) {
		switch {
		case i >= len(got):
			return fail(m.Name(), expected, actual, m.Expected[i].At)
		case i >= len(m.Expected):
			return fail(m.Name(), expected, actual, got[i].At)
		case !m.Expected[i].matches(got[i], m.Tolerance):
			return fail(m.Name(), expected, actual, min(got[i].At, m.Expected[i].At))
		}
	}
	return pass(m.Name(), expected, actual)
}

// Errors counts the errors of an action's logical calls (as their callers saw them) by
// error name, within bounds.
type Errors struct {
	Action string
	// Error is the error name counted ("" = any error).
	Error    string
	Min, Max int // Max -1 = unbounded
}

func (c Errors) Name() string {
	n := c.Error
	if n == "" {
		n = "errors"
	}
	return fmt.Sprintf("%s of %s", n, c.Action)
}

func (c Errors) Check(entries []journal.Entry) Result {
	count := 0
	var at time.Duration = -1
	for _, call := range rootCalls(entries, c.Action, "") {
		if call.ok || (c.Error != "" && call.err != c.Error) {
			continue
		}
		count++
		if c.Max >= 0 && count == c.Max+1 {
			at = call.end
		}
	}
	expected := fmt.Sprintf("at least %d", c.Min)
	if c.Max >= 0 {
		expected = fmt.Sprintf("between %d and %d", c.Min, c.Max)
	}
	actual := fmt.Sprintf("%d", count)
	if count < c.Min || (c.Max >= 0 && count > c.Max) {
		return fail(c.Name(), expected, actual, at)
	}
	return pass(c.Name(), expected, actual)
}
