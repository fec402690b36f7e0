package testutil

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/mailer"
)

// Spec describes a cluster: where it runs, its network, its nodes and what they share.
type Spec struct {
	// Tier is where the nodes run: TierSim (default), TierWall, or a registered tier.
	Tier string
	// Seed seeds the simulated runtime: the same seed and the same test give the same run.
	Seed uint64
	// Network configures the in-process network; the zero value is realistic (0.5–2 ms,
	// seeded), Ideal is zero latency. See NetworkSpec.
	Network NetworkSpec
	// Sim configures the simulator (idle limit).
	Sim []rt.SimOption
	// Nodes are the cluster's first nodes, started in this order by Start. More can join
	// at any time with AddNode.
	Nodes []NodeSpec
	// Resources are shared by every node's services (the JWT secret, the stores, the
	// outboxes, send behaviour). Nil means catalog.SimResources(), closed by Close; given
	// resources are the caller's to close.
	Resources *catalog.Resources
	// Services adds constructors, or replaces catalog ones, for this cluster only: a node
	// names them in NodeSpec.Services like catalog services.
	Services map[string]catalog.Constructor
	// Cacher is the cacher kind of nodes whose NodeSpec.Cacher and Options.Cacher are unset:
	// CacherNone, CacherMemory, CacherMemoryLRU, CacherShared or CacherRedis.
	Cacher string
	// InjectFaults installs the fault layer's seams on every node — the action-fault
	// middleware (innermost) and a FlakyCacher around the node's cacher — so that
	// Cluster.Faults can schedule action and cacher faults too. Network and node faults need
	// no seam and are always available.
	InjectFaults bool
}

// NodeSpec is one node.
type NodeSpec struct {
	// ID is the node ID, unique in the cluster.
	ID string
	// Services are names of catalog services (or Spec.Services) the node runs; each
	// (re)start of the node builds them afresh.
	Services []string
	// Define returns service definitions of the test's own; it is called at every (re)start,
	// so returning fresh definitions models a process that builds its state afresh.
	Define func() []*broker.Service
	// Cacher is the node's cacher kind, overriding Spec.Cacher; CacherMaxEntries bounds a
	// CacherMemoryLRU.
	Cacher           string
	CacherMaxEntries int
	// Options are the node's broker options. The cluster sets NodeID, Runtime (the tier's,
	// with a clock of the node's own that SetSkew moves), Journal and Transporter (unless
	// set: a transporter given here is reused when the node restarts) and Cacher (unless set).
	Options broker.Options
	// Process, when set, runs the node as an OS process of its own instead of a broker in
	// this process, on a tier that can (a ProcessTier); Node returns nil for it. Services,
	// Cacher and Process.Args describe it to the process; Options and Define are not used.
	Process *ProcessSpec
}

// ProcessSpec describes a node that runs as a process.
type ProcessSpec struct {
	// Args are extra arguments for the node's program (the tier knows the program and the
	// connection arguments).
	Args []string
	// Command, when set, is an external program instead (any process that joins over
	// NATS), with Env added to its environment; the tier replaces {{nats}} and {{id}} in both.
	Command []string
	Env     map[string]string
	// Metrics and Traces ask the tier to collect the process's metrics and spans (the real
	// tier scrapes them over NATS; an external command is not asked).
	Metrics, Traces bool
}

// Cluster is a running set of brokers on one tier, one journal and one set of shared
// resources. Everything that blocks (Start, AddNode, Restart, WaitForServices, calls) runs
// inside Run: in the simulator that makes it a simulated task; on the wall clock Run simply
// calls its function.
//
// Crash, Pause, Resume and SetSkew never block, so faults may call them from timers
// (Cluster implements faults.Nodes through FaultNodes).
type Cluster struct {
	Spec Spec
	// Tier is where the nodes run; Runtime its runtime; Sim the same runtime when simulated,
	// else nil; Net the in-process network (nil on a tier without one).
	Tier    Tier
	Runtime rt.Runtime
	Sim     *rt.Sim
	Net     *memnet.Network
	Journal *journal.Journal
	// Resources are the shared resources.
	Resources *catalog.Resources
	// Faults schedules faults on this cluster: network faults on Net, node faults on its
	// nodes, and with Spec.InjectFaults action, cacher and database faults (cachers by node
	// ID, databases by model name: adapters the cluster creates from then on). Its
	// start times are relative to the cluster's creation.
	Faults *faults.Injector

	mu           sync.Mutex
	nodes        map[string]*node
	order        []string
	started      bool
	cachers      *cachers
	flaky        map[string]*faults.FlakyCacher
	flakyDBs     map[string]*faults.FlakyAdapter // by model name, with Spec.InjectFaults
	ownResources bool
	closed       bool
	partitions   int
}

// node is one node's spec and its current incarnation.
type node struct {
	spec   NodeSpec
	clock  *rt.Skewed
	broker *broker.Broker
	// proc is the current incarnation of a process node (nil before its first start).
	proc Process
}

// Build creates the cluster and its first nodes' brokers with their services, not started.
// Start them with Start inside Run.
func Build(spec Spec) (*Cluster, error) {
	tier, err := openTier(&spec)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Spec: spec, Tier: tier, Runtime: tier.Runtime(), Sim: tier.Sim(), Net: tier.Net(),
		nodes: map[string]*node{}, flaky: map[string]*faults.FlakyCacher{}, flakyDBs: map[string]*faults.FlakyAdapter{}}
	c.Journal = journal.New(c.Runtime)
	c.Resources = spec.Resources
	if c.Resources == nil {
		c.Resources, c.ownResources = catalog.SimResources(), true
	}
	c.cachers = &cachers{clock: c.Runtime}
	if err := c.cachers.check(spec.Cacher); err != nil {
		c.Close()
		return nil, err
	}
	targets := faults.Targets{Net: c.Net, Nodes: FaultNodes{c}, Cachers: c.flaky, Databases: c.flakyDBs}
	if lt, ok := tier.(linkTier); ok {
		targets.Links = lt.Links()
	}
	c.Faults = faults.New(c.Runtime, c.Journal, targets)
	if spec.InjectFaults {
		c.Resources.WrapAdapters(func(m db.Model, a db.Adapter) db.Adapter {
			fa := faults.NewFlakyAdapter(a, c.Runtime)
			c.mu.Lock()
			c.flakyDBs[m.Name] = fa
			c.mu.Unlock()
			return fa
		})
	}
	for _, ns := range spec.Nodes {
		if _, err := c.addNode(ns); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// MustBuild is Build that fails the test on error and closes the cluster when the test ends.
func MustBuild(t testing.TB, spec Spec) *Cluster {
	t.Helper()
	c, err := Build(spec)
	if err != nil {
		t.Fatalf("testutil.Build: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewSim returns an empty simulated cluster for unit tests of the broker: seeded, on an ideal
// (zero-latency) network unless one is given. Add nodes with MustAddNode; Close it when done.
func NewSim(seed uint64, network ...NetworkSpec) *Cluster {
	spec := Spec{Seed: seed, Network: Ideal}
	if len(network) > 0 {
		spec.Network = network[0]
	}
	c, err := Build(spec)
	if err != nil {
		panic(err)
	}
	return c
}

// MustAddNode adds a node running the given service definitions (the same definitions at
// every restart) and returns its broker; it panics on error. Before Start it only builds the broker; after,
// it also starts it and waits until it has joined (so, inside Run).
func (c *Cluster) MustAddNode(id string, opts broker.Options, services ...*broker.Service) *broker.Broker {
	b, err := c.AddNode(NodeSpec{ID: id, Options: opts, Define: func() []*broker.Service { return services }})
	if err != nil {
		panic(err)
	}
	return b
}

func (c *Cluster) constructor(name string) (catalog.Constructor, error) {
	if ctor, ok := c.Spec.Services[name]; ok {
		return ctor, nil
	}
	if ctor, ok := catalog.Lookup(name); ok {
		return ctor, nil
	}
	return nil, fmt.Errorf("testutil: unknown service %q (catalog has %v)", name, catalog.Names())
}

// newBroker builds a fresh incarnation of a node: fresh options, cacher and services.
func (c *Cluster) newBroker(n *node) (*broker.Broker, error) {
	ns := n.spec
	opts := ns.Options
	opts.NodeID, opts.Runtime = ns.ID, n.clock
	if opts.Journal == nil {
		opts.Journal = c.Journal
	}
	if opts.Transporter == nil {
		opts.Transporter = c.Tier.Transporter(ns.ID)
	}
	if opts.Cacher == nil {
		kind := ns.Cacher
		if kind == "" {
			kind = c.Spec.Cacher
		}
		cacher, err := c.cachers.forNode(kind, ns.CacherMaxEntries, n.clock)
		if err != nil {
			return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
		}
		opts.Cacher = cacher
	}
	if c.Spec.InjectFaults {
		opts.Middlewares = append(slices.Clone(opts.Middlewares), c.Faults.Middleware())
		if opts.Cacher != nil {
			fc := faults.NewFlakyCacher(opts.Cacher, c.Runtime)
			c.mu.Lock()
			c.flaky[ns.ID] = fc
			c.mu.Unlock()
			opts.Cacher = fc
		}
	}
	b, err := broker.New(opts)
	if err != nil {
		return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
	}
	for _, name := range ns.Services {
		ctor, err := c.constructor(name)
		if err != nil {
			return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
		}
		s, err := ctor(c.Resources)
		if err != nil {
			return nil, fmt.Errorf("testutil: node %s: service %s: %w", ns.ID, name, err)
		}
		if _, err := b.AddService(s); err != nil {
			return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
		}
	}
	if ns.Define != nil {
		for _, s := range ns.Define() {
			if _, err := b.AddService(s); err != nil {
				return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
			}
		}
	}
	return b, nil
}

func (c *Cluster) addNode(ns NodeSpec) (*broker.Broker, error) {
	if ns.ID == "" {
		return nil, errors.New("testutil: a node needs an ID")
	}
	c.mu.Lock()
	_, dup := c.nodes[ns.ID]
	c.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("testutil: duplicate node ID %q", ns.ID)
	}
	ns.Services = slices.Clone(ns.Services)
	n := &node{spec: ns, clock: rt.NewSkewed(c.Runtime)}
	if ns.Process != nil {
		if _, ok := c.Tier.(ProcessTier); !ok {
			return nil, fmt.Errorf("testutil: node %s: tier %s cannot run a node as a process", ns.ID, c.Spec.Tier)
		}
	} else {
		b, err := c.newBroker(n)
		if err != nil {
			return nil, err
		}
		n.broker = b
	}
	b := n.broker
	c.mu.Lock()
	c.nodes[ns.ID] = n
	c.order = append(c.order, ns.ID)
	c.mu.Unlock()
	return b, nil
}

// Start starts every node (concurrently, as tasks) and waits until every node knows every
// other one and its services. It blocks: call it inside Run.
func (c *Cluster) Start() error {
	c.mu.Lock()
	ids := slices.Clone(c.order)
	c.started = true
	c.mu.Unlock()
	if err := c.startNodes(ids); err != nil {
		return err
	}
	return c.waitMesh()
}

func (c *Cluster) startNodes(ids []string) error {
	errs := make([]error, len(ids))
	done := make([]rt.Signal, len(ids))
	for i, id := range ids {
		n, err := c.lookup(id)
		if err != nil {
			return err
		}
		done[i] = c.Runtime.NewSignal("start of " + id)
		c.Runtime.Go("start "+id, func() { errs[i] = c.startNode(n); done[i].Fire() })
	}
	for _, d := range done {
		d.Wait()
	}
	return errors.Join(errs...)
}

// startNode starts a node's current broker, or a new incarnation of a process node.
func (c *Cluster) startNode(n *node) error {
	if n.spec.Process == nil {
		return n.broker.Start()
	}
	p, err := c.Tier.(ProcessTier).Spawn(n.spec, c.Journal)
	if err != nil {
		return err
	}
	c.mu.Lock()
	n.proc = p
	c.mu.Unlock()
	return nil
}

// settleTimeout bounds every wait for the cluster to settle, in the cluster's time.
const settleTimeout = time.Minute

// waitUntil polls cond every tier poll step until it holds or settleTimeout passes. In the
// simulator a poll step of zero (an ideal network) lets same-instant work run; if the clock
// has not moved after many such polls, the wait steps a millisecond so that it cannot spin
// at one instant.
func (c *Cluster) waitUntil(what string, cond func() bool) error {
	start := c.Runtime.Now()
	step := c.Tier.PollStep()
	spins := 0
	for !cond() {
		if c.Runtime.Now().Sub(start) > settleTimeout {
			return fmt.Errorf("testutil: %s within %s", what, settleTimeout)
		}
		d := step
		if d == 0 {
			if spins++; spins > 1000 {
				d = time.Millisecond
			}
		}
		c.Runtime.Sleep(d)
	}
	return nil
}

// waitMesh waits until every running node sees every other running node's current
// incarnation as available.
func (c *Cluster) waitMesh() error {
	if c.Sim != nil {
		return c.waitUntil("nodes did not discover each other", c.meshed)
	}
	// A real transport may lose the first round of INFO (see Broker.Rediscover): ask again
	// every rediscoverEvery instead of waiting for the next heartbeat.
	last := c.Runtime.Now()
	return c.waitUntil("nodes did not discover each other", func() bool {
		if c.meshed() {
			return true
		}
		if c.Runtime.Now().Sub(last) >= rediscoverEvery {
			last = c.Runtime.Now()
			for _, id := range c.NodeIDs() {
				if b := c.Node(id); b != nil && b.Started() {
					b.Rediscover()
				}
			}
		}
		return false
	})
}

// rediscoverEvery is how long a real cluster may take to mesh before its nodes announce
// themselves again.
const rediscoverEvery = 500 * time.Millisecond

func (c *Cluster) meshed() bool {
	type peer struct{ id, instance string }
	var running []peer // node and instance ID, in node order
	var brokers []*broker.Broker
	for _, id := range c.NodeIDs() {
		if p := c.process(id); p != nil {
			if p.Running() {
				running = append(running, peer{id, p.InstanceID()})
			}
			continue
		}
		b := c.Node(id)
		if b == nil || !b.Started() {
			continue
		}
		inst, _ := b.Sees(id) // its own entry
		running = append(running, peer{id, inst})
		brokers = append(brokers, b)
	}
	// Point look-ups (Broker.Sees), stopping at the first node not seen: a poll of a large
	// cluster that has not meshed yet costs little, and one that has costs N² map reads, not
	// N copies of every registry.
	for _, b := range brokers {
		for _, p := range running {
			inst, available := b.Sees(p.id)
			if !available {
				inst = "" // as not known at all
			}
			if inst != p.instance {
				return false
			}
		}
	}
	return true
}

// WaitForServices waits, as Moleculer's broker.waitForServices does, until every running
// node sees each named service (full names, "v2.greeter") available somewhere in the
// cluster; it fails after a minute of the cluster's time. It returns at the instant the last
// node learns of the last service (it waits on the brokers' registry changes, it does not
// poll). Call it inside Run.
func (c *Cluster) WaitForServices(names ...string) error {
	timedOut := c.Runtime.NewSignal("WaitForServices timeout")
	timer := c.Runtime.AfterFunc(settleTimeout, timedOut.Fire)
	defer timer.Stop()
	for _, id := range c.NodeIDs() {
		b := c.Node(id)
		if b == nil || !b.Started() {
			continue
		}
		seen := c.Go(fmt.Sprintf("%s waits for services %v", id, names), func() { b.WaitForServices(names...) })
		either := c.Runtime.NewSignal(fmt.Sprintf("services %v on %s, or the timeout", names, id))
		seen.OnFire(either.Fire)
		timedOut.OnFire(either.Fire)
		either.Wait()
		if !seen.Fired() {
			return fmt.Errorf("testutil: services %v did not become available on %s within %s", names, id, settleTimeout)
		}
	}
	return nil
}

// Run runs fn: in the simulator as its main task (failing the test on deadlock or panic),
// on the wall clock directly.
func (c *Cluster) Run(t testing.TB, fn func()) {
	t.Helper()
	if c.Sim == nil {
		fn()
		return
	}
	RunSim(t, c.Sim, fn)
}

// RunSim runs fn as the main task of sim and fails the test on deadlock or panic. Unlike a
// bare sim.Run, a failed require inside fn ends the run instead of hanging it.
func RunSim(t testing.TB, sim *rt.Sim, fn func()) {
	t.Helper()
	if err := sim.Run(goexitSafe(sim, fn)); err != nil {
		t.Fatalf("simulation (seed %d): %v", sim.Seed(), err)
	}
}

// goexitSafe runs fn in a task of its own and waits for it. A failed require (t.FailNow)
// inside fn ends fn's goroutine with runtime.Goexit; rt.Sim.Run never returns when its
// main task does that, but a deferred Fire still runs, so the waiting main task returns.
func goexitSafe(sim *rt.Sim, fn func()) func() {
	return func() {
		done := sim.NewSignal("the test's main function")
		sim.Go("test main", func() {
			defer done.Fire()
			fn()
		})
		done.Wait()
	}
}

// Node returns a node's current broker (nil for an unknown ID).
func (c *Cluster) Node(id string) *broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil {
		return n.broker
	}
	return nil
}

// process returns a process node's current incarnation (nil for other nodes, or before its
// first start).
func (c *Cluster) process(id string) Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil {
		return n.proc
	}
	return nil
}

// NodeIDs returns the node IDs in the order they were added.
func (c *Cluster) NodeIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// NodesRunning returns the IDs of the nodes running a catalog service, in the order they
// were added.
func (c *Cluster) NodesRunning(service string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range c.order {
		if slices.Contains(c.nodes[id].spec.Services, service) {
			out = append(out, id)
		}
	}
	return out
}

// AddNode adds a node at any time; if the cluster is started, it starts the node and waits
// until it has joined (a late join: so, inside Run).
func (c *Cluster) AddNode(ns NodeSpec) (*broker.Broker, error) {
	b, err := c.addNode(ns)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		if err := c.startNodes([]string{ns.ID}); err != nil {
			return nil, err
		}
		if err := c.waitMesh(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (c *Cluster) lookup(id string) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("testutil: no node %q", id)
}

// Crash kills a node as a killed process dies (see broker.Crash): no goodbye, its memory is
// gone, other nodes notice when its heartbeats stop. Shared stores are untouched.
func (c *Cluster) Crash(id string) error {
	n, err := c.lookup(id)
	if err != nil {
		return err
	}
	if n.spec.Process != nil {
		if p := c.process(id); p != nil {
			p.Kill()
		}
		return nil
	}
	n.broker.Crash()
	return nil
}

// Stop stops a node gracefully (DISCONNECT sent).
func (c *Cluster) Stop(id string) error {
	n, err := c.lookup(id)
	if err != nil {
		return err
	}
	if n.spec.Process != nil {
		if p := c.process(id); p != nil {
			return p.Stop()
		}
		return nil
	}
	return n.broker.Stop()
}

// Restart replaces a node by a fresh incarnation with the same ID, options and services:
// fresh in-memory state (registry, breakers, per-node cacher, service state), the same shared
// stores and outboxes. A node still running is crashed first; a paused one is resumed. It
// waits until the new incarnation has joined, so call it inside Run.
func (c *Cluster) Restart(id string) error {
	n, err := c.lookup(id)
	if err != nil {
		return err
	}
	if n.spec.Process != nil {
		if err := c.restartProcess(n); err != nil {
			return err
		}
		return c.waitMesh()
	}
	b, err := c.replace(id)
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	return c.waitMesh()
}

// restartProcess kills a process node's incarnation (resuming it first if it is paused, as
// a restarted process would be) and spawns a new one with the same ID.
func (c *Cluster) restartProcess(n *node) error {
	if p := c.process(n.spec.ID); p != nil {
		p.Kill()
	}
	return c.startNode(n)
}

// RestartAsync is Restart that does not wait: the new incarnation starts in a task of its
// own (a failed start is journaled). Fault heals use it, as they must not block.
func (c *Cluster) RestartAsync(id string) error {
	if n, err := c.lookup(id); err == nil && n.spec.Process != nil {
		c.Runtime.Go("restart "+id, func() {
			if err := c.restartProcess(n); err != nil {
				c.Journal.Record(id, journal.Step, map[string]any{"step": "restart failed", "error": err.Error()})
			}
		})
		return nil
	}
	b, err := c.replace(id)
	if err != nil {
		return err
	}
	c.Runtime.Go("restart "+id, func() {
		if err := b.Start(); err != nil {
			c.Journal.Record(id, journal.Step, map[string]any{"step": "restart failed", "error": err.Error()})
		}
	})
	return nil
}

func (c *Cluster) replace(id string) (*broker.Broker, error) {
	n, err := c.lookup(id)
	if err != nil {
		return nil, err
	}
	n.broker.Crash() // a no-op when it is already down
	if c.Net != nil && c.Net.Paused(id) {
		c.Net.Resume(id)
	}
	b, err := c.newBroker(n)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	n.broker = b
	c.mu.Unlock()
	return b, nil
}

// Pause freezes a node's traffic: it neither hears nor is heard, as a stopped process; its
// peers lose it after their heartbeat timeout.
func (c *Cluster) Pause(id string) error {
	if _, err := c.lookup(id); err != nil {
		return err
	}
	return c.Tier.Pause(id)
}

// Resume releases a paused node; what it missed arrives in order.
func (c *Cluster) Resume(id string) error {
	if _, err := c.lookup(id); err != nil {
		return err
	}
	return c.Tier.Resume(id)
}

// SetSkew sets a node's clock offset (only its clock reading moves; timers keep their pace).
func (c *Cluster) SetSkew(id string, d time.Duration) error {
	n, err := c.lookup(id)
	if err != nil {
		return err
	}
	n.clock.SetSkew(d)
	return nil
}

// Partition cuts every link between the nodes of a and those of b (b empty: every other
// node) for d of the cluster's time (0: until the cluster ends). It is a fault like any
// other: journaled when applied and healed.
func (c *Cluster) Partition(a, b []string, d time.Duration) error {
	c.mu.Lock()
	c.partitions++
	name := fmt.Sprintf("partition-%d", c.partitions)
	c.mu.Unlock()
	return c.Faults.Add(faults.Spec{Name: name, Fault: faults.Symmetric{A: a, B: b}, Duration: d})
}

// FaultNodes adapts a cluster to faults.Nodes: the same methods, with a restart that does
// not wait (fault callbacks must not block).
type FaultNodes struct{ C *Cluster }

var _ faults.Nodes = FaultNodes{}

func (f FaultNodes) Crash(id string) error                    { return f.C.Crash(id) }
func (f FaultNodes) Restart(id string) error                  { return f.C.RestartAsync(id) }
func (f FaultNodes) Pause(id string) error                    { return f.C.Pause(id) }
func (f FaultNodes) Resume(id string) error                   { return f.C.Resume(id) }
func (f FaultNodes) SetSkew(id string, d time.Duration) error { return f.C.SetSkew(id, d) }

// FlakyCacher returns the fault wrapper around a node's cacher (Spec.InjectFaults), or nil.
func (c *Cluster) FlakyCacher(id string) *faults.FlakyCacher {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flaky[id]
}

// Go runs fn as a task of the cluster's runtime and returns a signal fired when it returns.
func (c *Cluster) Go(name string, fn func()) rt.Signal {
	done := c.Runtime.NewSignal(name)
	c.Runtime.Go(name, func() {
		defer done.Fire()
		fn()
	})
	return done
}

// Wait blocks until every signal has fired.
func Wait(sigs ...rt.Signal) {
	for _, s := range sigs {
		s.Wait()
	}
}

// Sleep waits on the cluster's clock (virtual in the simulator).
func (c *Cluster) Sleep(d time.Duration) { c.Runtime.Sleep(d) }

// Elapsed is the cluster's time since it was built.
func (c *Cluster) Elapsed() time.Duration { return c.Runtime.Now().Sub(c.Faults.Origin()) }

// Adapter returns the shared store of a model (for assertions and fixtures).
func (c *Cluster) Adapter(m db.Model) db.Adapter {
	a, err := c.Resources.Adapter(m)
	if err != nil {
		panic(err)
	}
	return a
}

// Outbox returns the shared outbox of a messaging service ("email", "notification").
func (c *Cluster) Outbox(service string) *mailer.Outbox { return c.Resources.Outbox(service) }

// Kinds returns the journal's entries of the given kinds.
func (c *Cluster) Kinds(kinds ...string) []journal.Entry {
	return journal.Filter(c.Journal.Entries(), kinds...)
}

// Close ends the cluster: the fault schedule stops, the simulator is closed (every task
// unwinds) or real brokers are stopped, and what Build created is closed. It is idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	brokers := make([]*broker.Broker, 0, len(c.nodes))
	var procs []Process
	for _, id := range c.order {
		if b := c.nodes[id].broker; b != nil {
			brokers = append(brokers, b)
		}
		if p := c.nodes[id].proc; p != nil {
			procs = append(procs, p)
		}
	}
	c.mu.Unlock()
	if c.Sim == nil {
		if c.Faults != nil {
			c.Faults.Stop()
		}
		for _, p := range procs {
			_ = p.Stop()
		}
		for _, b := range brokers {
			_ = b.Stop()
		}
	}
	c.Tier.Close()
	c.cachers.close()
	if c.ownResources && c.Resources != nil {
		_ = c.Resources.Close()
	}
}
