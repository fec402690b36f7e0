package file_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
)

// A file says which network it runs on: left out, the realistic default; ideal: true, the
// zero-latency one; latency and jitter, as given. A transition may carry its own tolerance.
func TestNetworkAndTransitionTolerance(t *testing.T) {
	s, err := parse(t, base)
	require.NoError(t, err)
	assert.Equal(t, scenarios.NetworkSpec{}, s.Network)

	s, err = parse(t, base+"network: {ideal: true}\n")
	require.NoError(t, err)
	assert.Equal(t, scenarios.NetworkSpec{Ideal: true}, s.Network)

	s, err = parse(t, base+`network: {latency: 1ms, jitter: 250us}
checks:
  - kind: breaker
    endpoint: product-1:product.get
    tolerance: 1ms
    transitions: [{to: open, at: 8s}, {to: closed, at: 9.0025s, tolerance: 1.5ms}]
`)
	require.NoError(t, err)
	assert.Equal(t, scenarios.NetworkSpec{Latency: time.Millisecond, Jitter: 250 * time.Microsecond}, s.Network)
	assert.Equal(t, time.Millisecond, s.Checks[0].Tolerance)
	assert.Equal(t, []scenarios.TransitionAt{{To: "open", At: 8 * time.Second}, {To: "closed", At: 9002500 * time.Microsecond, Tolerance: 1500 * time.Microsecond}},
		s.Checks[0].Transitions)

	_, err = parse(t, base+"network: {jitter: -1ms}\n")
	assert.EqualError(t, err, `t.yaml:8:19: network.jitter: must not be negative, got -1ms`)
}
