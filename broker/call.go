package broker

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// attempt is one try of a call against one endpoint. It settles exactly once — with the
// handler's result, the response, a timeout, or a rejection, whichever comes first — and
// everything that cares (the waiting caller, the breaker, the pending-request table) acts
// on that single settlement.
type attempt struct {
	b         *Broker
	id        string
	timeout   time.Duration
	startedAt time.Time

	// breaker, when set, counts the outcome (the breaker middleware); pending, when set, is
	// this attempt's entry in the pending-request table, dropped on settlement. Fields rather
	// than hooks: no closure per call.
	breaker *endpointBreaker
	pending bool

	mu      sync.Mutex
	settled bool
	res     any
	err     error
	done    rt.Signal
}

// newAttempt starts the context's attempt. A context makes exactly one (each retry runs in a
// context of its own ID, so a late answer to an abandoned attempt can never be taken for the
// answer to the current one), so the attempt lives inside the context: no allocation.
//
// The start instant is read only when something may use it: a timeout (its deadline and a
// request's remaining budget count from it), or a chain with code outside the broker, which
// could set one. A clock read is ~5 % of an untimed local call.
func (b *Broker) newAttempt(ctx *Context) *attempt {
	ep := ctx.Endpoint // set by the caller: dispatch, or the serving side of a request
	ctx.att = attempt{b: b, id: ctx.ID}
	if ep.exposes || b.timeoutOf(ctx, ep) > 0 {
		ctx.att.startedAt = b.rt.Now()
	}
	return &ctx.att
}

// timeoutOf resolves a call's timeout: the call's, else the action's, else the broker's. The
// timeout middleware arms it; newAttempt reads the clock only when it is positive.
func (b *Broker) timeoutOf(ctx *Context, ep *Endpoint) time.Duration {
	switch {
	case ctx.Options.Timeout != nil:
		return *ctx.Options.Timeout
	case ep.Timeout != nil:
		return *ep.Timeout
	}
	return b.opts.RequestTimeout
}

// settle records the outcome; it reports whether this call was the one that settled it.
func (a *attempt) settle(res any, err error) bool {
	a.mu.Lock()
	if a.settled {
		a.mu.Unlock()
		return false
	}
	a.settled, a.res, a.err = true, res, err
	done, pending := a.done, a.pending
	a.mu.Unlock()
	if a.breaker != nil {
		a.b.breakers.record(a.breaker, err)
	}
	if pending {
		a.b.pendingMu.Lock()
		delete(a.b.pending, a.id)
		a.b.pendingMu.Unlock()
	}
	if done != nil {
		done.Fire()
	}
	return true
}

func (a *attempt) isSettled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settled
}

// wait blocks until the attempt settles. fair makes a caller that had to block yield once
// on waking (rt.FairWaiter), so that callers woken together queue behind the runnable ones
// instead of the last one woken running first, over and over: a batch-waking transporter's
// callers (see fairWake), and a local call through the timeout middleware, whose handler
// task settles it, when other callers wait too. At 100 local callers through the
// fault-tolerance stack the fair wait kept the p99 at 0.6–1.3 ms where without it it was
// 0.5–1.9 ms and once 6.1 ms, for the same calls per second (`go run ./bench/vsmoleculer
// -go-only -cases ft -callers 1,100`, eight alternated runs, load 1.5–5); over NATS the
// yield costs more than it gives (14 % of a call's CPU).
func (a *attempt) wait(what string, fair bool) {
	a.mu.Lock()
	if a.settled {
		a.mu.Unlock()
		return
	}
	if a.done == nil {
		a.done = a.b.rt.NewSignal(what)
	}
	done := a.done
	a.mu.Unlock()
	if fair {
		if f, ok := done.(rt.FairWaiter); ok {
			f.WaitFair()
			return
		}
	}
	done.Wait()
}

func (a *attempt) result() (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.res, a.err
}

// Call calls an action from outside any handler (a root call). It blocks until the call
// settles, so in a simulation it must run inside a task.
func (b *Broker) Call(action string, params any, opts ...CallOption) (any, error) {
	o := b.buildCallOptions(opts)
	if o.ParentCtx != nil {
		parent := o.ParentCtx
		o.ParentCtx = nil
		return parent.Call(action, params, WithOptions(o))
	}
	ctx, err := b.newContext(nil, action, params, o)
	if err != nil {
		return nil, err
	}
	res, err := b.callContext(ctx)
	if o.ResponseMeta != nil {
		maps.Copy(o.ResponseMeta, ctx.Meta)
	}
	recycle(ctx)
	return res, err
}

// toParams turns an event's data into an object, as callParams does, except that a map is
// copied.
func toParams(params any) (map[string]any, error) {
	p, shared, err := callParams(params)
	if shared {
		// An event's payload: a copy, so handlers never write into the emitter's map.
		p = maps.Clone(p)
	}
	return p, err
}

// callParams turns call params into an object, as toParams, except that a map is not
// copied: shared reports that the returned map is the caller's own. A local call's context
// carries it as it is, as Moleculer's does; the broker never writes into it (the validator
// copies it at its first write: validatorMiddleware), so a copy per call would only cost
// two allocations. A handler that changes ctx.Params of a local call changes the caller's
// map, as in Moleculer.
func callParams(params any) (p map[string]any, shared bool, err error) {
	switch p := params.(type) {
	case nil:
		return map[string]any{}, false, nil
	case map[string]any:
		if p == nil { // a nil map is no params: {} on the wire, as Moleculer sends, never null
			return map[string]any{}, false, nil
		}
		return p, true, nil
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, false, errs.Client("params cannot be serialized: "+err.Error(), 400, "INVALID_PARAMS", nil)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false, errs.Client(fmt.Sprintf("params must be an object, not %T", params), 400, "INVALID_PARAMS", nil)
	}
	return m, false, nil
}

func (b *Broker) newContext(parent *Context, action string, params any, o CallOptions) (*Context, error) {
	p, shared, err := callParams(params)
	if err != nil {
		return nil, err
	}
	// A pooled context is all zero but its emptied Meta (recycle), a new one all zero, so the
	// fields are set one by one: assigning a whole Context literal is a typed copy of ~600
	// bytes behind GC write barriers, ~10 % of a local call.
	ctx := ctxPool.Get().(*Context)
	ctx.ID, ctx.Action, ctx.Params, ctx.Options = b.newID(), action, p, o
	ctx.broker, ctx.NodeID, ctx.Level, ctx.sharedParams = b, b.nodeID, 1, shared
	if parent != nil {
		ctx.ParentID, ctx.RequestID, ctx.Level = parent.ID, parent.RequestID, parent.Level+1
		if parent.Service != nil {
			ctx.Caller = parent.Service.FullName
		}
		if ctx.Meta == nil {
			ctx.Meta = make(map[string]any, len(parent.Meta))
		}
		maps.Copy(ctx.Meta, parent.Meta)
	} else {
		ctx.RequestID = o.RequestID
		if ctx.RequestID == "" {
			ctx.RequestID = ctx.ID
		}
	}
	if ctx.Meta == nil {
		ctx.Meta = map[string]any{}
	}
	maps.Copy(ctx.Meta, o.Meta)
	if b.opts.MaxCallLevel > 0 && ctx.Level > b.opts.MaxCallLevel {
		return nil, errs.MaxCallLevel(b.nodeID, ctx.Level)
	}
	return ctx, nil
}

// callContext runs a logical call: endpoint selection, the endpoint's middleware chain,
// retries (inside the chain), and the call's fallbackResponse. It is journaled as one
// call.started / call.finished pair.
func (b *Broker) callContext(ctx *Context) (any, error) {
	var start time.Time
	var id, action any    // boxed once for both entries
	if b.journal != nil { // attribute maps cost allocations on every call: only build them when recorded
		start = b.rt.Now()
		id, action = ctx.ID, ctx.Action
		requestID := any(ctx.RequestID)
		if ctx.RequestID == ctx.ID { // a root call's
			requestID = id
		}
		b.journal.Record(b.nodeID, journal.CallStarted, map[string]any{"id": id, "action": action, "level": ctx.Level, "requestID": requestID, "parent": ctx.ParentID})
	}
	res, err := b.dispatch(ctx)
	fellBack := false
	if err != nil && ctx.Options.FallbackResponse != nil {
		res, err = b.applyCallFallback(ctx, ctx.Options.FallbackResponse, err)
		fellBack = true
	}
	if b.journal != nil {
		attrs := map[string]any{"id": id, "action": action, "level": ctx.Level, "ok": err == nil, "duration": b.since(start), "retries": ctx.retries}
		if ep := ctx.Endpoint; ep != nil {
			attrs["target"] = b.nodeAttr(ep.NodeID)
		}
		if fellBack {
			attrs["fallback"] = true
		}
		if err != nil {
			e := errs.From(err)
			attrs["error"], attrs["code"] = e.Name, e.Code
		}
		if err == nil && ctx.CachedResult {
			// Served by this node's cacher (a local call): the caller's one view of
			// ctx.CachedResult. Every hit decodes a fresh value, so nothing is shared.
			attrs["cached"] = true
		}
		b.journal.Record(b.nodeID, journal.CallFinished, attrs)
	}
	return res, err
}

// dispatch picks an endpoint and runs its chain. The retry middleware calls it again for
// each retry, so every retry goes through the balancer.
func (b *Broker) dispatch(ctx *Context) (any, error) {
	ep, err := b.selectEndpoint(ctx)
	if err != nil {
		return nil, err
	}
	ctx.Endpoint = ep
	ctx.NodeID = ep.NodeID // as Moleculer's ctx.setEndpoint: the caller's ctx names its target
	if !ep.Local || ep.exposes {
		ctx.exposed = true // a request in flight, or code outside the broker, may keep it
	}
	if ep.Local {
		ctx.Service = ep.def.service
	}
	if !ctx.served {
		ctx.startedAt = time.Time{}
	}
	att := b.newAttempt(ctx)
	ctx.attempt = att
	res, err := ep.handler(ctx)
	att.settle(res, err)
	return res, err
}

// selectEndpoint applies the call's node pinning, availability (node alive, breaker not
// open), preferLocal and the balancing strategy.
func (b *Broker) selectEndpoint(ctx *Context) (*Endpoint, error) {
	if ep := b.readyLocalEndpoint(ctx); ep != nil {
		return ep, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ep, err := b.pickEndpoint(ctx)
	if ep != nil && ep.handler == nil {
		// A remote endpoint's chain is built on its first call, under b.mu (see
		// registerRemote): in a cluster of N nodes each knows N-1 nodes' endpoints and calls
		// few of them.
		ep.handler = b.wrapRemote(ep)
	}
	return ep, err
}

// readyLocalEndpoint is selectEndpoint's path for the common call, under b.mu's read lock so
// that concurrent local calls do not queue on one mutex (at 100 local callers the exclusive
// lock here was ~79 % of the mutex profile): no node pinned, preferLocal on, the action's
// list settled, and this node's endpoint available. It answers exactly what pickEndpoint
// would, or nil, and then the exclusive path decides: that path may write (it merges a
// list's pending slots, names a remote endpoint for its breaker, builds a remote chain,
// moves the round robin).
func (b *Broker) readyLocalEndpoint(ctx *Context) *Endpoint {
	if ctx.Options.NodeID != "" || !*b.opts.PreferLocal {
		return nil
	}
	b.mu.RLock()
	var ready *Endpoint
	if l := b.reg.actions[ctx.Action]; l != nil && len(l.pending) == 0 {
		ready = b.availableLocal(l)
	}
	b.mu.RUnlock()
	return ready
}

// availableLocal returns the list's local endpoint when it is available, else nil. It only
// reads, so it may run under the read lock: a local endpoint is complete from its
// registration (its chain and its breaker ID: registerLocal, registry.addEndpoint), so
// endpointAvailable writes nothing for it.
func (b *Broker) availableLocal(l *endpointList) *Endpoint {
	if ep := l.local(); ep != nil && b.endpointAvailable(ep) {
		return ep
	}
	return nil
}

func (b *Broker) pickEndpoint(ctx *Context) (*Endpoint, error) {
	list := b.reg.list(ctx.Action)
	if list == nil {
		return nil, errs.ServiceNotFound(ctx.Action, ctx.Options.NodeID)
	}
	if id := ctx.Options.NodeID; id != "" {
		for i, slot := range list.slots {
			if slot.node.id == id {
				ep := list.endpoint(i)
				if !b.endpointAvailable(ep) {
					return nil, errs.ServiceNotAvailable(ctx.Action, id)
				}
				return ep, nil
			}
		}
		return nil, errs.ServiceNotFound(ctx.Action, id)
	}
	if *b.opts.PreferLocal {
		if ep := b.availableLocal(list); ep != nil {
			return ep, nil // before building the candidate list: no allocation
		}
	}
	// The candidate list lives in b.candidates, reused under b.mu: the built-in strategies
	// do not keep it past Select.
	candidates := b.candidates[:0]
	for i, slot := range list.slots {
		if !slot.node.available {
			continue // endpointAvailable's first test, before the endpoint is made
		}
		if ep := list.endpoint(i); b.endpointAvailable(ep) {
			candidates = append(candidates, ep)
		}
	}
	defer func() { clear(candidates); b.candidates = candidates[:0] }()
	if len(candidates) == 0 {
		return nil, errs.ServiceNotAvailable(ctx.Action, "")
	}
	return b.strategy.Select(candidates, list), nil
}

func (b *Broker) endpointAvailable(ep *Endpoint) bool {
	if !ep.node.available {
		return false
	}
	if b.breakers == nil {
		return true
	}
	if ep.id == "" {
		ep.id = ep.NodeID + ":" + ep.Action // under b.mu, once: see registry.addEndpoint
	}
	return b.breakers.allows(ep.id)
}

// applyCallFallback answers a failed call with its fallbackResponse.
func (b *Broker) applyCallFallback(ctx *Context, fb any, err error) (any, error) {
	if fn, ok := fb.(func(ctx *Context, err error) (any, error)); ok {
		ctx.exposed = true
		return fn(ctx, err)
	}
	return fb, nil
}

// wrapLocal builds a local endpoint's chain: the middlewares' LocalAction hooks around the
// handler, the first middleware outermost.
func (b *Broker) wrapLocal(ep *Endpoint) Handler {
	h := b.invokeLocal(ep)
	for i := len(b.middlewares) - 1; i >= 0; i-- {
		if w := b.middlewares[i].LocalAction; w != nil {
			h = w(h, ep)
			if i < b.builtinLo || i >= b.builtinHi {
				ep.exposes = true
			}
		}
	}
	if d := ep.Def(); d != nil && d.Cache != nil && b.opts.Cacher != nil && (d.Cache.KeyFunc != nil || b.opts.CacheDefaults.KeyFunc != nil) {
		ep.exposes = true // the KeyFunc gets ctx.Params and ctx.Meta
	}
	return b.recoverLocal(h, ep.Action)
}

// recoverLocal turns a panic in a middleware (a user middleware, or a fault injected by one)
// into an error, as invokeLocal does for the handler. It wraps the task boundaries: the whole
// local chain, and the part of it the timeout middleware runs in a task of its own.
func (b *Broker) recoverLocal(h Handler, action string) Handler {
	return func(ctx *Context) (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("middleware panicked", "action", action, "panic", r)
				res, err = nil, errs.New(fmt.Sprintf("panic in action '%s': %v", action, r), 500, "HANDLER_PANIC", nil)
			}
		}()
		return h(ctx)
	}
}

// wrapRemote builds the caller's side of a remote endpoint: RemoteAction hooks around the
// request.
func (b *Broker) wrapRemote(ep *Endpoint) Handler {
	h := Handler(b.request)
	for i := len(b.middlewares) - 1; i >= 0; i-- {
		if w := b.middlewares[i].RemoteAction; w != nil {
			h = w(h, ep)
			if i < b.builtinLo || i >= b.builtinHi {
				ep.exposes = true // code outside the broker sees the context (newAttempt)
			}
		}
	}
	return h
}

// invokeLocal runs the action's handler, turning a panic into an error so the broker keeps
// running.
func (b *Broker) invokeLocal(ep *Endpoint) Handler {
	def := ep.def
	return func(ctx *Context) (res any, err error) {
		ctx.metaOut = true // its Meta may reach the caller inside the result (recycle)
		if b.journal != nil {
			b.journal.Record(b.nodeID, journal.ActionRun, map[string]any{"id": ctx.ID, "action": def.nameAttr, "from": b.nodeAttr(ctx.NodeIDOfCaller())})
		}
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("handler panicked", "action", def.name, "panic", r)
				res, err = nil, errs.New(fmt.Sprintf("panic in action '%s': %v", def.name, r), 500, "HANDLER_PANIC", nil)
			}
			if err == nil && holdsNoMap(res) {
				ctx.metaOut = false // a number, a string: Meta stayed with the context
			}
		}()
		return def.def.Handler(ctx)
	}
}

// holdsNoMap reports whether a handler's result is a value that cannot contain a map (its
// context's Meta among them): a scalar, or nothing.
func holdsNoMap(v any) bool {
	switch v.(type) {
	case nil, bool, string, float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return true
	}
	return false
}

// nodeAttr is a node ID as a journal attribute, this node's boxed once.
func (b *Broker) nodeAttr(id string) any {
	if id == b.nodeID {
		return b.nodeIDAttr
	}
	return id
}

// NodeIDOfCaller returns the node the call came from: the sender of a served request, this
// node for a local call.
func (c *Context) NodeIDOfCaller() string {
	if c.served {
		return c.NodeID
	}
	return c.broker.nodeID
}
