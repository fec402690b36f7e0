package faults_test

import (
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

// ---- broker cluster harness: a testutil.Cluster with the fault seams installed ----------

// simNodes is a simulated testutil.Cluster on an ideal network with InjectFaults, so its
// injector (inj) reaches the network, the nodes, their actions and their cachers.
type simNodes struct {
	t   *testing.T
	c   *testutil.Cluster
	inj *faults.Injector
}

func newSimNodes(t *testing.T, seed uint64) *simNodes {
	c := testutil.MustBuild(t, testutil.Spec{Seed: seed, Network: testutil.Ideal, InjectFaults: true})
	return &simNodes{t: t, c: c, inj: c.Faults}
}

// add declares a node; services is called at every (re)start, as a process builds its
// in-memory state afresh. A cacher kind ("memory") gives the node a cacher, wrapped in a
// FlakyCacher keyed by the node's ID.
func (n *simNodes) add(id string, opts broker.Options, services func() []*broker.Service, cacher ...string) *broker.Broker {
	ns := testutil.NodeSpec{ID: id, Options: opts, Define: services}
	if len(cacher) > 0 {
		ns.Cacher = cacher[0]
	}
	b, err := n.c.AddNode(ns)
	require.NoError(n.t, err)
	return b
}

func (n *simNodes) node(id string) *broker.Broker { return n.c.Node(id) }

// startAll starts every node and waits until each knows all the others (inside Run).
func (n *simNodes) startAll() { require.NoError(n.t, n.c.Start()) }

func (n *simNodes) run(fn func()) { n.c.Run(n.t, fn) }

func (n *simNodes) kinds(kinds ...string) []journal.Entry { return n.c.Kinds(kinds...) }

// restartFailures lists the restarts that failed (journaled by the cluster).
func (n *simNodes) restartFailures() []journal.Entry {
	var out []journal.Entry
	for _, e := range n.kinds(journal.Step) {
		if e.Str("step") == "restart failed" {
			out = append(out, e)
		}
	}
	return out
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
