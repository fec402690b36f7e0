package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/realtier/natsmesh"
	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/testutil"
)

// RealTier is the tier name of realtier/proctier (every serving node an OS process, on real
// NATS; "process" is another name of it); ContainersTier the same with NATS and Redis in
// Docker containers (one NATS server: no routes to cut).
const (
	RealTier       = "real"
	ContainersTier = "containers"
)

// processLike reports whether a tier runs serving nodes as processes.
func processLike(tier string) bool {
	tier = testutil.CanonicalTier(tier)
	return tier == RealTier || tier == ContainersTier
}

// processNodes are the nodes that run as processes on the process tier: those that serve
// services and make no calls of the scenario's (workload, setup, seeding), which stay in the
// harness process where the engine drives them.
func processNodes(s *Scenario) map[string]bool {
	drives := drivers(s)
	out := map[string]bool{}
	for _, n := range s.Nodes {
		if len(n.Command) > 0 || len(n.Services) > 0 && !drives[n.ID] {
			out[n.ID] = true
		}
	}
	return out
}

// drivers are the nodes the engine makes the scenario's calls on: the workload's and the
// setup's, and the first node, where the seeding calls are made.
func drivers(s *Scenario) map[string]bool {
	drives := map[string]bool{}
	if len(s.Nodes) > 0 {
		drives[s.Nodes[0].ID] = true
	}
	for _, w := range s.Workload {
		drives[w.From] = true
	}
	for _, c := range s.SetupCalls {
		drives[c.From] = true
	}
	return drives
}

// processOnlyProblems refuses what only the process tiers can run (external nodes, toxics)
// on any other tier, and external nodes as drivers.
func processOnlyProblems(s *Scenario, tier string) []FieldError {
	drives := drivers(s)
	var out []FieldError
	if testutil.CanonicalTier(tier) != RealTier {
		for i, f := range s.Faults {
			if f.Kind == "toxic" {
				out = append(out, FieldError{Path: fmt.Sprintf("faults[%d].kind", i),
					Msg: fmt.Sprintf("a toxic fault is a Toxiproxy toxic on the routes between the nodes' NATS servers: it runs on tier real only, not %s", orSim(tier))})
			}
		}
	}
	for i, n := range s.Nodes {
		if len(n.Command) == 0 {
			continue
		}
		path := fmt.Sprintf("nodes[%d].command", i)
		switch {
		case !processLike(tier):
			out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("node %s is an external process: it runs on tiers real and containers only (faultline run --tier real)", n.ID)})
		case drives[n.ID]:
			out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("node %s is an external process and cannot make the scenario's calls (workload, setup, seeding: the first node)", n.ID)})
		}
	}
	return out
}

// processArgs are what a process node needs of the scenario: its options and the services'
// configuration (faultline node --options, --config).
func processArgs(s *Scenario, n NodeSpec) ([]string, error) {
	opts, err := json.Marshal(n.Options)
	if err != nil {
		return nil, err
	}
	cfg := s.Config
	cfg.Products, cfg.Users = nil, nil // seeded by the harness, through the cluster
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return []string{"--options", string(opts), "--config", string(conf)}, nil
}

// TierProblems lists what of s the tier cannot carry out, each with its field path and the
// reason; none means the scenario can run there. A fault the tier cannot express is refused,
// never silently left out. On the simulator and the in-process tiers that is only what needs
// real processes; on the process tiers, every fault and check they cannot do.
func TierProblems(s *Scenario, tier string) []FieldError {
	tier = testutil.CanonicalTier(tier)
	out := processOnlyProblems(s, tier)
	if !processLike(tier) {
		return out
	}
	procs := processNodes(s)
	for i, f := range s.Schedule() {
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", f.Kind, i)
		}
		path := fmt.Sprintf("faults[%d].kind", i)
		if i >= len(s.Faults) {
			path = "nemesis.kinds" // drawn from the seed
		}
		why := ""
		switch f.Kind {
		case "crash", "pause":
			if !procs[f.Node] {
				why = fmt.Sprintf("node %s runs in the harness (it drives the workload), and only process nodes can be killed or stopped", f.Node)
			}
		case "partition", "isolate":
			if tier == ContainersTier {
				why = "the containers tier has one NATS server for every node, so no route to cut (tier real partitions)"
			} else if len(f.Types) > 0 {
				why = "a partition of some packet types needs the in-memory network; the real tier cuts whole NATS routes"
			}
		case "error", "delay", "hang", "panic":
			// applied in the node processes over their control subjects (remoteFault)
		case "asymmetric":
			// made by the receiving nodes' transporters (oneWay)
		case "cacher-down", "cacher-slow":
			if f.Node == "" || !procs[f.Node] {
				why = "a cacher fault on the real tier names a process node (node:), whose cacher it takes down in the process"
			} else if cacherOf(s, f.Node) == "" {
				why = fmt.Sprintf("node %s has no cacher", f.Node)
			}
		case "db-down", "db-slow":
			// applied in every node process (they share the database)
		case "skew":
			why = "a process's clock cannot be skewed (it is the machine's)"
		case "toxic":
			// on the process tier's routes (routeToxic); refused elsewhere by processOnlyProblems
		case "latency":
			switch {
			case tier == ContainersTier:
				why = "the containers tier has one NATS server, so no route to slow down (tier real does)"
			case len(f.From) > 0 || len(f.To) > 0 || len(f.Types) > 0:
				why = "latency on the real tier is a Toxiproxy toxic on every route between the nodes' servers, both ways: it cannot pick senders, receivers or packet types"
			case f.Dist != "" && f.Dist != "uniform":
				why = fmt.Sprintf("Toxiproxy's jitter is uniform; dist %q needs the in-memory network", f.Dist)
			case f.Delay%time.Millisecond != 0 || f.Jitter%time.Millisecond != 0:
				why = "Toxiproxy's latency and jitter are whole milliseconds"
			}
		default:
			why = "it acts on single packets, which needs the in-memory network (tiers sim and wall); the real tier's network is NATS"
		}
		if why != "" {
			out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("fault %q (%s) cannot run on tier %s: %s", name, f.Kind, tier, why)})
		}
	}
	// Metrics and spans of node processes are collected over NATS (Observing); what cannot
	// be is refused.
	killed := map[string]bool{}
	pauses := map[string][]FaultSpec{}
	for _, f := range s.Schedule() {
		switch {
		case f.Kind == "crash" && procs[f.Node]:
			killed[f.Node] = true
		case f.Kind == "pause" && procs[f.Node]:
			pauses[f.Node] = append(pauses[f.Node], f)
		}
	}
	external := map[string]bool{}
	for _, n := range s.Nodes {
		external[n.ID] = len(n.Command) > 0
	}
	for i, c := range s.Checks {
		if c.Kind != "metric" {
			continue
		}
		path := fmt.Sprintf("checks[%d].node", i)
		if c.Node == "" {
			path = fmt.Sprintf("checks[%d].kind", i)
		}
		for _, n := range s.Nodes {
			if c.Node != "" && c.Node != n.ID {
				continue
			}
			switch {
			case external[n.ID]:
				out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("check metric on %s cannot run on tier %s: %s is an external process, whose metrics are not collected (name a node of ours in node:)", orEvery(c.Node), tier, n.ID)})
			case killed[n.ID]:
				out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("check metric on %s cannot run on tier %s: %s's process is killed, and its counters die with it (the simulator's node keeps them across a restart)", orEvery(c.Node), tier, n.ID)})
			default:
				if at, f, ok := sampledWhileStopped(s, c, pauses[n.ID]); ok {
					out = append(out, FieldError{Path: path, Msg: fmt.Sprintf("check metric on %s cannot run on tier %s: it reads %s's metrics at +%s, while fault %q has its process stopped (SIGSTOP), which cannot answer (sample before or after the pause)", orEvery(c.Node), tier, n.ID, at, f.Name)})
				}
			}
		}
	}
	if s.Setup != nil {
		out = append(out, FieldError{Msg: "a Go Setup function needs every node in the harness (tier " + tier + ")"})
	}
	return slices.Clip(out)
}

// ControlMessage is what the harness sends a process node to apply or heal a fault in it.
type ControlMessage struct {
	Op    string    `json:"op"` // "apply" or "heal"
	Name  string    `json:"name"`
	Fault FaultSpec `json:"fault,omitempty"`
}

// FaultOf builds the fault a spec describes (a process node builds what it is sent).
func FaultOf(f FaultSpec) (faults.Fault, error) { return toFault(f) }

// remoteFault is a fault on the process tier applied, over their control subjects, in the
// node processes it targets, and (local) in the harness's brokers as usual: an action fault
// acts on calls served anywhere; a cacher or database fault only in the processes, whose
// cachers and databases those are.
type remoteFault struct {
	faults.Fault
	spec  FaultSpec
	nodes []string
	local bool
	ctl   testutil.Controller
}

func (r remoteFault) Validate(env *faults.Env) error {
	if v, ok := r.Fault.(faults.Validator); ok && r.local {
		return v.Validate(env)
	}
	return nil
}

func (r remoteFault) Apply(env *faults.Env) (func(), error) {
	heal := func() {}
	if r.local {
		h, err := r.Fault.Apply(env)
		if err != nil {
			return nil, err
		}
		heal = h
	}
	name := fmt.Sprintf("%s#%d", env.Name, env.Occurrence)
	if err := control(r.ctl, "apply", name, r.spec, r.nodes...); err != nil {
		heal()
		return nil, err
	}
	return func() {
		heal()
		_ = control(r.ctl, "heal", name, r.spec, r.nodes...) // a node that is gone has nothing to heal
	}, nil
}

// control sends every node the ControlMessage to apply or heal a fault.
func control(ctl testutil.Controller, op, name string, spec FaultSpec, nodes ...string) error {
	msg, err := json.Marshal(ControlMessage{Op: op, Name: name, Fault: spec})
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nodes {
		errs = append(errs, ctl.Control(n, msg))
	}
	return errors.Join(errs...)
}

// remoteFaults wraps the action faults of a process-tier run so they reach the processes.
func remoteFaults(s *Scenario, ctl testutil.Controller) func(FaultSpec, faults.Fault) faults.Fault {
	procs := processNodes(s)
	return func(f FaultSpec, fault faults.Fault) faults.Fault {
		local := true
		switch f.Kind {
		case "error", "delay", "hang", "panic":
		case "cacher-down", "cacher-slow", "db-down", "db-slow":
			local = false
		case "asymmetric":
			return oneWay{Fault: fault, spec: f, procs: procs, ctl: ctl}
		case "latency":
			if tx, ok := ctl.(Toxics); ok {
				return routeLatency{Fault: fault, spec: f, tx: tx}
			}
			return fault
		case "toxic":
			if tx, ok := ctl.(Toxics); ok {
				return routeToxic{Fault: fault, spec: f, tx: tx}
			}
			return fault
		default:
			return fault
		}
		var nodes []string
		for _, n := range s.Nodes {
			if procs[n.ID] && (f.Node == "" || f.Node == n.ID || strings.HasPrefix(f.Kind, "db-")) {
				nodes = append(nodes, n.ID)
			}
		}
		if len(nodes) == 0 {
			return fault
		}
		return remoteFault{Fault: fault, spec: f, nodes: nodes, local: local, ctl: ctl}
	}
}

// A Cutter makes a harness node drop what arrives from some peers (the process tiers).
type Cutter interface {
	Cut(name, to string, from []string, types []packet.Type) error
	Uncut(name, to string)
}

// oneWay is an asymmetric partition on the process tiers. One TCP route carries both
// directions between two NATS servers, so it cannot be cut one way in the network: each node
// of To drops, in its own transporter, what comes from the nodes of From (a process node told
// over its control subject, a harness node through the tier).
type oneWay struct {
	faults.Fault // faults.Asymmetric: its kind and attributes; not applied (no memnet here)
	spec         FaultSpec
	procs        map[string]bool
	ctl          testutil.Controller
}

func (o oneWay) Validate(*faults.Env) error { return nil }

func (o oneWay) Apply(env *faults.Env) (func(), error) {
	name := fmt.Sprintf("%s#%d", env.Name, env.Occurrence)
	cutter, _ := o.ctl.(Cutter)
	types := PacketTypes(o.spec.Types)
	var errs []error
	for _, to := range o.spec.To {
		switch {
		case o.procs[to]:
			errs = append(errs, control(o.ctl, "apply", name, o.spec, to))
		case cutter != nil:
			errs = append(errs, cutter.Cut(name, to, o.spec.From, types))
		default:
			errs = append(errs, fmt.Errorf("tier cannot cut %s's incoming packets", to))
		}
	}
	heal := func() {
		for _, to := range o.spec.To {
			if o.procs[to] {
				_ = control(o.ctl, "heal", name, o.spec, to) // a node that is gone has nothing to heal
			} else if cutter != nil {
				cutter.Uncut(name, to)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		heal()
		return nil, err
	}
	return heal, nil
}

// cacherOf is a node's cacher kind ("" for none).
func cacherOf(s *Scenario, node string) string {
	for _, n := range s.Nodes {
		if n.ID == node {
			return n.Options.Cacher
		}
	}
	return ""
}

// Observing is a tier that collects its node processes' metrics and spans (the real tier).
type Observing interface {
	// Scrape returns the metric families of the node's running process (Prometheus
	// protobuf, length-delimited) once every span it had ended has arrived.
	Scrape(node string) ([]byte, error)
	// Spans are the spans received from the node processes (tracing.MarshalSpan's bytes).
	Spans() [][]byte
}

// Toxics is a tier whose nodes' servers are routed through Toxiproxy (the process tier).
type Toxics interface {
	RouteNodes() []string
	AddToxic(a, b string, t natsmesh.Toxic) error
	RemoveToxic(a, b string, t natsmesh.Toxic) error
}

// routeLatency is a latency fault on the process tier: a Toxiproxy latency toxic, with its
// jitter, on every route between two nodes' servers, both ways. Packets between a node and
// its own server (a node's calls to itself) are not slowed.
type routeLatency struct {
	faults.Fault // faults.Latency: its kind and attributes; not applied (no memnet here)
	spec         FaultSpec
	tx           Toxics
}

func (r routeLatency) Validate(*faults.Env) error { return nil }

func (r routeLatency) Apply(env *faults.Env) (func(), error) {
	tox := natsmesh.Toxic{Name: fmt.Sprintf("latency-%s-%d", env.Name, env.Occurrence), Type: "latency",
		Attributes: map[string]any{"latency": r.spec.Delay.Milliseconds(), "jitter": r.spec.Jitter.Milliseconds()}}
	nodes := r.tx.RouteNodes()
	var pairs [][2]string
	for i := range nodes {
		for j := i + 1; j < len(nodes); j++ {
			pairs = append(pairs, [2]string{nodes[i], nodes[j]})
		}
	}
	return addToxics(r.tx, pairs, tox)
}

// addToxics puts tox on the route of every pair and returns what takes them all off; if one
// fails, those already added are taken off again.
func addToxics(tx Toxics, pairs [][2]string, tox natsmesh.Toxic) (func(), error) {
	heal := func(done [][2]string) {
		for _, p := range done {
			_ = tx.RemoveToxic(p[0], p[1], tox)
		}
	}
	for k, p := range pairs {
		if err := tx.AddToxic(p[0], p[1], tox); err != nil {
			heal(pairs[:k])
			return nil, err
		}
	}
	return func() { heal(pairs) }, nil
}

// sampledWhileStopped finds an instant at which check c reads the metrics (its at:, its
// window's samples, else the run's end) inside one of the pauses, when the node's process is
// stopped and cannot answer the scrape; a stopped process's counters cannot be read.
func sampledWhileStopped(s *Scenario, c CheckSpec, pauses []FaultSpec) (time.Duration, FaultSpec, bool) {
	if len(pauses) == 0 {
		return 0, FaultSpec{}, false
	}
	instants := (&MetricCheck{At: c.At, During: check.Window{From: c.From, To: c.To}, Every: c.Every}).instants()
	if len(instants) == 0 {
		instants = []time.Duration{s.Duration}
	}
	for _, t := range instants {
		for _, f := range pauses {
			if stoppedAt(f, t, s.Duration) {
				return t, f, true
			}
		}
	}
	return 0, FaultSpec{}, false
}

// stoppedAt reports whether the pause f holds at t (the heal's own instant included: a
// scrape then races the SIGCONT).
func stoppedAt(f FaultSpec, t, end time.Duration) bool {
	if t < f.Start || t > end {
		return false
	}
	if f.Every <= 0 {
		return f.Duration == 0 || t <= f.Start+f.Duration
	}
	k := (t - f.Start) / f.Every
	if f.Count > 0 && int(k) >= f.Count {
		return false
	}
	return t-f.Start-k*f.Every <= f.Duration
}

func orEvery(node string) string {
	if node == "" {
		return "every node"
	}
	return node
}

func orSim(tier string) string {
	if tier == "" {
		return "sim"
	}
	return tier
}

// routeToxic is a toxic fault on the process tier: the toxic on every route between a node of
// A and a node of B (B empty: every other node; A empty: every route), both ways.
type routeToxic struct {
	faults.Fault
	spec FaultSpec
	tx   Toxics
}

func (r routeToxic) Apply(env *faults.Env) (func(), error) {
	attrs := map[string]any{}
	for k, v := range r.spec.Attributes {
		attrs[k] = int64(v)
	}
	tox := natsmesh.Toxic{Name: fmt.Sprintf("%s-%s-%d", r.spec.Toxic, env.Name, env.Occurrence), Type: r.spec.Toxic, Attributes: attrs}
	inA := func(n string) bool { return len(r.spec.A) == 0 || slices.Contains(r.spec.A, n) }
	inB := func(n string) bool { return len(r.spec.B) == 0 || slices.Contains(r.spec.B, n) }
	nodes := r.tx.RouteNodes()
	var pairs [][2]string
	for i := range nodes {
		for j := i + 1; j < len(nodes); j++ {
			a, b := nodes[i], nodes[j]
			if inA(a) && inB(b) && (len(r.spec.B) > 0 || !slices.Contains(r.spec.A, b)) || inA(b) && inB(a) && (len(r.spec.B) > 0 || !slices.Contains(r.spec.A, a)) {
				pairs = append(pairs, [2]string{a, b})
			}
		}
	}
	return addToxics(r.tx, pairs, tox)
}
