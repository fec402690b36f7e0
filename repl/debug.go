package repl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
)

func debugCommands() map[string]*command {
	return map[string]*command{
		"breakers": {usage: "breakers", help: "every node's endpoint breakers: state, counts, window end, next deadline", run: (*Session).breakers},
		"inflight": {usage: "inflight", help: "requests sent and not yet answered, with their remaining budgets", run: (*Session).inflight},
		"faults":   {usage: "faults", help: "the fault schedule: what is active, what is to come", run: (*Session).faults},
		"journal": {usage: "journal [N | --since 10s | --kind KIND]", help: "the run's journal: the last N entries (default 20), those since an instant, or of a kind",
			run: (*Session).journal, complete: func(*Session, int) []string { return []string{"--since", "--kind"} }},
		"step":     {usage: "step", help: "run to the next journal entry", run: (*Session).step},
		"until":    {usage: "until EXPR", help: "run until: breaker CALLER ENDPOINT STATE | kind KIND [NODE] | fault NAME applied|healed | node ID joined|lost|left|started|stopped | time 13s", run: (*Session).until, complete: completeUntil},
		"advance":  {usage: "advance DURATION", help: "run for that much virtual time", run: (*Session).advance},
		"continue": {usage: "continue", help: "run to the end of the scenario and print the verdict", run: (*Session).cont},
		"use": {usage: "use NODE", help: "act through another node (calls, cache, info)", run: (*Session).use,
			complete: func(s *Session, i int) []string {
				if i == 0 {
					return s.debug.Cluster().NodeIDs()
				}
				return nil
			}},
		"now": {usage: "now", help: "the run's instant, step and state", run: (*Session).now},
	}
}

func completeUntil(s *Session, i int) []string {
	if i == 0 {
		return []string{"breaker", "kind", "fault", "node", "time"}
	}
	return nil
}

func (s *Session) breakers(_ string, a *args) error {
	if err := noArgs(a, "breakers"); err != nil {
		return err
	}
	now := s.debug.Now()
	c := s.debug.Cluster()
	w := table(s.out)
	fmt.Fprintln(w, "Caller\tEndpoint\tState\tFailures\tCount\tRate\tWindow ends\tNext deadline")
	n := 0
	for _, id := range c.NodeIDs() {
		b := c.Node(id)
		for _, d := range b.BreakerDetails() {
			ends, next := "-", "-"
			if !d.WindowEnds.IsZero() {
				ends = Stamp(runInstant(now, b, d.WindowEnds))
			}
			if !d.Deadline.IsZero() {
				next = Stamp(runInstant(now, b, d.Deadline)) + " → half-open"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%.2f\t%s\t%s\n", d.Caller, d.Endpoint, d.State, d.Failures, d.Count, d.Rate, ends, next)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "(no breakers: none enabled, or no calls yet)")
	}
	return w.Flush()
}

// runInstant is an instant of node b's clock as the run's time: a skewed node's clock reads
// apart from the journal's, so the offset is taken from the node's own now.
func runInstant(now time.Duration, b *broker.Broker, t time.Time) time.Duration {
	return now + t.Sub(b.Runtime().Now())
}

func (s *Session) inflight(_ string, a *args) error {
	if err := noArgs(a, "inflight"); err != nil {
		return err
	}
	now := s.debug.Now()
	c := s.debug.Cluster()
	w := table(s.out)
	fmt.Fprintln(w, "Caller\tRequest\tAction\tNode\tSent\tRemaining")
	n := 0
	for _, id := range c.NodeIDs() {
		b := c.Node(id)
		clock := b.Runtime().Now()
		for _, r := range b.InFlight() {
			left := "no timeout"
			if !r.Deadline.IsZero() {
				left = r.Deadline.Sub(clock).String()
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, shortID(r.ID), r.Action, r.NodeID, Stamp(runInstant(now, b, r.SentAt)), left)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "(nothing in flight)")
	}
	return w.Flush()
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (s *Session) faults(_ string, a *args) error {
	if err := noArgs(a, "faults"); err != nil {
		return err
	}
	now := s.debug.Now()
	fs := s.debug.Faults()
	w := table(s.out)
	fmt.Fprintln(w, "Fault\tKind\tTarget\tState\tOccurrences")
	for _, f := range fs {
		state := "done"
		switch {
		case f.Active:
			state = "ACTIVE"
			for k, at := range f.Applied {
				if at <= now && (f.Healed[k] < 0 || f.Healed[k] > now) {
					if f.Healed[k] >= 0 {
						state += " until " + Stamp(f.Healed[k])
					}
				}
			}
		default:
			for _, at := range f.Applied {
				if at > now {
					state = "next at " + Stamp(at)
					break
				}
			}
		}
		var occ []string
		for k, at := range f.Applied {
			if f.Healed[k] < 0 {
				occ = append(occ, Stamp(at)+"…end")
			} else {
				occ = append(occ, Stamp(at)+"…"+Stamp(f.Healed[k]))
			}
		}
		if len(occ) > 4 {
			occ = append(occ[:3], fmt.Sprintf("… (%d in all)", len(f.Applied)))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Kind, orDash(f.Target), state, joinOrDash(occ))
	}
	if len(fs) == 0 {
		fmt.Fprintln(w, "(no faults scheduled)")
	}
	return w.Flush()
}

// entryLine is a journal entry as the debugger prints it.
func entryLine(e journal.Entry) string {
	node := e.Node
	if node == "" {
		node = "-"
	}
	attrs := ""
	if len(e.Attrs) > 0 {
		attrs = " " + compact(e.Attrs)
	}
	return fmt.Sprintf("#%d %s %s %s%s", e.Seq, Stamp(e.T), node, e.Kind, attrs)
}

func (s *Session) journal(_ string, a *args) error {
	entries := s.debug.Cluster().Journal.Entries()
	last, since, kind := 20, time.Duration(-1), ""
	switch {
	case a.done():
	case a.peekFlag():
		fl, err := a.flags(map[string]string{"since": "duration", "kind": "string"})
		if err != nil {
			return err
		}
		if d, ok := fl["since"].(time.Duration); ok {
			since, last = d, 0
		}
		if k, ok := fl["kind"].(string); ok {
			kind, last = k, 0
		}
	default:
		n, err := strconv.Atoi(a.word())
		if err != nil || n <= 0 {
			return fmt.Errorf("journal N needs a positive number of entries")
		}
		last = n
		if err := noArgs(a, "journal N"); err != nil {
			return err
		}
	}
	var out []journal.Entry
	for _, e := range entries {
		if (since < 0 || e.T >= since) && (kind == "" || strings.HasPrefix(e.Kind, kind)) {
			out = append(out, e)
		}
	}
	if last > 0 && len(out) > last {
		out = out[len(out)-last:]
	}
	for _, e := range out {
		fmt.Fprintln(s.out, entryLine(e))
	}
	if len(out) == 0 {
		fmt.Fprintln(s.out, "(no entries)")
	}
	return nil
}

func (s *Session) step(_ string, a *args) error {
	if err := noArgs(a, "step"); err != nil {
		return err
	}
	return s.runUntil(func(journal.Entry) bool { return true }, "the next entry")
}

// runUntil drives the run to the first entry satisfying cond and prints it.
func (s *Session) runUntil(cond func(journal.Entry) bool, what string) error {
	e, ok, err := s.debug.Until(cond)
	if errors.Is(err, scenarios.ErrRunEnded) {
		return fmt.Errorf("the run has ended (at %s); nothing more to run", Stamp(s.debug.Now()))
	}
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(s.out, "the run ended before %s\n", what)
		s.verdict()
		return nil
	}
	fmt.Fprintln(s.out, entryLine(e))
	return nil
}

func (s *Session) until(line string, a *args) error {
	what := strings.TrimSpace(strings.TrimPrefix(line, "until"))
	subject := a.word()
	var cond func(journal.Entry) bool
	switch subject {
	case "breaker":
		caller, err := a.need("CALLER")
		if err != nil {
			return err
		}
		endpoint, err := a.need("ENDPOINT")
		if err != nil {
			return err
		}
		state, err := a.need("STATE")
		if err != nil {
			return err
		}
		if !oneOf(state, "open", "half-open", "half-open-wait", "closed") {
			return fmt.Errorf("breaker state must be open, half-open, half-open-wait or closed")
		}
		cond = func(e journal.Entry) bool {
			return e.Kind == journal.BreakerChange && e.Node == caller && e.Str("endpoint") == endpoint && e.Str("to") == state
		}
	case "kind":
		kind, err := a.need("KIND")
		if err != nil {
			return err
		}
		node := ""
		if !a.done() {
			node = a.word()
		}
		cond = func(e journal.Entry) bool { return e.Kind == kind && (node == "" || e.Node == node) }
	case "fault":
		name, err := a.need("NAME")
		if err != nil {
			return err
		}
		ev, err := a.need("applied or healed")
		if err != nil {
			return err
		}
		kind := map[string]string{"applied": journal.FaultApplied, "healed": journal.FaultHealed}[ev]
		if kind == "" {
			return fmt.Errorf("until fault NAME applied|healed")
		}
		cond = func(e journal.Entry) bool { return e.Kind == kind && e.Str("fault") == name }
	case "node":
		id, err := a.need("ID")
		if err != nil {
			return err
		}
		ev, err := a.need("joined, lost, left, started or stopped")
		if err != nil {
			return err
		}
		kind := map[string]string{"joined": journal.NodeJoined, "lost": journal.NodeLost, "left": journal.NodeLeft,
			"started": journal.NodeStarted, "stopped": journal.NodeStopped}[ev]
		if kind == "" {
			return fmt.Errorf("until node ID joined|lost|left|started|stopped")
		}
		cond = func(e journal.Entry) bool {
			// joined, lost and left are seen by a peer (attr peer); started and stopped by
			// the node itself.
			peer := e.Str("peer")
			return e.Kind == kind && (peer == id || peer == "" && e.Node == id)
		}
	case "time":
		at, err := time.ParseDuration(a.word())
		if err != nil {
			return fmt.Errorf("until time needs an instant such as 13s")
		}
		if err := noArgs(a, "until time T"); err != nil {
			return err
		}
		return s.runTo(at)
	case "":
		return fmt.Errorf("until what? breaker, kind, fault, node or time")
	default:
		return fmt.Errorf("unknown condition %q (breaker, kind, fault, node, time)", subject)
	}
	if err := noArgs(a, "until "+subject); err != nil {
		return err
	}
	return s.runUntil(cond, what)
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

func (s *Session) advance(_ string, a *args) error {
	d, err := time.ParseDuration(a.word())
	if err != nil || d <= 0 {
		return fmt.Errorf("advance needs a positive duration such as 1s")
	}
	if err := noArgs(a, "advance D"); err != nil {
		return err
	}
	return s.runTo(s.debug.Now() + d)
}

func (s *Session) runTo(at time.Duration) error {
	if s.debug.Ended() {
		return fmt.Errorf("the run has ended (at %s); nothing more to run", Stamp(s.debug.Now()))
	}
	before := s.debug.Cluster().Journal.Len()
	if err := s.debug.RunTo(at); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "at %s (%d new journal entries)\n", Stamp(s.debug.Now()), s.debug.Cluster().Journal.Len()-before)
	if s.debug.Ended() {
		s.verdict()
	}
	return nil
}

func (s *Session) cont(_ string, a *args) error {
	if err := noArgs(a, "continue"); err != nil {
		return err
	}
	if s.debug.Ended() {
		return fmt.Errorf("the run has ended (at %s); nothing more to run", Stamp(s.debug.Now()))
	}
	if _, err := s.debug.Continue(); err != nil {
		return err
	}
	s.verdict()
	return nil
}

// verdict prints the finished run's result, as faultline run does.
func (s *Session) verdict() {
	r := s.debug.Result()
	if r == nil {
		return
	}
	v := "PASS"
	if !r.Pass {
		v = "FAIL"
	}
	fmt.Fprintf(s.out, "%s %s seed %d (virtual %s)\n", v, r.Scenario, r.Seed, r.VirtualTime)
	if r.Error != "" {
		fmt.Fprintf(s.out, "  error: %s\n", r.Error)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(s.out, "  %s\n", c.Message())
	}
}

func (s *Session) use(_ string, a *args) error {
	id, err := a.need("NODE")
	if err != nil {
		return err
	}
	if err := noArgs(a, "use NODE"); err != nil {
		return err
	}
	if s.debug.Cluster().Node(id) == nil {
		return fmt.Errorf("no node %q (have %s)", id, strings.Join(s.debug.Cluster().NodeIDs(), ", "))
	}
	s.node = id
	fmt.Fprintf(s.out, "acting through %s\n", id)
	return nil
}

func (s *Session) now(_ string, a *args) error {
	if err := noArgs(a, "now"); err != nil {
		return err
	}
	state := "stopped"
	if s.debug.Ended() {
		state = "ended"
	}
	fmt.Fprintf(s.out, "%s %s seed %d at %s, step %d, %d journal entries, %s; acting through %s\n",
		state, s.debug.Scenario().Name, s.debug.Scenario().Seed, Stamp(s.debug.Now()), s.debug.Steps(),
		s.debug.Cluster().Journal.Len(), plural(len(s.debug.Interventions()), "intervention"), s.node)
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
