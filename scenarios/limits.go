package scenarios

import (
	"errors"
	"fmt"
	"runtime/metrics"
	"sort"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/faultline/faultline/broker/rt"
)

// Limits bound what one scenario may ask for, so that a typo (clients: 100000000) or a
// hostile file gets a clear error instead of a run that eats the machine. Validate checks
// the static ones; a run enforces the budgets of simulated events and memory. A zero field
// takes its default (DefaultLimits); each has a CLI flag to raise it, named in the error.
type Limits struct {
	// FileSize is the largest scenario file read, in bytes (checked by the file loader).
	FileSize int64
	// Nodes, Clients (per workload entry), Count (calls per client), Products and Users
	// cap the counts that multiply a run's work.
	Nodes, Clients, Count, Products, Users int
	// CallsPerSecond caps the calls per virtual second the workload schedules, summed over
	// its entries (clients × rate for open loops, clients / think for closed loops).
	CallsPerSecond float64
	// Events is the budget of simulated events (tasks scheduled and timers fired) per run.
	Events uint64
	// Memory is the budget of live heap, in bytes, checked while a run goes.
	Memory uint64
}

// DefaultLimits are the limits a zero Limits field takes: generous for any scenario this
// project ships (the largest, order-flow, uses about 1% of each), small enough that the
// worst case stays within a laptop's memory.
var DefaultLimits = Limits{
	FileSize:       4 << 20,
	Nodes:          256,
	Clients:        10_000,
	Count:          1_000_000,
	Products:       100_000,
	Users:          10_000,
	CallsPerSecond: 100_000,
	Events:         50_000_000,
	Memory:         2 << 30,
}

// LimitFlags names the CLI flag that raises each limit.
var LimitFlags = map[string]string{
	"file-size": "--max-file-size", "nodes": "--max-nodes", "clients": "--max-clients", "count": "--max-count",
	"products": "--max-products", "users": "--max-users", "calls-per-second": "--max-calls-per-second",
	"events": "--max-events", "memory": "--max-memory",
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.Nodes, d.Nodes)
	set(&l.Clients, d.Clients)
	set(&l.Count, d.Count)
	set(&l.Products, d.Products)
	set(&l.Users, d.Users)
	if l.FileSize == 0 {
		l.FileSize = d.FileSize
	}
	if l.CallsPerSecond == 0 {
		l.CallsPerSecond = d.CallsPerSecond
	}
	if l.Events == 0 {
		l.Events = d.Events
	}
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	return l
}

func (v *validator) overCap(path string, value any, what string, limit any, key string) {
	v.add(path, "%v %s exceed the cap of %v (raise it with %s)", value, what, limit, LimitFlags[key])
}

// validateLimits checks the counts that multiply work against the limits.
func validateLimits(v *validator, s *Scenario, l Limits) {
	if len(s.Nodes) > l.Nodes {
		v.overCap("nodes", len(s.Nodes), "nodes", l.Nodes, "nodes")
	}
	if n := len(s.Config.Products); n > l.Products {
		v.overCap("config.products", n, "products", l.Products, "products")
	}
	if n := len(s.Config.Users); n > l.Users {
		v.overCap("config.users", n, "users", l.Users, "users")
	}
	var perSecond float64
	for i, w := range s.Workload {
		p := fmt.Sprintf("workload[%d]", i)
		if w.Clients > l.Clients {
			v.overCap(p+".clients", w.Clients, "clients", l.Clients, "clients")
		}
		if w.Count > l.Count {
			v.overCap(p+".count", w.Count, "calls per client", l.Count, "count")
		}
		clients := float64(max(w.Clients, 1))
		switch {
		case w.Rate > 0:
			perSecond += clients * w.Rate
		case w.Think > 0:
			perSecond += clients * float64(time.Second) / float64(w.Think)
		}
	}
	if perSecond > l.CallsPerSecond {
		v.add("workload", "the workload schedules %.0f calls per virtual second, over the cap of %.0f (raise it with %s)",
			perSecond, l.CallsPerSecond, LimitFlags["calls-per-second"])
	}
}

// cleanText rejects an identifier that is not clean text: invalid UTF-8, NUL or any other
// control character. Such a name would corrupt the journal, the terminal and the reports.
func cleanText(v *validator, path, s string) {
	if !utf8.ValidString(s) {
		v.add(path, "%q is not valid UTF-8", s)
		return
	}
	for i, r := range s {
		if r == utf8.RuneError {
			v.add(path, "%+q is not valid UTF-8 (byte %d)", s, i)
			return
		}
		if unicode.IsControl(r) {
			v.add(path, "%+q holds the control character %U at byte %d: names must be printable text", s, r, i)
			return
		}
	}
}

// cleanIdentifiers checks every name, node ID, service and action of a scenario.
func cleanIdentifiers(v *validator, s *Scenario) {
	cleanText(v, "name", s.Name)
	for i, n := range s.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		cleanText(v, p+".id", n.ID)
		for j, svc := range n.Services {
			cleanText(v, fmt.Sprintf("%s.services[%d]", p, j), svc)
		}
	}
	for i, w := range s.Workload {
		p := fmt.Sprintf("workload[%d]", i)
		cleanText(v, p+".name", w.Name)
		cleanText(v, p+".from", w.From)
		cleanText(v, p+".action", w.Action)
		cleanText(v, p+".nodeID", w.NodeID)
	}
	for i, f := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		cleanText(v, p+".name", f.Name)
		cleanText(v, p+".node", f.Node)
		cleanText(v, p+".action", f.Action)
		cleanText(v, p+".bridge", f.Bridge)
		for field, ids := range map[string][]string{"from": f.From, "to": f.To, "a": f.A, "b": f.B} {
			for j, id := range ids {
				cleanText(v, fmt.Sprintf("%s.%s[%d]", p, field, j), id)
			}
		}
	}
	for i, c := range s.Checks {
		p := fmt.Sprintf("checks[%d]", i)
		cleanText(v, p+".label", c.Label)
		cleanText(v, p+".action", c.Action)
		cleanText(v, p+".node", c.Node)
		cleanText(v, p+".endpoint", c.Endpoint)
		cleanText(v, p+".event", c.Event)
		cleanText(v, p+".peer", c.Peer)
	}
}

// ErrInterrupted ends a run stopped by Options.Interrupt.
var ErrInterrupted = errors.New("interrupted")

// BudgetError ends a run that spent its budget of simulated events or memory. Top is the
// workload entry or fault whose tasks and timers ran the most events.
type BudgetError struct {
	What  string // "events" or "memory"
	Used  uint64
	Limit uint64
	At    time.Duration // virtual time reached
	Top   rt.Origin
	Total uint64 // events run
}

func (e *BudgetError) Error() string {
	var msg string
	if e.What == "memory" {
		msg = fmt.Sprintf("run stopped at +%s: %d MB of live memory exceed the budget of %d MB (raise it with %s)",
			e.At, e.Used>>20, e.Limit>>20, LimitFlags["memory"])
	} else {
		msg = fmt.Sprintf("run stopped at +%s: %d simulated events exceed the budget of %d (raise it with %s)",
			e.At, e.Used, e.Limit, LimitFlags["events"])
	}
	if e.Top.Name != "" {
		msg += fmt.Sprintf("; most events came from %s (%d of %d)", e.Top.Name, e.Top.Steps, e.Total)
	}
	return msg
}

// Progress is what Options.Progress is told while a run goes.
type Progress struct {
	Scenario string
	Virtual  time.Duration
	Events   uint64
}

// guardEvery is how many simulated events pass between two checks of the budgets, the
// interrupt and the progress callback: often enough to stop within a millisecond or so,
// rarely enough to cost nothing measurable.
const guardEvery = 4096

// guard enforces a run's budgets and interruption at the simulator's step boundaries.
type guard struct {
	sim      *rt.Sim
	scenario string
	limits   Limits
	o        *Options
	samples  []metrics.Sample
}

func newGuard(s *Scenario, o *Options) *guard {
	return &guard{scenario: s.Name, limits: o.Limits.WithDefaults(), o: o,
		samples: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

func (g *guard) option() rt.SimOption { return rt.WithStepHook(guardEvery, g.check) }

func (g *guard) check() error {
	steps := g.sim.Steps()
	if g.o.Progress != nil {
		g.o.Progress(Progress{Scenario: g.scenario, Virtual: g.sim.Elapsed(), Events: steps})
	}
	if g.o.Interrupt != nil {
		select {
		case <-g.o.Interrupt:
			return ErrInterrupted
		default:
		}
	}
	if steps > g.limits.Events {
		return g.budget("events", steps, g.limits.Events)
	}
	metrics.Read(g.samples)
	if g.samples[0].Value.Kind() == metrics.KindUint64 {
		if heap := g.samples[0].Value.Uint64(); heap > g.limits.Memory {
			return g.budget("memory", heap, g.limits.Memory)
		}
	}
	return nil
}

func (g *guard) budget(what string, used, limit uint64) error {
	origins := g.sim.Origins()
	sort.SliceStable(origins, func(i, j int) bool { return origins[i].Steps > origins[j].Steps })
	e := &BudgetError{What: what, Used: used, Limit: limit, At: g.sim.Elapsed(), Total: g.sim.Steps()}
	if len(origins) > 0 {
		e.Top = origins[0]
	}
	return e
}

// workloadOrigin names workload entry i for budget errors.
func workloadOrigin(s *Scenario, i int) string {
	w := s.Workload[i]
	if w.Name != "" {
		return fmt.Sprintf("workload[%d] %q", i, w.Name)
	}
	return fmt.Sprintf("workload[%d] (%s from %s)", i, w.Action, w.From)
}

// faultOrigin names fault k for budget errors.
func faultOrigin(k int, name string) string { return fmt.Sprintf("faults[%d] %q", k, name) }
