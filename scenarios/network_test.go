package scenarios_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/testutil"
)

// roundTrips runs twenty reads from the gateway to product-1 on the given network and
// returns each call's duration at the caller: one request and one reply on the wire, the
// handler itself taking no virtual time. (The product seeded first is not counted.)
func roundTrips(t *testing.T, n scenarios.NetworkSpec) []time.Duration {
	t.Helper()
	s := scenarios.Scenario{
		Name: "round-trips", Seed: 3, Duration: 5 * time.Second, Network: n,
		Config: scenarios.ServiceConfig{Products: []scenarios.Product{{Name: "widget", Price: 10, Stock: 10}}},
		Nodes:  []scenarios.NodeSpec{{ID: "gateway"}, {ID: "product-1", Services: []string{"product"}}},
		Workload: []scenarios.WorkloadSpec{{From: "gateway", Action: "product.get", Params: map[string]any{"id": 1},
			Rate: 10, Count: 20, Start: time.Second}},
	}
	res, err := scenarios.Run(s, scenarios.Options{})
	require.NoError(t, err)
	require.Empty(t, res.Error)
	var out []time.Duration
	for _, e := range res.Journal {
		if e.Kind == journal.CallFinished && e.Int("level") == 1 && e.Str("action") == "product.get" {
			require.True(t, e.Bool("ok"), "call failed: %v", e.Str("error"))
			out = append(out, e.Dur("duration"))
		}
	}
	require.Len(t, out, 20)
	return out
}

// The network's zero value is the realistic one, as in testutil: every round trip lies in
// [2·DefaultLatency, 2·(DefaultLatency+DefaultJitter)) and the jitter, drawn from the seed,
// makes them differ. Ideal lands every packet at the instant it is sent; a latency without
// jitter is exact; latency and jitter given are taken as given.
func TestNetworkSpec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		net      scenarios.NetworkSpec
		min, max time.Duration // every round trip in [min, max)
		varies   bool
	}{
		{"default", scenarios.NetworkSpec{}, 2 * testutil.DefaultLatency, 2 * (testutil.DefaultLatency + testutil.DefaultJitter), true},
		{"ideal", scenarios.NetworkSpec{Ideal: true}, 0, 1, false},
		{"ideal wins over figures", scenarios.NetworkSpec{Ideal: true, Latency: time.Millisecond}, 0, 1, false},
		{"fixed latency", scenarios.NetworkSpec{Latency: 3 * time.Millisecond}, 6 * time.Millisecond, 6*time.Millisecond + 1, false},
		{"latency and jitter", scenarios.NetworkSpec{Latency: time.Millisecond, Jitter: 4 * time.Millisecond}, 2 * time.Millisecond, 10 * time.Millisecond, true},
		{"jitter alone", scenarios.NetworkSpec{Jitter: time.Millisecond}, 0, 2 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rtts := roundTrips(t, tc.net)
			distinct := map[time.Duration]bool{}
			for i, d := range rtts {
				assert.GreaterOrEqual(t, d, tc.min, "call %d", i)
				assert.Less(t, d, tc.max, "call %d", i)
				distinct[d] = true
			}
			if tc.varies {
				assert.Greater(t, len(distinct), 10, "jitter drawn per packet: %v", rtts)
			} else {
				assert.Len(t, distinct, 1, "%v", rtts)
			}
		})
	}
}

func TestNetworkSpecRejectsNegatives(t *testing.T) {
	s := scenarios.Scenario{
		Name: "t", Duration: time.Second, Network: scenarios.NetworkSpec{Latency: -time.Millisecond, Jitter: -2 * time.Millisecond},
		Nodes: []scenarios.NodeSpec{{ID: "gateway"}},
		Checks: []scenarios.CheckSpec{{Kind: "membership", Node: "gateway", Peer: "gateway",
			Transitions: []scenarios.TransitionAt{{To: "lost", At: time.Second, Tolerance: -time.Millisecond}}}},
	}
	err := scenarios.Validate(&s, scenarios.DefaultCatalog())
	var ve *scenarios.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Equal(t, []scenarios.FieldError{
		{Path: "network.latency", Msg: "must not be negative, got -1ms"},
		{Path: "network.jitter", Msg: "must not be negative, got -2ms"},
		{Path: "checks[0].transitions[0].tolerance", Msg: "must not be negative, got -1ms"},
	}, ve.Problems)
}
