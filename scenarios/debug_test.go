package scenarios_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
)

// Stopping a run, stepping it and continuing changes nothing: the debugged run's journal is
// the plain run's, byte for byte, and so is its verdict.
func TestDebuggerStopsWithoutChangingTheRun(t *testing.T) {
	plain, err := scenarios.Run(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)

	d, err := scenarios.Debug(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.RunTo(7*time.Second))
	assert.Equal(t, 7*time.Second, d.Now())
	prefix := d.Cluster().Journal.Entries()
	assert.Equal(t, plain.Journal[:len(prefix)], prefix, "the journal up to the stop is the plain run's")

	// The breaker opens at +8s plus a round trip: the next breaker entry is that opening.
	e, ok, err := d.Until(func(e journal.Entry) bool { return e.Kind == journal.BreakerChange })
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "gateway", e.Node)
	assert.Equal(t, "open", e.Str("to"))
	assert.Equal(t, 8002103509*time.Nanosecond, e.T, "the seed's instant, as the plain run has it")
	assert.Equal(t, e.T, d.Now(), "stopped at the instant of the entry")
	details := d.Cluster().Node("gateway").BreakerDetails()
	require.Len(t, details, 2) // product.create, called by the seeding, and product.get
	bd := details[1]
	assert.Equal(t, "product-1:product.get", bd.Endpoint)
	assert.Equal(t, "open", string(bd.State))
	assert.Equal(t, [2]int{4, 8}, [2]int{bd.Failures, bd.Count})
	assert.Equal(t, time.Minute, bd.Window)
	now := d.Cluster().Sim.Now()
	assert.Equal(t, 5*time.Second, bd.Deadline.Sub(now), "half-opens halfOpenTime after opening")
	assert.Equal(t, time.Minute-d.Now(), bd.WindowEnds.Sub(now), "the first window ends a minute after the start")

	next, ok, err := d.Step()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, e.Seq+1, next.Seq)

	res, err := d.Continue()
	require.NoError(t, err)
	assert.True(t, res.Pass)
	assert.True(t, d.Ended())
	assert.True(t, bytes.Equal(plain.JournalBytes(), res.JournalBytes()), "same journal as the plain run")
	_, _, err = d.Step()
	assert.ErrorIs(t, err, scenarios.ErrRunEnded)
}
