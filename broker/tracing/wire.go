package tracing

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// One span on the wire, between a node process and the harness that checks its spans (the
// real tier): OTLP JSON's span object, the same shape WriteOTLPJSON writes. What a span
// check reads travels (IDs, parent, name, kind, times, attributes, status); events and
// links do not.

// MarshalSpan encodes an ended span.
func MarshalSpan(s sdktrace.ReadOnlySpan) ([]byte, error) {
	return json.Marshal(otlpOf(s))
}

func otlpOf(s sdktrace.ReadOnlySpan) otlpSpan {
	sp := otlpSpan{
		TraceID: s.SpanContext().TraceID().String(), SpanID: s.SpanContext().SpanID().String(),
		Name: s.Name(), Kind: int(s.SpanKind()),
		Start: strconv.FormatInt(s.StartTime().UnixNano(), 10), End: strconv.FormatInt(s.EndTime().UnixNano(), 10),
		Attributes: otlpAttrs(s.Attributes()),
	}
	if s.Parent().IsValid() {
		sp.ParentSpanID = s.Parent().SpanID().String()
	}
	switch s.Status().Code {
	case codes.Error:
		sp.Status = &otlpStatus{Code: 2, Message: s.Status().Description} // STATUS_CODE_ERROR
	case codes.Ok:
		sp.Status = &otlpStatus{Code: 1}
	}
	return sp
}

// UnmarshalSpan decodes what MarshalSpan encoded into a span of this tracer's resource and
// scope, as if it had ended here.
func (t *Tracer) UnmarshalSpan(data []byte) (sdktrace.ReadOnlySpan, error) {
	var sp otlpSpan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("tracing: span: %w", err)
	}
	tid, err := trace.TraceIDFromHex(sp.TraceID)
	if err != nil {
		return nil, fmt.Errorf("tracing: span traceId: %w", err)
	}
	sid, err := trace.SpanIDFromHex(sp.SpanID)
	if err != nil {
		return nil, fmt.Errorf("tracing: span spanId: %w", err)
	}
	start, err1 := strconv.ParseInt(sp.Start, 10, 64)
	end, err2 := strconv.ParseInt(sp.End, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("tracing: span %s: bad start or end time", sp.SpanID)
	}
	stub := tracetest.SpanStub{
		Name:        sp.Name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		SpanKind:    trace.SpanKind(sp.Kind),
		StartTime:   time.Unix(0, start), EndTime: time.Unix(0, end),
		Resource:             t.resource,
		InstrumentationScope: instrumentation.Scope{Name: scopeName},
	}
	if sp.ParentSpanID != "" {
		pid, err := trace.SpanIDFromHex(sp.ParentSpanID)
		if err != nil {
			return nil, fmt.Errorf("tracing: span parentSpanId: %w", err)
		}
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled, Remote: true})
	}
	for _, kv := range sp.Attributes {
		stub.Attributes = append(stub.Attributes, kv.attribute())
	}
	if sp.Status != nil {
		switch sp.Status.Code {
		case 2:
			stub.Status = sdktrace.Status{Code: codes.Error, Description: sp.Status.Message}
		case 1:
			stub.Status = sdktrace.Status{Code: codes.Ok}
		}
	}
	return stub.Snapshot(), nil
}

func (kv otlpKV) attribute() attribute.KeyValue {
	k := attribute.Key(kv.Key)
	switch v := kv.Value; {
	case v.Bool != nil:
		return k.Bool(*v.Bool)
	case v.Int != nil:
		n, _ := strconv.ParseInt(*v.Int, 10, 64)
		return k.Int64(n)
	case v.Double != nil:
		return k.Float64(*v.Double)
	case v.String != nil:
		return k.String(*v.String)
	}
	return k.String("")
}
