package scenarios_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/testutil"
)

// outcome is what must agree exactly between the simulated and the real run of a scenario:
// the verdict of every check and the counts of what happened, instants aside.
func outcome(res *scenarios.Result) map[string]int {
	counts := map[string]int{}
	for _, c := range res.Checks {
		counts[fmt.Sprintf("check %s pass=%v", c.Name, c.Pass)]++
	}
	// A request's deadline is armed at the caller and where it is served; in the simulator
	// both fire and record, off it the first answer may cancel the other. Count timed-out
	// requests (one per id), as the timeout check does.
	timedOut := map[string]bool{}
	for _, e := range res.Journal {
		switch e.Kind {
		case journal.ReqTimeout:
			if id := e.Str("id"); id == "" || !timedOut[id] {
				timedOut[id] = true
				counts[e.Kind+" "+e.Str("action")]++
			}
		case journal.CallStarted, journal.RetryAttempt, journal.ActionRun, journal.ReqSkipped,
			journal.FaultApplied, journal.FaultHealed:
			counts[e.Kind+" "+e.Str("action")]++
		case journal.CallFinished:
			counts[fmt.Sprintf("%s %s error=%s", e.Kind, e.Str("action"), e.Str("error"))]++
		case journal.BreakerChange:
			counts[e.Kind+" to "+e.Str("to")]++
		}
	}
	return counts
}

// TestSimAndWallTiersAgree runs scenario files' twins in the simulator and on the wall
// clock (every node a broker on real goroutines and timers): the verdicts and the exact
// counts — calls, attempts, handler runs, timeouts, skips, outcomes by error — agree, and
// the instants agree within the 250 ms tolerance the real run is given.
func TestSimAndWallTiersAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios on the wall clock (10–20 s each)")
	}
	for _, s := range []scenarios.Scenario{scenarios.DistributedTimeout(), scenarios.RetryBackoff()} {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			sim, err := scenarios.Run(s, scenarios.Options{})
			require.NoError(t, err)
			require.True(t, sim.Pass, "simulated run passes")
			real, err := scenarios.Run(s, scenarios.Options{Tier: testutil.TierWall, Tolerance: 250 * time.Millisecond})
			require.NoError(t, err)
			for _, c := range real.Checks {
				assert.True(t, c.Pass, "real: %s", c.Message())
			}
			assert.True(t, real.Pass, real.Error)
			assert.Greater(t, len(outcome(sim)), 5, "calls, attempts and checks to compare")
			assert.Equal(t, outcome(sim), outcome(real))
			assert.Nil(t, real.Deterministic)
			assert.GreaterOrEqual(t, real.WallTime, s.Duration, "the wall clock runs the scenario's whole duration")
		})
	}
}

// TestRealTierRejectsUnknownTier: a tier the cluster API does not know is an error before
// anything runs.
func TestRealTierRejectsUnknownTier(t *testing.T) {
	_, err := scenarios.Run(scenarios.DistributedTimeout(), scenarios.Options{Tier: "moon"})
	assert.EqualError(t, err, `unknown tier "moon" (have nats, sim, wall)`)
	// "real" is the process tier, registered by realtier/proctier, which this test does not import
	_, err = scenarios.Run(scenarios.DistributedTimeout(), scenarios.Options{Tier: "real"})
	assert.EqualError(t, err, `unknown tier "real" (have nats, sim, wall)`)
}

// TestNATSTierRunsScenarioFiles: the same scenarios over real NATS, every node on a server
// of its own, routes through Toxiproxy: the symmetric partition is a cut route, and the
// membership check sees the loss and the rejoin within tolerance (heartbeats on the wall
// clock). The distributed timeout's counts agree with the simulator's exactly.
func TestNATSTierRunsScenarioFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios on the wall clock over NATS (10–40 s each)")
	}
	for _, s := range []scenarios.Scenario{scenarios.DistributedTimeout(), scenarios.SymmetricPartition()} {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			res, err := scenarios.Run(s, scenarios.Options{Tier: "nats", Tolerance: time.Second})
			require.NoError(t, err)
			for _, c := range res.Checks {
				assert.True(t, c.Pass, "nats: %s", c.Message())
			}
			assert.True(t, res.Pass, res.Error)
			if s.Name == "distributed-timeout" {
				sim, err := scenarios.Run(s, scenarios.Options{})
				require.NoError(t, err)
				assert.Equal(t, outcome(sim), outcome(res))
			} else {
				applied := 0
				for _, e := range res.Journal {
					if e.Kind == journal.FaultApplied {
						applied++
						assert.Equal(t, "partition.symmetric", e.Str("kind"), "the partition cut real routes")
					}
				}
				assert.Equal(t, 1, applied)
			}
		})
	}
}
