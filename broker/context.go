package broker

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// Context is Moleculer's context: one per call or event delivery. It is also a
// context.Context whose deadline runs on the broker's runtime clock, so handlers can watch
// ctx.Done() — and must wait with ctx.Sleep, never time.Sleep.
type Context struct {
	ID        string
	RequestID string
	ParentID  string
	Level     int
	// Caller is the full name of the calling service ("" from outside a service).
	Caller string
	// NodeID is the node the call or event came from.
	NodeID string
	// Action is the called action's full name ("" for events).
	Action string
	// Event, EventGroups and EventBroadcast describe an event delivery.
	Event          string
	EventGroups    []string
	EventBroadcast bool
	// Params are the call's params. On a local call they are the caller's own map, as in
	// Moleculer (the validator's defaults and conversions go into a copy: callParams): a
	// handler must not write into them unless it means the caller to see it.
	Params  map[string]any
	Meta    map[string]any
	Options CallOptions
	// Endpoint is the endpoint chosen for this call.
	Endpoint *Endpoint
	// Service is the service serving the action or event, on the serving node.
	Service *ServiceInstance
	// CachedResult is set on the serving node's context when the cacher answered the call
	// from the cache (middlewares outside the cacher see it; the handler did not run). A
	// local caller sees it as `cached: true` on the call's call.finished journal entry; it
	// is not sent back to a remote caller.
	CachedResult bool

	// The flags sit together, after CachedResult, so they share one word instead of padding
	// one each: a Context is allocated on every call, and 568 bytes fall in a smaller size
	// class than the 592 they took (576 against 640 bytes per call).
	served bool // created from a REQ packet: the caller is another node
	// expired records that the deadline passed (see done).
	expired bool
	// sharedParams: Params is the caller's own map (a local call's, see callParams), which
	// the broker must not write into.
	sharedParams bool
	// exposed: code outside the broker got the context (see recycle).
	exposed bool
	// metaOut: the handler ran with this context and its result or error may hold its Meta
	// map, so the caller may hold it (see recycle).
	metaOut bool
	// escaped: the handler used the context as a context.Context (Done, Err or Deadline),
	// so a library may still read it after the handler returns (see recycle).
	escaped bool
	// holders counts who besides the caller still holds the context, less one once the
	// caller is done with it: the timeout middleware's handler task and timer each hold it
	// until they finish. Whoever takes it to -1 is the last, and recycles it (drop).
	holders atomic.Int32

	broker    *Broker
	startedAt time.Time
	deadline  time.Time
	// done is made on first use (Done, Sleep, WaitDone): most handlers never wait on it.
	// expired records that the deadline passed before or after that. doneMu guards both: on
	// the real runtime the deadline timer runs on a goroutine of its own.
	doneMu    sync.Mutex
	done      rt.Signal
	doneTimer rt.Timer
	attempt   *attempt
	att       attempt // the storage of attempt (see newAttempt)
	retries   int     // retries made so far for this logical call
	// logicalID is the ID of the logical call's first context ("" on that context itself):
	// every retry runs in a copy with its own ID.
	logicalID string
	rawParams json.RawMessage
	// timeout is the storage Options.Timeout points to when the broker resolves the timeout
	// itself (the timeout middleware, a served request, a nested call's remaining budget).
	timeout time.Duration
}

// Broker returns the broker the context belongs to.
func (c *Context) Broker() *Broker { return c.broker }

// Served reports whether the context was created from a request of another node.
func (c *Context) Served() bool { return c.served }

// RetryAttempts returns how many retries of the logical call came before this context: 0 on
// the first attempt, n on the context of retry n (as Moleculer's ctx._retryAttempts). On the
// first context, after the call returned, it is the number of retries made.
func (c *Context) RetryAttempts() int { return c.retries }

// retryCopy is the context of the next retry: Moleculer's ctx.copy(), a new ID and otherwise
// the same call (request ID, parent, level, caller, params, meta and options shared).
func (c *Context) retryCopy(id string) *Context {
	return &Context{
		ID: id, RequestID: c.RequestID, ParentID: c.ParentID, Level: c.Level, Caller: c.Caller,
		NodeID: c.NodeID, Action: c.Action, Params: c.Params, Meta: c.Meta, Options: c.Options,
		broker: c.broker, retries: c.retries + 1, logicalID: c.callID(), sharedParams: c.sharedParams,
	}
}

// adoptRetry makes the first context of a logical call describe its last attempt, for the
// call's journal entry and for a caller reading ctx.Endpoint or ctx.CachedResult.
func (c *Context) adoptRetry(r *Context) {
	c.Endpoint, c.NodeID, c.Service, c.CachedResult, c.retries = r.Endpoint, r.NodeID, r.Service, r.CachedResult, r.retries
}

// callID is the ID of the logical call this context is an attempt of.
func (c *Context) callID() string {
	if c.logicalID != "" {
		return c.logicalID
	}
	return c.ID
}

// RawParams returns the params as they arrived on the wire (nil for local calls). Their field
// order is the sender's, which cache keys use.
func (c *Context) RawParams() json.RawMessage { return c.rawParams }

// Deadline implements context.Context.
func (c *Context) Deadline() (time.Time, bool) {
	c.escape()
	return c.deadline, !c.deadline.IsZero()
}

// Done implements context.Context: closed at the deadline. In a simulation, wait with
// ctx.Sleep or ctx.WaitDone rather than blocking on the channel.
func (c *Context) Done() <-chan struct{} {
	c.escape()
	return c.doneSignal().C()
}

// Err implements context.Context.
func (c *Context) Err() error {
	c.escape()
	return c.err()
}

// escape records that the context went to code that takes a context.Context. Such code may
// read it after the handler returns without the handler knowing: database/sql's watcher of a
// Rows reads ctx.Err after Rows.Close, on a goroutine of its own. Every such library asks
// ctx.Done or ctx.Err on the handler's goroutine first (to learn whether the context can be
// cancelled at all), so marking the context there, before the handler returns, keeps it
// from reuse. The flag is written once: a later call from that watcher only reads it, so
// it never races with recycle reading it.
func (c *Context) escape() {
	if !c.escaped {
		c.escaped = true
	}
}

// err is Err without marking the context escaped, for the broker's own waits.
func (c *Context) err() error {
	c.doneMu.Lock()
	expired := c.expired
	c.doneMu.Unlock()
	if expired {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context; a broker context carries no values.
func (c *Context) Value(any) any { return nil }

func (c *Context) doneSignal() rt.Signal {
	c.doneMu.Lock()
	sig, fire := c.done, false
	if sig == nil {
		sig = c.broker.rt.NewSignal("deadline of " + c.Action)
		c.done, fire = sig, c.expired
	}
	c.doneMu.Unlock()
	if fire {
		sig.Fire() // made after the deadline passed: done already
	}
	return sig
}

// expire marks the deadline passed and fires the done signal if anyone made it.
func (c *Context) expire() {
	c.doneMu.Lock()
	c.expired = true
	sig := c.done
	c.doneMu.Unlock()
	if sig != nil {
		sig.Fire()
	}
}

// setDeadline arms the context's deadline (the serving side of a timed call).
func (c *Context) setDeadline(at time.Time) {
	c.deadline = at
	if c.doneTimer != nil {
		c.doneTimer.Stop()
	}
	c.doneTimer = c.broker.rt.AfterFunc(at.Sub(c.broker.rt.Now()), c.expire)
}

// release stops the deadline timer once the handler has returned.
func (c *Context) release() {
	if c.doneTimer != nil {
		c.doneTimer.Stop()
		c.doneTimer = nil
	}
}

// Sleep waits d on the runtime's clock, or until the context's deadline, whichever comes
// first; it returns ctx.Err() if the deadline came first.
func (c *Context) Sleep(d time.Duration) error {
	if c.deadline.IsZero() {
		c.broker.rt.Sleep(d)
		return nil
	}
	wake := c.broker.rt.NewSignal("sleep in " + c.Action)
	t := c.broker.rt.AfterFunc(d, wake.Fire)
	c.doneSignal().OnFire(wake.Fire)
	wake.Wait()
	t.Stop()
	return c.err()
}

// WaitDone blocks until the context's deadline. A context without a deadline waits forever
// (a hung handler, as a fault wants it).
func (c *Context) WaitDone() error {
	c.doneSignal().Wait()
	return c.err()
}

// Now returns the runtime's time.
func (c *Context) Now() time.Time { return c.broker.rt.Now() }

// Call calls an action as a nested call of this context. The nested call gets what is left
// of this context's timeout budget; with nothing left it is not sent and fails with
// RequestSkippedError. Meta set by the nested call merges back into this context.
func (c *Context) Call(action string, params any, opts ...CallOption) (any, error) {
	o := c.broker.buildCallOptions(opts)
	if c.Options.Timeout != nil && *c.Options.Timeout > 0 && !c.startedAt.IsZero() {
		remaining := *c.Options.Timeout - c.broker.rt.Now().Sub(c.startedAt)
		if remaining <= 0 {
			err := errs.RequestSkipped(action, c.broker.nodeID)
			c.broker.journal.Record(c.broker.nodeID, journal.ReqSkipped, map[string]any{
				"action": action, "parent": c.ID, "budget": remaining, "level": c.Level + 1})
			if o.FallbackResponse != nil {
				return c.broker.applyCallFallback(c, o.FallbackResponse, err)
			}
			return nil, err
		}
		if o.Timeout == nil || remaining < *o.Timeout {
			o.Timeout = &remaining
		}
	}
	child, err := c.broker.newContext(c, action, params, o)
	if err != nil {
		return nil, err
	}
	res, err := c.broker.callContext(child)
	maps.Copy(c.Meta, child.Meta)
	if o.ResponseMeta != nil {
		maps.Copy(o.ResponseMeta, child.Meta)
	}
	recycle(child)
	return res, err
}

// ctxPool holds contexts for reuse by newContext.
var ctxPool = sync.Pool{New: func() any { return new(Context) }}

// recycle returns a finished call's context to ctxPool, with its Meta map emptied for the
// next call, when nothing can still refer to it. The rule, as gin's and fasthttp's for
// their request contexts: a handler's context, and its Meta map, are the handler's until it
// returns. A handler that keeps either past its return — stores it, or starts a goroutine
// that uses it — calls ctx.Keep first (Keep). Strings and values taken from the context
// (its ID, its action, a value read from Meta) are ordinary values and stay valid; Params
// are never reused (they are the caller's map, or the validator's or the decoder's own).
//
// Past that, a context is recycled only when the broker knows that nothing else holds it:
// the call ran on a local endpoint, no retry ran (a retry's context shares Meta), and none
// of these happened (each sets exposed):
//   - Keep, or an action or call fallback function got the context;
//   - the chain holds a user middleware or observer, or a cache KeyFunc (Endpoint.exposes):
//     code that never promised the handler's rule;
//   - a timeout was armed on the simulator, or for a remote endpoint (on the real runtime a
//     local call's task and timer hold the context instead: holders);
//   - the endpoint was remote (a request in flight refers to it until it settles).
//
// A handler that passed its context to code taking a context.Context (database/sql, an
// HTTP client, context.WithTimeout) has it marked escaped (see escape), and it is not
// reused either: that code need not call Keep.
//
// Meta is reused only when the handler did not run, or returned a scalar and no error: a
// handler may return its Meta map, or put it inside its result or an error's data
// (`return map[string]any{"meta": ctx.Meta}`), and the caller then holds it. Such a
// context gets a fresh Meta map on its next use.
//
// A local call through the timeout middleware is shared with its handler's task and its
// deadline timer, either of which may finish after the caller (a timed-out handler runs on):
// each holds the context (holders), and the last of the three recycles it.
func recycle(ctx *Context) { ctx.drop() }

// drop ends one holder's use of the context; the last one out recycles it.
func (ctx *Context) drop() {
	if ctx.holders.Add(-1) == -1 {
		reuse(ctx)
	}
}

// reuse puts a context no one holds any more back in the pool, if the rule above allows.
func reuse(ctx *Context) {
	if ctx.exposed || ctx.escaped || ctx.retries > 0 || ctx.Endpoint == nil || !ctx.Endpoint.Local {
		return
	}
	meta := ctx.Meta
	if ctx.metaOut {
		meta = nil
	}
	clear(meta)
	*ctx = Context{Meta: meta}
	ctxPool.Put(ctx)
}

// Keep marks the context as kept past its handler's return: the broker will not reuse it,
// or its Meta map, for a later call. A handler that stores ctx or ctx.Meta, or hands either
// to a goroutine that may outlive the handler, calls Keep before it returns (see recycle).
// A handler that only reads its context, calls, emits, or waits on ctx.Done during the call
// needs nothing.
func (c *Context) Keep() { c.exposed = true }

// Emit emits an event as part of this context: delivered once per group.
func (c *Context) Emit(event string, data any, opts ...EmitOption) error {
	return c.broker.emit(c, event, data, false, opts)
}

// Broadcast delivers an event to every subscriber on every node.
func (c *Context) Broadcast(event string, data any, opts ...EmitOption) error {
	return c.broker.emit(c, event, data, true, opts)
}

// BroadcastLocal delivers an event to every subscriber on this node only.
func (c *Context) BroadcastLocal(event string, data any, opts ...EmitOption) error {
	return c.broker.broadcastLocal(c, event, data, opts)
}
