package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/testutil"
)

// roundRobinOrder adds r3, r1, r2 (in that order) behind one action and returns which node
// served each of six calls.
func roundRobinOrder(t *testing.T, seed uint64, order broker.EndpointOrder) string {
	c := testutil.NewSim(seed)
	defer c.Close()
	client := c.MustAddNode("client", broker.Options{EndpointOrder: order})
	for _, id := range []string{"r3", "r1", "r2"} {
		c.MustAddNode(id, broker.Options{}, invService(nil))
	}
	var served []string
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range 6 {
			res, err := client.Call("inv.get", nil)
			require.NoError(t, err)
			served = append(served, res.(string))
		}
	})
	return strings.Join(served, " ")
}

// TestRoundRobinInNodeIDOrder: whatever the seed (which decides who is discovered first),
// RoundRobin goes r1, r2, r3; EndpointsByDiscovery keeps Moleculer's discovery order, which
// the seed shuffles.
func TestRoundRobinInNodeIDOrder(t *testing.T) {
	discovery := map[string]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		assert.Equal(t, "r1 r2 r3 r1 r2 r3", roundRobinOrder(t, seed, broker.EndpointsByNodeID), "seed %d", seed)
		discovery[roundRobinOrder(t, seed, broker.EndpointsByDiscovery)] = true
	}
	assert.Greater(t, len(discovery), 1, "discovery order varies with the seed: %v", discovery)
	_, err := broker.New(broker.Options{Runtime: rt.NewSim(1), EndpointOrder: "sorted"})
	assert.EqualError(t, err, `broker: unknown Options.EndpointOrder "sorted" ("" for node ID order, "discovery")`)
}

// TestBreakerWindowStart: with WindowStart = epoch+3s and a 10 s window, the counts reset at
// +3s, +13s, ... instead of +10s, +20s after Start. Two failures 1 s apart straddling +3s do
// not open a breaker that needs 2 calls; the next failure does, at +4s. Without WindowStart
// the same calls open it at +3.5s.
func TestBreakerWindowStart(t *testing.T) {
	run := func(start time.Time) []string {
		c := testutil.NewSim(1)
		defer c.Close()
		cb := broker.CircuitBreakerOptions{Enabled: broker.Bool(true), MinRequestCount: broker.Int(2), Threshold: broker.Float(1),
			WindowTime: broker.Dur(10 * time.Second), WindowStart: start}
		client := c.MustAddNode("client", broker.Options{CircuitBreaker: cb})
		broken := true
		c.MustAddNode("inv", broker.Options{}, invService(&broken))
		var states []string
		c.Run(t, func() {
			require.NoError(t, c.Start()) // at +0s
			for _, at := range []time.Duration{2500 * time.Millisecond, 3500 * time.Millisecond, 4 * time.Second} {
				c.Sim.Sleep(at - c.Sim.Elapsed())
				_, err := client.Call("inv.get", nil)
				states = append(states, errs.Name(err)+" "+string(client.BreakerState("inv", "inv.get")))
			}
		})
		return states
	}
	assert.Equal(t, []string{"MoleculerError closed", "MoleculerError closed", "MoleculerError " + string(breaker.Open)}, run(rt.Epoch.Add(3*time.Second)))
	assert.Equal(t, []string{"MoleculerError closed", "MoleculerError " + string(breaker.Open), "ServiceNotAvailableError " + string(breaker.Open)}, run(time.Time{}))
	// A phase far in the past or future lands on the same boundaries.
	assert.Equal(t, []string{"MoleculerError closed", "MoleculerError closed", "MoleculerError " + string(breaker.Open)}, run(rt.Epoch.Add(-997*time.Second)))
}
