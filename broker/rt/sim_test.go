package rt_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/rt"
)

// trace runs a small concurrent program and returns what happened, in order, with instants.
func trace(t *testing.T, seed uint64) []string {
	t.Helper()
	s := rt.NewSim(seed)
	defer s.Close()
	var log []string
	note := func(what string) { log = append(log, fmt.Sprintf("+%s %s", s.Elapsed(), what)) }
	err := s.Run(func() {
		done := make([]rt.Signal, 5)
		for i := range done {
			done[i] = s.NewSignal(fmt.Sprintf("worker %d", i))
			s.Go(fmt.Sprintf("worker %d", i), func() {
				note(fmt.Sprintf("w%d start", i))
				s.Sleep(time.Duration(s.Rand().IntN(3)) * time.Second)
				note(fmt.Sprintf("w%d woke", i))
				done[i].Fire()
			})
		}
		for _, d := range done {
			d.Wait()
		}
		note("main done")
	})
	require.NoError(t, err)
	return log
}

func TestSimSameSeedSameRun(t *testing.T) {
	a := trace(t, 42)
	assert.Equal(t, a, trace(t, 42))
	assert.Len(t, a, 11)
	assert.Equal(t, "main done", a[len(a)-1][len(a[len(a)-1])-9:])
	// Different seeds explore different interleavings; at least one of a handful differs.
	differs := false
	for seed := uint64(1); seed < 10 && !differs; seed++ {
		differs = fmt.Sprint(trace(t, seed)) != fmt.Sprint(a)
	}
	assert.True(t, differs, "seeds should change the interleaving")
}

func TestSimTimeJumpsToNextTimer(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	var at []time.Duration
	require.NoError(t, s.Run(func() {
		s.Sleep(60 * time.Second)
		at = append(at, s.Elapsed())
		s.Sleep(1500 * time.Millisecond)
		at = append(at, s.Elapsed())
	}))
	assert.Equal(t, []time.Duration{60 * time.Second, 61500 * time.Millisecond}, at)
}

func TestSimTimersSameInstantFireInArmingOrder(t *testing.T) {
	s := rt.NewSim(7)
	defer s.Close()
	var order []int
	require.NoError(t, s.Run(func() {
		for i := range 5 {
			s.AfterFunc(time.Second, func() { order = append(order, i) })
		}
		stopped := s.AfterFunc(time.Second, func() { order = append(order, 99) })
		assert.True(t, stopped.Stop())
		assert.False(t, stopped.Stop())
		s.Sleep(2 * time.Second)
	}))
	assert.Equal(t, []int{0, 1, 2, 3, 4}, order)
}

func TestSimDeadlockNamesPendingWaits(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	err := s.Run(func() {
		never := s.NewSignal("response to inv.get from node-2")
		s.Go("caller", func() { never.Wait() })
		s.NewSignal("reply that never comes").Wait()
	})
	var dl *rt.DeadlockError
	require.ErrorAs(t, err, &dl)
	assert.Equal(t, []string{
		"main: waiting for reply that never comes",
		"caller: waiting for response to inv.get from node-2",
	}, dl.Pending)
	assert.Equal(t, rt.Epoch, dl.At)
}

func TestSimDeadlockDespiteHousekeepingTimers(t *testing.T) {
	s := rt.NewSim(1, rt.WithIdleLimit(time.Minute))
	defer s.Close()
	beats := 0
	s.Every(5*time.Second, func() { beats++ })
	err := s.Run(func() { s.NewSignal("a reply").Wait() })
	var dl *rt.DeadlockError
	require.ErrorAs(t, err, &dl)
	assert.Equal(t, time.Minute, dl.At.Sub(rt.Epoch))
	assert.Equal(t, 12, beats)
}

func TestSimPanicIsReported(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	err := s.Run(func() {
		s.Go("boom", func() { panic("kaput") })
		s.Sleep(time.Second)
	})
	var pe *rt.PanicError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "boom", pe.Task)
	assert.Equal(t, "kaput", pe.Value)
}

func TestSimRunForAndResume(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	ticks := 0
	s.Every(time.Second, func() { ticks++ })
	require.NoError(t, s.RunFor(10*time.Second))
	assert.Equal(t, 10, ticks)
	assert.Equal(t, 10*time.Second, s.Elapsed())
	require.NoError(t, s.Run(func() { s.Sleep(5500 * time.Millisecond) }))
	assert.Equal(t, 15, ticks)
}

func TestSimCloseUnwindsParkedTasks(t *testing.T) {
	s := rt.NewSim(1)
	unwound := 0
	require.NoError(t, s.Run(func() {
		for range 3 {
			s.Go("stuck", func() {
				defer func() { unwound++ }()
				s.NewSignal("never").Wait()
			})
		}
		s.Sleep(time.Millisecond)
	}))
	s.Close()
	assert.Equal(t, 3, unwound)
}

// A task that ends by runtime.Goexit (a failed require inside a task) still passes the baton
// on: its deferred calls run, the other tasks go on, and the goroutine driving Run is not
// ended with it.
func TestSimTaskGoexit(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	var log []string
	err := s.Run(func() {
		done := s.NewSignal("the exiting task")
		s.Go("exits", func() {
			defer done.Fire()
			defer func() { log = append(log, "deferred") }()
			s.Sleep(time.Second)
			runtime.Goexit()
		})
		s.Go("other", func() {
			s.Sleep(2 * time.Second)
			log = append(log, "other")
		})
		done.Wait()
		s.Sleep(3 * time.Second)
		log = append(log, "main")
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"deferred", "other", "main"}, log)
	assert.Equal(t, 4*time.Second, s.Elapsed())
	// The simulation goes on after it, on new and reused workers.
	require.NoError(t, s.Run(func() {
		sig := s.NewSignal("x")
		s.Go("later", func() { s.Sleep(time.Second); sig.Fire() })
		sig.Wait()
	}))
	assert.Equal(t, 5*time.Second, s.Elapsed())
}

func TestSignalOnFireAndChannel(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	require.NoError(t, s.Run(func() {
		g := s.NewSignal("x")
		called := 0
		g.OnFire(func() { called++ })
		select {
		case <-g.C():
			t.Fatal("closed early")
		default:
		}
		s.AfterFunc(time.Second, g.Fire)
		g.Wait()
		g.Fire()
		<-g.C()
		assert.Equal(t, 1, called)
		g.OnFire(func() { called++ })
		assert.Equal(t, 2, called)
	}))
}

func TestRealRuntime(t *testing.T) {
	r := rt.NewReal()
	g := r.NewSignal("x")
	r.AfterFunc(time.Millisecond, g.Fire)
	g.Wait()
	assert.True(t, g.Fired())
	done := r.NewSignal("y")
	r.Go("w", func() { r.Sleep(time.Millisecond); done.Fire() })
	done.Wait()
}

func BenchmarkSimTimerAndTask(b *testing.B) {
	s := rt.NewSim(1)
	defer s.Close()
	b.ReportAllocs()
	_ = s.Run(func() {
		for b.Loop() {
			s.Sleep(time.Millisecond)
		}
	})
}

func TestSkewedClock(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	k := rt.NewSkewed(s)
	k.SetSkew(-3 * time.Second)
	assert.Equal(t, rt.Epoch.Add(-3*time.Second), k.Now())
	require.NoError(t, s.Run(func() {
		k.Sleep(time.Second)
		assert.Equal(t, rt.Epoch.Add(-2*time.Second), k.Now())
		assert.Equal(t, rt.Epoch.Add(time.Second), s.Now())
	}))
}

// TestGoFirstRunsBeforeEverythingRunnable: from a task, GoFirst runs the new task at once and
// resumes the caller as soon as it blocks, before tasks that were already runnable; from a
// timer callback, the new task runs right after the callback, before runnable tasks.
func TestGoFirstRunsBeforeEverythingRunnable(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		s := rt.NewSim(seed)
		var order []string
		err := s.Run(func() {
			for _, n := range []string{"a", "b", "c"} {
				s.Go(n, func() { order = append(order, n) })
			}
			s.GoFirst("first", func() {
				order = append(order, "first")
				s.Sleep(time.Millisecond)
				order = append(order, "first woke")
			})
			order = append(order, "caller")
			s.AfterFunc(time.Second, func() {
				s.Go("late", func() { order = append(order, "late") })
				s.GoFirst("from timer", func() { order = append(order, "from timer") })
				order = append(order, "timer")
			})
			s.Sleep(2 * time.Second)
		})
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(order), 2)
		assert.Equal(t, []string{"first", "caller"}, order[:2], "seed %d", seed)
		i := slices.Index(order, "timer")
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, []string{"timer", "from timer", "late"}, order[i:], "seed %d", seed)
		s.Close()
	}
}

// TestTimerResetIsStopAndAfterFunc: re-arming a timer with Reset fires every timer of the
// run at the same instants and in the same order as stopping it and arming a new one with
// AfterFunc, ties included (the heartbeat loss timer relies on it to keep journals equal).
func TestTimerResetIsStopAndAfterFunc(t *testing.T) {
	run := func(reset bool) []string {
		s := rt.NewSim(3)
		defer s.Close()
		var got []string
		note := func(what string) func() {
			return func() { got = append(got, fmt.Sprintf("%s@%s", what, s.Elapsed())) }
		}
		require.NoError(t, s.Run(func() {
			loss := s.AfterFunc(3*time.Second, note("loss"))
			for i := range 5 {
				s.Sleep(time.Second)
				// a tie: another timer due at the loss timer's new instant, armed before it
				s.AfterFunc(3*time.Second, note(fmt.Sprintf("tie%d", i)))
				if reset {
					assert.True(t, loss.(rt.Resetter).Reset(3*time.Second))
				} else {
					assert.True(t, loss.Stop())
					loss = s.AfterFunc(3*time.Second, note("loss"))
				}
				s.AfterFunc(3*time.Second, note(fmt.Sprintf("after%d", i)))
			}
			s.Sleep(10 * time.Second)
			// fired, then re-armed
			if reset {
				assert.False(t, loss.(rt.Resetter).Reset(time.Second))
			} else {
				assert.False(t, loss.Stop())
				s.AfterFunc(time.Second, note("loss"))
			}
			s.Sleep(2 * time.Second)
		}))
		return got
	}
	plain := run(false)
	assert.Equal(t, []string{"tie0@4s", "after0@4s", "tie1@5s", "after1@5s", "tie2@6s", "after2@6s", "tie3@7s", "after3@7s", "tie4@8s", "loss@8s", "after4@8s", "loss@16s"}, plain)
	assert.Equal(t, plain, run(true))
}

// TestTimerResetRandomized: many timers re-armed at random, later (the in-place path) and
// earlier (the re-sift path), stopped and re-armed after firing, with ties at whole
// milliseconds: Reset fires everything at the same instants and in the same order as Stop
// and a new AfterFunc, for several seeds.
func TestTimerResetRandomized(t *testing.T) {
	run := func(seed uint64, reset bool) []string {
		s := rt.NewSim(seed)
		defer s.Close()
		var got []string
		fired := 0
		require.NoError(t, s.Run(func() {
			timers := make([]rt.Timer, 40)
			arm := func(i int, d time.Duration) {
				timers[i] = s.AfterFunc(d, func() { fired++; got = append(got, fmt.Sprintf("t%d@%s", i, s.Elapsed())) })
			}
			for i := range timers {
				arm(i, time.Duration(s.Rand().IntN(50))*time.Millisecond)
			}
			for range 2000 {
				i := s.Rand().IntN(len(timers))
				d := time.Duration(s.Rand().IntN(50)) * time.Millisecond
				switch s.Rand().IntN(4) {
				case 0:
					s.Sleep(time.Duration(s.Rand().IntN(3)) * time.Millisecond)
				case 1:
					timers[i].Stop()
				default:
					if reset {
						timers[i].(rt.Resetter).Reset(d)
					} else {
						timers[i].Stop()
						arm(i, d)
					}
				}
			}
			s.Sleep(time.Second)
		}))
		require.Greater(t, fired, 100, "the sequence exercises firing")
		return got
	}
	for seed := uint64(1); seed <= 5; seed++ {
		assert.Equal(t, run(seed, false), run(seed, true), "seed %d", seed)
	}
}
