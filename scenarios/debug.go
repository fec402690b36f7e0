package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/testutil"
)

// A Debugger holds a seeded run in the simulator, stopped between two scheduler steps. While
// it is stopped nothing moves: nodes, breakers, caches and pending calls can be inspected at
// leisure. It moves only when told to (RunTo, Advance, Until, Continue), or when an
// intervention (a call typed at the prompt) runs inside the simulation.
//
// Stopping changes nothing: the journal up to any stop point is byte for byte the plain
// run's. An intervention changes what follows it, so each one is journaled, with the
// scheduler step it ran at, and Replay repeats them at the same steps.
type Debugger struct {
	x    *execution
	sim  *rt.Sim
	done func() bool

	// cond, when set, is tested on every journal entry recorded while driving; the first
	// that satisfies it is kept in hit and stops the drive.
	mu   sync.Mutex
	cond func(journal.Entry) bool
	hit  *journal.Entry

	// seen is how many journal entries Step and Until have accounted for: one scheduler step
	// may record several entries, so the ones after a hit are handed out before driving on.
	seen int

	runErr        error
	result        *Result
	interventions []Intervention
	closed        bool
}

// An Intervention is a command run inside a stopped simulation, at a scheduler step and an
// instant of virtual time.
type Intervention struct {
	Step uint64        `json:"step"`
	At   time.Duration `json:"at"`
	// Node is the node the command acted through.
	Node    string `json:"node"`
	Command string `json:"command"`
}

// ErrRunEnded is returned by a Debugger asked to move a run that has ended.
var ErrRunEnded = errors.New("the run has ended")

// Debug prepares the scenario in the simulator and stops before its first step.
func Debug(s Scenario, o Options) (*Debugger, error) {
	if !o.simulated() {
		return nil, fmt.Errorf("the debugger runs in the simulator only (tier %q)", o.Tier)
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if err := ValidateWith(&s, o.baseCatalog(), o.Limits); err != nil {
		return nil, err
	}
	if problems := TierProblems(&s, o.Tier); len(problems) > 0 {
		return nil, &ValidationError{Scenario: s.Name, Problems: problems}
	}
	x, err := prepare(&s, o)
	if err != nil {
		return nil, err
	}
	d := &Debugger{x: x, sim: x.c.Sim}
	x.c.Journal.Subscribe(func(e journal.Entry) {
		// Called from Record inside the simulation, which is single-threaded; the lock
		// only orders it with the debugger's own goroutine.
		d.mu.Lock()
		if d.cond != nil && d.hit == nil && d.cond(e) {
			d.hit = &e
		}
		d.mu.Unlock()
	})
	d.done = d.sim.Start("main", x.main)
	return d, nil
}

// Cluster is the run's cluster: its nodes are the ones the simulation drives.
func (d *Debugger) Cluster() *testutil.Cluster { return d.x.c }

// Scenario is the scenario being run (its seed is the run's).
func (d *Debugger) Scenario() *Scenario { return d.x.s }

// Schedule is the run's fault schedule: the scenario's faults and those its nemesis drew.
func (d *Debugger) Schedule() []FaultSpec { return d.x.schedule }

// Now is the run's virtual time, as the journal stamps it.
func (d *Debugger) Now() time.Duration { return d.sim.Elapsed() }

// Steps is how many scheduler steps have run.
func (d *Debugger) Steps() uint64 { return d.sim.Steps() }

// Ended reports whether the run has finished (its checks are then in Result).
func (d *Debugger) Ended() bool { return d.result != nil }

// Result is the finished run's result, nil before.
func (d *Debugger) Result() *Result { return d.result }

// Interventions are the commands run inside the simulation so far.
func (d *Debugger) Interventions() []Intervention { return d.interventions }

// drive runs the simulation until stop holds, the run's main task ends, or (when until is
// not zero) virtual time would pass until; it finishes the run when main has ended.
func (d *Debugger) drive(stop func() bool, until time.Time) error {
	if d.result != nil {
		return ErrRunEnded
	}
	err := d.sim.Drive(func() bool { return d.done() || stop() }, until)
	if err != nil || d.done() {
		d.runErr = err
		d.result = d.x.finish(err)
		d.result.Interventions = append([]Intervention(nil), d.interventions...)
	}
	return err
}

// RunTo runs until virtual time at (or the run's end) and leaves the clock there.
func (d *Debugger) RunTo(at time.Duration) error {
	if at <= d.Now() {
		return nil
	}
	until := rt.Epoch.Add(at)
	defer func() { d.seen = d.x.c.Journal.Len() }()
	if err := d.drive(func() bool { return false }, until); err != nil || d.result != nil {
		return err
	}
	// Nothing is due before until: move the clock, as RunFor does.
	return d.sim.RunFor(until.Sub(d.sim.Now()))
}

// Advance runs for dt of virtual time (or until the run ends).
func (d *Debugger) Advance(dt time.Duration) error { return d.RunTo(d.Now() + dt) }

// RunSteps runs until the scheduler has done step steps in all (Replay's way to reach the
// exact point an intervention ran at).
func (d *Debugger) RunSteps(step uint64) error {
	return d.drive(func() bool { return d.sim.Steps() >= step }, time.Time{})
}

// Until runs until a journal entry satisfying cond is recorded, and returns it; ok is
// false when the run ended first.
func (d *Debugger) Until(cond func(journal.Entry) bool) (e journal.Entry, ok bool, err error) {
	if all := d.x.c.Journal.Entries(); d.seen < len(all) {
		for i, e := range all[d.seen:] {
			if cond(e) {
				d.seen += i + 1
				return e, true, nil
			}
		}
		d.seen = len(all)
	}
	if d.result != nil {
		return e, false, ErrRunEnded
	}
	d.mu.Lock()
	d.cond, d.hit = cond, nil
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.cond = nil
		d.mu.Unlock()
	}()
	hit := func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.hit != nil
	}
	err = d.drive(hit, time.Time{})
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hit != nil {
		d.seen = int(d.hit.Seq)
		return *d.hit, true, err
	}
	d.seen = d.x.c.Journal.Len()
	return e, false, err
}

// Step runs until the next journal entry and returns it.
func (d *Debugger) Step() (journal.Entry, bool, error) {
	return d.Until(func(journal.Entry) bool { return true })
}

// Continue runs the scenario to its end and returns its result.
func (d *Debugger) Continue() (*Result, error) {
	if d.result != nil {
		return d.result, nil
	}
	err := d.drive(func() bool { return false }, time.Time{})
	d.seen = d.x.c.Journal.Len()
	return d.result, err
}

// InterventionLimit bounds how long an intervention may run in virtual time before the
// debugger stops again (the intervention goes on in the background, as a call left running).
const InterventionLimit = time.Minute

// Intervene runs fn inside the simulation at the current instant, as a task of its own,
// and drives the simulation until fn returns (or InterventionLimit passes, or the run ends);
// done reports whether fn returned. The command is journaled first, so the journal shows
// what the user did and replay can repeat it.
func (d *Debugger) Intervene(node, command string, fn func()) (done bool, err error) {
	if d.closed {
		return false, errors.New("the debugger is closed")
	}
	iv := Intervention{Step: d.sim.Steps(), At: d.Now(), Node: node, Command: command}
	d.interventions = append(d.interventions, iv)
	d.x.c.Journal.Record(node, journal.Intervention, map[string]any{"command": command, "step": iv.Step})
	finished := false
	d.sim.Go("intervention", func() { defer func() { finished = true }(); fn() })
	limit := d.sim.Now().Add(InterventionLimit)
	if d.result != nil {
		// The run has ended, the cluster is still up: drive the call alone.
		err = d.sim.Drive(func() bool { return finished }, limit)
		return finished, err
	}
	err = d.drive(func() bool { return finished }, limit)
	return finished, err
}

// Close stops the simulation and releases the cluster.
func (d *Debugger) Close() {
	if d.closed {
		return
	}
	d.closed = true
	d.x.close()
}

// FaultState is one scheduled fault as the debugger shows it.
type FaultState struct {
	Name, Kind string
	// Target names what the fault acts on (nodes, action, links), as the file says it.
	Target string
	// Applied and Healed are the instants of each occurrence (heal -1: not before the end).
	Applied, Healed []time.Duration
	// Active reports that an occurrence is applied now.
	Active bool
}

// Faults returns the run's fault schedule with what is active now.
func (d *Debugger) Faults() []FaultState {
	active := map[string]bool{}
	for _, n := range d.x.c.Faults.Active() {
		active[n] = true
	}
	var out []FaultState
	for k, f := range d.x.schedule {
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", f.Kind, k) // as scheduleFaults names it
		}
		spec := faults.Spec{Name: name, Start: f.Start, Duration: f.Duration, Every: f.Every, Count: f.Count}
		applied, healed := spec.Occurrences(d.x.s.Duration)
		out = append(out, FaultState{Name: name, Kind: f.Kind, Target: faultTarget(f), Applied: applied, Healed: healed, Active: active[name]})
	}
	return out
}

func faultTarget(f FaultSpec) string {
	var parts []string
	add := func(label string, v []string) {
		if len(v) > 0 {
			parts = append(parts, label+strings.Join(v, ","))
		}
	}
	if f.Node != "" {
		parts = append(parts, f.Node)
	}
	if f.Action != "" {
		parts = append(parts, f.Action)
	}
	if f.Model != "" {
		parts = append(parts, "model "+f.Model)
	}
	add("from ", f.From)
	add("to ", f.To)
	add("a=", f.A)
	add("b=", f.B)
	if f.Bridge != "" {
		parts = append(parts, "bridge "+f.Bridge)
	}
	add("types ", f.Types)
	return strings.Join(parts, " ")
}
