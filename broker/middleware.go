package broker

import (
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/validator"
)

// Middleware wraps handlers, as Moleculer's middleware hooks do. Each hook receives the
// next handler and returns the wrapped one; nil hooks are skipped.
type Middleware struct {
	Name string
	// LocalAction wraps actions served by this node.
	LocalAction func(next Handler, ep *Endpoint) Handler
	// RemoteAction wraps the caller's side of calls to actions on other nodes.
	RemoteAction func(next Handler, ep *Endpoint) Handler
	// LocalEvent wraps this node's event handlers.
	LocalEvent func(next EventFunc, ev EventEndpointInfo) EventFunc
}

// EventEndpointInfo describes a local event handler to a middleware.
type EventEndpointInfo struct {
	Event   string
	Group   string
	Service string
	Def     Event
}

// Def returns the local action's definition (nil for remote endpoints).
func (e *Endpoint) Def() *Action {
	if e.def == nil {
		return nil
	}
	return &e.def.def
}

// builtinMiddlewares returns Moleculer's internal middlewares in its order, outermost first:
// Fallback → Retry → Timeout → CircuitBreaker → Cacher → Bulkhead → Validator; observers
// (Options.Observers) go outside them, user middlewares inside (Options.Middlewares, then Use).
func (b *Broker) builtinMiddlewares() []Middleware {
	ms := append([]Middleware(nil), b.opts.Observers...)
	b.builtinLo = len(ms)
	ms = append(ms,
		b.fallbackMiddleware(),
		b.retryMiddleware(),
		b.timeoutMiddleware(),
		b.breakerMiddleware(),
		b.cacherMiddleware(),
		b.bulkheadMiddleware(),
		b.validatorMiddleware(),
	)
	b.builtinHi = len(ms)
	return append(ms, b.opts.Middlewares...)
}

// validatorMiddleware checks params against the action's schema on the serving node.
func (b *Broker) validatorMiddleware() Middleware {
	return Middleware{
		Name: "Validator",
		LocalAction: func(next Handler, ep *Endpoint) Handler {
			if ep.def == nil || ep.def.validator == nil {
				return next
			}
			v := ep.def.validator
			return func(ctx *Context) (any, error) {
				var fes []validator.FieldError
				if ctx.sharedParams {
					// The caller's map: defaults and conversions go into a copy (made only
					// if the schema writes), which the handler then sees.
					ctx.Params, fes = v.ValidateShared(ctx.Params)
				} else {
					fes = v.Validate(ctx.Params)
				}
				if len(fes) > 0 {
					data := make([]map[string]any, 0, len(fes))
					for _, fe := range fes {
						m := map[string]any{"type": fe.Type, "message": fe.Message, "field": fe.Field,
							"nodeID": ctx.NodeIDOfCaller(), "action": ep.Action}
						if fe.Actual != nil {
							m["actual"] = fe.Actual
						}
						if fe.Expected != nil {
							m["expected"] = fe.Expected
						}
						data = append(data, m)
					}
					return nil, errs.Validation("", data)
				}
				return next(ctx)
			}
		},
	}
}

// timeoutMiddleware enforces the call's timeout: call option, else the action's, else the
// broker's. On the caller it settles the attempt with RequestTimeoutError exactly at the
// deadline; on the serving node it makes ctx.Done() fire at the deadline (the handler is
// not killed: its late result is dropped).
func (b *Broker) timeoutMiddleware() Middleware {
	wrap := func(next Handler, ep *Endpoint) Handler {
		guarded := b.recoverLocal(next, ep.Action) // next may run in a task of its own
		// Built once per endpoint, not per call.
		taskName, waitName := "handle "+ep.Action, "result of "+ep.Action+" on "+ep.NodeID
		return func(ctx *Context) (any, error) {
			if ctx.Options.Timeout == nil {
				ctx.timeout = b.timeoutOf(ctx, ep)
				ctx.Options.Timeout = &ctx.timeout // inside ctx: no allocation of its own
			}
			t := *ctx.Options.Timeout
			if t <= 0 {
				return next(ctx)
			}
			att := ctx.attempt
			att.timeout = t
			if ctx.served {
				if ctx.startedAt.IsZero() { // a timeout a middleware set on an untimed request
					ctx.startedAt = b.rt.Now()
				}
				att.startedAt = ctx.startedAt
			} else if ep.Local {
				ctx.startedAt = att.startedAt
			}
			deadline := att.startedAt.Add(t)
			// On a runtime without an order between simultaneous timers, the local
			// context's deadline (ctx.Done) rides on this timer instead of one of its own:
			// it fires at the same instant, and not once the handler is done (the attempt
			// is settled then, as ctx.release would have stopped its timer).
			shared := ep.Local && !b.ordered
			if shared {
				// The handler's task and the timer hold the context until they finish,
				// and the last of them and the caller recycles it (Context.drop).
				ctx.holders.Add(2)
			} else {
				ctx.exposed = true // the timer and the handler's task may outlive the call
			}
			timer := b.rt.AfterFunc(deadline.Sub(b.rt.Now()), func() {
				if shared {
					defer ctx.drop()
				}
				if att.isSettled() {
					return
				}
				if b.journal != nil {
					b.journal.Record(b.nodeID, journal.ReqTimeout, map[string]any{"id": att.id, "call": ctx.ID, "action": ctx.Action, "target": ep.NodeID, "timeout": t, "served": ctx.served})
				}
				att.settle(nil, errs.RequestTimeout(ctx.Action, ep.NodeID))
				if shared {
					ctx.expire()
				}
			})
			if ep.Local {
				if shared {
					ctx.deadline = deadline
				} else {
					ctx.setDeadline(deadline)
				}
				b.rt.Go(taskName, func() {
					res, err := guarded(ctx)
					ctx.release()
					if !att.settle(res, err) && b.journal != nil {
						b.journal.Record(b.nodeID, journal.ResOrphan, map[string]any{"id": att.id, "action": ctx.Action, "late": b.since(deadline), "ok": err == nil, "local": true})
					}
					if shared {
						ctx.drop()
					}
				})
				// Fair only in a crowd: a caller alone gains nothing from the yield
				// but a trip through the scheduler (~15 % of a call at one caller).
				crowd := b.timedWaiters.Add(1) > 1
				att.wait(waitName, crowd)
				b.timedWaiters.Add(-1)
			} else {
				_, _ = next(ctx)
			}
			if timer.Stop() && shared {
				ctx.drop() // the timer never ran: its hold ends here
			}
			return att.result()
		}
	}
	return Middleware{Name: "Timeout", LocalAction: wrap, RemoteAction: wrap}
}

// fallbackMiddleware answers a failing local action with the action's fallback, unless the
// call has a fallbackResponse of its own: as in Moleculer, the call's answers first (the
// logical call applies it, in callContext). A served request never carries one (a function
// does not travel), so on the serving node of a remote call the action's fallback answers.
func (b *Broker) fallbackMiddleware() Middleware {
	return Middleware{
		Name: "Fallback",
		LocalAction: func(next Handler, ep *Endpoint) Handler {
			if ep.def == nil || ep.def.fallback == nil {
				return next
			}
			fb := ep.def.fallback
			return func(ctx *Context) (any, error) {
				res, err := next(ctx)
				if err != nil {
					if ctx.Options.FallbackResponse != nil && !ctx.served {
						return res, err
					}
					ctx.exposed = true // the fallback is user code
					return fb(ctx, err)
				}
				return res, nil
			}
		},
	}
}
