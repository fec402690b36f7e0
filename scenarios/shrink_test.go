package scenarios_test

import (
	"slices"
	"strings"
	"testing"
	"time"

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
	assert.Equal(t, 49, r.Runs, "two passes over every step: the second changes nothing")
	assert.Len(t, r.Removed, 17)
	assert.Contains(t, r.Removed, `removed fault "nemesis 2: crash product-1"`)
	assert.Contains(t, r.Removed, `removed node "product-2"`)
	assert.Contains(t, r.Removed, `removed node "order-2"`)
	var nodes []string
	for _, n := range r.Scenario.Nodes {
		nodes = append(nodes, n.ID)
	}
	// users stays: seeding registers Ann through it; a candidate without it breaks before
	// its checks run, which is not a smaller failure.
	assert.Equal(t, []string{"gateway", "users", "order-1", "product-1"}, nodes)
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

// TestShrinkMovesFaultsLater: seed 9 of the planted order flow fails through one pause of
// product-1 (an order's reduceStock is applied, its reply held, the retry applies it again).
// Shrinking keeps that one fault and moves it from +24.753s to +36.959s: it tries the latest
// start the 40 s run leaves (+37.403s, which passes: the retry no longer fits), then bisects.
// The moved fault fails on its own, and the latest start passes.
func TestShrinkMovesFaultsLater(t *testing.T) {
	s, err := file.Load("testdata/nemesis/planted/order-flow-planted.yaml")
	require.NoError(t, err)
	s.Seed = 9
	// Start from the one fault that matters (a full shrink of seed 9 keeps it alone of the 12
	// drawn), so the test spends its runs on the move.
	m := s.Materialize()
	m.Faults = slices.DeleteFunc(m.Faults, func(f scenarios.FaultSpec) bool { return f.Name != "nemesis 11: pause product-1" })
	require.Len(t, m.Faults, 1)
	r, err := scenarios.Shrink(m, scenarios.ShrinkOptions{})
	require.NoError(t, err)
	require.Len(t, r.Scenario.Faults, 1)
	f := r.Scenario.Faults[0]
	assert.Equal(t, "nemesis 11: pause product-1", f.Name)
	assert.Equal(t, 36959*time.Millisecond, f.Start)
	assert.Equal(t, 2597*time.Millisecond, f.Duration)
	assert.Contains(t, r.Removed, `moved fault "nemesis 11: pause product-1" later, from +24.753s to +36.959s`)
	moves := 0
	for _, line := range r.Removed {
		if strings.HasPrefix(line, "moved fault ") {
			moves++
		}
	}
	assert.Equal(t, 1, moves, "one line per moved fault, however many passes moved it")
	assert.Equal(t, 37, r.Runs)

	failed := func(sc scenarios.Scenario) []string {
		res, err := scenarios.Run(sc, scenarios.Options{})
		require.NoError(t, err)
		var out []string
		for _, c := range res.Checks {
			if !c.Pass {
				out = append(out, c.Name)
			}
		}
		return out
	}
	assert.Equal(t, []string{"invariant: one stock reduction per order"}, failed(r.Scenario))
	latest := r.Scenario
	latest.Faults = []scenarios.FaultSpec{f}
	latest.Faults[0].Start = latest.Duration - f.Duration
	assert.Equal(t, 37403*time.Millisecond, latest.Faults[0].Start)
	assert.Empty(t, failed(latest), "at the latest start the failure is gone: the move is bounded by a passing run")
}
