package retry

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type codeErr struct {
	code      int
	retryable bool
}

func (e *codeErr) Error() string   { return fmt.Sprintf("code %d", e.code) }
func (e *codeErr) Retryable() bool { return e.retryable }

var (
	errRetryable = &codeErr{code: 503, retryable: true}
	errFatal     = &codeErr{code: 400}
)

func enabled() Policy {
	p := Default()
	p.Enabled = true
	return p
}

func ptr[T any](v T) *T { return &v }

func TestDefault(t *testing.T) {
	p := Default()
	assert.False(t, p.Enabled)
	assert.Equal(t, 5, p.Retries)
	assert.Equal(t, 100*time.Millisecond, p.Delay)
	assert.Equal(t, 1000*time.Millisecond, p.MaxDelay)
	assert.Equal(t, 2.0, p.Factor)
	require.NotNil(t, p.Check)
	assert.True(t, p.Check(errRetryable))
	assert.False(t, p.Check(errFatal))
}

func TestBackoffDefaults(t *testing.T) {
	p := Default()
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		assert.Equal(t, w*time.Millisecond, p.Backoff(i+1), "retry %d", i+1)
	}
	assert.Equal(t, 100*time.Millisecond, p.Backoff(0), "n < 1 is the first retry")
}

func TestBackoffEdges(t *testing.T) {
	p := Policy{Delay: time.Second, MaxDelay: time.Duration(math.MaxInt64), Factor: 10}
	assert.Equal(t, time.Duration(math.MaxInt64), p.Backoff(100), "saturates instead of overflowing")
	p = Policy{Delay: time.Second, MaxDelay: 0, Factor: 2}
	assert.Equal(t, time.Duration(0), p.Backoff(3), "MaxDelay is always the cap")
	p = Policy{Delay: time.Second, MaxDelay: time.Minute, Factor: 1}
	assert.Equal(t, time.Second, p.Backoff(7), "factor 1 is a constant delay")
	p = Policy{Delay: -time.Second, MaxDelay: time.Minute, Factor: 2}
	assert.Equal(t, time.Duration(0), p.Backoff(1), "never negative")
	p = Policy{Delay: time.Second, MaxDelay: time.Minute, Factor: math.NaN()}
	assert.Equal(t, time.Duration(0), p.Backoff(2))
}

func TestNextSchedule(t *testing.T) {
	p := enabled()
	var waits []time.Duration
	attempts := 1 // the first try
	for {
		retry, wait := p.Next(attempts, errRetryable)
		if !retry {
			break
		}
		waits = append(waits, wait)
		attempts++
	}
	assert.Equal(t, 1+p.Retries, attempts, "at most 1+Retries attempts")
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond,
		400 * time.Millisecond, 800 * time.Millisecond, 1000 * time.Millisecond}, waits)
}

func TestNextObservedTwoFailures(t *testing.T) {
	// SEMANTICS: a handler failing twice with a retryable 503 is tried at +0, +100, +300 ms
	// (observed +104, +305 with the event loop's overhead).
	p := enabled()
	var at time.Duration
	times := []time.Duration{at}
	for attempt := 1; attempt <= 2; attempt++ {
		retry, wait := p.Next(attempt, errRetryable)
		require.True(t, retry)
		at += wait
		times = append(times, at)
	}
	assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}, times)
}

func TestNextRefuses(t *testing.T) {
	p := enabled()
	for _, c := range []struct {
		name    string
		p       Policy
		attempt int
		err     error
	}{
		{"disabled", Default(), 1, errRetryable},
		{"check rejects", p, 1, errFatal},
		{"plain error", p, 1, errors.New("boom")},
		{"nil error", p, 1, nil},
		{"retries exhausted", p, 6, errRetryable},
		{"no attempt yet", p, 0, errRetryable},
		{"zero retries", p.Merge(Overrides{Retries: ptr(0)}), 1, errRetryable},
	} {
		retry, wait := c.p.Next(c.attempt, c.err)
		assert.False(t, retry, c.name)
		assert.Zero(t, wait, c.name)
	}
	retry, _ := p.Next(5, errRetryable)
	assert.True(t, retry, "the fifth retry is still allowed")
}

func TestNilCheckMeansIsRetryable(t *testing.T) {
	p := Policy{Enabled: true, Retries: 1, Delay: time.Millisecond, MaxDelay: time.Second, Factor: 2}
	retry, wait := p.Next(1, errRetryable)
	assert.True(t, retry)
	assert.Equal(t, time.Millisecond, wait)
	retry, _ = p.Next(1, errFatal)
	assert.False(t, retry)
}

func TestIsRetryable(t *testing.T) {
	assert.True(t, IsRetryable(errRetryable))
	assert.True(t, IsRetryable(fmt.Errorf("calling inv.get: %w", errRetryable)))
	assert.True(t, IsRetryable(errors.Join(errors.New("x"), errRetryable)))
	assert.False(t, IsRetryable(errFatal))
	assert.False(t, IsRetryable(errors.New("boom")))
	assert.False(t, IsRetryable(nil))
	// Only the outermost error with a Retryable method is asked.
	outer := &wrapErr{codeErr: codeErr{code: 400}, cause: errRetryable}
	assert.False(t, IsRetryable(outer))
}

type wrapErr struct {
	codeErr
	cause error
}

func (e *wrapErr) Unwrap() error { return e.cause }

func TestMerge(t *testing.T) {
	base := Default()
	always := func(error) bool { return true }
	m := base.Merge(Overrides{
		Enabled:  ptr(true),
		Retries:  ptr(3),
		Delay:    ptr(50 * time.Millisecond),
		MaxDelay: ptr(300 * time.Millisecond),
		Factor:   ptr(3.0),
		Check:    always,
	})
	assert.True(t, m.Enabled)
	assert.Equal(t, 3, m.Retries)
	assert.Equal(t, []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond},
		[]time.Duration{m.Backoff(1), m.Backoff(2), m.Backoff(3)})
	assert.True(t, m.Check(errFatal))

	// Nil fields keep the base; the base itself is not modified.
	k := base.Merge(Overrides{Retries: ptr(1)})
	assert.Equal(t, 1, k.Retries)
	assert.False(t, k.Enabled)
	assert.Equal(t, base.Delay, k.Delay)
	assert.Equal(t, base.MaxDelay, k.MaxDelay)
	assert.Equal(t, base.Factor, k.Factor)
	assert.False(t, k.Check(errFatal))
	assert.Equal(t, 5, base.Retries)

	// Broker -> action -> call chain: the call's retries win, the action's delay stays.
	chain := base.Merge(Overrides{Enabled: ptr(true), Delay: ptr(10 * time.Millisecond)}).Merge(Overrides{Retries: ptr(2)})
	retry, wait := chain.Next(2, errRetryable)
	assert.True(t, retry)
	assert.Equal(t, 20*time.Millisecond, wait)
	retry, _ = chain.Next(3, errRetryable)
	assert.False(t, retry)
}

func BenchmarkNext(b *testing.B) {
	p := enabled()
	err := fmt.Errorf("wrapped: %w", errRetryable)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Next(1+i%6, err)
	}
}

// TestCheckSeesEveryFailure: as in Moleculer's retry middleware, the check runs on every
// failure of an enabled policy, the one that reaches the limit included; a disabled policy
// never calls it.
func TestCheckSeesEveryFailure(t *testing.T) {
	var seen []int
	attempt := 0
	p := enabled()
	p.Retries = 2
	p.Check = func(err error) bool { seen = append(seen, attempt); return true }
	var decisions []bool
	for attempt = 1; attempt <= 3; attempt++ {
		again, _ := p.Next(attempt, errRetryable)
		decisions = append(decisions, again)
	}
	assert.Equal(t, []bool{true, true, false}, decisions)
	assert.Equal(t, []int{1, 2, 3}, seen, "the third failure reached the limit and was still checked")

	seen = nil
	p.Enabled = false
	again, _ := p.Next(1, errRetryable)
	assert.False(t, again)
	assert.Empty(t, seen, "a disabled policy does not consult its check")
}
