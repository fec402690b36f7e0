package scenarios

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/logging"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/testutil"
)

// Result is the outcome of one run.
type Result struct {
	Scenario string         `json:"scenario"`
	Seed     uint64         `json:"seed"`
	Pass     bool           `json:"pass"`
	Checks   []check.Result `json:"checks"`
	// Journal is every entry of the run, checks included.
	Journal []journal.Entry `json:"-"`
	// VirtualTime is the simulated time covered; WallTime what it took.
	VirtualTime time.Duration `json:"virtualTime"`
	WallTime    time.Duration `json:"wallTime"`
	// Deterministic is set when the run was repeated to check determinism.
	Deterministic *bool `json:"deterministic,omitempty"`
	// Error is set when the run could not complete (deadlock, panic, budget); the verdict
	// is fail.
	Error string `json:"error,omitempty"`
	// Interrupted is set when Options.Interrupt stopped the run: the journal and checks
	// cover what ran until then.
	Interrupted bool `json:"interrupted,omitempty"`
	// Metrics is every node's metrics at the end of the run, in the Prometheus text format
	// (Options.Metrics, or a metric check); Spans the run's spans (Options.Traces, or a
	// trace check), in the order they ended. See observe.go.
	Metrics []byte                  `json:"-"`
	Spans   []sdktrace.ReadOnlySpan `json:"-"`
	// Interventions are the commands a debugger ran inside the simulation during the run
	// (none for a plain run); replaying the seed repeats them at the same steps.
	Interventions []Intervention `json:"interventions,omitempty"`
}

// Ratio is virtual time per wall time.
func (r *Result) Ratio() float64 {
	if r.WallTime <= 0 {
		return 0
	}
	return float64(r.VirtualTime) / float64(r.WallTime)
}

// JournalBytes is the journal as JSON lines, the form the determinism check compares.
func (r *Result) JournalBytes() []byte {
	var b bytes.Buffer
	_ = journal.WriteJSONL(&b, r.Journal)
	return b.Bytes()
}

// JournalDigest is the SHA-256 of JournalBytes, in hex, hashed as the lines are written: a
// run of a million entries is fingerprinted without holding their JSON (~150 MB, plus the
// copies of a growing buffer) at the run's peak of memory.
func (r *Result) JournalDigest() string {
	h := sha256.New()
	_ = journal.WriteJSONL(h, r.Journal)
	return hex.EncodeToString(h.Sum(nil))
}

// Options tune a run.
type Options struct {
	// Seed overrides the scenario's seed when non-nil.
	Seed *uint64
	// CheckDeterminism runs the scenario twice and compares the journals byte for byte.
	CheckDeterminism bool
	// Catalog replaces the default service catalog.
	Catalog map[string]ServiceFactory
	// Limits bound the scenario and the run (zero fields: DefaultLimits).
	Limits Limits
	// Interrupt, when closed, stops the run at the next step boundary; the result is
	// marked Interrupted and holds the partial journal.
	Interrupt <-chan struct{}
	// Progress, when set, is called every few thousand simulated events (from the run's
	// goroutine: it must be quick).
	Progress func(Progress)
	// Tier is the cluster tier the scenario runs on (testutil's names): "" or "sim" is the
	// simulator, virtual time, replayable from the seed; "wall" is the wall-clock runtime
	// in this process, every node a real broker on real goroutines and timers, so a
	// scenario of 20 s takes 20 s; "real" (also "process": realtier/proctier, which must be
	// imported) runs every serving node as an OS process on real NATS.
	Tier string
	// Tolerance is the least tolerance of every expected instant (breaker and membership
	// transitions, timeouts, skips): off the simulator, instants move by scheduling and
	// load, and a check compares them within this much. Counts stay exact.
	Tolerance time.Duration
	// Metrics and Traces collect every node's metrics and the run's spans into the Result.
	Metrics, Traces bool
	// Log, when set, receives every node's log lines, formatted and filtered by LogOptions
	// (its Clock is the run's: virtual timestamps, so a seed logs the same bytes every run).
	Log        io.Writer
	LogOptions logging.Options
}

// simulated reports whether the run is in the simulator.
func (o Options) simulated() bool { return o.Tier == "" || o.Tier == testutil.TierSim }

// unknownTier is the error for a tier nobody registered.
func unknownTier(tier string) error {
	have := testutil.Tiers()
	aliases := testutil.TierAliases()
	for _, a := range slices.Sorted(maps.Keys(aliases)) {
		have = append(have, a+" (= "+aliases[a]+")")
	}
	return fmt.Errorf("unknown tier %q (have %s)", tier, strings.Join(have, ", "))
}

// Run executes a scenario in the simulated runtime.
func Run(s Scenario, o Options) (*Result, error) {
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if err := ValidateWith(&s, o.baseCatalog(), o.Limits); err != nil {
		return nil, err
	}
	if !testutil.KnownTier(o.Tier) {
		return nil, unknownTier(o.Tier)
	}
	o.Tier = testutil.CanonicalTier(o.Tier)
	if problems := TierProblems(&s, o.Tier); len(problems) > 0 {
		return nil, &ValidationError{Scenario: s.Name, Problems: problems}
	}
	res, err := runOnce(&s, o)
	// Only the simulator replays a seed: off it, two runs differ by design.
	if err != nil || !o.CheckDeterminism || res.Interrupted || !o.simulated() {
		return res, err
	}
	again, err := runOnce(&s, o)
	if err != nil {
		return nil, err
	}
	if again.Interrupted {
		res.Interrupted, res.Pass = true, false
		return res, nil
	}
	same := bytes.Equal(res.JournalBytes(), again.JournalBytes())
	res.Deterministic = &same
	if !same {
		res.Pass = false
		res.Checks = append(res.Checks, determinismFailure(res.Journal, again.Journal))
	}
	return res, nil
}

// determinismFailure names the first entry where two runs of one seed diverge.
func determinismFailure(a, b []journal.Entry) check.Result {
	r := check.Result{Name: "determinism", Expected: "two runs with one seed give byte-identical journals", At: -1}
	for i := range max(len(a), len(b)) {
		var la, lb []byte
		if i < len(a) {
			la, _ = jsonLine(a[i])
		}
		if i < len(b) {
			lb, _ = jsonLine(b[i])
		}
		if !bytes.Equal(la, lb) {
			r.Actual = fmt.Sprintf("entry %d differs: %s vs %s", i+1, strings.TrimSpace(string(la)), strings.TrimSpace(string(lb)))
			if i < len(a) {
				r.At = a[i].T
			}
			return r
		}
	}
	r.Actual = "journals differ"
	return r
}

func jsonLine(e journal.Entry) ([]byte, error) {
	var b bytes.Buffer
	err := journal.WriteJSONL(&b, []journal.Entry{e})
	return b.Bytes(), err
}

// baseCatalog is the catalog the scenario's own services are added to.
func (o Options) baseCatalog() map[string]ServiceFactory {
	if o.Catalog != nil {
		return o.Catalog
	}
	return DefaultCatalog()
}

// catalog is every service the scenario's nodes may name.
func (o Options) catalog(s *Scenario) map[string]ServiceFactory {
	return withPlants(withDeclared(o.baseCatalog(), s), s)
}

func runOnce(s *Scenario, o Options) (*Result, error) {
	x, err := prepare(s, o)
	if err != nil {
		return nil, err
	}
	defer x.close()
	return x.finish(x.d.run(x.main)), nil
}

// An execution is one run of a scenario, in three phases: prepare builds the cluster, main
// is the engine's task (start, seed, setup, faults, workload, end), finish judges the
// journal. Run does them in one go; a debugger drives main in pieces between them.
type execution struct {
	s         *Scenario
	o         Options
	wallStart time.Time
	res       *catalog.Resources
	c         *testutil.Cluster
	ob        *observation
	d         *driver
	w         *conductor
	schedule  []FaultSpec
	out       *Result
}

func prepare(s *Scenario, o Options) (*execution, error) {
	x := &execution{s: s, o: o, wallStart: time.Now()} // wall time is reported, never used by the run
	g := newGuard(s, &o)
	x.res = Resources(s.Config)
	spec := clusterSpec(s, o.catalog(s), x.res)
	spec.Tier = o.Tier
	if processLike(o.Tier) {
		if err := asProcesses(&spec, s); err != nil {
			x.res.Close()
			return nil, err
		}
	}
	spec.Sim = append(spec.Sim, g.option())
	x.ob = newObservation(s, o)
	if err := x.ob.instrument(&spec); err != nil {
		x.res.Close()
		return nil, err
	}
	c, err := testutil.Build(spec)
	if err != nil {
		x.res.Close()
		return nil, err
	}
	x.c = c
	x.ob.built(c)
	x.d = newDriver(c, o.Interrupt)
	g.sim = c.Sim
	x.w = &conductor{c: c, scenario: s, history: recordsHistory(s)}
	x.schedule = s.Schedule()
	x.out = &Result{Scenario: s.Name, Seed: s.Seed}
	return x, nil
}

func (x *execution) close() {
	x.c.Close()
	x.res.Close()
}

// main is the engine's task: it runs on the cluster's runtime (in the simulator, as a task).
func (x *execution) main() {
	s, c, w, d, out := x.s, x.c, x.w, x.d, x.out
	c.Journal.Record("", journal.Step, map[string]any{"step": "start", "scenario": s.Name, "seed": s.Seed})
	if err := c.Start(); err != nil {
		out.Error = "cluster start: " + err.Error()
		return
	}
	if err := w.seed(); err != nil {
		out.Error = "seeding: " + err.Error()
		return
	}
	if err := w.setupCalls(); err != nil {
		out.Error = "setup: " + err.Error()
		return
	}
	if s.Setup != nil {
		if err := s.Setup(c); err != nil {
			out.Error = "setup: " + err.Error()
			return
		}
	}
	var wrap func(FaultSpec, faults.Fault) faults.Fault
	if ctl, ok := c.Tier.(testutil.Controller); ok && processLike(x.o.Tier) {
		wrap = remoteFaults(s, ctl)
	}
	if err := scheduleFaults(c.Faults, x.schedule, d.attribute, wrap); err != nil {
		out.Error = "faults: " + err.Error()
		return
	}
	x.ob.start(c)
	c.Journal.Record("", journal.Step, map[string]any{"step": "workload"})
	for wi := range s.Workload {
		d.attribute(workloadOrigin(s, wi), func() { w.start(&s.Workload[wi], wi) })
	}
	d.sleepUntil(s.Duration)
	c.Faults.Stop()
	c.Journal.Record("", journal.Step, map[string]any{"step": "end"})
}

// finish judges the run once main has ended (or failed to: runErr) and returns its result.
func (x *execution) finish(runErr error) *Result {
	s, c, out := x.s, x.c, x.out
	if errors.Is(runErr, ErrInterrupted) {
		out.Interrupted = true
		c.Journal.Record("", journal.Step, map[string]any{"step": "interrupted"})
	} else if runErr != nil && out.Error == "" {
		out.Error = runErr.Error()
	}
	out.VirtualTime = c.Elapsed()
	x.ob.finish(c, out)
	journalDrawn(c, s, x.schedule)
	entries := c.Journal.Entries()
	for _, chk := range buildChecks(s, x.ob, x.o.Tolerance) {
		r := chk.Check(entries)
		out.Checks = append(out.Checks, r)
		c.Journal.Record("", journal.Check, map[string]any{"name": r.Name, "pass": r.Pass, "expected": r.Expected, "actual": r.Actual, "at": r.At})
	}
	out.Pass = out.Error == "" && !out.Interrupted
	for _, r := range out.Checks {
		out.Pass = out.Pass && r.Pass
	}
	out.Journal = c.Journal.Entries()
	out.WallTime = time.Since(x.wallStart)
	return out
}

// A driver runs the engine's main task on the cluster's runtime: in the simulator, its
// scheduler (the event budget and interrupts act between steps); on the wall clock, this
// goroutine, with interrupts cutting the wait for the scenario's end.
type driver struct {
	c         *testutil.Cluster
	interrupt <-chan struct{}
	stopped   bool // the wall-clock wait was interrupted
}

func newDriver(c *testutil.Cluster, interrupt <-chan struct{}) *driver {
	return &driver{c: c, interrupt: interrupt}
}

func (d *driver) run(main func()) error {
	if d.c.Sim != nil {
		return d.c.Sim.Run(main)
	}
	main()
	if d.stopped {
		return ErrInterrupted
	}
	return nil
}

// attribute runs fn, charging the simulated events it starts to name (the event budget's
// report); off the simulator there is no budget, and fn just runs.
func (d *driver) attribute(name string, fn func()) {
	if d.c.Sim != nil {
		d.c.Sim.Attribute(name, fn)
		return
	}
	fn()
}

// sleepUntil waits until the cluster's time reaches at.
func (d *driver) sleepUntil(at time.Duration) {
	rest := at - d.c.Elapsed()
	if rest <= 0 {
		return
	}
	if d.c.Sim != nil || d.interrupt == nil {
		d.c.Runtime.Sleep(rest)
		return
	}
	t := time.NewTimer(rest)
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.interrupt:
		d.stopped = true
	}
}
