package sweep

import (
	"math"
	"os"
	"runtime/debug"
)

// BatchGCPercent is the garbage collector's target for commands that run many simulations
// back to back (sweep, shrink). A run allocates about 16 MB for a 40 s virtual order flow
// and keeps little of it, so at Go's default (100) the collector runs several times per run;
// at 400 it runs a quarter as often (BenchmarkSweepNemesis measures both; README has the
// figures).
const BatchGCPercent = 400

// TuneGC raises the GC target for a batch of runs (sweep, shrink) and pairs it with a soft
// memory limit at 90% of the run memory budget (--max-memory): the extra garbage a higher
// target allows then makes the collector work harder near the budget instead of tripping it
// (the budget reads the heap's objects, live and dead alike). A GOGC or GOMEMLIMIT in the
// environment wins. The settings are process-wide, so a command calls it, not a library; the
// returned function restores what was there (tests run commands in-process).
func TuneGC(memoryBudget uint64) (restore func()) {
	var undo []func()
	if _, set := os.LookupEnv("GOGC"); !set {
		prev := debug.SetGCPercent(BatchGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memoryBudget > 0 && memoryBudget <= math.MaxInt64 {
		prev := debug.SetMemoryLimit(int64(memoryBudget / 10 * 9))
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
