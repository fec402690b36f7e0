package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/scenarios/check"
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
}

// Run executes a scenario in the simulated runtime.
func Run(s Scenario, o Options) (*Result, error) {
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if err := ValidateWith(&s, o.catalog(&s), o.Limits); err != nil {
		return nil, err
	}
	res, err := runOnce(&s, o)
	if err != nil || !o.CheckDeterminism || res.Interrupted {
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

func (o Options) catalog(s *Scenario) map[string]ServiceFactory {
	cat := o.Catalog
	if cat == nil {
		cat = DefaultCatalog()
	}
	if len(s.ExtraServices) > 0 {
		cat = maps.Clone(cat)
		maps.Copy(cat, s.ExtraServices)
	}
	return cat
}

func runOnce(s *Scenario, o Options) (*Result, error) {
	wallStart := time.Now() // wall time is reported, never used by the run
	g := newGuard(s, &o)
	sim := rt.NewSim(s.Seed, g.option())
	g.sim = sim
	defer sim.Close()
	c := &Cluster{Sim: sim, Net: memnet.New(sim, memnet.WithLatency(s.Network.Latency)), Journal: journal.New(sim),
		scenario: s, catalog: o.catalog(s), nodes: map[string]*node{}}
	defer func() {
		if c.redis != nil {
			_ = c.redis.Close()
		}
	}()
	inj, err := c.newInjector(s)
	if err != nil {
		return nil, err
	}
	for _, ns := range s.Nodes {
		n := &node{spec: ns, clock: rt.NewSkewed(sim)}
		inj.prepareNode(n)
		b, err := c.buildBroker(n)
		if err != nil {
			return nil, err
		}
		n.broker = b
		c.nodes[ns.ID] = n
		c.order = append(c.order, ns.ID)
	}
	res := &Result{Scenario: s.Name, Seed: s.Seed}
	runErr := sim.Run(func() {
		c.Journal.Record("", journal.Step, map[string]any{"step": "start", "scenario": s.Name, "seed": s.Seed})
		if err := c.startAll(); err != nil {
			res.Error = "cluster start: " + err.Error()
			return
		}
		if err := c.seedProducts(); err != nil {
			res.Error = "seeding products: " + err.Error()
			return
		}
		if s.Setup != nil {
			if err := s.Setup(c); err != nil {
				res.Error = "setup: " + err.Error()
				return
			}
		}
		if err := inj.schedule(s); err != nil {
			res.Error = "faults: " + err.Error()
			return
		}
		c.Journal.Record("", journal.Step, map[string]any{"step": "workload"})
		for wi := range s.Workload {
			sim.Attribute(workloadOrigin(s, wi), func() { c.startWorkload(&s.Workload[wi], wi) })
		}
		if rest := s.Duration - sim.Elapsed(); rest > 0 {
			sim.Sleep(rest)
		}
		inj.stop()
		c.Journal.Record("", journal.Step, map[string]any{"step": "end"})
	})
	if errors.Is(runErr, ErrInterrupted) {
		res.Interrupted = true
		c.Journal.Record("", journal.Step, map[string]any{"step": "interrupted"})
	} else if runErr != nil && res.Error == "" {
		res.Error = runErr.Error()
	}
	res.VirtualTime = sim.Elapsed()
	entries := c.Journal.Entries()
	for _, chk := range buildChecks(s) {
		r := chk.Check(entries)
		res.Checks = append(res.Checks, r)
		c.Journal.Record("", journal.Check, map[string]any{"name": r.Name, "pass": r.Pass, "expected": r.Expected, "actual": r.Actual, "at": r.At})
	}
	res.Pass = res.Error == "" && !res.Interrupted
	for _, r := range res.Checks {
		res.Pass = res.Pass && r.Pass
	}
	res.Journal = c.Journal.Entries()
	res.WallTime = time.Since(wallStart)
	return res, nil
}

// startWorkload starts the clients of one workload.
func (c *Cluster) startWorkload(w *WorkloadSpec, index int) {
	clients := max(w.Clients, 1)
	end := c.scenario.Duration
	if w.Duration > 0 {
		end = min(end, w.Start+w.Duration)
	}
	for ci := range clients {
		c.Sim.Go(fmt.Sprintf("workload %d client %d", index, ci), func() {
			if wait := w.Start - c.Sim.Elapsed(); wait > 0 {
				c.Sim.Sleep(wait)
			}
			if w.Rate > 0 {
				c.openLoop(w, ci, end)
			} else {
				c.closedLoop(w, ci, end)
			}
		})
	}
}

// closedLoop: one call at a time, Think between calls.
func (c *Cluster) closedLoop(w *WorkloadSpec, client int, end time.Duration) {
	for i := 0; w.Count == 0 || i < w.Count; i++ {
		if c.Sim.Elapsed() >= end {
			return
		}
		c.call(w, client, i)
		if w.Think > 0 {
			c.Sim.Sleep(w.Think)
		}
	}
}

// openLoop: calls arrive on a fixed schedule whatever the latency (each in its own task),
// as real traffic does — so a slow dependency piles up concurrent calls.
func (c *Cluster) openLoop(w *WorkloadSpec, client int, end time.Duration) {
	interval := time.Duration(float64(time.Second) / w.Rate)
	first := c.Sim.Elapsed()
	for i := 0; w.Count == 0 || i < w.Count; i++ {
		at := first + time.Duration(i)*interval
		if at >= end {
			return
		}
		if wait := at - c.Sim.Elapsed(); wait > 0 {
			c.Sim.Sleep(wait)
		}
		c.Sim.Go(fmt.Sprintf("call %s #%d of client %d", w.Action, i, client), func() { c.call(w, client, i) })
	}
}

func (c *Cluster) call(w *WorkloadSpec, client, i int) {
	b := c.Broker(w.From)
	var params map[string]any
	if w.ParamsFunc != nil {
		params = w.ParamsFunc(client, i)
	} else {
		params = c.expand(w.Params, client, i).(map[string]any)
	}
	opts := []broker.CallOption{broker.WithMeta(c.expandMap(w.Meta, client, i))}
	if w.Timeout != nil {
		opts = append(opts, broker.WithTimeout(*w.Timeout))
	}
	if w.Retries != nil {
		opts = append(opts, broker.WithRetries(*w.Retries))
	}
	if w.Fallback != nil {
		opts = append(opts, broker.WithFallback(w.Fallback))
	}
	if w.NodeID != "" {
		opts = append(opts, broker.WithNodeID(w.NodeID))
	}
	_, _ = b.Call(w.Action, params, opts...)
}

func (c *Cluster) expandMap(m map[string]any, client, i int) map[string]any {
	if m == nil {
		return nil
	}
	return c.expand(m, client, i).(map[string]any)
}

// expand substitutes {{client}} and {{i}} in string values of params; a value that is
// exactly "{{i}}" or "{{client}}" becomes the number, "{{token}}" / "{{token:<email>}}" a
// seeded user's JWT.
func (c *Cluster) expand(v any, client, i int) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if val == nil {
				out[k] = nil
				continue
			}
			out[k] = c.expand(val, client, i)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for k, val := range x {
			out[k] = c.expand(val, client, i)
		}
		return out
	case string:
		switch x {
		case "{{i}}":
			return i
		case "{{client}}":
			return client
		}
		if email, ok := strings.CutPrefix(x, "{{token"); ok && strings.HasSuffix(email, "}}") {
			return c.tokens[strings.TrimPrefix(strings.TrimSuffix(email, "}}"), ":")]
		}
		x = strings.ReplaceAll(x, "{{i}}", strconv.Itoa(i))
		return strings.ReplaceAll(x, "{{client}}", strconv.Itoa(client))
	}
	return v
}

// seedProducts creates the scenario's products (ids 1, 2, ... in order) through the cluster,
// from the first node.
func (c *Cluster) seedProducts() error {
	c.tokens = map[string]string{}
	for _, u := range c.scenario.Config.Users {
		b := c.Broker(c.order[0])
		if _, err := b.Call("user.register", map[string]any{"email": u.Email, "password": u.Password, "name": u.Name}); err != nil {
			return fmt.Errorf("register %s: %w", u.Email, err)
		}
		res, err := b.Call("user.login", map[string]any{"email": u.Email, "password": u.Password})
		if err != nil {
			return fmt.Errorf("login %s: %w", u.Email, err)
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := broker.Decode(res, &out); err != nil || out.Token == "" {
			return fmt.Errorf("login %s: no token in %v", u.Email, res)
		}
		c.tokens[u.Email] = out.Token
		if _, ok := c.tokens[""]; !ok {
			c.tokens[""] = out.Token
		}
	}
	for _, p := range c.scenario.Config.Products {
		b := c.Broker(c.order[0])
		if _, err := b.Call("product.create", map[string]any{"name": p.Name, "price": p.Price, "stock": p.Stock}); err != nil {
			return err
		}
	}
	return nil
}
