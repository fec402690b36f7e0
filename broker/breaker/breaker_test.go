package breaker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

const halfOpen = 10 * time.Second

func at(d time.Duration) time.Time { return t0.Add(d) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func newB(threshold float64, min int) *Breaker {
	return New(Options{Threshold: threshold, MinRequestCount: min, HalfOpenTime: halfOpen})
}

func tr(when time.Time, from, to State, failures, count int, rate float64) Transition {
	return Transition{At: when, From: from, To: to, Failures: failures, Count: count, Rate: rate}
}

func requireState(t *testing.T, b *Breaker, s State, failures, count int) {
	t.Helper()
	require.Equal(t, s, b.State())
	f, c := b.Counts()
	require.Equal(t, failures, f, "failures")
	require.Equal(t, count, c, "count")
	require.Equal(t, s == Closed || s == HalfOpen, b.Available(), "available")
}

func requireDeadline(t *testing.T, b *Breaker, want time.Time) {
	t.Helper()
	d, ok := b.NextDeadline()
	require.True(t, ok, "a deadline is pending")
	require.Equal(t, want, d)
}

func requireNoDeadline(t *testing.T, b *Breaker) {
	t.Helper()
	_, ok := b.NextDeadline()
	require.False(t, ok, "no deadline is pending")
}

// openAfterThreeFailures is the SEMANTICS "observed" scenario: threshold 0.5, minRequestCount
// 3, three failures open the breaker at the third with failures 3, count 3, rate 1.
func openAfterThreeFailures(t *testing.T) *Breaker {
	t.Helper()
	b := newB(0.5, 3)
	require.Empty(t, b.Failure(at(ms(100))))
	require.Empty(t, b.Failure(at(ms(200))))
	got := b.Failure(at(ms(300)))
	require.Equal(t, []Transition{tr(at(ms(300)), Closed, Open, 3, 3, 1)}, got)
	requireState(t, b, Open, 3, 3)
	requireDeadline(t, b, at(ms(300)+halfOpen))
	return b
}

func TestNewIsClosed(t *testing.T) {
	b := New(DefaultOptions())
	requireState(t, b, Closed, 0, 0)
	requireNoDeadline(t, b)
	assert.Equal(t, Options{Threshold: 0.5, MinRequestCount: 20, HalfOpenTime: 10 * time.Second}, b.Options())
}

func TestObservedThreeFailuresOpen(t *testing.T) {
	openAfterThreeFailures(t)
}

func TestMinRequestCountNotReached(t *testing.T) {
	b := newB(0.5, 3)
	require.Empty(t, b.Failure(at(ms(1))))
	require.Empty(t, b.Failure(at(ms(2))))
	// Rate 1, but only 2 calls out of the 3 needed.
	requireState(t, b, Closed, 2, 2)
	requireNoDeadline(t, b)
}

func TestUnderThresholdStaysClosed(t *testing.T) {
	b := newB(0.5, 3)
	require.Empty(t, b.Success(at(ms(1))))
	require.Empty(t, b.Failure(at(ms(2))))
	require.Empty(t, b.Success(at(ms(3))))
	require.Empty(t, b.Success(at(ms(4))))
	requireState(t, b, Closed, 1, 4)
}

func TestSuccessCanOpen(t *testing.T) {
	// min 4: two failures out of three calls are not enough calls yet; the fourth call, a
	// success, reaches the minimum with rate exactly 0.5, which is >= threshold.
	b := newB(0.5, 4)
	require.Empty(t, b.Failure(at(ms(1))))
	require.Empty(t, b.Failure(at(ms(2))))
	require.Empty(t, b.Success(at(ms(3))))
	got := b.Success(at(ms(4)))
	require.Equal(t, []Transition{tr(at(ms(4)), Closed, Open, 2, 4, 0.5)}, got)
	requireState(t, b, Open, 2, 4)
	requireDeadline(t, b, at(ms(4)+halfOpen))
}

func TestOpenToHalfOpenAtExactInstant(t *testing.T) {
	b := openAfterThreeFailures(t)
	due := at(ms(300) + halfOpen)

	require.Empty(t, b.Advance(due.Add(-time.Nanosecond)))
	requireState(t, b, Open, 3, 3)

	// Counts are not reset on half-open.
	got := b.Advance(due)
	require.Equal(t, []Transition{tr(due, Open, HalfOpen, 3, 3, 1)}, got)
	requireState(t, b, HalfOpen, 3, 3)
	requireNoDeadline(t, b)

	// Nothing more is due.
	require.Empty(t, b.Advance(due.Add(time.Hour)))
}

func TestCallsCompletingWhileOpenStillCount(t *testing.T) {
	b := openAfterThreeFailures(t)
	require.Empty(t, b.Success(at(ms(400))))
	require.Empty(t, b.Failure(at(ms(500))))
	requireState(t, b, Open, 4, 5)
	// Already open: no second "opened", and the half-open deadline is not pushed back.
	requireDeadline(t, b, at(ms(300)+halfOpen))
}

func TestBeginOutsideHalfOpenIsNoop(t *testing.T) {
	b := newB(0.5, 3)
	probe, got := b.Begin(at(ms(1)))
	require.False(t, probe)
	require.Empty(t, got)
	requireState(t, b, Closed, 0, 0)

	b = openAfterThreeFailures(t)
	probe, got = b.Begin(at(ms(400)))
	require.False(t, probe)
	require.Empty(t, got)
	requireState(t, b, Open, 3, 3)
}

func TestProbeSuccessCloses(t *testing.T) {
	b := openAfterThreeFailures(t)
	half := at(ms(300) + halfOpen)
	b.Advance(half)

	sent := half.Add(ms(50))
	probe, got := b.Begin(sent)
	require.True(t, probe)
	require.Equal(t, []Transition{tr(sent, HalfOpen, HalfOpenWait, 3, 3, 1)}, got)
	requireState(t, b, HalfOpenWait, 3, 3)
	requireDeadline(t, b, sent.Add(halfOpen))

	// Only one probe: a second Begin while waiting is not a probe.
	probe, got = b.Begin(sent.Add(ms(1)))
	require.False(t, probe)
	require.Empty(t, got)

	done := sent.Add(ms(20))
	got = b.Success(done)
	// The close reports the counts that were reset: the probe's success is included.
	require.Equal(t, []Transition{tr(done, HalfOpenWait, Closed, 3, 4, 0.75)}, got)
	requireState(t, b, Closed, 0, 0)
	requireNoDeadline(t, b)
}

func TestProbeFailureReopensWithAccumulatedCounts(t *testing.T) {
	// S S F F opens at failures 2 count 4; a call sent before it opened fails while open
	// (3/5); then the probe fails: 4/6, still >= 0.5, so it opens again.
	b := newB(0.5, 3)
	require.Empty(t, b.Success(at(ms(1))))
	require.Empty(t, b.Success(at(ms(2))))
	require.Empty(t, b.Failure(at(ms(3))))
	require.Equal(t, []Transition{tr(at(ms(4)), Closed, Open, 2, 4, 0.5)}, b.Failure(at(ms(4))))
	require.Empty(t, b.Failure(at(ms(5))))
	requireState(t, b, Open, 3, 5)

	half := at(ms(4) + halfOpen)
	require.Equal(t, []Transition{tr(half, Open, HalfOpen, 3, 5, 0.6)}, b.Advance(half))

	sent := half.Add(ms(7))
	probe, _ := b.Begin(sent)
	require.True(t, probe)

	failed := sent.Add(ms(30))
	got := b.Failure(failed)
	require.Equal(t, []Transition{tr(failed, HalfOpenWait, Open, 4, 6, 4.0/6)}, got)
	requireState(t, b, Open, 4, 6)
	// The anti-stick deadline is replaced by a fresh open period from the failure.
	requireDeadline(t, b, failed.Add(halfOpen))
	require.Empty(t, b.Advance(sent.Add(halfOpen)), "the old anti-stick deadline is gone")
	require.Len(t, b.Advance(failed.Add(halfOpen)), 1)
	requireState(t, b, HalfOpen, 4, 6)
}

func TestProbeNeverFinishesReturnsToHalfOpen(t *testing.T) {
	b := openAfterThreeFailures(t)
	half := at(ms(300) + halfOpen)
	b.Advance(half)
	sent := half.Add(ms(1))
	probe, _ := b.Begin(sent)
	require.True(t, probe)

	due := sent.Add(halfOpen)
	require.Empty(t, b.Advance(due.Add(-time.Nanosecond)))
	requireState(t, b, HalfOpenWait, 3, 3)

	got := b.Advance(due)
	require.Equal(t, []Transition{tr(due, HalfOpenWait, HalfOpen, 3, 3, 1)}, got)
	requireState(t, b, HalfOpen, 3, 3)
	requireNoDeadline(t, b)

	// The next call is a new probe.
	probe, got = b.Begin(due.Add(ms(1)))
	require.True(t, probe)
	require.Equal(t, []Transition{tr(due.Add(ms(1)), HalfOpen, HalfOpenWait, 3, 3, 1)}, got)
}

func TestInputsApplyDueTransitionsFirst(t *testing.T) {
	// The driver's timer and a call at the same instant give the same result whichever is
	// processed first: Begin applies the due half-open itself, then takes the probe.
	b := openAfterThreeFailures(t)
	due := at(ms(300) + halfOpen)
	probe, got := b.Begin(due)
	require.True(t, probe)
	require.Equal(t, []Transition{
		tr(due, Open, HalfOpen, 3, 3, 1),
		tr(due, HalfOpen, HalfOpenWait, 3, 3, 1),
	}, got)
	require.Empty(t, b.Advance(due), "the timer firing afterwards finds nothing to do")

	// A late completion past the anti-stick deadline is counted in half-open, where it may
	// re-open the breaker (4/4) but cannot close it: it was not the probe.
	late := due.Add(halfOpen)
	got = b.Failure(late)
	require.Equal(t, []Transition{
		tr(late, HalfOpenWait, HalfOpen, 3, 3, 1),
		tr(late, HalfOpen, Open, 4, 4, 1),
	}, got)
}

func TestSuccessInHalfOpenDoesNotClose(t *testing.T) {
	// A call sent before the breaker opened may complete while it is half-open: it is counted
	// and checked, but only a completion in half-open-wait closes the breaker.
	b := newB(0.5, 3)
	b.Success(at(ms(1)))
	b.Success(at(ms(2)))
	b.Failure(at(ms(3)))
	require.Len(t, b.Failure(at(ms(4))), 1) // 2/4: open
	b.Advance(at(ms(4) + halfOpen))
	require.Empty(t, b.Success(at(ms(5)+halfOpen)))
	requireState(t, b, HalfOpen, 2, 5)
	// Checked after every call: a failure in half-open (3/6) opens it straight away.
	require.Equal(t, []Transition{tr(at(ms(6)+halfOpen), HalfOpen, Open, 3, 6, 0.5)}, b.Failure(at(ms(6)+halfOpen)))
}

func TestWindowReset(t *testing.T) {
	b := newB(0.5, 3)
	require.True(t, b.ResetWindow(), "closed and unused: idle")

	b.Failure(at(ms(1)))
	b.Failure(at(ms(2)))
	require.False(t, b.ResetWindow(), "it had calls in this window")
	requireState(t, b, Closed, 0, 0)

	// The failures before the boundary no longer count: two more do not reach the minimum.
	require.Empty(t, b.Failure(at(ms(3))))
	require.Empty(t, b.Failure(at(ms(4))))
	requireState(t, b, Closed, 2, 2)
	require.False(t, b.ResetWindow())
	require.True(t, b.ResetWindow(), "a whole window without calls")
}

func TestWindowResetKeepsOpenStateAndDeadline(t *testing.T) {
	b := openAfterThreeFailures(t)
	require.False(t, b.ResetWindow(), "an open breaker is never idle")
	requireState(t, b, Open, 0, 0)
	require.False(t, b.ResetWindow(), "not even with no calls: forgetting it would close it")
	requireDeadline(t, b, at(ms(300)+halfOpen))

	// A failed probe after the reset is 1/1, under the minimum: the breaker stays in
	// half-open-wait until the anti-stick deadline.
	half := at(ms(300) + halfOpen)
	b.Advance(half)
	probe, _ := b.Begin(half)
	require.True(t, probe)
	require.Empty(t, b.Failure(half.Add(ms(5))))
	requireState(t, b, HalfOpenWait, 1, 1)
	requireDeadline(t, b, half.Add(halfOpen))
	require.False(t, b.ResetWindow())
}

func TestTransitionString(t *testing.T) {
	s := tr(t0, Closed, Open, 3, 3, 1).String()
	assert.Contains(t, s, "closed -> open")
	assert.Contains(t, s, "failures 3, count 3, rate 1")
}

// BenchmarkClosed is the hot path: a healthy endpoint, where no input changes state and
// nothing is allocated.
func BenchmarkClosed(b *testing.B) {
	br := New(DefaultOptions())
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		br.Begin(now)
		if i%10 == 0 {
			br.Failure(now)
		} else {
			br.Success(now)
		}
		if i%1000 == 0 {
			br.ResetWindow()
		}
	}
}

// BenchmarkCycle goes through the whole cycle: open, half-open, probe, close.
func BenchmarkCycle(b *testing.B) {
	br := New(Options{Threshold: 0.5, MinRequestCount: 3, HalfOpenTime: time.Second})
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		for range 3 {
			now = now.Add(time.Millisecond)
			br.Failure(now)
		}
		d, _ := br.NextDeadline()
		br.Advance(d)
		br.Begin(d)
		br.Success(d)
	}
	if br.State() != Closed {
		b.Fatalf("state %s", br.State())
	}
}
