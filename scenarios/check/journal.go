package check

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/journal"
)

// JournalCount is the general check: the number of journal entries of one kind, optionally
// on one node, in a window, whose attributes equal given values, lies within [Min, Max]. It
// is how a scenario file states a promise no dedicated checker covers ("no packet.invalid",
// "exactly 3 cache.clean on product-1 after +10s").
type JournalCount struct {
	Label  string
	Kind   string
	Node   string
	Window Window
	// Where holds attribute values an entry must have; values compare by their printed form,
	// so 3 matches 3.0 and "3".
	Where    map[string]any
	Min, Max int // Max -1 = unbounded
}

func (c JournalCount) Name() string {
	if c.Label != "" {
		return "journal " + c.Label
	}
	return "journal " + c.Kind
}

func (c JournalCount) describe() string {
	var parts []string
	if c.Node != "" {
		parts = append(parts, "on "+c.Node)
	}
	if c.Window.From > 0 || c.Window.To > 0 {
		parts = append(parts, c.Window.String())
	}
	keys := make([]string, 0, len(c.Where))
	for k := range c.Where {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, c.Where[k]))
	}
	s := c.Kind + " entries"
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (c JournalCount) matches(e journal.Entry) bool {
	if e.Kind != c.Kind || (c.Node != "" && e.Node != c.Node) || !c.Window.contains(e.T) {
		return false
	}
	for k, want := range c.Where {
		got, ok := e.Attrs[k]
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			return false
		}
	}
	return true
}

func (c JournalCount) Check(entries []journal.Entry) Result {
	expected := fmt.Sprintf("at least %d %s", c.Min, c.describe())
	if c.Max >= 0 {
		expected = fmt.Sprintf("between %d and %d %s", c.Min, c.Max, c.describe())
	}
	count := 0
	at := time.Duration(-1)
	for _, e := range entries {
		if !c.matches(e) {
			continue
		}
		count++
		if c.Max >= 0 && count == c.Max+1 {
			at = e.T
		}
	}
	actual := fmt.Sprintf("%d", count)
	switch {
	case c.Max >= 0 && count > c.Max:
		return fail(c.Name(), expected, actual, at)
	case count < c.Min:
		return fail(c.Name(), expected, actual, -1)
	}
	return pass(c.Name(), expected, actual)
}
