package testutil

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/mailer"
)

// Cacher kinds for Spec.Cacher.
const (
	// CacherNone: nodes cache nothing (unless their Options.Cacher says otherwise).
	CacherNone = ""
	// CacherMemory: one memory cacher per node, as Moleculer's default "Memory" cacher; a
	// restarted node starts with an empty one.
	CacherMemory = "memory"
	// CacherShared: one memory cacher shared by every node, standing for a shared Redis; it
	// survives node restarts.
	CacherShared = "shared"
)

// Spec describes a cluster: its runtime, its nodes and which services each runs.
type Spec struct {
	// Seed seeds the simulated runtime: the same seed and the same test give the same run.
	Seed uint64
	// Real runs the cluster on the wall-clock runtime (goroutines, real time) instead of the
	// simulator. The network is still memnet.
	Real bool
	// Nodes are the cluster's nodes, started in this order.
	Nodes []NodeSpec
	// Resources are shared by every node's services (the JWT secret, the stores, the
	// outboxes, send behaviour). Nil means catalog.SimResources(), closed by Close; given
	// resources are the caller's to close.
	Resources *catalog.Resources
	// Services adds constructors, or replaces catalog ones, for this cluster only: a node
	// names them in NodeSpec.Services like catalog services.
	Services map[string]catalog.Constructor
	// Cacher gives nodes whose Options.Cacher is nil a cacher: CacherNone, CacherMemory or
	// CacherShared.
	Cacher string
	// Network configures the memnet network (base latency).
	Network []memnet.Option
	// Sim configures the simulator (idle limit).
	Sim []rt.SimOption
}

// NodeSpec is one node.
type NodeSpec struct {
	// ID is the node ID, unique in the cluster.
	ID string
	// Services are names of catalog services (or Spec.Services) the node runs.
	Services []string
	// Options are the node's broker options. The builder sets NodeID, Runtime and Journal
	// (unless set), and Transporter (a memnet transport, unless set: a transporter given
	// here is reused when the node restarts).
	Options broker.Options
}

// Cluster is a running set of brokers on one runtime, one network, one journal and one set
// of shared resources. Everything that blocks (Start, Restart, AddNode, calls) runs inside
// Run: in the simulator that makes it a simulated task; on the real runtime Run simply calls
// its function.
type Cluster struct {
	Spec Spec
	// Runtime is the cluster's runtime; Sim is the same runtime when simulated, else nil.
	Runtime rt.Runtime
	Sim     *rt.Sim
	Net     *memnet.Network
	Journal *journal.Journal
	// Resources are the shared resources.
	Resources *catalog.Resources

	mu           sync.Mutex
	specs        map[string]NodeSpec
	nodes        map[string]*broker.Broker
	order        []string
	started      bool
	sharedCacher broker.Cacher
	ownResources bool
	closed       bool
}

// Build creates the cluster's brokers with their services, not started. Start them with
// Start inside Run.
func Build(spec Spec) (*Cluster, error) {
	c := &Cluster{Spec: spec, specs: map[string]NodeSpec{}, nodes: map[string]*broker.Broker{}}
	if spec.Real {
		c.Runtime = rt.NewReal()
	} else {
		c.Sim = rt.NewSim(spec.Seed, spec.Sim...)
		c.Runtime = c.Sim
	}
	c.Net = memnet.New(c.Runtime, spec.Network...)
	c.Journal = journal.New(c.Runtime)
	c.Resources = spec.Resources
	if c.Resources == nil {
		c.Resources, c.ownResources = catalog.SimResources(), true
	}
	switch spec.Cacher {
	case CacherNone, CacherMemory:
	case CacherShared:
		c.sharedCacher = cache.NewMemory(c.Runtime)
	default:
		c.Close()
		return nil, fmt.Errorf("testutil: unknown cacher %q (want %q, %q or %q)", spec.Cacher, CacherNone, CacherMemory, CacherShared)
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

func (c *Cluster) constructor(name string) (catalog.Constructor, error) {
	if ctor, ok := c.Spec.Services[name]; ok {
		return ctor, nil
	}
	if ctor, ok := catalog.Lookup(name); ok {
		return ctor, nil
	}
	return nil, fmt.Errorf("testutil: unknown service %q (catalog has %v)", name, catalog.Names())
}

// newBroker builds a fresh broker for a node spec: fresh options, fresh services.
func (c *Cluster) newBroker(ns NodeSpec) (*broker.Broker, error) {
	opts := ns.Options
	opts.NodeID, opts.Runtime = ns.ID, c.Runtime
	if opts.Journal == nil {
		opts.Journal = c.Journal
	}
	if opts.Transporter == nil {
		opts.Transporter = c.Net.Transport()
	}
	if opts.Cacher == nil {
		switch c.Spec.Cacher {
		case CacherMemory:
			opts.Cacher = cache.NewMemory(c.Runtime)
		case CacherShared:
			opts.Cacher = c.sharedCacher
		}
	}
	b, err := broker.New(opts)
	if err != nil {
		return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
	}
	for _, name := range ns.Services {
		ctor, err := c.constructor(name)
		if err != nil {
			return nil, err
		}
		s, err := ctor(c.Resources)
		if err != nil {
			return nil, fmt.Errorf("testutil: node %s: service %s: %w", ns.ID, name, err)
		}
		if _, err := b.AddService(s); err != nil {
			return nil, fmt.Errorf("testutil: node %s: %w", ns.ID, err)
		}
	}
	return b, nil
}

func (c *Cluster) addNode(ns NodeSpec) (*broker.Broker, error) {
	if ns.ID == "" {
		return nil, errors.New("testutil: a node needs an ID")
	}
	c.mu.Lock()
	_, dup := c.specs[ns.ID]
	c.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("testutil: duplicate node ID %q", ns.ID)
	}
	ns.Services = slices.Clone(ns.Services)
	b, err := c.newBroker(ns)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.specs[ns.ID] = ns
	c.nodes[ns.ID] = b
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
		b := c.Node(id)
		done[i] = c.Runtime.NewSignal("start of " + id)
		c.Runtime.Go("start "+id, func() { errs[i] = b.Start(); done[i].Fire() })
	}
	for _, d := range done {
		d.Wait()
	}
	return errors.Join(errs...)
}

// waitMesh waits until every running node sees every other running node's current
// instance as available.
func (c *Cluster) waitMesh() error {
	deadline := c.Runtime.Now().Add(time.Minute)
	for {
		if c.meshed() {
			return nil
		}
		if c.Runtime.Now().After(deadline) {
			return errors.New("testutil: nodes did not discover each other within a minute")
		}
		c.Runtime.Sleep(time.Millisecond)
	}
}

func (c *Cluster) meshed() bool {
	running := map[string]string{} // node → instance ID
	var brokers []*broker.Broker
	for _, id := range c.NodeIDs() {
		b := c.Node(id)
		if b == nil || !b.Started() {
			continue
		}
		for _, n := range b.Nodes() {
			if n.Local {
				running[id] = n.InstanceID
			}
		}
		brokers = append(brokers, b)
	}
	for _, b := range brokers {
		seen := map[string]string{}
		for _, n := range b.Nodes() {
			if n.Available {
				seen[n.ID] = n.InstanceID
			}
		}
		for id, inst := range running {
			if seen[id] != inst {
				return false
			}
		}
	}
	return true
}

// Run runs fn: in the simulator as its main task (failing the test on deadlock or panic),
// on the real runtime directly.
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
	return c.nodes[id]
}

// NodeIDs returns the node IDs in start order.
func (c *Cluster) NodeIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// NodesRunning returns the IDs of the nodes running a service, in start order.
func (c *Cluster) NodesRunning(service string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range c.order {
		if slices.Contains(c.specs[id].Services, service) {
			out = append(out, id)
		}
	}
	return out
}

// AddNode adds a node; if the cluster is started, it starts the node and waits until it
// has joined (so, inside Run).
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

// Crash kills a node as a killed process dies (see broker.Crash): no goodbye, its memory is
// gone, other nodes notice when its heartbeats stop. Shared stores are untouched.
func (c *Cluster) Crash(id string) {
	if b := c.Node(id); b != nil {
		b.Crash()
	}
}

// Stop stops a node gracefully.
func (c *Cluster) Stop(id string) error {
	if b := c.Node(id); b != nil {
		return b.Stop()
	}
	return fmt.Errorf("testutil: no node %q", id)
}

// Restart replaces a node by a fresh broker with the same ID, options and services: fresh
// in-memory state (registry, breakers, per-node cacher, service state), the same shared
// stores and outboxes. A node still running is crashed first. It waits until the new
// instance has joined, so call it inside Run.
func (c *Cluster) Restart(id string) error {
	c.mu.Lock()
	ns, ok := c.specs[id]
	old := c.nodes[id]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("testutil: no node %q", id)
	}
	old.Crash()
	b, err := c.newBroker(ns)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[id] = b
	c.mu.Unlock()
	if err := c.startNodes([]string{id}); err != nil {
		return err
	}
	return c.waitMesh()
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

// Close ends the cluster: the simulator is closed (every task unwinds), real brokers are
// stopped, and resources Build created are closed. It is idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	brokers := make([]*broker.Broker, 0, len(c.nodes))
	for _, id := range c.order {
		brokers = append(brokers, c.nodes[id])
	}
	c.mu.Unlock()
	if c.Sim != nil {
		c.Sim.Close()
	} else {
		for _, b := range brokers {
			_ = b.Stop()
		}
	}
	if c.sharedCacher != nil {
		_ = c.sharedCacher.Close()
	}
	if c.ownResources && c.Resources != nil {
		_ = c.Resources.Close()
	}
}
