package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// node is a span in a trace tree.
type node struct {
	s        sdktrace.ReadOnlySpan
	children []*node
}

// trees groups spans by trace, in the order the traces' first roots started, and links each
// span to its parent; a span whose parent is not among spans is a root.
func trees(spans []sdktrace.ReadOnlySpan) [][]*node {
	byID := map[trace.SpanID]*node{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = &node{s: s}
	}
	var order []trace.TraceID
	roots := map[trace.TraceID][]*node{}
	for _, s := range spans {
		n := byID[s.SpanContext().SpanID()]
		if p, ok := byID[s.Parent().SpanID()]; ok && s.Parent().IsValid() && p != n {
			p.children = append(p.children, n)
			continue
		}
		tid := s.SpanContext().TraceID()
		if _, seen := roots[tid]; !seen {
			order = append(order, tid)
		}
		roots[tid] = append(roots[tid], n)
	}
	byStart := func(a, b *node) int {
		if c := a.s.StartTime().Compare(b.s.StartTime()); c != 0 {
			return c
		}
		return strings.Compare(a.s.SpanContext().SpanID().String(), b.s.SpanContext().SpanID().String())
	}
	var sortAll func(ns []*node)
	sortAll = func(ns []*node) {
		slices.SortStableFunc(ns, byStart)
		for _, n := range ns {
			sortAll(n.children)
		}
	}
	out := make([][]*node, 0, len(order))
	for _, tid := range order {
		sortAll(roots[tid])
		out = append(out, roots[tid])
	}
	slices.SortStableFunc(out, func(a, b []*node) int { return byStart(a[0], b[0]) })
	return out
}

func attrString(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// Tree renders spans as indented trees, one line a span: name, node, start offset from the
// trace's first span and duration, and the error of a failed span. Tests compare it whole.
//
//	action 'order.create' [order] +0s 8ms
//	  action 'product.get' [product] +1ms 5ms
//	  event 'order.created' in 'email' [order] +8ms 0s ERROR MoleculerError
func Tree(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, roots := range trees(spans) {
		t0 := roots[0].s.StartTime()
		var walk func(n *node, depth int)
		walk = func(n *node, depth int) {
			s := n.s
			fmt.Fprintf(&b, "%s%s [%s] +%s %s", strings.Repeat("  ", depth), s.Name(), attrString(s, "nodeID"),
				s.StartTime().Sub(t0), s.EndTime().Sub(s.StartTime()))
			if s.Status().Code == codes.Error {
				b.WriteString(" ERROR " + s.Status().Description)
			}
			b.WriteByte('\n')
			for _, c := range n.children {
				walk(c, depth+1)
			}
		}
		for _, r := range roots {
			walk(r, 0)
		}
	}
	return b.String()
}

// Console is Moleculer's console trace exporter: when a trace's root span ends it prints the
// trace as a tree with a timing bar per span. Spans whose root is not local (a caller on
// another process) or that end after their root are printed by ForceFlush and Shutdown.
type Console struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	spans []sdktrace.ReadOnlySpan
}

// NewConsole returns a console exporter writing to w, 100 columns wide.
func NewConsole(w io.Writer) *Console { return &Console{w: w, width: 100} }

// ExportSpans implements sdktrace.SpanExporter.
func (c *Console) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range spans {
		c.spans = append(c.spans, s)
		if !s.Parent().IsValid() {
			c.printTrace(s.SpanContext().TraceID())
		}
	}
	return nil
}

// ForceFlush implements sdktrace.SpanExporter's optional flush: everything buffered is
// printed.
func (c *Console) ForceFlush(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
	return nil
}

// Shutdown implements sdktrace.SpanExporter.
func (c *Console) Shutdown(ctx context.Context) error { return c.ForceFlush(ctx) }

func (c *Console) flush() {
	for len(c.spans) > 0 {
		c.printTrace(c.spans[0].SpanContext().TraceID())
	}
}

// printTrace prints and drops the buffered spans of one trace.
func (c *Console) printTrace(tid trace.TraceID) {
	var mine, rest []sdktrace.ReadOnlySpan
	for _, s := range c.spans {
		if s.SpanContext().TraceID() == tid {
			mine = append(mine, s)
		} else {
			rest = append(rest, s)
		}
	}
	c.spans = rest
	for _, roots := range trees(mine) {
		c.render(roots)
	}
}

func (c *Console) render(roots []*node) {
	start, end := roots[0].s.StartTime(), roots[0].s.EndTime()
	count, depth := 0, 0
	var visit func(n *node, d int)
	visit = func(n *node, d int) {
		count++
		depth = max(depth, d+1)
		if n.s.StartTime().Before(start) {
			start = n.s.StartTime()
		}
		if n.s.EndTime().After(end) {
			end = n.s.EndTime()
		}
		for _, ch := range n.children {
			visit(ch, d+1)
		}
	}
	for _, r := range roots {
		visit(r, 0)
	}
	total := end.Sub(start)
	inner := c.width - 4
	line := func(s string) {
		fmt.Fprintf(c.w, "│ %s%s │\n", s, strings.Repeat(" ", max(0, inner-utf8.RuneCountInString(s))))
	}
	fmt.Fprintf(c.w, "┌%s┐\n", strings.Repeat("─", c.width-2))
	line(fmt.Sprintf("Trace %s  spans: %d  depth: %d  total: %s", roots[0].s.SpanContext().TraceID(), count, depth, fmtMS(total)))
	fmt.Fprintf(c.w, "├%s┤\n", strings.Repeat("─", c.width-2))
	const barWidth = 30
	nameWidth := inner - barWidth - 3 - 1 - 11 - 11 // " " node " " duration " [" bar "]"
	var walk func(n *node, d int)
	walk = func(n *node, d int) {
		s := n.s
		name := strings.Repeat("  ", d) + s.Name()
		if s.Status().Code == codes.Error {
			name += " ×"
		}
		name = clip(name, nameWidth)
		node := clip(attrString(s, "nodeID"), 11)
		dur := fmtMS(s.EndTime().Sub(s.StartTime()))
		line(fmt.Sprintf("%s%s %s%s %10s [%s]", name, strings.Repeat(" ", nameWidth-utf8.RuneCountInString(name)),
			node, strings.Repeat(" ", 11-utf8.RuneCountInString(node)), dur, bar(s.StartTime().Sub(start), s.EndTime().Sub(start), total, barWidth)))
		for _, ch := range n.children {
			walk(ch, d+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	fmt.Fprintf(c.w, "└%s┘\n", strings.Repeat("─", c.width-2))
}

// bar draws [from, to) of total as ■ over width cells, the rest as dots; a span shorter than a
// cell still gets one.
func bar(from, to, total time.Duration, width int) string {
	if total <= 0 {
		return strings.Repeat("■", width)
	}
	a := int(int64(from) * int64(width) / int64(total))
	z := int((int64(to)*int64(width) + int64(total) - 1) / int64(total))
	a, z = min(a, width-1), min(max(z, a+1), width)
	return strings.Repeat(".", a) + strings.Repeat("■", z-a) + strings.Repeat(".", width-z)
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// OTLP JSON, the protobuf JSON mapping of an ExportTraceServiceRequest (what an OTLP/HTTP
// JSON exporter posts, and what Jaeger and OTel collectors import). Written by hand with
// encoding/json so that the same spans are the same bytes (protojson varies its spacing on
// purpose).
type otlpDoc struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource   otlpResource     `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpResource struct {
	Attributes []otlpKV `json:"attributes"`
}

type otlpScopeSpans struct {
	Scope otlpScope  `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpScope struct {
	Name string `json:"name"`
}

type otlpSpan struct {
	TraceID      string      `json:"traceId"`
	SpanID       string      `json:"spanId"`
	ParentSpanID string      `json:"parentSpanId,omitempty"`
	Name         string      `json:"name"`
	Kind         int         `json:"kind"`
	Start        string      `json:"startTimeUnixNano"`
	End          string      `json:"endTimeUnixNano"`
	Attributes   []otlpKV    `json:"attributes,omitempty"`
	Status       *otlpStatus `json:"status,omitempty"`
}

type otlpStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpValue struct {
	String *string  `json:"stringValue,omitempty"`
	Bool   *bool    `json:"boolValue,omitempty"`
	Int    *string  `json:"intValue,omitempty"` // int64 is a string in protobuf's JSON
	Double *float64 `json:"doubleValue,omitempty"`
}

func otlpAttrs(kvs []attribute.KeyValue) []otlpKV {
	out := make([]otlpKV, 0, len(kvs))
	for _, kv := range kvs {
		var v otlpValue
		switch kv.Value.Type() {
		case attribute.BOOL:
			b := kv.Value.AsBool()
			v.Bool = &b
		case attribute.INT64:
			s := strconv.FormatInt(kv.Value.AsInt64(), 10)
			v.Int = &s
		case attribute.FLOAT64:
			f := kv.Value.AsFloat64()
			v.Double = &f
		default:
			s := kv.Value.Emit()
			v.String = &s
		}
		out = append(out, otlpKV{Key: string(kv.Key), Value: v})
	}
	return out
}

// WriteOTLPJSON writes spans as one OTLP JSON document, spans in the given order.
func WriteOTLPJSON(w io.Writer, spans []sdktrace.ReadOnlySpan) error {
	doc := otlpDoc{ResourceSpans: []otlpResourceSpans{}}
	index := map[string]int{} // resource+scope → position
	for _, s := range spans {
		res := otlpAttrs(s.Resource().Attributes())
		key := s.Resource().Encoded(attribute.DefaultEncoder()) + "\x00" + s.InstrumentationScope().Name
		i, ok := index[key]
		if !ok {
			i = len(doc.ResourceSpans)
			index[key] = i
			doc.ResourceSpans = append(doc.ResourceSpans, otlpResourceSpans{Resource: otlpResource{Attributes: res},
				ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: s.InstrumentationScope().Name}}}})
		}
		sp := otlpOf(s)
		ss := &doc.ResourceSpans[i].ScopeSpans[0]
		ss.Spans = append(ss.Spans, sp)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}
