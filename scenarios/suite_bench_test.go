package scenarios_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// BenchmarkSuite runs every suite scenario once per op with its fixed seed, as `faultline run`
// does (no determinism repeat), and reports virtual time per wall time ("virtual/wall", the
// ratio the CLI prints) next to ns/op and allocations. The simulator's target is ≥ 5,000 for
// every scenario.
func BenchmarkSuite(b *testing.B) {
	for _, s := range scenarios.Suite() {
		b.Run(s.Name, func(b *testing.B) {
			b.ReportAllocs()
			var virtual time.Duration
			for b.Loop() {
				res, err := scenarios.Run(s, scenarios.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if !res.Pass {
					b.Fatalf("%s failed: %s", s.Name, res.Error)
				}
				virtual += res.VirtualTime
			}
			b.ReportMetric(float64(virtual)/float64(b.Elapsed()), "virtual/wall")
		})
	}
}
