package file_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// The metric and trace check kinds in a file: breaker-cycle's breaker through the gateway's
// metrics and product.get's spans.
func TestMetricAndTraceChecksInAFile(t *testing.T) {
	raw, err := os.ReadFile("../testdata/breaker-cycle.yaml")
	require.NoError(t, err)
	src := strings.Replace(string(raw), "checks:\n", `checks:
  - kind: metric
    label: opened once by 9s
    node: gateway
    metric: moleculer_circuit_breaker_opened_total
    labels: {affectedNodeID: product-1, action: product.get}
    value: 1
    at: [9s]
  - kind: metric
    label: open from 9s to 13s
    node: gateway
    metric: moleculer_circuit_breaker_opened_active
    labels: {action: product.get}
    value: 1
    from: 9s
    to: 13s
    every: 500ms
  - kind: metric
    label: two openings
    metric: moleculer_circuit_breaker_opened_total
    op: ">="
    value: 2
  - kind: trace
    label: product.get spans
    action: product.get
    budget: 1ms
    max: 1
    min: 20
`, 1)
	s, err := file.Parse("breaker-cycle-observed.yaml", []byte(src))
	require.NoError(t, err)
	res, err := scenarios.Run(*s, scenarios.Options{CheckDeterminism: true})
	require.NoError(t, err)
	for _, c := range res.Checks {
		assert.True(t, c.Pass, c.Message())
	}
	assert.True(t, res.Pass)
	assert.True(t, *res.Deterministic)
	byName := map[string]string{}
	for _, c := range res.Checks {
		byName[c.Name] = c.Actual
	}
	assert.Equal(t, "1 at +12.5s (8 samples)", byName["open from 9s to 13s"])
	assert.Equal(t, "2 at +40s (1 samples)", byName["two openings"])

	bad := strings.Replace(src, "op: \">=\"", "op: \"~\"", 1)
	_, err = file.Parse("bad.yaml", []byte(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `checks[2].op: unknown op "~" (==, !=, <, <=, >, >=)`)
}
