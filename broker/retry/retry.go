// Package retry is the caller-side retry schedule with Moleculer 0.15 semantics (see
// SEMANTICS.md, "Retry"): exponential backoff capped at MaxDelay, no jitter, at most
// 1+Retries attempts, retrying only errors the check accepts.
//
// It is pure arithmetic: it decides whether to retry and how long to wait, and never sleeps
// or arms a timer itself, so the driver can wait on Faultline's runtime (simulated or real)
// and tests can check exact delays.
package retry

import (
	"errors"
	"math"
	"time"
)

// Policy is a retry policy: the broker's, possibly overridden per action and per call (Merge).
type Policy struct {
	// Enabled is off by default, as in Moleculer: retrying a non-idempotent call is a choice.
	Enabled bool
	// Retries is the number of retries after the first attempt.
	Retries int
	// Delay is the wait before the first retry; each later one is Factor times longer, up to
	// MaxDelay.
	Delay, MaxDelay time.Duration
	Factor          float64
	// Check says whether an error is worth retrying. Nil means IsRetryable.
	Check func(error) bool
}

// Overrides are the fields an action's retryPolicy or a call's options set; nil fields keep
// the policy's value. A call's `retries` option is Overrides{Retries: &n}.
type Overrides struct {
	Enabled         *bool
	Retries         *int
	Delay, MaxDelay *time.Duration
	Factor          *float64
	Check           func(error) bool
}

// Default returns Moleculer 0.15's broker defaults: disabled, 5 retries, 100 ms delay doubling
// up to 1000 ms (older Moleculer docs say 2000 ms), retrying errors marked retryable.
func Default() Policy {
	return Policy{
		Enabled:  false,
		Retries:  5,
		Delay:    100 * time.Millisecond,
		MaxDelay: 1000 * time.Millisecond,
		Factor:   2,
		Check:    IsRetryable,
	}
}

// IsRetryable is the default check, Moleculer's `err => !!err.retryable`: it reports whether
// the first error in err's tree that has a Retryable() bool method says true. Only the
// outermost such error is asked, so a wrapper can declare a retryable cause non-retryable.
func IsRetryable(err error) bool {
	r, ok := errors.AsType[retryabler](err)
	return ok && r.Retryable()
}

type retryabler interface {
	error
	Retryable() bool
}

// Backoff returns the wait before retry n (1-based): min(Delay × Factor^(n−1), MaxDelay).
// MaxDelay is always the cap, as in Moleculer (a MaxDelay of 0 means no wait). n < 1 is
// treated as 1. The result is never negative and saturates instead of overflowing.
func (p Policy) Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	f := float64(p.Delay) * math.Pow(p.Factor, float64(n-1))
	var d time.Duration
	switch {
	case math.IsNaN(f) || f <= 0:
		d = 0
	case f >= float64(math.MaxInt64): // converting it would overflow
		d = math.MaxInt64
	default:
		d = time.Duration(f)
	}
	return max(min(d, p.MaxDelay), 0)
}

// Next decides, after a failed attempt, whether to try again and how long to wait first.
// attempt is the number of attempts made so far (1 after the first try), so the retry about to
// be made is number attempt and waits Backoff(attempt). It says no when the policy is
// disabled, err is nil, the check rejects err, or attempt > Retries (that is, 1+Retries
// attempts have been made; attempt < 1 is also a no).
//
// The check is consulted on every failure of an enabled policy, the one that reaches the
// retry limit included, before the limit is looked at: Moleculer does so (and counts that
// failure in its retry metrics), so a check with side effects sees every failure.
func (p Policy) Next(attempt int, err error) (retry bool, wait time.Duration) {
	if !p.Enabled || err == nil || attempt < 1 {
		return false, 0
	}
	check := p.Check
	if check == nil {
		check = IsRetryable
	}
	if !check(err) || attempt > p.Retries {
		return false, 0
	}
	return true, p.Backoff(attempt)
}

// Merge returns p with the non-nil fields of o applied, for the broker -> action -> call
// override chain.
func (p Policy) Merge(o Overrides) Policy {
	if o.Enabled != nil {
		p.Enabled = *o.Enabled
	}
	if o.Retries != nil {
		p.Retries = *o.Retries
	}
	if o.Delay != nil {
		p.Delay = *o.Delay
	}
	if o.MaxDelay != nil {
		p.MaxDelay = *o.MaxDelay
	}
	if o.Factor != nil {
		p.Factor = *o.Factor
	}
	if o.Check != nil {
		p.Check = o.Check
	}
	return p
}
