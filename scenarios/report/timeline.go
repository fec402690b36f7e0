package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/journal"
)

// FaultWindow is one occurrence of a fault, from its application to its heal.
type FaultWindow struct {
	Name, Kind  string
	Target      string
	Occurrence  int
	Start, End  time.Duration
	UntilTheEnd bool // healed only when the run stopped (or never)
}

// BreakerSpan is a stretch of time one caller's breaker for one endpoint spent in a state.
type BreakerSpan struct {
	State      string
	Start, End time.Duration
}

// BreakerLane is the history of one caller's breaker for one endpoint.
type BreakerLane struct {
	Observer, Endpoint string
	Spans              []BreakerSpan
	Transitions        int
}

// CallLane holds the workload's finished calls of one action.
type CallLane struct {
	Action string
	Calls  []Call
}

// Call is one finished level-1 call (as its caller saw it).
type Call struct {
	Start, End time.Duration
	OK         bool
	Error      string // error name
}

// Event is one line of the compact text timeline.
type Event struct {
	T    time.Duration
	What string // "fault", "heal", "breaker", "node"
	Text string
}

// Timeline is what the reports draw from a journal.
type Timeline struct {
	End      time.Duration
	Faults   []FaultWindow
	Breakers []BreakerLane
	Calls    []CallLane
	Events   []Event
}

// BuildTimeline reads a run's journal.
func BuildTimeline(entries []journal.Entry, end time.Duration) *Timeline {
	tl := &Timeline{End: end}
	open := map[string]int{} // fault name#occurrence → index in Faults
	lanes := map[string]*BreakerLane{}
	calls := map[string]*CallLane{}
	lost := map[string]bool{}
	// Calls finished before the workload began are the engine's set-up (seeding products,
	// logging users in), not the scenario's traffic.
	var workloadSeq uint64
	for _, e := range entries {
		if e.Kind == journal.Step && e.Str("step") == "workload" {
			workloadSeq = e.Seq
			break
		}
	}
	for _, e := range entries {
		switch e.Kind {
		case journal.FaultApplied:
			key := fmt.Sprintf("%s#%d", e.Str("fault"), e.Int("occurrence"))
			open[key] = len(tl.Faults)
			fw := FaultWindow{Name: e.Str("fault"), Kind: e.Str("kind"), Target: DescribeFault(e), Occurrence: e.Int("occurrence"),
				Start: e.T, End: end, UntilTheEnd: true}
			tl.Faults = append(tl.Faults, fw)
			tl.Events = append(tl.Events, Event{T: e.T, What: "fault", Text: fmt.Sprintf("%s applied: %s", fw.Name, fw.Target)})
		case journal.FaultHealed:
			key := fmt.Sprintf("%s#%d", e.Str("fault"), e.Int("occurrence"))
			if i, ok := open[key]; ok {
				tl.Faults[i].End = e.T
				tl.Faults[i].UntilTheEnd = e.Bool("stopped")
				delete(open, key)
			}
			if !e.Bool("stopped") {
				tl.Events = append(tl.Events, Event{T: e.T, What: "heal", Text: e.Str("fault") + " healed"})
			}
		case journal.BreakerChange:
			key := e.Node + "\x00" + e.Str("endpoint")
			l := lanes[key]
			if l == nil {
				l = &BreakerLane{Observer: e.Node, Endpoint: e.Str("endpoint"), Spans: []BreakerSpan{{State: "closed", End: end}}}
				lanes[key] = l
			}
			last := &l.Spans[len(l.Spans)-1]
			last.End = e.T
			l.Spans = append(l.Spans, BreakerSpan{State: e.Str("to"), Start: e.T, End: end})
			l.Transitions++
			from, to := e.Str("from"), e.Str("to")
			if to != "half-open-wait" && from != "half-open-wait" || (from == "half-open-wait" && to != "half-open") {
				text := fmt.Sprintf("%s → %s: %s → %s", e.Node, e.Str("endpoint"), displayState(from), to)
				if to == "open" {
					text += fmt.Sprintf(" (%d of %d failed)", e.Int("failures"), e.Int("count"))
				}
				tl.Events = append(tl.Events, Event{T: e.T, What: "breaker", Text: text})
			}
		case journal.CallFinished:
			if e.Int("level") != 1 || e.Seq < workloadSeq {
				continue
			}
			a := e.Str("action")
			l := calls[a]
			if l == nil {
				l = &CallLane{Action: a}
				calls[a] = l
			}
			d := e.Dur("duration")
			l.Calls = append(l.Calls, Call{Start: e.T - d, End: e.T, OK: e.Bool("ok"), Error: e.Str("error")})
		case journal.NodeLost:
			peer := nodeAttr(e)
			lost[e.Node+"\x00"+peer] = true
			tl.Events = append(tl.Events, Event{T: e.T, What: "node", Text: fmt.Sprintf("%s lost %s", e.Node, peer)})
		case journal.NodeJoined:
			peer := nodeAttr(e)
			if lost[e.Node+"\x00"+peer] {
				delete(lost, e.Node+"\x00"+peer)
				tl.Events = append(tl.Events, Event{T: e.T, What: "node", Text: fmt.Sprintf("%s sees %s again", e.Node, peer)})
			}
		}
	}
	for _, l := range lanes {
		tl.Breakers = append(tl.Breakers, *l)
	}
	sort.Slice(tl.Breakers, func(i, j int) bool {
		a, b := tl.Breakers[i], tl.Breakers[j]
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		return a.Observer < b.Observer
	})
	for _, l := range calls {
		tl.Calls = append(tl.Calls, *l)
	}
	sort.Slice(tl.Calls, func(i, j int) bool { return tl.Calls[i].Action < tl.Calls[j].Action })
	sort.SliceStable(tl.Events, func(i, j int) bool { return tl.Events[i].T < tl.Events[j].T })
	tl.Events = mergeNodeEvents(tl.Events)
	return tl
}

// mergeNodeEvents folds "A lost X", "B lost X", ... within a second of each other into
// one event: every node noticing a crash is one fact.
func mergeNodeEvents(evs []Event) []Event {
	var out []Event
	for i := 0; i < len(evs); i++ {
		e := evs[i]
		observer, rest, ok := strings.Cut(e.Text, " ")
		if e.What != "node" || !ok {
			out = append(out, e)
			continue
		}
		observers := []string{observer}
		j := i + 1
		for ; j < len(evs); j++ {
			o, r, ok := strings.Cut(evs[j].Text, " ")
			if evs[j].What != "node" || !ok || r != rest || evs[j].T-e.T > time.Second {
				break
			}
			observers = append(observers, o)
		}
		if len(observers) > 1 {
			verb, peer, _ := strings.Cut(rest, " ")
			if verb == "sees" {
				e.Text = fmt.Sprintf("%s seen again by %s", strings.TrimSuffix(peer, " again"), strings.Join(observers, ", "))
			} else {
				e.Text = fmt.Sprintf("%s %s by %s", peer, verb, strings.Join(observers, ", "))
			}
		}
		out = append(out, e)
		i = j - 1
	}
	return out
}

func displayState(s string) string {
	if s == "half-open-wait" {
		return "half-open"
	}
	return s
}

func nodeAttr(e journal.Entry) string {
	for _, k := range []string{"peer", "node", "nodeID", "id"} {
		if s := e.Str(k); s != "" {
			return s
		}
	}
	return "?"
}

// DescribeFault renders a fault.applied entry's targets and parameters.
func DescribeFault(e journal.Entry) string {
	var parts []string
	kind := e.Str("kind")
	switch {
	case e.Str("action") != "":
		s := e.Str("action")
		if n := e.Str("node"); n != "" {
			s += " on " + n
		}
		parts = append(parts, s)
	case e.Str("node") != "":
		parts = append(parts, e.Str("node"))
	}
	if a := list(e.Attrs["a"]); a != "" {
		parts = append(parts, a+" ↮ "+orAny(list(e.Attrs["b"])))
	}
	if f, t := list(e.Attrs["from"]), list(e.Attrs["to"]); f != "" || t != "" {
		parts = append(parts, orAny(f)+" → "+orAny(t))
	}
	if b := e.Str("bridge"); b != "" {
		parts = append(parts, "via "+b)
	}
	if c := e.Str("cacher"); c != "" {
		parts = append(parts, "cacher of "+c)
	}
	if t := list(e.Attrs["types"]); t != "" {
		parts = append(parts, t+" packets")
	}
	if r, ok := e.Attrs["rate"]; ok && e.Num("rate") > 0 {
		_ = r
		parts = append(parts, fmt.Sprintf("%g%%", e.Num("rate")*100))
	}
	for _, k := range []string{"base", "delay", "maxDelay"} {
		if d := e.Dur(k); d > 0 {
			parts = append(parts, "+"+d.String())
		}
	}
	if d := e.Dur("jitter"); d > 0 {
		parts = append(parts, "±"+d.String())
	}
	if d := e.Dur("offset"); d != 0 {
		parts = append(parts, fmt.Sprintf("skew %+v", d))
	}
	if n := e.Str("error"); n != "" {
		parts = append(parts, fmt.Sprintf("%s %d", n, e.Int("code")))
	}
	if len(parts) == 0 {
		return kind
	}
	return kind + " " + strings.Join(parts, ", ")
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

func list(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []string:
		return strings.Join(x, ",")
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}
