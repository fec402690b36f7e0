package proctier

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// What a node process and the harness say to each other about metrics and spans. The node
// publishes every span it ends on its spans subject, and answers a request on its metrics
// subject with its metrics and how many spans it has published: both over its link to the
// harness, one connection, so the spans counted in an answer were sent before it.

// SpanMessage is one ended span of a node process (tracing.MarshalSpan's bytes).
type SpanMessage struct {
	// Process tells the incarnations of a node apart: a restarted node counts afresh.
	Process string          `json:"process"`
	Span    json.RawMessage `json:"span"`
}

// ScrapeReply is a node process's answer to a scrape.
type ScrapeReply struct {
	Process string `json:"process"`
	// Spans is how many spans the process has published so far.
	Spans int `json:"spans"`
	// Metrics are its metric families, Prometheus protobuf, length-delimited.
	Metrics []byte `json:"metrics"`
	Error   string `json:"error,omitempty"`
}

func metricsSubject(id string) string { return "faultline.metrics." + id }
func spansSubject(id string) string   { return "faultline.spans." + id }

// ScrapeTimeout bounds a scrape of one node process (a stopped one does not answer).
const ScrapeTimeout = 2 * time.Second

// spanBox holds the spans the harness received from node processes, in arrival order, and
// how many from each process.
type spanBox struct {
	mu    sync.Mutex
	spans [][]byte
	from  map[string]int // by SpanMessage.Process
	more  chan struct{}  // closed and replaced at each arrival
}

func newSpanBox() *spanBox { return &spanBox{from: map[string]int{}, more: make(chan struct{})} }

func (b *spanBox) add(m *nats.Msg) {
	var sm SpanMessage
	if json.Unmarshal(m.Data, &sm) != nil || len(sm.Span) == 0 {
		return // not a span
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spans = append(b.spans, sm.Span)
	b.from[sm.Process]++
	close(b.more)
	b.more = make(chan struct{})
}

// await waits until n spans of process have arrived, or until the deadline.
func (b *spanBox) await(process string, n int, deadline time.Time) error {
	for {
		b.mu.Lock()
		got, more := b.from[process], b.more
		b.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-more:
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("%d of the %d spans it published arrived", got, n)
		}
	}
}

// Scrape asks the node's running process for its metrics (Prometheus protobuf, delimited)
// and returns once every span it had published by then has arrived (Spans), so a check that
// reads both sees the same instant of the process.
func (t *tier) Scrape(id string) ([]byte, error) {
	t.mu.Lock()
	nc := t.collector[id]
	t.mu.Unlock()
	if nc == nil {
		return nil, fmt.Errorf("%s is not a process node", id)
	}
	deadline := time.Now().Add(ScrapeTimeout)
	msg, err := nc.Request(metricsSubject(id), nil, ScrapeTimeout)
	if err != nil {
		return nil, fmt.Errorf("node %s's process did not answer a scrape: %w", id, err)
	}
	var r ScrapeReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return nil, fmt.Errorf("node %s's process: bad scrape reply: %w", id, err)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("node %s's process: %s", id, r.Error)
	}
	if err := t.spans.await(r.Process, r.Spans, deadline); err != nil {
		return nil, fmt.Errorf("node %s's process: %w", id, err)
	}
	return r.Metrics, nil
}

// Spans are the spans received from every node process so far (tracing.MarshalSpan's
// bytes), in the order they arrived.
func (t *tier) Spans() [][]byte {
	t.spans.mu.Lock()
	defer t.spans.mu.Unlock()
	return append([][]byte(nil), t.spans.spans...)
}
