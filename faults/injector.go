package faults

import (
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// Targets is what faults act on. Every field is optional; a fault whose target is missing is
// rejected when it is added.
type Targets struct {
	// Net receives network faults: the injector installs its interceptor on it.
	Net *memnet.Network
	// Nodes receives node faults (crash, pause, restart, clock skew).
	Nodes Nodes
	// Cachers receive dependency faults, by name (for example a node ID, or "redis" for a
	// shared one).
	Cachers map[string]*FlakyCacher
	// Databases receive database faults, by model name ("products"): one adapter per model,
	// shared by every node, like one database.
	Databases map[string]*FlakyAdapter
	// Links, on a real network without Net, receive symmetric partitions as cuts of the
	// real links between node pairs (a NATS route through a proxy). Other network faults
	// need Net.
	Links Links
}

// Links are the real, two-way links between pairs of nodes: one TCP route carries both
// directions, so only whole links can be cut.
type Links interface {
	// Nodes lists the nodes the links join.
	Nodes() []string
	// Cut severs the link between a and b; Heal restores it.
	Cut(a, b string) error
	Heal(a, b string) error
}

// Injector owns a fault schedule and the layers faults act through.
type Injector struct {
	rt      rt.Runtime
	j       *journal.Journal
	targets Targets
	origin  time.Time

	net     *Network
	actions *actionLayer

	mu      sync.Mutex
	names   map[string]bool
	active  map[*activation]bool
	timers  []rt.Timer
	stats   map[string]*counters
	seq     uint64
	stopped bool
}

// activation is one application of a spec, healed at most once.
type activation struct {
	seq  uint64
	spec Spec
	occ  int
	heal func()
}

// New returns an injector on runtime r journaling to j (nil: no journal). Spec start times
// are relative to r's time now. If targets.Net is set, the injector's interceptor is
// installed on it (replacing any other).
func New(r rt.Runtime, j *journal.Journal, targets Targets) *Injector {
	i := &Injector{
		rt: r, j: j, targets: targets, origin: r.Now(),
		names: map[string]bool{}, active: map[*activation]bool{}, stats: map[string]*counters{},
	}
	i.actions = &actionLayer{inj: i}
	if targets.Net != nil {
		i.net = &Network{inj: i, byType: map[packet.Type]int{}}
		targets.Net.SetInterceptor(i.net.intercept)
	}
	return i
}

// Origin is the instant spec start times are relative to.
func (i *Injector) Origin() time.Time { return i.origin }

// Network returns the network layer (nil without Targets.Net).
func (i *Injector) Network() *Network { return i.net }

// Add validates a spec and arms its schedule.
func (i *Injector) Add(s Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	env := i.env(s, 0)
	if v, ok := s.Fault.(Validator); ok {
		if err := v.Validate(env); err != nil {
			return fmt.Errorf("faults: spec %q: %w", s.Name, err)
		}
	}
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return fmt.Errorf("faults: spec %q added to a stopped injector", s.Name)
	}
	if i.names[s.Name] {
		i.mu.Unlock()
		return fmt.Errorf("faults: spec %q added twice", s.Name)
	}
	i.names[s.Name] = true
	i.stats[s.Name] = &counters{}
	i.mu.Unlock()

	first := func() {
		i.occur(s, 1)
		if s.Every == 0 || s.Count == 1 {
			return
		}
		// Repetition is periodic housekeeping: an endlessly repeating fault must not keep a
		// deadlocked simulation spinning.
		occ := 1
		var t rt.Timer
		i.mu.Lock() // t is read by the ticks, which may run on other goroutines (Real)
		t = i.rt.Every(s.Every, func() {
			occ++
			i.occur(s, occ)
			if s.Count > 0 && occ >= s.Count {
				i.mu.Lock()
				last := t
				i.mu.Unlock()
				last.Stop()
			}
		})
		i.timers = append(i.timers, t)
		i.mu.Unlock()
	}
	if delay := i.origin.Add(s.Start).Sub(i.rt.Now()); delay > 0 {
		i.addTimer(i.rt.AfterFunc(delay, first))
	} else {
		first() // due now or already past: in force before Add returns
	}
	return nil
}

// MustAdd is Add that panics, for tests and examples.
func (i *Injector) MustAdd(specs ...Spec) {
	for _, s := range specs {
		if err := i.Add(s); err != nil {
			panic(err)
		}
	}
}

func (i *Injector) addTimer(t rt.Timer) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.timers = append(i.timers, t)
}

func (i *Injector) env(s Spec, occ int) *Env {
	return &Env{Name: s.Name, Occurrence: occ, Runtime: i.rt, Journal: i.j, Targets: i.targets, inj: i}
}

// occur applies occurrence occ of s and arms its heal.
func (i *Injector) occur(s Spec, occ int) {
	i.mu.Lock()
	stopped := i.stopped
	i.mu.Unlock()
	if stopped {
		return
	}
	heal, err := s.Fault.Apply(i.env(s, occ))
	if err != nil {
		i.record(FaultFailed, s, occ, map[string]any{"op": "apply", "error": err.Error()})
		return
	}
	i.mu.Lock()
	i.seq++
	a := &activation{seq: i.seq, spec: s, occ: occ, heal: heal}
	i.active[a] = true
	i.mu.Unlock()
	i.countersFor(s.Name).applied.Add(1)
	i.record(journal.FaultApplied, s, occ, nil)
	if s.Duration > 0 {
		i.addTimer(i.rt.AfterFunc(s.Duration, func() { i.heal(a, false) }))
	}
}

// heal heals an activation once.
func (i *Injector) heal(a *activation, stopping bool) {
	i.mu.Lock()
	if !i.active[a] {
		i.mu.Unlock()
		return
	}
	delete(i.active, a)
	i.mu.Unlock()
	if a.heal != nil {
		a.heal()
	}
	i.countersFor(a.spec.Name).healed.Add(1)
	var extra map[string]any
	if stopping {
		extra = map[string]any{"stopped": true}
	}
	i.record(journal.FaultHealed, a.spec, a.occ, extra)
}

func (i *Injector) record(kind string, s Spec, occ int, extra map[string]any) {
	attrs := map[string]any{}
	maps.Copy(attrs, s.Fault.Attrs())
	maps.Copy(attrs, extra)
	attrs["fault"], attrs["kind"], attrs["occurrence"] = s.Name, s.Fault.Kind(), occ
	attrs["at"] = i.rt.Now().Sub(i.origin)
	i.j.Record("", kind, attrs)
}

// Stop cancels every pending application and heals every active fault, in the order they
// were applied (each heal journaled with stopped: true). It must not be called from a
// fault's Apply or heal.
func (i *Injector) Stop() {
	i.mu.Lock()
	i.stopped = true
	timers := i.timers
	i.timers = nil
	var active []*activation
	for a := range i.active {
		active = append(active, a)
	}
	i.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	sort.Slice(active, func(x, y int) bool { return active[x].seq < active[y].seq })
	for _, a := range active {
		i.heal(a, true)
	}
}

// Heal heals every active application of the named spec now (it stays scheduled: a
// repeating spec applies again at its next occurrence). A node process of the process tier
// heals this way the faults the harness applied in it.
func (i *Injector) Heal(name string) {
	i.mu.Lock()
	var due []*activation
	for a := range i.active {
		if a.spec.Name == name {
			due = append(due, a)
		}
	}
	i.mu.Unlock()
	sort.Slice(due, func(x, y int) bool { return due[x].seq < due[y].seq })
	for _, a := range due {
		i.heal(a, false)
	}
}

// Active returns the names of the faults applied and not yet healed, sorted.
func (i *Injector) Active() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for a := range i.active {
		if !seen[a.spec.Name] {
			seen[a.spec.Name] = true
			out = append(out, a.spec.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Counters are what a fault did, over all its occurrences.
type Counters struct {
	Applied, Healed int64
	// Matched counts the deliveries, calls or cacher operations the fault applied to.
	Matched int64
	// Network faults.
	Dropped, Duplicated, Delayed, Reordered int64
	// Fired counts action and dependency faults hitting a call or an operation.
	Fired int64
}

type counters struct {
	applied, healed, matched, dropped, duplicated, delayed, reordered, fired atomic.Int64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Applied: c.applied.Load(), Healed: c.healed.Load(), Matched: c.matched.Load(),
		Dropped: c.dropped.Load(), Duplicated: c.duplicated.Load(), Delayed: c.delayed.Load(),
		Reordered: c.reordered.Load(), Fired: c.fired.Load(),
	}
}

func (i *Injector) countersFor(name string) *counters {
	i.mu.Lock()
	defer i.mu.Unlock()
	c := i.stats[name]
	if c == nil {
		c = &counters{}
		i.stats[name] = c
	}
	return c
}

// Stats returns the counters of every spec, by name.
func (i *Injector) Stats() map[string]Counters {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]Counters, len(i.stats))
	for name, c := range i.stats {
		out[name] = c.snapshot()
	}
	return out
}
