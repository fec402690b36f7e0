// Package tracing gives brokers distributed tracing on the OpenTelemetry SDK: a span per
// action execution and per event handler, with Moleculer's IDs, so that spans of one request
// land in one trace across nodes, and across languages.
//
// Moleculer's tracer needs nothing on the wire beyond what every request carries: a span's
// ID is its context's ID, its trace ID the context's requestID, its parent the context's
// parentID. This package maps those the same way onto OpenTelemetry's IDs (a UUID's 16 bytes
// are the trace ID, its first 8 the span ID, as Moleculer's Jaeger exporter does), so a JS
// Moleculer caller's trace and a Go callee's spans join. Span times are read on the broker's
// runtime clock: in a simulation they are virtual, and since context IDs come from the
// seeded runtime too, a seeded run traces the same spans with the same IDs and times every
// time.
//
//	tr := tracing.New(tracing.Options{Exporters: []sdktrace.SpanExporter{tracing.NewConsole(os.Stdout)}})
//	b, _ := broker.New(tr.Instrument(opts))
//	defer tr.Shutdown(context.Background())
//
// One Tracer may serve every broker of a process (a simulated cluster): a span names its node
// in its nodeID attribute. A broker built without Instrument pays nothing.
package tracing

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
)

// Options configure a Tracer.
type Options struct {
	// ServiceName is the OpenTelemetry resource's service.name (default "faultline").
	ServiceName string
	// Exporters get each span as it ends, synchronously, in the order spans end: for the
	// console exporter, files and in-memory recorders. In a simulation that order is the
	// seed's.
	Exporters []sdktrace.SpanExporter
	// BatchExporters get spans in batches from a background goroutine: for network
	// exporters (OTLP), which must not block a handler. Shutdown flushes them.
	BatchExporters []sdktrace.SpanExporter
	// Record keeps every ended span in memory, for Spans (scenario checks, journals,
	// files). Leave it off on a long-running node.
	Record bool
	// Params and Meta name the params and meta keys recorded as span attributes
	// (params.<key>, meta.<key>); "*" records every key. Nil records none.
	Params, Meta []string
}

// Tracer turns broker contexts into spans.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	rec    *tracetest.InMemoryExporter
	// resource is every span's (the service name), also a decoded one's (UnmarshalSpan).
	resource *sdkresource.Resource
	params   []string
	meta     []string
}

// New returns a tracer; Instrument it into brokers.
func New(o Options) *Tracer {
	name := o.ServiceName
	if name == "" {
		name = "faultline"
	}
	res := sdkresource.NewSchemaless(semconv.ServiceName(name))
	popts := []sdktrace.TracerProviderOption{
		sdktrace.WithIDGenerator(wantedIDs{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		// No host, process or SDK attributes: the resource is the same on every machine,
		// so a seeded run's exported spans are the same bytes everywhere.
		sdktrace.WithResource(res),
	}
	t := &Tracer{params: o.Params, meta: o.Meta, resource: res}
	if o.Record {
		t.rec = tracetest.NewInMemoryExporter()
		popts = append(popts, sdktrace.WithSyncer(t.rec))
	}
	for _, e := range o.Exporters {
		popts = append(popts, sdktrace.WithSyncer(e))
	}
	for _, e := range o.BatchExporters {
		popts = append(popts, sdktrace.WithBatcher(e))
	}
	t.tp = sdktrace.NewTracerProvider(popts...)
	t.tracer = t.tp.Tracer(scopeName)
	return t
}

// scopeName is the instrumentation scope of every span.
const scopeName = "github.com/faultline/faultline/broker/tracing"

// Provider returns the OpenTelemetry tracer provider (to add span processors to, or to
// trace code outside handlers on the same exporters).
func (t *Tracer) Provider() *sdktrace.TracerProvider { return t.tp }

// Shutdown flushes the exporters and stops them.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports every ended span that a batch exporter still holds.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

// Spans returns the spans recorded so far (Options.Record), in the order they ended.
func (t *Tracer) Spans() []sdktrace.ReadOnlySpan {
	if t.rec == nil {
		return nil
	}
	stubs := t.rec.GetSpans()
	out := make([]sdktrace.ReadOnlySpan, len(stubs))
	for i := range stubs {
		out[i] = stubs[i].Snapshot()
	}
	return out
}

// Instrument returns opts with the tracing observer added (outermost, as Moleculer's Tracing
// middleware: a cache hit, a validation error and a fallback are traced too).
func (t *Tracer) Instrument(opts broker.Options) broker.Options {
	opts.Observers = append([]broker.Middleware{t.middleware()}, opts.Observers...)
	return opts
}

// TraceID is the OpenTelemetry trace ID of a Moleculer request ID.
func TraceID(requestID string) trace.TraceID {
	var id trace.TraceID
	if b, ok := uuidBytes(requestID); ok {
		copy(id[:], b)
		return id
	}
	h := fnv.New128a()
	h.Write([]byte(requestID))
	copy(id[:], h.Sum(nil))
	return id
}

// SpanID is the OpenTelemetry span ID of a Moleculer context ID: a UUID's first 8 bytes,
// any other ID's 64-bit FNV-1a hash.
func SpanID(contextID string) trace.SpanID {
	var id trace.SpanID
	if b, ok := uuidBytes(contextID); ok {
		copy(id[:], b[:8])
		return id
	}
	h := fnv.New64a()
	h.Write([]byte(contextID))
	copy(id[:], h.Sum(nil))
	return id
}

func uuidBytes(s string) ([]byte, bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	return b, err == nil && len(b) == 16
}

// wantedIDs hands the SDK the IDs the middleware chose (Moleculer's), carried in the
// context.Context of the span start.
type wantedIDs struct{}

type idsKey struct{}

type ids struct {
	trace trace.TraceID
	span  trace.SpanID
}

func (wantedIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	w, _ := ctx.Value(idsKey{}).(ids)
	return w.trace, w.span
}

func (wantedIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	w, _ := ctx.Value(idsKey{}).(ids)
	return w.span
}

// start begins a span with the given IDs, under parentID's span when there is one.
func (t *Tracer) start(name, requestID, parentID string, span trace.SpanID, kind trace.SpanKind, attrs []attribute.KeyValue, now func() time.Time) (context.Context, trace.Span) {
	tid := TraceID(requestID)
	ctx := context.WithValue(context.Background(), idsKey{}, ids{trace: tid, span: span})
	if parentID != "" {
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: SpanID(parentID), TraceFlags: trace.FlagsSampled, Remote: true}))
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...), trace.WithTimestamp(now()))
}

// active maps a running handler's context to its span, for StartSpan. Entries live only
// while the handler runs, so the map never grows with the number of calls made.
var active sync.Map // *broker.Context → *Span

func (t *Tracer) middleware() broker.Middleware {
	return broker.Middleware{
		Name: "Tracing",
		LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
			name := "action '" + ep.Action + "'"
			return func(ctx *broker.Context) (any, error) {
				attrs := []attribute.KeyValue{
					attribute.String("action.name", ep.Action),
					attribute.String("service.name", ep.Service),
					attribute.Int("callingLevel", ctx.Level),
					attribute.Bool("remoteCall", ctx.Served()),
					attribute.String("callerNodeID", ctx.NodeIDOfCaller()),
					attribute.String("nodeID", ctx.Broker().NodeID()),
					attribute.String("requestID", ctx.RequestID),
				}
				if n := ctx.RetryAttempts(); n > 0 {
					attrs = append(attrs, attribute.Int("retryAttempts", n))
				}
				attrs = t.tags(attrs, ctx)
				gctx, sp := t.start(name, ctx.RequestID, ctx.ParentID, SpanID(ctx.ID), trace.SpanKindServer, attrs, ctx.Now)
				s := &Span{t: t, ctx: gctx, span: sp, b: ctx.Broker(), id: ctx.ID, requestID: ctx.RequestID}
				active.Store(ctx, s)
				defer active.Delete(ctx) // also when a middleware inside panics (the chain's recovery is outside)
				res, err := next(ctx)
				if err == nil {
					sp.SetAttributes(attribute.Bool("fromCache", ctx.CachedResult))
				}
				s.finish(err)
				return res, err
			}
		},
		LocalEvent: func(next broker.EventFunc, ev broker.EventEndpointInfo) broker.EventFunc {
			return func(ctx *broker.Context) error {
				name := "event '" + ctx.Event + "' in '" + ev.Service + "'"
				attrs := []attribute.KeyValue{
					attribute.String("event.name", ev.Event),
					attribute.String("event.group", ev.Group),
					attribute.String("eventName", ctx.Event),
					attribute.String("eventType", eventType(ctx)),
					attribute.String("service.name", ev.Service),
					attribute.Int("callingLevel", ctx.Level),
					attribute.Bool("remoteCall", ctx.NodeID != ctx.Broker().NodeID()),
					attribute.String("callerNodeID", ctx.NodeID),
					attribute.String("nodeID", ctx.Broker().NodeID()),
					attribute.String("requestID", ctx.RequestID),
				}
				attrs = t.tags(attrs, ctx)
				// Every handler of one event shares the event's context ID: the span ID
				// adds the handling service, so that each handler's span is its own.
				id := ctx.ID + "/" + ev.Service
				gctx, sp := t.start(name, ctx.RequestID, ctx.ParentID, SpanID(id), trace.SpanKindConsumer, attrs, ctx.Now)
				s := &Span{t: t, ctx: gctx, span: sp, b: ctx.Broker(), id: id, requestID: ctx.RequestID}
				active.Store(ctx, s)
				defer active.Delete(ctx)
				err := next(ctx)
				s.finish(err)
				return err
			}
		},
	}
}

func eventType(ctx *broker.Context) string {
	if ctx.EventBroadcast {
		return "broadcast"
	}
	return "emit"
}

// tags adds the configured params and meta keys.
func (t *Tracer) tags(attrs []attribute.KeyValue, ctx *broker.Context) []attribute.KeyValue {
	attrs = pick(attrs, "params.", t.params, ctx.Params)
	return pick(attrs, "meta.", t.meta, ctx.Meta)
}

func pick(attrs []attribute.KeyValue, prefix string, keys []string, m map[string]any) []attribute.KeyValue {
	if len(keys) == 0 || len(m) == 0 {
		return attrs
	}
	if len(keys) == 1 && keys[0] == "*" {
		keys = make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys) // map order is random; attributes must not be
	}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			attrs = append(attrs, attrOf(prefix+k, v))
		}
	}
	return attrs
}

func attrOf(key string, v any) attribute.KeyValue {
	switch x := v.(type) {
	case string:
		return attribute.String(key, x)
	case bool:
		return attribute.Bool(key, x)
	case int:
		return attribute.Int(key, x)
	case int64:
		return attribute.Int64(key, x)
	case float64:
		return attribute.Float64(key, x)
	}
	return attribute.String(key, fmt.Sprint(v))
}

// Span is a span a handler started (StartSpan), or the one the tracer started for it.
type Span struct {
	t         *Tracer
	ctx       context.Context
	span      trace.Span
	b         *broker.Broker
	id        string
	requestID string
	children  int
	mu        sync.Mutex
}

// StartSpan starts a custom span inside a handler, as Moleculer's ctx.startSpan: a child of
// the handler's span. End it with End. Without a tracer on the broker it returns a span that
// records nothing, so handlers call it unconditionally.
func StartSpan(ctx *broker.Context, name string, attrs ...attribute.KeyValue) *Span {
	v, ok := active.Load(ctx)
	if !ok {
		return nil
	}
	return v.(*Span).StartSpan(name, attrs...)
}

// StartSpan starts a child of s. Child IDs are drawn from s's ID and a counter, so they
// are the same in every run of a seed.
func (s *Span) StartSpan(name string, attrs ...attribute.KeyValue) *Span {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.children++
	id := fmt.Sprintf("%s#%d", s.id, s.children)
	s.mu.Unlock()
	ctx := context.WithValue(s.ctx, idsKey{}, ids{trace: TraceID(s.requestID), span: SpanID(id)})
	b := s.b
	attrs = append(attrs, attribute.String("nodeID", b.NodeID()))
	gctx, sp := s.t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...),
		trace.WithTimestamp(b.Runtime().Now()))
	return &Span{t: s.t, ctx: gctx, span: sp, b: b, id: id, requestID: s.requestID}
}

// SetAttributes adds attributes (Moleculer's span.addTags).
func (s *Span) SetAttributes(attrs ...attribute.KeyValue) {
	if s != nil {
		s.span.SetAttributes(attrs...)
	}
}

// End ends the span now (on the runtime's clock), failed when err is not nil.
func (s *Span) End(err error) {
	if s != nil {
		s.finish(err)
	}
}

func (s *Span) finish(err error) {
	if err != nil {
		e := errs.From(err)
		s.span.SetAttributes(attribute.String("error.name", e.Name), attribute.Int("error.code", e.Code),
			attribute.String("error.type", e.Type), attribute.String("error.message", e.Message))
		s.span.SetStatus(codes.Error, e.Name)
	}
	s.span.End(trace.WithTimestamp(s.b.Runtime().Now()))
}

// OTLP returns an exporter posting spans to an OTLP/HTTP endpoint (Jaeger, any OpenTelemetry
// collector), e.g. "http://localhost:4318/v1/traces". Give it as a BatchExporter.
func OTLP(ctx context.Context, endpointURL string) (sdktrace.SpanExporter, error) {
	e, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpointURL))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return e, nil
}
