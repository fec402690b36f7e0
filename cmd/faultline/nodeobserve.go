package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/common/expfmt"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/broker/tracing"
	"github.com/faultline/faultline/realtier/proctier"
)

// nodeObserver gives the harness of the real tier a node process's metrics (answering
// scrapes on metricsSubject) and spans (each one published on spansSubject as it ends), over
// the harness link's one connection: the spans an answer counts were sent before it.
type nodeObserver struct {
	nc      *nats.Conn
	process string // this incarnation (proctier.SpanMessage.Process)
	metrics *metrics.Metrics
	tracer  *tracing.Tracer
	subject string // spans

	mu    sync.Mutex
	spans int
}

// observe instruments opts with what the harness asked for and starts answering it.
func observe(nc *nats.Conn, metricsSubject, spansSubject string, opts *broker.Options) (*nodeObserver, error) {
	o := &nodeObserver{nc: nc, process: fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()), subject: spansSubject}
	if spansSubject != "" {
		o.tracer = tracing.New(tracing.Options{Exporters: []sdktrace.SpanExporter{o}})
		*opts = o.tracer.Instrument(*opts)
	}
	if metricsSubject != "" {
		o.metrics = metrics.New(metrics.Options{})
		*opts = o.metrics.Instrument(*opts)
		if _, err := nc.Subscribe(metricsSubject, o.scrape); err != nil {
			return nil, err
		}
		if err := nc.Flush(); err != nil { // subscribed before the node says it has started
			return nil, err
		}
	}
	return o, nil
}

// ExportSpans publishes each ended span (a synchronous exporter: in the order they end).
func (o *nodeObserver) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range spans {
		data, err := tracing.MarshalSpan(s)
		if err != nil {
			continue
		}
		msg, err := json.Marshal(proctier.SpanMessage{Process: o.process, Span: data})
		if err == nil && o.nc.Publish(o.subject, msg) == nil {
			o.spans++
		}
	}
	return nil
}

func (o *nodeObserver) Shutdown(context.Context) error { return nil }

// scrape answers with the metrics and the number of spans published before them.
func (o *nodeObserver) scrape(m *nats.Msg) {
	o.mu.Lock()
	reply := proctier.ScrapeReply{Process: o.process, Spans: o.spans}
	var b bytes.Buffer
	mfs, err := o.metrics.Registry().Gather()
	if err == nil {
		enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for _, mf := range mfs {
			if err = enc.Encode(mf); err != nil {
				break
			}
		}
	}
	if err != nil {
		reply.Error = err.Error()
	}
	reply.Metrics = b.Bytes()
	data, _ := json.Marshal(reply)
	// published under the lock: no span counted after it can be sent before it
	_ = m.Respond(data)
	o.mu.Unlock()
}

func (o *nodeObserver) close() {
	if o.tracer != nil {
		_ = o.tracer.Shutdown(context.Background())
	}
}
