package scenarios_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// sweepSeeds is how many seeds TestSuiteAcrossSeeds runs per scenario (FAULTLINE_SEEDS
// overrides the default of 50).
func sweepSeeds(t *testing.T) int {
	if v := os.Getenv("FAULTLINE_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FAULTLINE_SEEDS=%q: want a positive number", v)
		}
		return n
	}
	if testing.Short() {
		return 5
	}
	return 50
}

// TestSuiteAcrossSeeds runs every suite scenario under many seeds: different interleavings,
// heartbeat jitter, balancer picks and fault draws. A failure names the seed and the command
// that replays it.
func TestSuiteAcrossSeeds(t *testing.T) {
	n := sweepSeeds(t)
	for _, s := range scenarios.Suite() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1000); seed < 1000+uint64(n); seed++ {
				res, err := scenarios.Run(s, scenarios.Options{Seed: &seed})
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !res.Pass {
					msg := res.Error
					for _, c := range res.Checks {
						if !c.Pass {
							msg += "\n  " + c.Message()
						}
					}
					t.Fatalf("seed %d failed:%s\nreplay: go run ./cmd/faultline run --seed %d scenarios/testdata/%s.yaml", seed, msg, seed, s.Name)
				}
			}
			t.Log(fmt.Sprintf("%d seeds passed", n))
		})
	}
}
