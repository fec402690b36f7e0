package scenarios_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// TestShrinkPlantedBug: seed 3 of the nemesis order flow with a denser schedule draws 15
// faults; with the planted non-idempotent reduceStock it breaks "one stock reduction per
// order", and shrinking keeps exactly the two faults that matter — a slow reduceStock and the
// order node paused while it is slow, so the gateway retries an order whose stock was taken —
// and the shrunk file fails the same check on its own.
func TestShrinkPlantedBug(t *testing.T) {
	s := loadNemesis(t)
	s.Plants = []string{"non-idempotent-stock"}
	s.Nemesis.Every = "1s..3s"
	s.Seed = 3
	require.Len(t, s.Schedule(), 15)

	r, err := scenarios.Shrink(*s, scenarios.ShrinkOptions{})
	require.NoError(t, err)
	assert.Equal(t, "invariant: one stock reduction per order", r.Check)
	assert.Equal(t, 15, r.FaultsBefore)
	var kept []string
	for _, f := range r.Scenario.Faults {
		kept = append(kept, f.Name)
	}
	assert.Equal(t, []string{"nemesis 1: delay product.reduceStock", "nemesis 3: pause order-1"}, kept)
	assert.False(t, r.Exhausted)
	assert.Equal(t, 18, r.Runs)
	assert.Len(t, r.Removed, 15)
	assert.Contains(t, r.Removed, `removed fault "nemesis 2: crash product-1"`)
	assert.Contains(t, r.Removed, `shortened fault "nemesis 3: pause order-1" from 1.413s to 707ms`)
	assert.Contains(t, r.Removed, `lowered the clients of workload "orders" from 2 to 1`)

	// 1-minimal: without either fault the run passes.
	for i := range r.Scenario.Faults {
		c := r.Scenario
		c.Faults = append(append([]scenarios.FaultSpec{}, c.Faults[:i]...), c.Faults[i+1:]...)
		res, err := scenarios.Run(c, scenarios.Options{})
		require.NoError(t, err)
		assert.True(t, res.Pass, "without %s", r.Scenario.Faults[i].Name)
	}

	// The file it writes fails the same check under a plain run.
	body, err := file.Marshal(&r.Scenario)
	require.NoError(t, err)
	back, err := file.Parse("shrunk.yaml", body)
	require.NoError(t, err)
	res, err := scenarios.Run(*back, scenarios.Options{})
	require.NoError(t, err)
	require.False(t, res.Pass)
	var failing []string
	for _, c := range res.Checks {
		if !c.Pass {
			failing = append(failing, c.Name)
		}
	}
	assert.Equal(t, []string{"invariant: one stock reduction per order"}, failing)
}

func TestShrinkPassingRun(t *testing.T) {
	s := loadNemesis(t)
	s.Seed = 1
	_, err := scenarios.Shrink(*s, scenarios.ShrinkOptions{})
	assert.ErrorIs(t, err, scenarios.ErrPasses)
	_, err = scenarios.Shrink(*s, scenarios.ShrinkOptions{Budget: scenarios.MaxShrinkBudget + 1})
	assert.EqualError(t, err, "a budget of 5001 runs exceeds the cap of 5000")
}
