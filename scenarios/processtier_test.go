package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/scenarios"
)

// The real tier reads a node process's metrics by scraping it: a metric check is refused
// where there is no process to answer (an external one, a killed one, a stopped one at the
// instant of a sample), each at the check's field; the same checks run in the simulator.
func TestMetricChecksTheRealTierCannotRead(t *testing.T) {
	one := 1.0
	metric := func(node string, at ...time.Duration) scenarios.CheckSpec {
		return scenarios.CheckSpec{Kind: "metric", Node: node, Metric: "moleculer_request_total", Value: &one, At: at}
	}
	s := scenarios.Scenario{
		Name: "observed", Duration: 8 * time.Second,
		Nodes: []scenarios.NodeSpec{
			{ID: "gateway"},
			{ID: "product-1", Services: []string{"product"}},
			{ID: "product-2", Services: []string{"product"}},
			{ID: "legacy", Services: []string{"product"}, Command: []string{"node", "legacy.js"}},
		},
		Faults: []scenarios.FaultSpec{
			{Name: "p1 killed", Kind: "crash", Node: "product-1", Start: 2 * time.Second},
			// stopped over [1 s, 1.5 s] and [3 s, 3.5 s]: two rounds
			{Name: "p2 stopped", Kind: "pause", Node: "product-2", Start: time.Second, Duration: 500 * time.Millisecond, Every: 2 * time.Second, Count: 2},
		},
		Checks: []scenarios.CheckSpec{
			metric("legacy"),
			metric(""), // every node's, at the end: legacy's and product-1's cannot be read
			metric("gateway"),
			metric("product-2", 2*time.Second, 5200*time.Millisecond), // between the rounds, after the last
			metric("product-2", 3200*time.Millisecond),                // inside the second round
			{Kind: "trace", Action: "product.get", Min: 1},
		},
	}
	assert.Equal(t, []scenarios.FieldError{
		{Path: "checks[0].node", Msg: "check metric on legacy cannot run on tier real: legacy is an external process, whose metrics are not collected (name a node of ours in node:)"},
		{Path: "checks[1].kind", Msg: "check metric on every node cannot run on tier real: product-1's process is killed, and its counters die with it (the simulator's node keeps them across a restart)"},
		{Path: "checks[1].kind", Msg: "check metric on every node cannot run on tier real: legacy is an external process, whose metrics are not collected (name a node of ours in node:)"},
		{Path: "checks[4].node", Msg: `check metric on product-2 cannot run on tier real: it reads product-2's metrics at +3.2s, while fault "p2 stopped" has its process stopped (SIGSTOP), which cannot answer (sample before or after the pause)`},
	}, scenarios.TierProblems(&s, scenarios.RealTier))
	// the sim refuses only the external node, at its command
	assert.Equal(t, []scenarios.FieldError{
		{Path: "nodes[3].command", Msg: "node legacy is an external process: it runs on tiers real and containers only (faultline run --tier real)"},
	}, scenarios.TierProblems(&s, "sim"))
}
