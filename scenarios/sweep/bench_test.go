package sweep

import (
	"fmt"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// BenchmarkSweepNemesis sweeps the nemesis order flow (40 s of virtual time, a generated
// fault schedule per seed) with 1 and 2 workers, at Go's default GC target and at the one
// `faultline sweep` sets (TuneGC), and reports seeds per minute of wall time. One op is one batch of sweepBatch seeds; every op takes the
// next seeds, so a long run covers many schedules, not one seed again and again.
//
//	go test -run '^$' -bench SweepNemesis -benchmem -benchtime 5x ./scenarios/sweep/
func BenchmarkSweepNemesis(b *testing.B) {
	const sweepBatch = 8
	s, err := file.Load("../testdata/nemesis/order-flow.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, gc := range []string{"default", "batch"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("gc-%s/parallel-%d", gc, workers), func(b *testing.B) {
				if gc == "batch" {
					defer TuneGC(scenarios.Limits{}.WithDefaults().Memory)() // what sweep and shrink do
				}
				benchSweep(b, s, workers, sweepBatch)
			})
		}
	}
}

// benchSweep sweeps batches of sweepBatch seeds, the next ones each op, with workers.
func benchSweep(b *testing.B, s *scenarios.Scenario, workers, sweepBatch int) {
	seed := uint64(1)
	var seeds int
	start := time.Now()
	for b.Loop() {
		items := make([]Item, sweepBatch)
		for i := range items {
			items[i] = Item{Pos: i, Seed: seed}
			seed++
		}
		out := Run(items, Config{Parallel: workers, KeepGoing: true}, func(it Item) (*scenarios.Result, error) {
			return scenarios.Run(*s, scenarios.Options{Seed: &it.Seed})
		}, func(_ Item, r *scenarios.Result) bool { return r.Pass })
		if out.Err != nil {
			b.Fatal(out.Err)
		}
		if len(out.Done) != sweepBatch {
			b.Fatalf("%d of %d seeds done", len(out.Done), sweepBatch)
		}
		seeds += len(out.Done)
	}
	b.ReportMetric(float64(seeds)/time.Since(start).Minutes(), "seeds/min")
}
