package rt_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// TestRealGoNeverQueuesBehindABusyWorker: tasks go to idle workers only, so a task that waits
// for a later task still gets it run (a queue behind busy workers would deadlock here), and
// tasks started after others finished (idle workers reused) all run exactly once.
func TestRealGoNeverQueuesBehindABusyWorker(t *testing.T) {
	r := rt.NewReal()
	const chain = 50
	sigs := make([]rt.Signal, chain+1)
	for i := range sigs {
		sigs[i] = r.NewSignal("link")
	}
	// Task i waits for task i+1 to fire its signal; the last one fires at once.
	for i := range chain {
		r.Go("link", func() { sigs[i+1].Wait(); sigs[i].Fire() })
	}
	r.Go("last", sigs[chain].Fire)
	sigs[0].Wait()

	var ran atomic.Int64
	for round := range 3 {
		done := make([]rt.Signal, 20)
		for i := range done {
			done[i] = r.NewSignal("task")
			r.Go("task", func() { ran.Add(1); done[i].Fire() })
		}
		for _, d := range done {
			d.Wait()
		}
		if got, want := ran.Load(), int64(20*(round+1)); got != want {
			t.Fatalf("round %d: %d tasks ran, want %d", round, got, want)
		}
	}
}

// TestRealTimerReset: a real timer re-armed with Reset fires once, at the new delay.
func TestRealTimerReset(t *testing.T) {
	r := rt.NewReal()
	var fired atomic.Int64
	done := r.NewSignal("fired")
	tm := r.AfterFunc(time.Hour, func() { fired.Add(1); done.Fire() })
	res, ok := tm.(rt.Resetter)
	if !ok {
		t.Fatal("the real runtime's timer is not an rt.Resetter")
	}
	if !res.Reset(time.Millisecond) {
		t.Fatal("Reset of a pending timer reported it was not pending")
	}
	done.Wait()
	if tm.Stop() {
		t.Fatal("Stop after firing reported a pending timer")
	}
	if got := fired.Load(); got != 1 {
		t.Fatalf("fired %d times, want 1", got)
	}
	if rt.Describes(r) || !rt.Describes(rt.NewSim(1)) {
		t.Fatal("Describes: want false for the real runtime, true for the simulator")
	}
}

// TestRealSignalWakesFairly: callers in a closed loop with one server goroutine (a transport
// answering requests) share the server fairly. Without the yield in Wait, the caller the
// server woke last runs first and calls again, and it and the server hand the CPU back and
// forth while the other callers wait (up to a time slice each time). WaitFair (what the
// broker uses over a transporter that wakes callers in batches) yields once on waking. The
// assertion is on counts, not durations: each of 10 callers gets at least a quarter of its
// fair share.
func TestRealSignalWakesFairly(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one P: the scheduler's order is the test's subject
	r := rt.NewReal()
	const callers, total = 10, 20000
	requests := make(chan rt.Signal, callers)
	stop := make(chan struct{})
	go func() { // the server: answers each request as soon as it has it
		for {
			select {
			case sig := <-requests:
				sig.Fire()
			case <-stop:
				return
			}
		}
	}()
	var served atomic.Int64
	counts := make([]int64, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for served.Add(1) <= total {
				sig := r.NewSignal("answer")
				requests <- sig
				sig.(rt.FairWaiter).WaitFair()
				counts[i]++
			}
		}()
	}
	wg.Wait()
	close(stop)
	for i, n := range counts {
		if n < total/callers/4 {
			t.Fatalf("caller %d was answered %d times of %d (counts %v): starved", i, n, total, counts)
		}
	}
}
