package broker

import "time"

// CallOptions are Moleculer's call options.
type CallOptions struct {
	// Timeout overrides the action's and the broker's timeout; Dur(0) disables it.
	Timeout *time.Duration
	// Retries overrides the retry count of the policy in force.
	Retries *int
	// NodeID sends the call to this node only.
	NodeID string
	// Meta is merged into the call's meta.
	Meta map[string]any
	// FallbackResponse answers any failure of this call: a value, or a
	// func(ctx *Context, err error) (any, error).
	FallbackResponse any
	// ParentCtx makes the call a nested call of a context (as ctx.Call does).
	ParentCtx *Context
	// RequestID sets the request ID of a root call (for tracing across calls).
	RequestID string
	// ResponseMeta, when set, receives the call's meta after the call: what the called
	// action (or a nested call of it) set, as Moleculer merges it back into the caller's
	// context. API gateways read $statusCode and friends from it.
	ResponseMeta map[string]any
}

// CallOption sets a call option.
type CallOption func(*CallOptions)

// WithTimeout sets the call's timeout (0: none).
func WithTimeout(d time.Duration) CallOption { return func(o *CallOptions) { o.Timeout = &d } }

// WithRetries sets the call's retry count.
func WithRetries(n int) CallOption { return func(o *CallOptions) { o.Retries = &n } }

// WithNodeID pins the call to a node.
func WithNodeID(id string) CallOption { return func(o *CallOptions) { o.NodeID = id } }

// WithMeta merges meta into the call's meta.
func WithMeta(m map[string]any) CallOption { return func(o *CallOptions) { o.Meta = m } }

// WithResponseMeta copies the call's meta, as the called action left it, into m when
// the call returns (successfully or not).
func WithResponseMeta(m map[string]any) CallOption {
	return func(o *CallOptions) { o.ResponseMeta = m }
}

// WithFallback sets the call's fallbackResponse: a value or a func(ctx, err) (any, error).
func WithFallback(v any) CallOption { return func(o *CallOptions) { o.FallbackResponse = v } }

// WithRequestID sets the request ID of a root call.
func WithRequestID(id string) CallOption { return func(o *CallOptions) { o.RequestID = id } }

// WithOptions applies a whole CallOptions value (for data-driven callers such as scenario
// files); its set fields override earlier options.
func WithOptions(v CallOptions) CallOption {
	return func(o *CallOptions) {
		if v.Timeout != nil {
			o.Timeout = v.Timeout
		}
		if v.Retries != nil {
			o.Retries = v.Retries
		}
		if v.NodeID != "" {
			o.NodeID = v.NodeID
		}
		if v.Meta != nil {
			o.Meta = v.Meta
		}
		if v.FallbackResponse != nil {
			o.FallbackResponse = v.FallbackResponse
		}
		if v.ParentCtx != nil {
			o.ParentCtx = v.ParentCtx
		}
		if v.RequestID != "" {
			o.RequestID = v.RequestID
		}
		if v.ResponseMeta != nil {
			o.ResponseMeta = v.ResponseMeta
		}
	}
}

func (b *Broker) buildCallOptions(opts []CallOption) CallOptions {
	if len(opts) == 0 {
		return CallOptions{} // the common call: no options, and no CallOptions escaping to the heap
	}
	o := new(CallOptions)
	for _, f := range opts {
		f(o)
	}
	return *o
}

// EmitOptions are options of emit and broadcast.
type EmitOptions struct {
	// Groups limits delivery to these event groups.
	Groups []string
	Meta   map[string]any
}

// EmitOption sets an emit option.
type EmitOption func(*EmitOptions)

// ToGroups limits an emit or broadcast to event groups.
func ToGroups(groups ...string) EmitOption { return func(o *EmitOptions) { o.Groups = groups } }

// WithEventMeta merges meta into the event context's meta.
func WithEventMeta(m map[string]any) EmitOption { return func(o *EmitOptions) { o.Meta = m } }
