package scenarios

import (
	"fmt"
	"sync"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// ServiceEnv is what a service factory gets: the scenario's service configuration and the
// cluster's shared resources, which outlive any one node.
type ServiceEnv struct {
	Config ServiceConfig
	NodeID string
	// Shared holds cluster-wide resources by name (for example one database per service),
	// created on first use and kept across node crashes and restarts.
	shared *sync.Map
}

// Shared returns the cluster-wide resource named key, creating it with mk on first use.
func (e *ServiceEnv) Shared(key string, mk func() any) any {
	if v, ok := e.shared.Load(key); ok {
		return v
	}
	v, _ := e.shared.LoadOrStore(key, mk())
	return v
}

// Cluster is a scenario's running cluster on one simulated runtime.
type Cluster struct {
	Sim     *rt.Sim
	Net     *memnet.Network
	Journal *journal.Journal

	scenario *Scenario
	catalog  map[string]ServiceFactory
	shared   sync.Map
	nodes    map[string]*node
	order    []string
	tokens   map[string]string // seeded users' JWTs by email ("" = the first)
	redis    *sharedRedis      // the shared Redis-protocol cacher, when a node asks for one
}

type node struct {
	spec   NodeSpec
	clock  *rt.Skewed
	broker *broker.Broker
	cacher broker.Cacher
	cacheW func(broker.Cacher) broker.Cacher
	mws    []broker.Middleware
}

// Broker returns the current broker of a node (a restart replaces it).
func (c *Cluster) Broker(id string) *broker.Broker {
	if n := c.nodes[id]; n != nil {
		return n.broker
	}
	return nil
}

// NodeIDs returns the node IDs in declaration order.
func (c *Cluster) NodeIDs() []string { return append([]string(nil), c.order...) }

func (c *Cluster) buildBroker(n *node) (*broker.Broker, error) {
	o := n.spec.Options
	opts := broker.Options{
		NodeID: n.spec.ID, Runtime: n.clock, Journal: c.Journal, Transporter: c.Net.Transport(),
		RequestTimeout: o.RequestTimeout, HeartbeatInterval: o.HeartbeatInterval, HeartbeatTimeout: o.HeartbeatTimeout,
		Strategy: o.Strategy, PreferLocal: o.PreferLocal, MaxCallLevel: o.MaxCallLevel, Metadata: o.Metadata,
		Middlewares: n.mws,
	}
	if r := o.Retry; r != nil {
		opts.Retry = r.Overrides()
	}
	if cb := o.CircuitBreaker; cb != nil {
		opts.CircuitBreaker = cb.Options()
	}
	if bh := o.Bulkhead; bh != nil {
		opts.Bulkhead = bh.Options()
	}
	cacher, err := c.newCacher(n)
	if err != nil {
		return nil, err
	}
	if cacher != nil && n.cacheW != nil {
		cacher = n.cacheW(cacher)
	}
	n.cacher = cacher
	opts.Cacher = cacher
	b, err := broker.New(opts)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.spec.ID, err)
	}
	env := &ServiceEnv{Config: c.scenario.Config, NodeID: n.spec.ID, shared: &c.shared}
	for _, name := range n.spec.Services {
		f := c.catalog[name]
		if f == nil {
			return nil, fmt.Errorf("node %s: unknown service %q", n.spec.ID, name)
		}
		s, err := f(env)
		if err != nil {
			return nil, fmt.Errorf("node %s: service %s: %w", n.spec.ID, name, err)
		}
		if _, err := b.AddService(s); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.spec.ID, err)
		}
	}
	return b, nil
}

// newCacher makes a node's cacher: a fresh memory cache per node (lost on crash), or the
// cluster's one shared Redis-protocol server.
func (c *Cluster) newCacher(n *node) (broker.Cacher, error) {
	switch n.spec.Options.Cacher {
	case "":
		return nil, nil
	case "memory":
		return cache.NewMemory(n.clock), nil
	case "memory-lru":
		return cache.NewMemoryLRU(n.clock, n.spec.Options.CacherMaxEntries), nil
	case "redis":
		if c.redis == nil {
			r, err := newSharedRedis(c.Sim)
			if err != nil {
				return nil, err
			}
			c.redis = r
		}
		return c.redis, nil
	}
	return nil, fmt.Errorf("node %s: unknown cacher %q (memory, memory-lru, redis)", n.spec.ID, n.spec.Options.Cacher)
}

// startAll starts every broker concurrently and waits until each knows every other node.
func (c *Cluster) startAll() error {
	errs := make([]error, len(c.order))
	done := make([]rt.Signal, len(c.order))
	for i, id := range c.order {
		done[i] = c.Sim.NewSignal("start of " + id)
		b := c.nodes[id].broker
		c.Sim.Go("start "+id, func() { errs[i] = b.Start(); done[i].Fire() })
	}
	for i := range done {
		done[i].Wait()
		if errs[i] != nil {
			return errs[i]
		}
	}
	for _, id := range c.order {
		for len(c.nodes[id].broker.Nodes()) < len(c.order) {
			c.Sim.Sleep(c.Net.Latency()) // a zero sleep lets same-instant deliveries land
		}
	}
	return nil
}

// Crash kills a node: no DISCONNECT, in-memory state (its cache, pending calls) lost.
func (c *Cluster) Crash(id string) error {
	n := c.nodes[id]
	if n == nil {
		return fmt.Errorf("unknown node %q", id)
	}
	n.broker.Crash()
	return nil
}

// Restart replaces a stopped or crashed node with a fresh broker with the same ID and
// services (shared resources such as databases survive), and starts it.
func (c *Cluster) Restart(id string) error {
	n := c.nodes[id]
	if n == nil {
		return fmt.Errorf("unknown node %q", id)
	}
	n.broker.Crash() // no-op if already down
	if c.Net.Paused(id) {
		c.Net.Resume(id)
	}
	b, err := c.buildBroker(n)
	if err != nil {
		return err
	}
	n.broker = b
	c.Sim.Go("restart "+id, func() {
		if err := b.Start(); err != nil {
			c.Journal.Record(id, journal.Step, map[string]any{"step": "restart failed", "error": err.Error()})
		}
	})
	return nil
}

// Pause freezes a node's traffic: it neither hears nor is heard, as a stopped process.
func (c *Cluster) Pause(id string) error {
	if c.nodes[id] == nil {
		return fmt.Errorf("unknown node %q", id)
	}
	c.Net.Pause(id)
	return nil
}

// Resume releases a paused node.
func (c *Cluster) Resume(id string) error {
	if c.nodes[id] == nil {
		return fmt.Errorf("unknown node %q", id)
	}
	c.Net.Resume(id)
	return nil
}

// SetSkew sets a node's clock offset.
func (c *Cluster) SetSkew(id string, d time.Duration) error {
	n := c.nodes[id]
	if n == nil {
		return fmt.Errorf("unknown node %q", id)
	}
	n.clock.SetSkew(d)
	return nil
}
