// Package breaker is the circuit breaker of one endpoint (one action on one node), as a pure
// state machine with Moleculer 0.15 semantics (see SEMANTICS.md, "Circuit breaker").
//
// It owns no clock, goroutine or timer, in the style of etcd-io/raft and sony/gobreaker: every
// input carries the instant it happens at (now), and the breaker says when it next wants to be
// woken (NextDeadline). The driver arms one timer there and calls Advance when it fires. This
// keeps the breaker trivially deterministic under Faultline's simulated runtime and lets tests
// check every transition at an exact instant.
//
// Deciding what a failure is (the check function, the node-of-origin rule, timeouts counting as
// failures) is the caller's business: the breaker only sees Success and Failure. The breaker is
// not safe for concurrent use; the driver serialises access to it.
package breaker

import (
	"fmt"
	"time"
)

// State is a breaker state. The values are Moleculer's, so they can be logged and compared
// with a Node.js Moleculer node's as they are.
type State string

const (
	// Closed: calls flow and are counted.
	Closed State = "closed"
	// Open: the endpoint is unavailable to the balancer until HalfOpenTime has passed.
	Open State = "open"
	// HalfOpen: the endpoint is available again; the next call sent to it becomes the probe.
	HalfOpen State = "half-open"
	// HalfOpenWait: a probe is in flight; the endpoint is unavailable to other calls until the
	// probe completes or, if it never does, until HalfOpenTime has passed (anti-stick).
	HalfOpenWait State = "half-open-wait"
)

// Options configure one breaker. The window length is not here: windows are tumbled by one
// broker-wide timer that calls ResetWindow on every breaker (as Moleculer does).
type Options struct {
	// Threshold is the failure rate (failures/count) at or above which the breaker opens.
	Threshold float64
	// MinRequestCount is the number of completed calls in the current window below which the
	// breaker never opens, so that one early failure does not trip it.
	MinRequestCount int
	// HalfOpenTime is how long the breaker stays open before it half-opens, and how long a
	// probe may stay unanswered before the breaker half-opens again.
	HalfOpenTime time.Duration
}

// DefaultOptions returns Moleculer 0.15's defaults: threshold 0.5, minRequestCount 20,
// halfOpenTime 10 s.
func DefaultOptions() Options {
	return Options{Threshold: 0.5, MinRequestCount: 20, HalfOpenTime: 10 * time.Second}
}

// Transition records one state change, with the counts at the moment of the change, so that
// the driver can broadcast $circuit-breaker.* events and the journal can explain why it
// happened. For a close, the counts are the ones just before they were reset.
type Transition struct {
	At       time.Time
	From, To State
	Failures int
	Count    int
	// Rate is Failures/Count, or 0 when Count is 0.
	Rate float64
}

func (t Transition) String() string {
	return fmt.Sprintf("%s %s -> %s (failures %d, count %d, rate %g)",
		t.At.Format(time.RFC3339Nano), t.From, t.To, t.Failures, t.Count, t.Rate)
}

// Breaker is the breaker of one endpoint. The zero value is not usable; call New.
type Breaker struct {
	opts     Options
	state    State
	failures int
	count    int
	// deadline is when the pending timed transition is due: open -> half-open (opened at +
	// HalfOpenTime) or half-open-wait -> half-open (probe sent at + HalfOpenTime). It is
	// meaningful only in Open and HalfOpenWait; Moleculer keeps at most one timer per
	// endpoint, and so do we.
	deadline time.Time
}

// New returns a closed breaker with zero counts.
func New(opts Options) *Breaker {
	return &Breaker{opts: opts, state: Closed}
}

// Options returns the options the breaker was created with.
func (b *Breaker) Options() Options { return b.opts }

// State returns the current state, as of the last input. A timed transition that is due but
// has not been applied (Advance not yet called) is not reflected.
func (b *Breaker) State() State { return b.state }

// Counts returns the failures and completed calls counted in the current window.
func (b *Breaker) Counts() (failures, count int) { return b.failures, b.count }

// Available reports whether a balancer may pick this endpoint: closed or half-open. Open and
// half-open-wait endpoints are skipped, so calls go to other endpoints meanwhile.
func (b *Breaker) Available() bool { return b.state == Closed || b.state == HalfOpen }

// Begin records that a call is being sent to this endpoint. If the breaker is half-open, this
// call is the probe: the breaker moves to half-open-wait (unavailable to other calls) and arms
// the anti-stick deadline now+HalfOpenTime, so a probe that never finishes cannot keep the
// endpoint out of the balancer forever. In any other state Begin changes nothing: calls are
// only counted when they complete.
//
// Like every input, Begin first applies timed transitions due at now, so the outcome does not
// depend on whether the driver's timer or this call is processed first at the same instant.
func (b *Breaker) Begin(now time.Time) (probe bool, tr []Transition) {
	tr = b.advance(now, nil)
	if b.state == HalfOpen {
		tr = b.to(now, HalfOpenWait, tr)
		b.deadline = now.Add(b.opts.HalfOpenTime)
		probe = true
	}
	return probe, tr
}

// Success records a call that completed without a counted failure. Any success in
// half-open-wait closes the breaker and resets the counts (Moleculer does not check that it was
// the probe's). Otherwise the threshold is checked: a success can still be the call that opens
// the breaker, since it is checked after every completed call.
func (b *Breaker) Success(now time.Time) []Transition {
	tr := b.advance(now, nil)
	b.count++
	if b.state == HalfOpenWait {
		tr = b.to(now, Closed, tr)
		b.failures, b.count = 0, 0
		return tr
	}
	return b.check(now, tr)
}

// Failure records a call that completed with a counted failure, then checks the threshold.
// It may open the breaker from any state but open, including half-open-wait (a failed probe).
// Calls completing while open (sent before it opened) are counted too. A failed probe that
// leaves the rate under the threshold (for example just after a window reset) leaves the
// breaker in half-open-wait until its anti-stick deadline, as in Moleculer.
func (b *Breaker) Failure(now time.Time) []Transition {
	tr := b.advance(now, nil)
	b.count++
	b.failures++
	return b.check(now, tr)
}

// Advance applies the timed transitions due at now: open -> half-open at opened-at +
// HalfOpenTime, half-open-wait -> half-open at probe-sent-at + HalfOpenTime. A deadline is due
// when now is at or after it.
func (b *Breaker) Advance(now time.Time) []Transition {
	return b.advance(now, nil)
}

// NextDeadline returns when Advance next has something to do, and false when nothing is
// pending (closed or half-open). The driver keeps one timer per breaker armed there.
func (b *Breaker) NextDeadline() (time.Time, bool) {
	if b.state == Open || b.state == HalfOpenWait {
		return b.deadline, true
	}
	return time.Time{}, false
}

// ResetWindow is the tumbling-window boundary: failures and count go back to zero in every
// state (the state and any pending deadline are kept). idle reports that the breaker is closed
// and had no completed calls in the window that just ended, so the driver may forget it, as
// Moleculer forgets unused endpoints; a breaker that is not closed is never idle, so forgetting
// one can never silently close an endpoint.
func (b *Breaker) ResetWindow() (idle bool) {
	idle = b.state == Closed && b.count == 0
	b.failures, b.count = 0, 0
	return idle
}

// advance applies a due timed transition, appending it to tr. At most one is ever due: both
// timed transitions lead to half-open, which has no deadline.
func (b *Breaker) advance(now time.Time, tr []Transition) []Transition {
	if (b.state == Open || b.state == HalfOpenWait) && !now.Before(b.deadline) {
		tr = b.to(now, HalfOpen, tr)
		b.deadline = time.Time{}
	}
	return tr
}

// check opens the breaker when the threshold holds after a completed call.
func (b *Breaker) check(now time.Time, tr []Transition) []Transition {
	if b.state == Open || b.count < b.opts.MinRequestCount || b.rate() < b.opts.Threshold {
		return tr
	}
	tr = b.to(now, Open, tr)
	// Opening replaces any anti-stick deadline: Moleculer clears the endpoint's timer and arms
	// a fresh halfOpenTime one.
	b.deadline = now.Add(b.opts.HalfOpenTime)
	return tr
}

func (b *Breaker) rate() float64 {
	if b.count == 0 {
		return 0
	}
	return float64(b.failures) / float64(b.count)
}

func (b *Breaker) to(now time.Time, s State, tr []Transition) []Transition {
	tr = append(tr, Transition{At: now, From: b.state, To: s, Failures: b.failures, Count: b.count, Rate: b.rate()})
	b.state = s
	return tr
}
