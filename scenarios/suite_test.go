package scenarios_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
)

// TestSuite runs every suite scenario with its fixed seed, twice (the determinism
// self-check), and reports virtual time, wall time and their ratio.
func TestSuite(t *testing.T) {
	for _, s := range scenarios.Suite() {
		t.Run(s.Name, func(t *testing.T) {
			res, err := scenarios.Run(s, scenarios.Options{CheckDeterminism: true})
			require.NoError(t, err)
			for _, c := range res.Checks {
				t.Log(c.Message())
			}
			assert.Empty(t, res.Error)
			require.NotNil(t, res.Deterministic)
			assert.True(t, *res.Deterministic, "same seed, byte-identical journal")
			assert.True(t, res.Pass, "scenario %s failed", s.Name)
			t.Logf("virtual %s, wall %s, ratio %.0fx", res.VirtualTime, res.WallTime, res.Ratio())
		})
	}
}

// With one shared Redis cacher instead of a cache per node, the lost broadcast of
// cache-under-partition leaves nothing stale: the writer's clean clears the one copy.
func TestSharedRedisHasNoStaleWindow(t *testing.T) {
	s := scenarios.CacheUnderPartition()
	s.Name = "cache-shared-redis"
	for i := range s.Nodes {
		if s.Nodes[i].ID != "gateway" {
			s.Nodes[i].Options.Cacher = "redis"
		}
	}
	s.Checks = []scenarios.CheckSpec{
		{Kind: "cache-coherence", Action: "product.get", MaxStale: 0, Shared: true},
		{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
	}
	res, err := scenarios.Run(s, scenarios.Options{CheckDeterminism: true})
	require.NoError(t, err)
	for _, c := range res.Checks {
		t.Log(c.Message())
	}
	assert.True(t, res.Pass)
	assert.True(t, *res.Deterministic)
}
