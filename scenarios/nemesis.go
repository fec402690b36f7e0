package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/testutil"
)

// NemesisSpec generates a fault schedule instead of scripting one: which kinds of fault, on
// which nodes and actions, how often and for how long, and an instant after which the
// cluster is left alone to recover. The schedule is drawn from the scenario's seed with a
// generator of its own (not the scheduler's), so a seed replays the same schedule exactly,
// and the drawn faults written out as ordinary faults (Scenario.Schedule, faultline run
// --print-schedule) give the very same run.
//
// Drawing: the first fault starts at Start + a draw of Every, each next one a draw of Every
// after the previous start; each lasts a draw of Lasts, cut at QuietAfter; no fault starts at
// or after QuietAfter, and at most Max are drawn. Each fault's kind is drawn from Kinds, its
// target from Nodes (node and network kinds) or Actions (action kinds).
type NemesisSpec struct {
	// Kinds are the fault kinds drawn from (see NemesisKinds).
	Kinds []string `yaml:"kinds" json:"kinds"`
	// Nodes are the targets of node and network faults (default: every node).
	Nodes []string `yaml:"nodes,omitempty" json:"nodes,omitempty"`
	// Actions are the targets of action faults (error, delay, hang); required for those.
	Actions []string `yaml:"actions,omitempty" json:"actions,omitempty"`
	// Start is the earliest instant a fault may start from (0: the workload's start).
	Start time.Duration `yaml:"start,omitempty" json:"start,omitempty"`
	// Every is the gap between two fault starts, Lasts a fault's duration: "5s..15s" or "5s".
	Every Range `yaml:"every" json:"every"`
	Lasts Range `yaml:"lasts" json:"lasts"`
	// QuietAfter: no fault is active from this instant on (0: the scenario's duration).
	QuietAfter time.Duration `yaml:"quietAfter,omitempty" json:"quietAfter,omitempty"`
	// Delay is the added delay of latency, delay and cacher-slow faults (default 100ms..2s).
	Delay Range `yaml:"delay,omitempty" json:"delay,omitempty"`
	// Rate is the rate of loss, duplicate and error faults (default 1: every packet or call).
	Rate float64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Max caps the number of faults drawn (default and cap: MaxNemesisFaults).
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
}

// MaxNemesisFaults caps the faults one nemesis draws: a schedule is journaled, printed and
// shrunk fault by fault, and past this it would be the bulk of the run's work.
const MaxNemesisFaults = 1000

// defaultNemesisDelay is the delay range of latency, delay and cacher-slow faults when the
// nemesis gives none.
const defaultNemesisDelay Range = "100ms..2s"

// NemesisKinds are the fault kinds a nemesis draws from. Node kinds (crash, pause, isolate,
// cacher-down, cacher-slow) target one node; network kinds (partition: the nodes split in
// two; asymmetric: one node's packets to another cut; loss, duplicate, latency: packets to
// one node) target nodes; action kinds (error, delay, hang) target one action.
var NemesisKinds = []string{"crash", "pause", "isolate", "partition", "asymmetric", "loss", "duplicate", "latency",
	"error", "delay", "hang", "cacher-down", "cacher-slow"}

func nemesisActionKind(k string) bool { return k == "error" || k == "delay" || k == "hang" }

// Range is a duration range written "min..max" (both Go durations, min ≤ max), or a single
// duration for a fixed value. Draws are uniform over [min, max], at millisecond grain so
// that printed schedules stay readable.
type Range string

// Bounds parses the range.
func (r Range) Bounds() (lo, hi time.Duration, err error) {
	s := strings.TrimSpace(string(r))
	a, b, isRange := strings.Cut(s, "..")
	lo, err = time.ParseDuration(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, fmt.Errorf("invalid duration range %q: write \"5s..15s\" or \"5s\"", string(r))
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("invalid duration range %q: write \"5s..15s\" or \"5s\"", string(r))
		}
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("duration range %q must satisfy 0 ≤ min ≤ max", string(r))
	}
	return lo, hi, nil
}

func (r Range) draw(g *rand.Rand) time.Duration {
	lo, hi, _ := r.Bounds()
	lo, hi = lo.Round(time.Millisecond), hi.Round(time.Millisecond)
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.Int64N(int64((hi-lo)/time.Millisecond)+1))*time.Millisecond
}

// nemesisStream is the generator's second seed word: the nemesis draws from a stream of its
// own, so adding a nemesis to a scenario does not change the scheduler's coin flips.
const nemesisStream = 0x6e656d65736973 // "nemesis"

// Schedule returns the scenario's fault schedule: its fixed faults, then the faults its
// nemesis draws from its seed. A scenario without a nemesis returns its faults as they are.
func (s *Scenario) Schedule() []FaultSpec {
	out := slices.Clone(s.Faults)
	if s.Nemesis == nil {
		return out
	}
	return append(out, s.Nemesis.Draw(s.Seed, s.Duration, s.Nodes)...)
}

// Materialize returns the scenario with its nemesis replaced by the faults it draws: the
// same run, written as a fixed schedule (what --print-schedule prints and shrink starts
// from).
func (s *Scenario) Materialize() Scenario {
	out := *s
	out.Faults = s.Schedule()
	out.Nemesis = nil
	return out
}

// cacherTargets are the targets that have a cacher (those cacher faults can hit).
func cacherTargets(targets []string, nodes []NodeSpec) []string {
	var out []string
	for _, t := range targets {
		for _, n := range nodes {
			if n.ID == t && n.Options.Cacher != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// Draw draws the schedule for one seed; nodes are the scenario's nodes (every one is a
// default target; cacher faults hit only those with a cacher). The spec must be valid (see
// Validate).
func (n *NemesisSpec) Draw(seed uint64, duration time.Duration, nodes []NodeSpec) []FaultSpec {
	g := rand.New(rand.NewPCG(seed, nemesisStream))
	targets := n.targets(nodes)
	cachers := cacherTargets(targets, nodes)
	quiet := n.QuietAfter
	if quiet <= 0 || quiet > duration {
		quiet = duration
	}
	limit := n.Max
	if limit <= 0 || limit > MaxNemesisFaults {
		limit = MaxNemesisFaults
	}
	delay := n.Delay
	if delay == "" {
		delay = defaultNemesisDelay
	}
	rate := n.Rate
	if rate == 0 {
		rate = 1
	}
	var out []FaultSpec
	t := n.Start
	for len(out) < limit {
		t += n.Every.draw(g)
		if t >= quiet {
			break
		}
		d := min(n.Lasts.draw(g), quiet-t)
		kind := n.Kinds[g.IntN(len(n.Kinds))]
		f := FaultSpec{Kind: kind, Start: t, Duration: d}
		pick := func() string { return targets[g.IntN(len(targets))] }
		var target string
		switch kind {
		case "crash", "pause", "isolate":
			f.Node = pick()
			target = f.Node
		case "cacher-down":
			f.Node = cachers[g.IntN(len(cachers))]
			target = f.Node
		case "cacher-slow":
			f.Node, f.Delay = cachers[g.IntN(len(cachers))], delay.draw(g)
			target = f.Node
		case "partition":
			perm := g.Perm(len(targets))
			k := 1 + g.IntN(len(targets)-1)
			for i, p := range perm {
				if i < k {
					f.A = append(f.A, targets[p])
				} else {
					f.B = append(f.B, targets[p])
				}
			}
			slices.Sort(f.A)
			slices.Sort(f.B)
			target = strings.Join(f.A, ",") + " | " + strings.Join(f.B, ",")
		case "asymmetric":
			i := g.IntN(len(targets))
			j := g.IntN(len(targets) - 1)
			if j >= i {
				j++
			}
			f.From, f.To = []string{targets[i]}, []string{targets[j]}
			target = targets[i] + " -> " + targets[j]
		case "loss", "duplicate":
			f.To, f.Rate = []string{pick()}, rate
			target = "to " + f.To[0]
		case "latency":
			f.To, f.Delay = []string{pick()}, delay.draw(g)
			target = "to " + f.To[0]
		case "error":
			f.Action, f.Rate = n.Actions[g.IntN(len(n.Actions))], rate
			target = f.Action
		case "delay":
			f.Action, f.Delay = n.Actions[g.IntN(len(n.Actions))], delay.draw(g)
			target = f.Action
		case "hang":
			f.Action = n.Actions[g.IntN(len(n.Actions))]
			target = f.Action
		}
		f.Name = fmt.Sprintf("nemesis %d: %s %s", len(out)+1, kind, target)
		out = append(out, f)
	}
	return out
}

// targets are the nemesis's target node IDs: its nodes, or every node.
func (n *NemesisSpec) targets(nodes []NodeSpec) []string {
	if len(n.Nodes) > 0 {
		return n.Nodes
	}
	out := make([]string, len(nodes))
	for i, nd := range nodes {
		out[i] = nd.ID
	}
	return out
}

// validateNemesis checks the nemesis block: known kinds, targets the cluster has, ranges that
// parse, and enough targets for the kinds that need two nodes.
func validateNemesis(v *validator, n *NemesisSpec, s *Scenario, nodes, actions map[string]bool) {
	const p = "nemesis"
	if len(n.Kinds) == 0 {
		v.add(p+".kinds", "at least one fault kind is required (%s)", strings.Join(NemesisKinds, ", "))
	}
	targets := len(n.targets(s.Nodes))
	cachers := len(cacherTargets(n.targets(s.Nodes), s.Nodes))
	for i, k := range n.Kinds {
		kp := fmt.Sprintf("%s.kinds[%d]", p, i)
		switch {
		case !slices.Contains(NemesisKinds, k):
			v.add(kp, "unknown nemesis fault kind %q (%s)", k, strings.Join(NemesisKinds, ", "))
		case nemesisActionKind(k) && len(n.Actions) == 0:
			v.add(kp, "a %s fault targets an action: give nemesis.actions", k)
		case (k == "partition" || k == "asymmetric") && targets < 2:
			v.add(kp, "a %s fault needs at least two target nodes", k)
		case (k == "cacher-down" || k == "cacher-slow") && cachers == 0:
			v.add(kp, "a %s fault needs a target node with a cacher", k)
		}
	}
	checkNodes(v, p+".nodes", n.Nodes, nodes)
	for i, a := range n.Actions {
		if !actions[a] {
			v.add(fmt.Sprintf("%s.actions[%d]", p, i), "unknown action %q: no node of the cluster serves it", a)
		}
	}
	if n.Every == "" {
		v.add(p+".every", "is required: the gap between two fault starts, such as \"5s..15s\"")
	} else if lo, _, err := n.Every.Bounds(); err != nil {
		v.add(p+".every", "%v", err)
	} else if lo < time.Millisecond {
		v.add(p+".every", "the least gap must be at least 1ms, got %s", lo)
	}
	if n.Lasts == "" {
		v.add(p+".lasts", "is required: how long a fault lasts, such as \"1s..10s\"")
	} else if lo, _, err := n.Lasts.Bounds(); err != nil {
		v.add(p+".lasts", "%v", err)
	} else if lo < time.Millisecond {
		v.add(p+".lasts", "the least duration must be at least 1ms, got %s", lo)
	}
	if n.Delay != "" {
		if _, _, err := n.Delay.Bounds(); err != nil {
			v.add(p+".delay", "%v", err)
		}
	}
	if n.Start < 0 {
		v.add(p+".start", "must not be negative, got %s", n.Start)
	}
	if n.QuietAfter < 0 {
		v.add(p+".quietAfter", "must not be negative, got %s", n.QuietAfter)
	} else if n.QuietAfter > 0 && n.QuietAfter <= n.Start {
		v.add(p+".quietAfter", "must be after nemesis.start (%s), got %s", n.Start, n.QuietAfter)
	}
	if n.Rate < 0 || n.Rate > 1 {
		v.add(p+".rate", "must be between 0 and 1, got %v", n.Rate)
	}
	if n.Max < 0 {
		v.add(p+".max", "must not be negative, got %d", n.Max)
	} else if n.Max > MaxNemesisFaults {
		v.add(p+".max", "%d faults exceed the cap of %d a nemesis draws", n.Max, MaxNemesisFaults)
	}
}

// NemesisFault is the journal kind of one drawn fault: attributes name, kind, start,
// duration and the target fields it has. They are journaled after the run's end, so the
// entries before them are exactly those of the same run with the faults written out.
const NemesisFault = "nemesis.fault"

// journalDrawn journals the faults the nemesis drew (those after the scenario's own).
func journalDrawn(c *testutil.Cluster, s *Scenario, schedule []FaultSpec) {
	for _, f := range schedule[len(s.Faults):] {
		attrs := map[string]any{"name": f.Name, "kind": f.Kind, "start": f.Start, "duration": f.Duration}
		for k, v := range map[string]string{"node": f.Node, "action": f.Action} {
			if v != "" {
				attrs[k] = v
			}
		}
		for k, v := range map[string][]string{"from": f.From, "to": f.To, "a": f.A, "b": f.B} {
			if len(v) > 0 {
				attrs[k] = strings.Join(v, ",")
			}
		}
		if f.Delay > 0 {
			attrs["delay"] = f.Delay
		}
		if f.Rate > 0 {
			attrs["rate"] = f.Rate
		}
		c.Journal.Record("", NemesisFault, attrs)
	}
}
