package broker

import (
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/bulkhead"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// DefaultBreakerCheck is Moleculer's default: errors with code >= 500 are failures.
func DefaultBreakerCheck(err error) bool { return errs.CodeOf(err) >= 500 }

// retryMiddleware retries failed calls on the caller, each retry a fresh trip through the
// balancer (dispatch), after min(delay·factor^(n−1), maxDelay). As in Moleculer, each retry
// runs in a copy of the context with a new ID (same request ID, RetryAttempts incremented),
// so whatever keys on the context ID — the journal, a trace, a request on the wire, an
// idempotency check — sees each attempt as its own. The check is consulted on every failure,
// the one that reaches the retry limit included.
//
// Faultline: a call option Retries enables retrying for that call even when the policy in
// force is disabled (Moleculer ignores it then, which surprises everyone).
func (b *Broker) retryMiddleware() Middleware {
	wrap := func(next Handler, ep *Endpoint) Handler {
		policy := actionRetry(b.retry, ep.Def())
		return func(ctx *Context) (any, error) {
			if ctx.served {
				return next(ctx)
			}
			res, err := next(ctx)
			if err == nil {
				return res, nil
			}
			p := policy
			if ctx.Options.Retries != nil {
				p.Retries, p.Enabled = *ctx.Options.Retries, true
			}
			again, wait := p.Next(ctx.retries+1, err)
			if !again {
				return res, err
			}
			retry := ctx.retryCopy(b.newID())
			b.journal.Record(b.nodeID, journal.RetryAttempt, map[string]any{
				"call": retry.logicalID, "ctx": retry.ID, "action": ctx.Action, "retry": retry.retries, "attempt": retry.retries + 1,
				"delay": wait, "error": errs.NameOf(err), "code": errs.CodeOf(err), "failedOn": ep.NodeID})
			b.rt.Sleep(wait)
			res, err = b.dispatch(retry)
			ctx.adoptRetry(retry)
			return res, err
		}
	}
	return Middleware{Name: "Retry", LocalAction: wrap, RemoteAction: wrap}
}

// breakerStore keeps one circuit breaker per endpoint ("node:action") and drives their
// timed transitions with runtime timers.
type breakerStore struct {
	b  *Broker
	mu sync.Mutex
	m  map[string]*endpointBreaker
	// windowOrigin is an instant on the window grid (the first window's start, or the
	// configured WindowStart): boundaries fall at windowOrigin + k·WindowTime. Only the
	// inspector reads it (BreakerDetails' WindowEnds).
	windowOrigin time.Time
}

type endpointBreaker struct {
	id      string
	nodeID  string
	action  string
	service string
	br      *breaker.Breaker
	check   func(error) bool
	timer   rt.Timer
	timerAt time.Time
}

// allows reports whether the balancer may pick the endpoint.
func (s *breakerStore) allows(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	eb := s.m[id]
	return eb == nil || eb.br.Available()
}

// State returns the breaker state of an endpoint ("closed" when it has none).
func (b *Broker) BreakerState(nodeID, action string) breaker.State {
	if b.breakers == nil {
		return breaker.Closed
	}
	b.breakers.mu.Lock()
	defer b.breakers.mu.Unlock()
	if eb := b.breakers.m[nodeID+":"+action]; eb != nil {
		return eb.br.State()
	}
	return breaker.Closed
}

// breakerMiddleware counts each attempt's outcome against its endpoint's breaker. The count
// happens when the attempt settles, so a request that times out counts as a failure of the
// endpoint it was sent to (Faultline; Moleculer's breaker never sees timeouts).
func (b *Broker) breakerMiddleware() Middleware {
	b.breakers = &breakerStore{b: b, m: map[string]*endpointBreaker{}}
	wrap := func(next Handler, ep *Endpoint) Handler {
		cfg := actionBreaker(b.cb, ep.Def())
		if !cfg.Enabled {
			return next
		}
		opts, check := cfg.Options, cfg.Check
		id := ep.ID()
		return func(ctx *Context) (any, error) {
			if ctx.served {
				return next(ctx)
			}
			s := b.breakers
			s.mu.Lock()
			eb := s.m[id]
			if eb == nil {
				eb = &endpointBreaker{id: id, nodeID: ep.NodeID, action: ep.Action, service: ep.Service, br: breaker.New(opts), check: check}
				s.m[eb.id] = eb
			}
			_, trs := eb.br.Begin(b.rt.Now())
			s.mu.Unlock()
			s.apply(eb, trs)
			ctx.attempt.breaker = eb // counted when the attempt settles (breakerStore.record)
			res, err := next(ctx)
			ctx.attempt.settle(res, err)
			return res, err
		}
	}
	return Middleware{Name: "CircuitBreaker", LocalAction: wrap, RemoteAction: wrap}
}

// record counts a settled attempt against its endpoint's breaker. As in Moleculer, a success
// counts, and a failure counts when the check accepts it and it was born on that endpoint's
// node (an error relayed from a deeper call on another node says nothing about this
// endpoint). Any other error is not counted at all: neither a failure nor a success.
func (s *breakerStore) record(eb *endpointBreaker, err error) {
	if err != nil {
		if !eb.check(err) {
			return
		}
		if origin := errs.From(err).NodeID; origin != "" && origin != eb.nodeID {
			return
		}
	}
	now := s.b.rt.Now()
	s.mu.Lock()
	var trs []breaker.Transition
	if err != nil {
		trs = eb.br.Failure(now)
	} else {
		trs = eb.br.Success(now)
	}
	s.mu.Unlock()
	s.apply(eb, trs)
}

// apply journals and announces transitions, and re-arms the breaker's timer.
func (s *breakerStore) apply(eb *endpointBreaker, trs []breaker.Transition) {
	b := s.b
	for _, tr := range trs {
		b.journal.Record(b.nodeID, journal.BreakerChange, map[string]any{
			"endpoint": eb.id, "peer": eb.nodeID, "action": eb.action, "from": string(tr.From), "to": string(tr.To),
			"failures": tr.Failures, "count": tr.Count, "rate": tr.Rate})
		if h := b.opts.Hooks.BreakerChanged; h != nil {
			h(eb.nodeID, eb.service, eb.action, tr.From, tr.To)
		}
		payload := map[string]any{"nodeID": eb.nodeID, "service": eb.service, "action": eb.action}
		switch tr.To {
		case breaker.Open:
			payload["failures"], payload["count"], payload["rate"] = tr.Failures, tr.Count, tr.Rate
			_ = b.Broadcast("$circuit-breaker.opened", payload)
		case breaker.HalfOpen:
			_ = b.Broadcast("$circuit-breaker.half-opened", payload)
		case breaker.Closed:
			_ = b.Broadcast("$circuit-breaker.closed", payload)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := eb.br.NextDeadline()
	if ok && eb.timer != nil && at.Equal(eb.timerAt) {
		return
	}
	if eb.timer != nil {
		eb.timer.Stop()
		eb.timer = nil
	}
	if !ok {
		return
	}
	eb.timerAt = at
	eb.timer = b.rt.AfterFunc(at.Sub(b.rt.Now()), func() {
		s.mu.Lock()
		eb.timer = nil
		trs := eb.br.Advance(b.rt.Now())
		s.mu.Unlock()
		s.apply(eb, trs)
	})
}

// startBreakerWindow starts the broker-wide tumbling window: counts reset every windowTime,
// and idle closed breakers are forgotten. The first window starts now, or, with a
// WindowStart, the boundaries fall at WindowStart + k·windowTime.
func (b *Broker) startBreakerWindow() {
	cb := b.cb
	if !cb.Enabled || cb.WindowTime <= 0 {
		return
	}
	if b.breakers != nil {
		b.breakers.windowOrigin = cb.WindowStart
		if cb.WindowStart.IsZero() {
			b.breakers.windowOrigin = b.rt.Now()
		}
	}
	if cb.WindowStart.IsZero() {
		b.addTimer(b.rt.Every(cb.WindowTime, b.resetBreakerWindows))
		return
	}
	// A housekeeping timer (Every) to the first boundary, replaced there by the periodic one:
	// a one-shot AfterFunc would count as pending work and keep a finished simulation alive.
	var first rt.Timer
	first = b.rt.Every(windowPhase(cb.WindowStart, cb.WindowTime, b.rt.Now()), func() {
		first.Stop()
		if !b.alive() {
			return
		}
		b.resetBreakerWindows()
		b.addTimer(b.rt.Every(cb.WindowTime, b.resetBreakerWindows))
	})
	b.addTimer(first)
}

// windowPhase returns how long after now the next window boundary start + k·window
// (k any integer) falls; a boundary at now itself counts as the next one a full window on.
func windowPhase(start time.Time, window time.Duration, now time.Time) time.Duration {
	d := (start.Sub(now)) % window
	if d <= 0 {
		d += window
	}
	return d
}

func (b *Broker) resetBreakerWindows() {
	s := b.breakers
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.m))
	for id := range s.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if s.m[id].br.ResetWindow() {
			delete(s.m, id)
		}
	}
}

// bulkheadMiddleware limits concurrent executions of a local action or event handler, with
// a FIFO queue; overflow fails with QueueIsFullError.
func (b *Broker) bulkheadMiddleware() Middleware {
	return Middleware{
		Name: "Bulkhead",
		LocalAction: func(next Handler, ep *Endpoint) Handler {
			var o bulkheadConfig
			if d := ep.Def(); d != nil {
				o = mergeBulkhead(b.bh, d.Bulkhead)
			} else {
				o = b.bh
			}
			if !o.Enabled {
				return next
			}
			g := newGate(b, ep.Action, o)
			return func(ctx *Context) (any, error) {
				if err := g.enter(ctx.ID); err != nil {
					return nil, err
				}
				defer g.leave()
				return next(ctx)
			}
		},
		LocalEvent: func(next EventFunc, ev EventEndpointInfo) EventFunc {
			o := mergeBulkhead(b.bh, ev.Def.Bulkhead)
			if !o.Enabled {
				return next
			}
			g := newGate(b, ev.Service+"."+ev.Event, o)
			return func(ctx *Context) error {
				if err := g.enter(ctx.ID); err != nil {
					return err
				}
				defer g.leave()
				return next(ctx)
			}
		},
	}
}

// gate drives a pure bulkhead with runtime signals for the queued callers.
type gate struct {
	b       *Broker
	name    string
	limit   int
	mu      sync.Mutex
	bh      *bulkhead.Bulkhead
	seq     uint64
	waiting map[uint64]rt.Signal
}

func newGate(b *Broker, name string, o bulkheadConfig) *gate {
	return &gate{b: b, name: name, limit: o.MaxQueueSize, bh: bulkhead.New(o.Concurrency, o.MaxQueueSize), waiting: map[uint64]rt.Signal{}}
}

func (g *gate) enter(callID string) error {
	g.mu.Lock()
	g.seq++
	id := g.seq
	switch g.bh.Admit(id) {
	case bulkhead.Run:
		g.mu.Unlock()
		return nil
	case bulkhead.Queued:
		what := ""
		if g.b.describe { // a name only for a runtime that reports it
			what = "bulkhead slot of " + g.name
		}
		sig := g.b.rt.NewSignal(what)
		g.waiting[id] = sig
		queued := g.bh.Queued()
		g.mu.Unlock()
		if g.b.journal != nil { // the attribute map would be built for nothing (100 callers queue on every call)
			g.b.journal.Record(g.b.nodeID, journal.BulkheadQueue, map[string]any{"name": g.name, "call": callID, "queued": queued})
		}
		sig.Wait()
		return nil
	default:
		queued := g.bh.Queued()
		g.mu.Unlock()
		if g.b.journal != nil {
			g.b.journal.Record(g.b.nodeID, journal.BulkheadFull, map[string]any{"name": g.name, "call": callID, "queued": queued})
		}
		return errs.QueueIsFull(g.name, g.b.nodeID, queued, g.limit)
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	next, ok := g.bh.Done()
	var sig rt.Signal
	if ok {
		sig = g.waiting[next]
		delete(g.waiting, next)
	}
	g.mu.Unlock()
	if sig != nil {
		sig.Fire()
	}
}
