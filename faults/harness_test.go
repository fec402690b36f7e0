package faults_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/testutil"
)

// ---- raw network harness: bare memnet transports, no brokers -----------------------------

type arrival struct {
	From, To string
	Type     packet.Type
	Body     string
	At       time.Duration
}

type rawNet struct {
	sim      *rt.Sim
	net      *memnet.Network
	j        *journal.Journal
	inj      *faults.Injector
	tr       map[string]*memnet.Transport
	arrivals []arrival
}

func newRawNet(t *testing.T, seed uint64, nodes ...string) *rawNet {
	t.Helper()
	sim := rt.NewSim(seed)
	t.Cleanup(sim.Close)
	n := &rawNet{sim: sim, net: memnet.New(sim), j: journal.New(sim), tr: map[string]*memnet.Transport{}}
	n.inj = faults.New(sim, n.j, faults.Targets{Net: n.net})
	for _, id := range nodes {
		tr := n.net.Transport()
		require.NoError(t, tr.Connect(id, func(m packet.Message) {
			n.arrivals = append(n.arrivals, arrival{From: m.Sender, To: id, Type: m.Type, Body: string(m.Body), At: sim.Elapsed()})
		}))
		n.tr[id] = tr
	}
	return n
}

// send publishes one packet now (from outside or inside the simulation).
func (n *rawNet) send(t *testing.T, from, to string, typ packet.Type, body string) {
	t.Helper()
	require.NoError(t, n.tr[from].Send(packet.Message{Type: typ, Target: to, Body: []byte(body)}))
}

// sendAt schedules a packet at virtual time at.
func (n *rawNet) sendAt(t *testing.T, at time.Duration, from, to string, typ packet.Type, body string) {
	n.sim.AfterFunc(at-n.sim.Elapsed(), func() { n.send(t, from, to, typ, body) })
}

func (n *rawNet) runFor(t *testing.T, d time.Duration) {
	t.Helper()
	require.NoError(t, n.sim.RunFor(d))
}

func (n *rawNet) received(from, to string) []arrival {
	var out []arrival
	for _, a := range n.arrivals {
		if a.From == from && a.To == to {
			out = append(out, a)
		}
	}
	return out
}

// ---- broker cluster harness: a testutil.SimCluster plus the Nodes adapter -----------------

// simNodes adapts a testutil.SimCluster to faults.Nodes: crash is Broker.Crash, restart
// builds a fresh broker with the same ID and services and starts it in a task, pause and
// resume hold the node's traffic on the memnet network, and skew moves the node's rt.Skewed
// clock. SimCluster.AddNode gives every broker the bare Sim, so nodes are built here, each
// on a Skewed runtime.
type simNodes struct {
	t     *testing.T
	c     *testutil.SimCluster
	inj   *faults.Injector
	specs map[string]*nodeSpec
	order []string
	// startErrs records failed restarts.
	startErrs []error
}

type nodeSpec struct {
	opts     broker.Options
	services func() []*broker.Service
	clock    *rt.Skewed
}

func newSimNodes(t *testing.T, seed uint64, cachers map[string]*faults.FlakyCacher, netOpts ...memnet.Option) *simNodes {
	c := testutil.NewSimCluster(seed, netOpts...)
	t.Cleanup(c.Close)
	n := &simNodes{t: t, c: c, specs: map[string]*nodeSpec{}}
	n.inj = faults.New(c.Sim, c.Journal, faults.Targets{Net: c.Net, Nodes: n, Cachers: cachers})
	return n
}

// add declares a node; services is called at every (re)start, as a process builds its
// in-memory state afresh.
func (n *simNodes) add(id string, opts broker.Options, services func() []*broker.Service) *broker.Broker {
	n.specs[id] = &nodeSpec{opts: opts, services: services, clock: rt.NewSkewed(n.c.Sim)}
	n.order = append(n.order, id)
	return n.build(id)
}

func (n *simNodes) build(id string) *broker.Broker {
	s := n.specs[id]
	opts := s.opts
	opts.NodeID, opts.Runtime, opts.Journal = id, s.clock, n.c.Journal
	opts.Transporter = n.c.Net.Transport()
	opts.Middlewares = append(append([]broker.Middleware(nil), opts.Middlewares...), n.inj.Middleware())
	b := broker.MustNew(opts)
	if s.services != nil {
		for _, svc := range s.services() {
			b.MustAddService(svc)
		}
	}
	n.c.Brokers[id] = b
	return b
}

func (n *simNodes) node(id string) *broker.Broker { return n.c.Brokers[id] }

// startAll starts every node and waits until each knows all the others (inside Run).
func (n *simNodes) startAll() {
	done := make([]rt.Signal, len(n.order))
	errs := make([]error, len(n.order))
	for k, id := range n.order {
		done[k] = n.c.Sim.NewSignal("start of " + id)
		b := n.node(id)
		n.c.Sim.Go("start "+id, func() { errs[k] = b.Start(); done[k].Fire() })
	}
	for k := range done {
		done[k].Wait()
		require.NoError(n.t, errs[k])
	}
	for _, id := range n.order {
		for len(n.node(id).Nodes()) < len(n.order) {
			// Not Sleep(0): with network latency, a zero sleep is always the earliest timer
			// and virtual time would never reach the packets in flight.
			n.c.Sim.Sleep(time.Millisecond)
		}
	}
}

func (n *simNodes) run(fn func()) { n.c.Run(n.t, fn) }

func (n *simNodes) kinds(kinds ...string) []journal.Entry { return n.c.Kinds(kinds...) }

func (n *simNodes) Crash(id string) error {
	b := n.node(id)
	if b == nil {
		return fmt.Errorf("no node %q", id)
	}
	b.Crash()
	return nil
}

func (n *simNodes) Restart(id string) error {
	if n.specs[id] == nil {
		return fmt.Errorf("no node %q", id)
	}
	b := n.build(id)
	n.c.Sim.Go("restart "+id, func() {
		if err := b.Start(); err != nil {
			n.startErrs = append(n.startErrs, err)
		}
	})
	return nil
}

func (n *simNodes) Pause(id string) error {
	if n.specs[id] == nil {
		return fmt.Errorf("no node %q", id)
	}
	n.c.Net.Pause(id)
	return nil
}

func (n *simNodes) Resume(id string) error {
	n.c.Net.Resume(id)
	return nil
}

func (n *simNodes) SetSkew(id string, d time.Duration) error {
	s := n.specs[id]
	if s == nil {
		return fmt.Errorf("no node %q", id)
	}
	s.clock.SetSkew(d)
	return nil
}

// call runs a root call from node in a new task and returns a handle to its outcome.
type callResult struct {
	done  rt.Signal
	res   any
	err   error
	start time.Duration
	end   time.Duration
}

func (n *simNodes) goCall(from, action string, params any, opts ...broker.CallOption) *callResult {
	r := &callResult{done: n.c.Sim.NewSignal("call " + action), start: n.c.Sim.Elapsed()}
	n.c.Sim.Go("call "+action, func() {
		r.res, r.err = n.node(from).Call(action, params, opts...)
		r.end = n.c.Sim.Elapsed()
		r.done.Fire()
	})
	return r
}

func (r *callResult) wait() *callResult { r.done.Wait(); return r }

// since returns the virtual time elapsed.
func (n *simNodes) now() time.Duration { return n.c.Sim.Elapsed() }

// at returns the virtual times of entries.
func times(es []journal.Entry) []time.Duration {
	out := make([]time.Duration, len(es))
	for k, e := range es {
		out[k] = e.T
	}
	return out
}

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
