//go:build !race

// The race detector adds allocations (and makes sync.Pool drop entries): allocation counts
// are asserted only without it, which is how CI runs the plain `go test`.

package main

import "testing"

// allocTargets are issue 18's allocation budgets per call, the params built once by the
// caller (as in BenchmarkCases). An allocation count is deterministic, unlike a duration, so
// a test may hold it; `go test -bench Cases -benchmem` shows the same figures.
var allocTargets = []struct {
	name string
	max  float64
}{
	{"local", 2},  // the ID and the handler's boxed sum (the context and its Meta are reused: recycle); the issue allows 4
	{"ft", 7},     // + the timeout's timer and its closure, the handler's task, the result signal and its channel (the context is reused once its task and timer are done); the issue allows 10
	{"cached", 6}, // the ID, the key, and the copy of the cached value (a map and a slice)
}

func TestAllocsPerCall(t *testing.T) {
	for _, target := range allocTargets {
		t.Run(target.name, func(t *testing.T) {
			var c benchCase
			for _, bc := range cases {
				if bc.name == target.name {
					c = bc
				}
			}
			f, err := c.setup()
			if err != nil {
				t.Fatal(err)
			}
			defer f.stop()
			p := f.make()
			var callErr error
			n := testing.AllocsPerRun(2000, func() {
				if err := f.call(p); err != nil {
					callErr = err
				}
			})
			if callErr != nil {
				t.Fatal(callErr)
			}
			if n > target.max {
				t.Fatalf("%s: %v allocations per call, budget %v", c.title, n, target.max)
			}
			t.Logf("%s: %v allocations per call (budget %v)", c.title, n, target.max)
		})
	}
}
