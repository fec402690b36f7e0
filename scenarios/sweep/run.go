package sweep

import (
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// Why a sweep stopped before running every seed it owns.
const (
	StoppedByFirstFailure = "first-failure" // without KeepGoing, at the first failing seed
	StoppedByTimeBudget   = "time-budget"   // Config.Deadline passed
	StoppedByInterrupt    = "interrupt"     // Config.Interrupt closed (SIGINT, SIGTERM)
)

// Config tunes Run.
type Config struct {
	// Parallel is the runs at once (0: GOMAXPROCS).
	Parallel int
	// KeepGoing runs every item; otherwise no item after the first failing one is started,
	// and results past it are dropped.
	KeepGoing bool
	// Deadline, when set, is when to stop starting new items: the runs under way finish
	// and are kept, so a budget never loses a seed that was run.
	Deadline time.Time
	// Interrupt, when closed, stops the runs under way at their next step (they are not
	// counted) and starts no more.
	Interrupt <-chan struct{}
	// Now is the clock the Deadline is read on (default time.Now; tests pass their own).
	Now func() time.Time
}

// Done is one finished run.
type Done[T any] struct {
	Item Item
	Pass bool
	// Value is what the caller kept of the run (see Run's keep).
	Value T
}

// Outcome is what Run did.
type Outcome[T any] struct {
	// Done are the finished runs, in item order.
	Done []Done[T]
	// StoppedBy is "" when every item ran, else one of the StoppedBy constants.
	StoppedBy string
	// Err is the first error of a run (an invalid scenario): the sweep stops.
	Err error
}

// Run runs the items with up to Parallel workers. run runs one item; keep turns its result
// into what the caller wants to hold (a sweep of 10,000 seeds must not hold 10,000 journals:
// each worker has one run in memory at a time, and only keep's value outlives it).
func Run[T any](items []Item, c Config, run func(Item) (*scenarios.Result, error), keep func(Item, *scenarios.Result) T) Outcome[T] {
	if c.Parallel <= 0 {
		c.Parallel = runtime.GOMAXPROCS(0)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var (
		mu        sync.Mutex
		out       Outcome[T]
		next      atomic.Int64
		firstFail atomic.Int64
		budgetHit atomic.Bool
	)
	firstFail.Store(int64(len(items)))
	interrupted := func() bool {
		if c.Interrupt == nil {
			return false
		}
		select {
		case <-c.Interrupt:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	for range min(c.Parallel, len(items)) {
		wg.Go(func() {
			for {
				if interrupted() {
					return
				}
				if !c.Deadline.IsZero() && !c.Now().Before(c.Deadline) {
					budgetHit.Store(true)
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(items) || (!c.KeepGoing && int64(i) > firstFail.Load()) {
					return
				}
				it := items[i]
				res, err := run(it)
				if err != nil {
					mu.Lock()
					if out.Err == nil {
						out.Err = err
					}
					mu.Unlock()
					next.Store(int64(len(items))) // start nothing more
					return
				}
				if res.Interrupted {
					return // a partial run is not a seed done
				}
				d := Done[T]{Item: it, Pass: res.Pass, Value: keep(it, res)}
				mu.Lock()
				out.Done = append(out.Done, d)
				mu.Unlock()
				if res.Pass {
					continue
				}
				for {
					cur := firstFail.Load()
					if int64(i) >= cur || firstFail.CompareAndSwap(cur, int64(i)) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	sort.Slice(out.Done, func(a, b int) bool { return out.Done[a].Item.Pos < out.Done[b].Item.Pos })
	ff := int(firstFail.Load())
	if !c.KeepGoing && ff < len(items) {
		// Runs past the first failure were already under way; the first failure is the answer.
		cut := sort.Search(len(out.Done), func(k int) bool { return out.Done[k].Item.Pos > items[ff].Pos })
		out.Done = out.Done[:cut]
	}
	if len(out.Done) < len(items) && out.Err == nil {
		switch {
		case interrupted():
			out.StoppedBy = StoppedByInterrupt
		case !c.KeepGoing && ff < len(items):
			out.StoppedBy = StoppedByFirstFailure
		case budgetHit.Load():
			out.StoppedBy = StoppedByTimeBudget
		}
	}
	return out
}
