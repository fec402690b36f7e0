package faults

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/rt"
)

// Calls selects the calls an action fault hits, on the serving node.
type Calls struct {
	// Action is the action's full name, or a glob as cache patterns take them ("product.*",
	// "**"); empty matches every action.
	Action string
	// Node is the serving node; empty matches every node.
	Node string
	// Rate is the probability that a matching call is hit; 0 means every call.
	Rate float64
	// FirstN, when positive, limits the fault to the first N matching calls after each
	// application (each of them still hit with Rate).
	FirstN int
}

func (c Calls) matches(action, node string) bool {
	return (c.Action == "" || c.Action == action || cache.Match(c.Action, action)) && (c.Node == "" || c.Node == node)
}

func (c Calls) attrs(a map[string]any) map[string]any {
	if c.Action != "" {
		a["action"] = c.Action
	}
	if c.Node != "" {
		a["node"] = c.Node
	}
	if c.Rate > 0 {
		a["rate"] = c.Rate
	}
	if c.FirstN > 0 {
		a["firstN"] = c.FirstN
	}
	return a
}

func (c Calls) validate() error {
	if c.FirstN < 0 {
		return errors.New("firstN must not be negative")
	}
	return validRate(c.Rate)
}

// Middleware returns the broker middleware through which action faults act. Add it to every
// broker whose actions faults may target, as the last of Options.Middlewares, so that it runs
// innermost, right around the handler (inside the timeout, breaker, cacher and bulkhead).
func (i *Injector) Middleware() broker.Middleware {
	return broker.Middleware{
		Name: "Faults",
		LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
			return func(ctx *broker.Context) (any, error) { return i.actions.serve(ctx, ep, next) }
		},
	}
}

// actionLayer holds the active action faults.
type actionLayer struct {
	inj   *Injector
	mu    sync.Mutex
	rules []*actionRule
}

// outcome is what a fired action fault does to a call.
type outcome struct {
	stop bool // answer with err instead of calling the handler
	err  error
}

type actionRule struct {
	name, kind string
	c          *counters
	calls      Calls
	fire       func(ctx *broker.Context, ep *broker.Endpoint, r *actionRule) outcome

	// guarded by actionLayer.mu
	seen   int
	healed bool
	hung   []*hung
}

type hung struct {
	sig    rt.Signal
	byHeal bool
}

func (l *actionLayer) add(env *Env, kind string, calls Calls, fire func(*broker.Context, *broker.Endpoint, *actionRule) outcome) func() {
	r := &actionRule{name: env.Name, kind: kind, c: env.counters(), calls: calls, fire: fire}
	l.mu.Lock()
	l.rules = append(l.rules, r)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.rules = slices.DeleteFunc(l.rules, func(x *actionRule) bool { return x == r })
		r.healed = true
		released := r.hung
		r.hung = nil
		for _, h := range released {
			h.byHeal = true
		}
		l.mu.Unlock()
		for _, h := range released {
			h.sig.Fire()
		}
	}
}

func (l *actionLayer) serve(ctx *broker.Context, ep *broker.Endpoint, next broker.Handler) (any, error) {
	l.mu.Lock()
	var hits []*actionRule
	for _, r := range l.rules {
		if !r.calls.matches(ep.Action, ep.NodeID) {
			continue
		}
		r.seen++
		if r.calls.FirstN > 0 && r.seen > r.calls.FirstN {
			continue
		}
		r.c.matched.Add(1)
		if r.calls.Rate <= 0 || hit(r.calls.Rate, l.inj.rt.Rand()) {
			hits = append(hits, r)
		}
	}
	l.mu.Unlock()
	for _, r := range hits {
		r.c.fired.Add(1)
		l.inj.j.Record(ep.NodeID, FaultFired, map[string]any{"fault": r.name, "kind": r.kind, "action": ep.Action, "call": ctx.ID})
		if o := r.fire(ctx, ep, r); o.stop {
			return nil, o.err
		}
	}
	return next(ctx)
}

// Error fails matching calls with an error of the given name, message, code, type and
// retryability, as if the handler had returned it. Name defaults to MoleculerError
// (MoleculerRetryableError when Retryable), Code to 500.
type Error struct {
	Calls
	Name      string
	Message   string
	Code      int
	Type      string
	Retryable bool
	Data      any
}

func (f Error) Kind() string { return "action.error" }
func (f Error) Attrs() map[string]any {
	e := f.err()
	return f.Calls.attrs(map[string]any{"error": e.Name, "code": e.Code, "retryable": e.Retryable})
}
func (f Error) Validate(*Env) error { return f.Calls.validate() }
func (f Error) Apply(env *Env) (func(), error) {
	return env.inj.actions.add(env, f.Kind(), f.Calls, func(*broker.Context, *broker.Endpoint, *actionRule) outcome {
		return outcome{stop: true, err: f.err()}
	}), nil
}

func (f Error) err() *errs.Error {
	e := &errs.Error{Name: f.Name, Message: f.Message, Code: f.Code, Type: f.Type, Retryable: f.Retryable, Data: f.Data}
	if e.Name == "" {
		e.Name = errs.NameMoleculerError
		if e.Retryable {
			e.Name = errs.NameRetryableError
		}
	}
	if e.Code == 0 {
		e.Code = 500
	}
	if e.Message == "" {
		e.Message = "injected fault"
	}
	return e
}

// Delay holds matching calls for D on the runtime's clock before the handler runs. Like a
// slow dependency, it ignores the call's deadline: the caller times out, the handler still
// runs late.
type Delay struct {
	Calls
	D time.Duration
}

func (f Delay) Kind() string          { return "action.delay" }
func (f Delay) Attrs() map[string]any { return f.Calls.attrs(map[string]any{"delay": f.D}) }
func (f Delay) Validate(*Env) error {
	if f.D < 0 {
		return errors.New("delay must not be negative")
	}
	return f.Calls.validate()
}
func (f Delay) Apply(env *Env) (func(), error) {
	return env.inj.actions.add(env, f.Kind(), f.Calls, func(ctx *broker.Context, _ *broker.Endpoint, _ *actionRule) outcome {
		ctx.Broker().Runtime().Sleep(f.D)
		return outcome{}
	}), nil
}

// Hang makes matching calls hang: a hung call waits until the fault heals (then its handler
// runs, late) or until its deadline passes (then it ends with a RequestTimeoutError, which
// nobody is waiting for any more). A call without a deadline and a fault that never heals
// hang for good.
type Hang struct {
	Calls
}

func (f Hang) Kind() string          { return "action.hang" }
func (f Hang) Attrs() map[string]any { return f.Calls.attrs(map[string]any{}) }
func (f Hang) Validate(*Env) error   { return f.Calls.validate() }
func (f Hang) Apply(env *Env) (func(), error) {
	l := env.inj.actions
	return l.add(env, f.Kind(), f.Calls, func(ctx *broker.Context, ep *broker.Endpoint, r *actionRule) outcome {
		brt := ctx.Broker().Runtime()
		l.mu.Lock()
		if r.healed {
			l.mu.Unlock()
			return outcome{}
		}
		h := &hung{sig: brt.NewSignal("hang fault " + r.name + " in " + ep.Action)}
		r.hung = append(r.hung, h)
		l.mu.Unlock()
		var timer rt.Timer
		if dl, ok := ctx.Deadline(); ok {
			timer = brt.AfterFunc(dl.Sub(brt.Now()), h.sig.Fire)
		}
		h.sig.Wait()
		if timer != nil {
			timer.Stop()
		}
		l.mu.Lock()
		byHeal := h.byHeal
		r.hung = slices.DeleteFunc(r.hung, func(x *hung) bool { return x == h })
		l.mu.Unlock()
		if byHeal {
			return outcome{}
		}
		return outcome{stop: true, err: errs.RequestTimeout(ep.Action, ep.NodeID)}
	}), nil
}

// Panic makes the handler of matching calls panic; the broker turns the panic into a 500
// error and keeps serving.
type Panic struct {
	Calls
	Message string
}

func (f Panic) Kind() string          { return "action.panic" }
func (f Panic) Attrs() map[string]any { return f.Calls.attrs(map[string]any{}) }
func (f Panic) Validate(*Env) error   { return f.Calls.validate() }
func (f Panic) Apply(env *Env) (func(), error) {
	msg := f.Message
	if msg == "" {
		msg = "injected panic (fault " + env.Name + ")"
	}
	return env.inj.actions.add(env, f.Kind(), f.Calls, func(*broker.Context, *broker.Endpoint, *actionRule) outcome {
		panic(msg)
	}), nil
}
