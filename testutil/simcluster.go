// Package testutil builds clusters for tests and scenarios: one runtime, one network, one
// journal, many brokers.
//
// Build is the general builder: one call places catalog services (user, product, order,
// email, notification, or your own through Spec.Services) on named nodes, in the simulated
// runtime (seeded, virtual time) or the real one, with shared stores and outboxes, per-node
// or shared cachers, and Crash/Restart of nodes:
//
//	c := testutil.MustBuild(t, testutil.Spec{Seed: 1, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
//		{ID: "gateway"},
//		{ID: "products", Services: []string{"product"}},
//		{ID: "orders", Services: []string{"order", "email", "notification"}},
//	}})
//	c.Run(t, func() {
//		require.NoError(t, c.Start())
//		res, err := c.Node("gateway").Call("product.list", nil)
//		...
//	})
//
// SimCluster is the older, lower-level builder of bare brokers on a simulator.
package testutil

import (
	"fmt"
	"testing"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// SimCluster is a set of brokers on one simulated runtime and network.
type SimCluster struct {
	Sim     *rt.Sim
	Net     *memnet.Network
	Journal *journal.Journal
	Brokers map[string]*broker.Broker
	order   []string
}

// NewSimCluster returns an empty cluster with the given seed. Close it when done.
func NewSimCluster(seed uint64, netOpts ...memnet.Option) *SimCluster {
	sim := rt.NewSim(seed)
	return &SimCluster{Sim: sim, Net: memnet.New(sim, netOpts...), Journal: journal.New(sim), Brokers: map[string]*broker.Broker{}}
}

// AddNode creates a broker on the cluster's runtime, network and journal. opts.NodeID is set
// to id; other options are kept.
func (c *SimCluster) AddNode(id string, opts broker.Options, services ...*broker.Service) *broker.Broker {
	opts.NodeID, opts.Runtime, opts.Journal = id, c.Sim, c.Journal
	if opts.Transporter == nil {
		opts.Transporter = c.Net.Transport()
	}
	b := broker.MustNew(opts)
	for _, s := range services {
		b.MustAddService(s)
	}
	c.Brokers[id] = b
	c.order = append(c.order, id)
	return b
}

// Node returns a broker by ID.
func (c *SimCluster) Node(id string) *broker.Broker { return c.Brokers[id] }

// StartAll starts every broker (concurrently, as tasks) and waits until each knows every
// other node. Call it inside Run.
func (c *SimCluster) StartAll() error {
	errs := make([]error, len(c.order))
	done := make([]rt.Signal, len(c.order))
	for i, id := range c.order {
		done[i] = c.Sim.NewSignal("start of " + id)
		b := c.Brokers[id]
		c.Sim.Go("start "+id, func() { errs[i] = b.Start(); done[i].Fire() })
	}
	for i := range done {
		done[i].Wait()
		if errs[i] != nil {
			return errs[i]
		}
	}
	for _, id := range c.order {
		for {
			if len(c.Brokers[id].Nodes()) >= len(c.order) {
				break
			}
			// With latency, a zero sleep would never let in-flight packets land.
			c.Sim.Sleep(c.Net.Latency())
		}
	}
	return nil
}

// Run runs fn as the simulation's main task, failing the test on deadlock or panic.
func (c *SimCluster) Run(t testing.TB, fn func()) {
	t.Helper()
	if err := c.Sim.Run(fn); err != nil {
		t.Fatalf("simulation: %v", err)
	}
}

// Close ends the simulation.
func (c *SimCluster) Close() { c.Sim.Close() }

// Kinds returns the journal's entries of the given kinds.
func (c *SimCluster) Kinds(kinds ...string) []journal.Entry {
	return journal.Filter(c.Journal.Entries(), kinds...)
}

// Describe renders entries compactly, one per line: "+1.5s node kind k=v ...".
func Describe(es []journal.Entry, keys ...string) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		s := fmt.Sprintf("+%s %s %s", e.T, e.Node, e.Kind)
		for _, k := range keys {
			if v, ok := e.Attrs[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, s)
	}
	return out
}
