package tracing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/tracing"
	"github.com/faultline/faultline/testutil"
)

// shop is gateway → order.create on node "order", which calls product.get on "product" (with
// a custom span inside) and emits order.created to "notify"; then a root call to flaky.get
// that fails twice and succeeds on its second retry.
func shop(t *testing.T, seed uint64, tr *tracing.Tracer) (orderCallID string) {
	c := testutil.NewSim(seed, testutil.NetworkSpec{Latency: time.Millisecond})
	defer c.Close()
	flaky := 0
	c.MustAddNode("gateway", tr.Instrument(broker.Options{}))
	c.MustAddNode("order", tr.Instrument(broker.Options{}), &broker.Service{Name: "order", Actions: map[string]broker.Action{
		"create": {Handler: func(ctx *broker.Context) (any, error) {
			orderCallID = ctx.ID
			p, err := ctx.Call("product.get", map[string]any{"id": "p1"})
			if err != nil {
				return nil, err
			}
			return p, ctx.Emit("order.created", map[string]any{"id": 1})
		}},
	}})
	c.MustAddNode("product", tr.Instrument(broker.Options{}), &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			sp := tracing.StartSpan(ctx, "db.query", attribute.String("table", "products"))
			err := ctx.Sleep(4 * time.Millisecond)
			sp.End(err)
			return map[string]any{"id": ctx.Params["id"]}, err
		}},
		"flaky": {Handler: func(ctx *broker.Context) (any, error) {
			flaky++
			if flaky <= 2 {
				return nil, errs.Server("try again", 503, "BUSY", nil)
			}
			return "ok", nil
		}},
	}})
	c.MustAddNode("notify", tr.Instrument(broker.Options{}), &broker.Service{Name: "mail", Events: map[string]broker.Event{
		"order.created": {Handler: func(ctx *broker.Context) error { return ctx.Sleep(2 * time.Millisecond) }},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := c.Node("gateway").Call("order.create", map[string]any{"qty": 2}, broker.WithMeta(map[string]any{"user": "u1"}))
		require.NoError(t, err)
		_, err = c.Node("gateway").Call("product.flaky", nil, broker.WithRetries(2))
		require.NoError(t, err)
		c.Runtime.Sleep(10 * time.Millisecond)
	})
	return orderCallID
}

func TestSpanTreeOfASeededRun(t *testing.T) {
	tr := tracing.New(tracing.Options{Record: true, Params: []string{"*"}, Meta: []string{"user"}})
	orderCallID := shop(t, 5, tr)
	spans := tr.Spans()
	// One trace per root call. Network hops are 1 ms each way (order.create ends when
	// product.get's answer is back, and its event lands a hop later); the retried call's attempts
	// are siblings (each retry is a context of its own with the same parent, as in
	// Moleculer), 100 ms and 200 ms apart by the retry delays.
	assert.Equal(t, ""+
		"action 'order.create' [order] +0s 6ms\n"+
		"  action 'product.get' [product] +1ms 4ms\n"+
		"    db.query [product] +1ms 4ms\n"+
		"  event 'order.created' in 'mail' [notify] +7ms 2ms\n"+
		"action 'product.flaky' [product] +0s 0s ERROR MoleculerServerError\n"+
		"action 'product.flaky' [product] +102ms 0s ERROR MoleculerServerError\n"+
		"action 'product.flaky' [product] +304ms 0s\n",
		tracing.Tree(spans))

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	order, product := byName["action 'order.create'"], byName["action 'product.get'"]
	// Moleculer's IDs: the span is the context, the trace the request.
	assert.Equal(t, tracing.SpanID(orderCallID), order.SpanContext().SpanID())
	assert.Equal(t, tracing.TraceID(orderCallID), order.SpanContext().TraceID(), "a root call's request ID is its own ID")
	assert.False(t, order.Parent().IsValid())
	assert.Equal(t, order.SpanContext().SpanID(), product.Parent().SpanID(), "the callee's parent is the caller's context, carried in the REQ packet's parentID")
	assert.Equal(t, order.SpanContext().TraceID(), product.SpanContext().TraceID())
	attrs := map[string]string{}
	for _, kv := range order.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	assert.Equal(t, map[string]string{"action.name": "order.create", "service.name": "order", "callingLevel": "1",
		"remoteCall": "true", "callerNodeID": "gateway", "nodeID": "order", "requestID": orderCallID,
		"params.qty": "2", "meta.user": "u1", "fromCache": "false"}, attrs)

	var attempts []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "action 'product.flaky'" {
			attempts = append(attempts, s)
		}
	}
	require.Len(t, attempts, 3)
	for _, a := range attempts[1:] {
		assert.Equal(t, attempts[0].SpanContext().TraceID(), a.SpanContext().TraceID(), "a retry keeps the request ID: one trace")
		assert.NotEqual(t, attempts[0].SpanContext().SpanID(), a.SpanContext().SpanID(), "each attempt is a context of its own")
	}
}

func TestSeededTracesAreByteIdentical(t *testing.T) {
	export := func(seed uint64) string {
		tr := tracing.New(tracing.Options{Record: true})
		shop(t, seed, tr)
		var buf bytes.Buffer
		require.NoError(t, tracing.WriteOTLPJSON(&buf, tr.Spans()))
		return buf.String()
	}
	first := export(9)
	assert.Equal(t, first, export(9))
	assert.NotEqual(t, first, export(10), "another seed draws other IDs")
	assert.Contains(t, first, `"startTimeUnixNano": "1767225600`) // virtual: the simulation's epoch, 2026-01-01
}

func TestConsoleExporter(t *testing.T) {
	var out bytes.Buffer
	tr := tracing.New(tracing.Options{Exporters: []sdktrace.SpanExporter{tracing.NewConsole(&out)}})
	c := testutil.NewSim(1)
	defer c.Close()
	c.MustAddNode("n1", tr.Instrument(broker.Options{}), &broker.Service{Name: "a", Actions: map[string]broker.Action{
		"outer": {Handler: func(ctx *broker.Context) (any, error) {
			if err := ctx.Sleep(5 * time.Millisecond); err != nil {
				return nil, err
			}
			_, err := ctx.Call("a.inner", nil)
			return nil, err
		}},
		"inner": {Handler: func(ctx *broker.Context) (any, error) {
			_ = ctx.Sleep(5 * time.Millisecond)
			return nil, errs.New("no", 500, "", nil)
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := c.Node("n1").Call("a.outer", nil)
		require.Error(t, err)
	})
	require.NoError(t, tr.Shutdown(context.Background()))
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	require.Len(t, lines, 6, out.String())
	assert.Equal(t, "│ action 'a.outer' ×                       n1            10.000ms [■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■] │", string(lines[3]))
	assert.Equal(t, "│   action 'a.inner' ×                     n1             5.000ms [...............■■■■■■■■■■■■■■■] │", string(lines[4]))
	for _, l := range lines {
		assert.Equal(t, 100, utf8.RuneCount(l), "%s", l)
	}
	assert.Contains(t, string(lines[1]), "spans: 2  depth: 2  total: 10.000ms")
}

// TestOTLPExportToAReceiver sends a seeded run's spans over OTLP/HTTP to a receiver in the
// test and reads them back out of the protobuf request.
func TestOTLPExportToAReceiver(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer srv.Close()
	exp, err := tracing.OTLP(context.Background(), srv.URL+"/v1/traces")
	require.NoError(t, err)
	tr := tracing.New(tracing.Options{ServiceName: "shop", Record: true, BatchExporters: []sdktrace.SpanExporter{exp}})
	shop(t, 5, tr)
	require.NoError(t, tr.ForceFlush(context.Background()))
	assert.Len(t, tr.Spans(), 7)
	require.NoError(t, tr.Shutdown(context.Background()))

	mu.Lock()
	defer mu.Unlock()
	names := map[string]int{}
	parents := map[string]string{}
	ids := map[string]string{}
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			assert.Equal(t, "service.name", rs.Resource.Attributes[0].Key)
			assert.Equal(t, "shop", rs.Resource.Attributes[0].Value.GetStringValue())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names[s.Name]++
					ids[s.Name] = string(s.SpanId)
					parents[s.Name] = string(s.ParentSpanId)
				}
			}
		}
	}
	assert.Equal(t, map[string]int{"action 'order.create'": 1, "action 'product.get'": 1, "db.query": 1,
		"event 'order.created' in 'mail'": 1, "action 'product.flaky'": 3}, names)
	assert.Equal(t, ids["action 'order.create'"], parents["action 'product.get'"])
	assert.Equal(t, ids["action 'product.get'"], parents["db.query"])
	assert.Equal(t, ids["action 'order.create'"], parents["event 'order.created' in 'mail'"])
}

func TestIDs(t *testing.T) {
	assert.Equal(t, "5d3c8e4a1b2f4c6d8e9f0a1b2c3d4e5f", tracing.TraceID("5d3c8e4a-1b2f-4c6d-8e9f-0a1b2c3d4e5f").String())
	assert.Equal(t, "5d3c8e4a1b2f4c6d", tracing.SpanID("5d3c8e4a-1b2f-4c6d-8e9f-0a1b2c3d4e5f").String())
	// Not a UUID (a custom uidGenerator): hashed, stable.
	assert.Equal(t, tracing.SpanID("req-1"), tracing.SpanID("req-1"))
	assert.NotEqual(t, tracing.SpanID("req-1"), tracing.SpanID("req-2"))
	assert.True(t, tracing.TraceID("req-1").IsValid())
	assert.Nil(t, tracing.StartSpan(&broker.Context{}, "x"), "no tracer: a nil span, whose methods do nothing")
	var sp *tracing.Span
	sp.SetAttributes(attribute.Int("a", 1))
	sp.End(nil)
	assert.Nil(t, sp.StartSpan("y"))
}

// A JS Moleculer caller's REQ packet: its requestID, parentID and id put the Go callee's span
// in the caller's trace, under the caller's span, with the span ID the JS side gives the call
// (its Jaeger exporter's mapping: the UUID's hex, all of it for the trace, 16 digits for a span).
func TestAJSCallersTraceContinuesInGo(t *testing.T) {
	tr := tracing.New(tracing.Options{Record: true})
	c := testutil.NewSim(1)
	defer c.Close()
	c.MustAddNode("go-node", tr.Instrument(broker.Options{}), &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) { return map[string]any{"id": ctx.Params["id"]}, nil }},
	}})
	js := c.Net.Transport()
	var answers []packet.Message
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, js.Connect("js-node", func(m packet.Message) {
			if m.Type == packet.Response {
				answers = append(answers, m)
			}
		}))
		body := `{"ver":"5","sender":"js-node","id":"7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e","action":"product.get",` +
			`"params":{"id":"p1"},"meta":{},"headers":{},"timeout":0,"level":2,"tracing":true,` +
			`"parentID":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","requestID":"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",` +
			`"caller":"gateway","stream":false}`
		require.NoError(t, js.Send(packet.Message{Type: packet.Request, Sender: "js-node", Target: "go-node", Body: []byte(body)}))
		c.Runtime.Sleep(10 * time.Millisecond)
	})
	require.Len(t, answers, 1)
	spans := tr.Spans()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "0f1e2d3c4b5a49688776a5b4c3d2e1f0", s.SpanContext().TraceID().String())
	assert.Equal(t, "7b1e2c3d4f5a4b6c", s.SpanContext().SpanID().String())
	assert.Equal(t, "1a2b3c4d5e6f4a7b", s.Parent().SpanID().String())
	assert.True(t, s.Parent().IsRemote())
	assert.Contains(t, s.Attributes(), attribute.String("callerNodeID", "js-node"))
	assert.Contains(t, s.Attributes(), attribute.Int("callingLevel", 2))
}

// A span sent over the wire (MarshalSpan, UnmarshalSpan: a node process to the harness)
// comes back with everything the exports and the checks read: the OTLP JSON of the decoded
// spans is the same bytes as that of the originals, and the tree the same.
func TestSpansSurviveTheWire(t *testing.T) {
	tr := tracing.New(tracing.Options{Record: true, Params: []string{"*"}})
	shop(t, 5, tr)
	spans := tr.Spans()
	require.Len(t, spans, 7)
	harness := tracing.New(tracing.Options{}) // the same service name: the same resource
	var decoded []sdktrace.ReadOnlySpan
	for _, s := range spans {
		data, err := tracing.MarshalSpan(s)
		require.NoError(t, err)
		d, err := harness.UnmarshalSpan(data)
		require.NoError(t, err)
		decoded = append(decoded, d)
	}
	var want, got bytes.Buffer
	require.NoError(t, tracing.WriteOTLPJSON(&want, spans))
	require.NoError(t, tracing.WriteOTLPJSON(&got, decoded))
	assert.Equal(t, want.String(), got.String())
	assert.Equal(t, tracing.Tree(spans), tracing.Tree(decoded))

	for _, bad := range []string{`{`, `{"traceId":"zz","spanId":"0102030405060708"}`,
		`{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","startTimeUnixNano":"x","endTimeUnixNano":"1"}`} {
		_, err := harness.UnmarshalSpan([]byte(bad))
		assert.Error(t, err, bad)
	}
}
