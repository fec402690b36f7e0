// Package rt is the runtime seam of Faultline: the only way broker code reads the clock,
// sleeps, arms timers, starts concurrent work, blocks, or draws random numbers.
//
// Two implementations exist. Real runs on goroutines and the wall clock. Sim runs every task
// on a cooperative, seeded scheduler over a virtual clock: exactly one task runs at a time,
// the next runnable task is chosen by the seeded PRNG, and when nothing can run the clock
// jumps to the next timer. The same seed therefore yields the same run.
//
// Rules for code running on a Runtime (broker code, service handlers, fault code):
//   - never call time.Now, time.Sleep, time.After or time.AfterFunc: use the Runtime;
//   - never block on a channel, WaitGroup or a mutex held across a wait: block only through
//     Signal.Wait or Runtime.Sleep (a plain sync.Mutex guarding a short critical section is
//     fine, because in Sim no task is ever pre-empted while holding it);
//   - never draw randomness from math/rand globals: use Runtime.Rand.
package rt

import (
	"time"
)

// Clock reads the runtime's time. Packages that only need the time (cachers, pure state
// machines' drivers) take a Clock rather than a whole Runtime.
type Clock interface {
	Now() time.Time
}

// Runtime is everything time- or concurrency-shaped that broker code may do.
type Runtime interface {
	Clock

	// Go starts fn as a new task. name describes the task in deadlock reports.
	Go(name string, fn func())

	// AfterFunc calls fn once, d after now, unless the returned Timer is stopped first.
	// fn must not block: it may fire signals, start tasks with Go, and arm timers.
	AfterFunc(d time.Duration, fn func()) Timer

	// Every calls fn every d, first at now+d, until the Timer is stopped. It is meant for
	// periodic housekeeping (heartbeats, breaker windows); in Sim such timers do not count
	// as progress when deciding whether a run is deadlocked. Same constraints on fn as
	// AfterFunc.
	Every(d time.Duration, fn func()) Timer

	// Sleep blocks the calling task for d.
	Sleep(d time.Duration)

	// NewSignal returns a one-shot signal. what describes what a waiter is waiting for
	// (for example "response to inv.get from node-2"); deadlock reports name it.
	NewSignal(what string) Signal

	// Rand returns the runtime's random source. In Sim it is seeded; do not retain
	// results across runs expecting them to be stable unless the seed is.
	Rand() Rand
}

// Timer is an armed AfterFunc or Every.
type Timer interface {
	// Stop cancels the timer. It reports whether the timer was still pending (for Every:
	// whether it was still running).
	Stop() bool
}

// Describes reports whether r uses the names given to Go and NewSignal: the simulator's
// deadlock reports do, the real runtime ignores them. A hot path skips building a name the
// runtime would drop.
func Describes(r Runtime) bool {
	_, real := r.(*Real)
	return !real
}

// Ordered reports whether r gives timers due at the same instant a replayable order (the
// simulator fires them one step each, in arming order). Where it does not (the real runtime:
// no order between them), a caller may arm one timer for two such deadlines.
func Ordered(r Runtime) bool {
	_, real := r.(*Real)
	return !real
}

// Resetter is implemented by the timers of runtimes that can re-arm an AfterFunc timer in
// place (both runtimes'), sparing a timer and a closure for a deadline pushed back on every
// packet. The simulator's Reset is exactly Stop and a new AfterFunc (same arming order), so a
// caller may fall back to that pair for a timer that lacks it.
type Resetter interface {
	// Reset re-arms the timer to fire d from now, whether it was pending, stopped or fired;
	// it reports whether it was pending.
	Reset(d time.Duration) bool
}

// Signal is a one-shot event: it starts unfired, Fire fires it once (later calls do
// nothing), and Wait blocks until it has fired.
type Signal interface {
	Fire()
	Fired() bool
	// Wait blocks the calling task until the signal fires.
	Wait()
	// OnFire registers fn to run when the signal fires (immediately if it already has).
	// fn runs in the firing task and must not block.
	OnFire(fn func())
	// C returns a channel closed when the signal fires, for non-blocking checks and for
	// code that must expose a channel (context.Context.Done). In Sim, never block on it:
	// use Wait.
	C() <-chan struct{}
}

// FairWaiter is implemented by the Real runtime's signals. WaitFair waits as Wait does, and
// then yields once if it had to block, so that goroutines woken one after another by one
// goroutine run in the order they were woken (see transport.BatchWaker); Wait does not, as a
// yield costs a trip through the scheduler. The simulator runs one task at a time and does
// not need it.
type FairWaiter interface {
	WaitFair()
}

// Rand is the subset of math/rand/v2's Rand that Faultline uses.
type Rand interface {
	Float64() float64
	IntN(n int) int
	Int64N(n int64) int64
	NormFloat64() float64
	Uint64() uint64
}

// FirstRunner is implemented by runtimes that can start a task ahead of everything else
// runnable (the simulator: Sim.GoFirst), so that what a step causes is observed before the
// step's caller goes on.
type FirstRunner interface {
	GoFirst(name string, fn func())
}

// GoFirst starts fn with r's GoFirst when it has one, else as an ordinary task (on the real
// runtime, a goroutine: there is no order to keep between concurrent goroutines).
func GoFirst(r Runtime, name string, fn func()) {
	if f, ok := r.(FirstRunner); ok {
		f.GoFirst(name, fn)
		return
	}
	r.Go(name, fn)
}
