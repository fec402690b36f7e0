package testutil_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/testutil"
)

// TestNATSTier: the same cluster API over real NATS — each node on a nats-server of its own,
// the servers routed through a Toxiproxy proxy per pair. The shop's order flow works across
// three nodes; a partition cuts a real route (the caller times out, then loses the node),
// its heal restores it; crash and restart work; what the tier cannot do is refused by name.
func TestNATSTier(t *testing.T) {
	hb := broker.Options{HeartbeatInterval: 500 * time.Millisecond, HeartbeatTimeout: 1500 * time.Millisecond}
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierNATS, Nodes: []testutil.NodeSpec{
		{ID: "gw", Options: hb},
		{ID: "echo-1", Options: hb, Define: func() []*broker.Service { return []*broker.Service{echoService()} }},
		{ID: "shop", Options: hb, Services: []string{"product"}},
	}})
	assert.Nil(t, c.Sim)
	assert.Nil(t, c.Net, "no in-memory network: packets cross NATS")
	available := func(of string) bool {
		for _, n := range c.Node("gw").Nodes() {
			if n.ID == of {
				return n.Available
			}
		}
		return false
	}
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, c.WaitForServices("echo", "product"))
		res, err := c.Node("gw").Call("echo.say", map[string]any{"text": "over nats"})
		require.NoError(t, err)
		assert.Equal(t, "over nats", res)
		_, err = c.Node("gw").Call("product.create", map[string]any{"name": "Widget", "price": 2.5, "stock": 3})
		require.NoError(t, err)

		require.NoError(t, c.Partition([]string{"gw"}, []string{"echo-1"}, 0))
		_, err = c.Node("gw").Call("echo.say", map[string]any{"text": "x"}, broker.WithTimeout(300*time.Millisecond))
		assert.Contains(t, []string{"RequestTimeoutError", "ServiceNotAvailableError"}, errs.NameOf(err))
		require.Eventually(t, func() bool { return !available("echo-1") }, 10*time.Second, 10*time.Millisecond,
			"the caller loses the cut node after its heartbeat timeout")
		_, err = c.Node("gw").Call("product.get", map[string]any{"id": 1})
		assert.NoError(t, err, "the other route still carries calls")

		c.Faults.Stop() // heals the partition
		require.NoError(t, c.WaitForServices("echo"))
		require.Eventually(t, func() bool { return available("echo-1") }, 10*time.Second, 10*time.Millisecond)
		_, err = c.Node("gw").Call("echo.say", map[string]any{"text": "x"})
		assert.NoError(t, err, "healed")

		require.NoError(t, c.Crash("echo-1"))
		require.Eventually(t, func() bool { return !available("echo-1") }, 10*time.Second, 10*time.Millisecond)
		require.NoError(t, c.Restart("echo-1"))
		_, err = c.Node("gw").Call("echo.say", map[string]any{"text": "back"})
		assert.NoError(t, err, "restarted on its server")
	})
	assert.Len(t, c.Kinds(journal.FaultApplied), 1)
	assert.Len(t, c.Kinds(journal.FaultHealed), 1)

	assert.EqualError(t, c.Pause("shop"), "tier nats: cannot pause shop: a node in this process has no process to stop (tiers sim and wall can)")
	assert.EqualError(t, c.Faults.Add(faults.Spec{Name: "one way", Fault: faults.Asymmetric{From: []string{"gw"}}}),
		`faults: spec "one way": a one-way partition needs the in-memory network: a real link carries both directions`)
	err := c.Faults.Add(faults.Spec{Name: "slow", Fault: faults.Latency{Base: time.Millisecond}})
	assert.ErrorContains(t, err, "network fault without the in-memory network")
	_, err = c.AddNode(testutil.NodeSpec{ID: "late"})
	assert.EqualError(t, err, "broker late: connect: tier nats: node late was not in the spec, and the mesh of servers is built for the spec's nodes")
}

// TestNATSTierRejectsANetworkSpec: latency and jitter belong to the in-memory network.
func TestNATSTierRejectsANetworkSpec(t *testing.T) {
	_, err := testutil.Build(testutil.Spec{Tier: testutil.TierNATS, Network: testutil.Ideal, Nodes: []testutil.NodeSpec{{ID: "a"}}})
	assert.EqualError(t, err, "tier nats: the network is real; a network spec (latency, jitter, ideal) applies to the in-memory tiers only")
}
