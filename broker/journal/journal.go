// Package journal records every observable step of a run as a structured entry with a
// sequence number and a timestamp on the runtime's clock. Checkers read it, reports render
// it, and the determinism check compares two of them byte for byte, so everything in an
// entry must be a pure function of the run (no wall-clock times, no map-order accidents:
// encoding/json sorts map keys).
package journal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// Kinds of entries written by the broker, the fault layer and the scenario engine.
const (
	NodeStarted   = "node.started"
	NodeStopped   = "node.stopped"
	NodeJoined    = "node.joined"
	NodeLost      = "node.lost"
	NodeLeft      = "node.left"
	CallStarted   = "call.started"   // a logical call begins at the caller
	CallFinished  = "call.finished"  // a logical call ends at the caller: ok or error
	ReqSent       = "req.sent"       // one attempt sent to a remote node
	ReqReceived   = "req.received"   // a serving node got a request
	ReqSkipped    = "req.skipped"    // budget spent: never sent
	ResSent       = "res.sent"       // a serving node answered
	ResReceived   = "res.received"   // the caller got the answer of a pending request
	ResOrphan     = "res.orphan"     // an answer nobody waits for any more (late, or unknown)
	ReqTimeout    = "req.timeout"    // an attempt hit its deadline
	ReqRejected   = "req.rejected"   // a pending request failed because its node was lost
	ActionRun     = "action.run"     // a handler executed on a serving node
	EventEmitted  = "event.emitted"  // emit / broadcast at the sender
	EventHandled  = "event.handled"  // a handler ran for an event
	PacketDropped = "packet.dropped" // the network or a broker discarded a packet
	PacketBad     = "packet.invalid" // a malformed packet was dropped
	RetryAttempt  = "retry.attempt"
	BreakerChange = "breaker.transition"
	BulkheadQueue = "bulkhead.queued"
	BulkheadFull  = "bulkhead.rejected"
	CacheHit      = "cache.hit"
	CacheMiss     = "cache.miss"
	CacheSet      = "cache.set"
	CacheClean    = "cache.clean"
	CacheError    = "cache.error"
	FaultApplied  = "fault.applied"
	FaultHealed   = "fault.healed"
	Step          = "scenario.step"
	// Intervention is a command a user typed into the debugger at a stopped instant
	// ({command, step}): what it caused follows it in the journal, and replay repeats it.
	Intervention = "debug.intervention"
	// Domain entries are written by the e-commerce services for the invariant checkers.
	DomainStock = "domain.stock" // {product, before, after, delta, op}: a stock change committed
	DomainOrder = "domain.order" // {id, key, product, quantity}: an order persisted
	Check       = "check.result"
)

// Entry is one journal line.
type Entry struct {
	Seq   uint64         `json:"seq"`
	T     time.Duration  `json:"t"` // since the runtime's epoch (virtual) or the journal's start (real)
	Node  string         `json:"node,omitempty"`
	Kind  string         `json:"kind"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Str returns a string attribute ("" when absent).
func (e Entry) Str(key string) string {
	s, _ := e.Attrs[key].(string)
	return s
}

// Num returns a numeric attribute as float64, whatever numeric type it was recorded with or
// decoded as (0 when absent).
func (e Entry) Num(key string) float64 {
	switch v := e.Attrs[key].(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case float64:
		return v
	case time.Duration:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return 0
}

// Int returns a numeric attribute as int.
func (e Entry) Int(key string) int { return int(e.Num(key)) }

// Bool returns a boolean attribute.
func (e Entry) Bool(key string) bool {
	b, _ := e.Attrs[key].(bool)
	return b
}

// Dur returns an attribute recorded as a time.Duration (nanoseconds once decoded).
func (e Entry) Dur(key string) time.Duration { return time.Duration(e.Num(key)) }

// Journal is an append-only, concurrency-safe log of entries. A nil *Journal records nothing,
// so components can take one optionally.
type Journal struct {
	mu     sync.Mutex
	clock  rt.Clock
	origin time.Time
	// entries are kept in chunks of chunkLen, filled in order: a long run's journal (a million
	// entries for a thousand nodes, or a benchmark's hundred thousand calls) then grows
	// without copying every entry at each doubling of one slice (a quarter of a simulated
	// local call's time was that copy) and without holding the old and new arrays at once.
	chunks  [][]Entry
	n       int
	sink    *json.Encoder
	sinkErr error
	subs    []func(Entry)
	// shared holds the attribute maps of RecordShared, by kind and key.
	shared map[sharedKey]map[string]any
}

type sharedKey struct{ kind, key string }

// New returns a journal timestamping entries on clock, relative to rt.Epoch for a simulated
// clock and to the first reading for any other.
func New(clock rt.Clock) *Journal {
	origin := clock.Now()
	if _, ok := clock.(*rt.Sim); ok {
		origin = rt.Epoch
	}
	return &Journal{clock: clock, origin: origin}
}

// Stream also writes every entry, as it is recorded, to w as a JSON line.
func (j *Journal) Stream(w io.Writer) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sink = json.NewEncoder(w)
}

// Subscribe calls fn with every later entry, in order, while the journal's lock is held:
// fn must be quick and must not record.
func (j *Journal) Subscribe(fn func(Entry)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.subs = append(j.subs, fn)
}

// Record appends an entry.
func (j *Journal) Record(node, kind string, attrs map[string]any) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	e := Entry{Seq: uint64(j.n) + 1, T: j.clock.Now().Sub(j.origin), Node: node, Kind: kind, Attrs: attrs}
	j.add(e)
	if j.sink != nil && j.sinkErr == nil {
		j.sinkErr = j.sink.Encode(e)
	}
	for _, fn := range j.subs {
		fn(e)
	}
}

// RecordShared is Record for entries whose attributes many entries have in common, like the
// node.joined of a peer, which each of a cluster's N nodes records for each of the N-1 others
// (a million entries at N = 1,000): the entries of one kind and key share one attribute map,
// built by attrs the first time, instead of a map each (~340 bytes). Entries' attributes are
// read-only for everyone (checkers, reports, subscribers), so sharing one changes nothing
// that any of them sees, nor the JSON form.
func (j *Journal) RecordShared(node, kind, key string, attrs func() map[string]any) {
	if j == nil {
		return
	}
	j.mu.Lock()
	k := sharedKey{kind, key}
	a, ok := j.shared[k]
	if !ok {
		a = attrs()
		if j.shared == nil {
			j.shared = map[sharedKey]map[string]any{}
		}
		j.shared[k] = a
	}
	j.mu.Unlock()
	j.Record(node, kind, a)
}

// RecordAt appends an entry stamped at, not now: entries another process recorded, collected
// by the harness (the real process tier), keep the instant they happened. Both clocks are the
// wall clock of one machine.
func (j *Journal) RecordAt(at time.Time, node, kind string, attrs map[string]any) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	e := Entry{Seq: uint64(j.n) + 1, T: at.Sub(j.origin), Node: node, Kind: kind, Attrs: attrs}
	j.add(e)
	if j.sink != nil && j.sinkErr == nil {
		j.sinkErr = j.sink.Encode(e)
	}
	for _, fn := range j.subs {
		fn(e)
	}
}

// chunkLen is how many entries a journal chunk holds.
const chunkLen = 4096

// add appends e; the caller holds j.mu.
func (j *Journal) add(e Entry) {
	if j.n%chunkLen == 0 {
		j.chunks = append(j.chunks, make([]Entry, 0, chunkLen))
	}
	last := &j.chunks[len(j.chunks)-1]
	*last = append(*last, e)
	j.n++
}

// Message is an entry as a process node publishes it to the harness that collects the
// journal (the process tier): At is the wall-clock instant it was recorded, in unix
// nanoseconds, so that the harness journals it when it happened (RecordAt).
type Message struct {
	At    int64          `json:"at"`
	Node  string         `json:"node,omitempty"`
	Kind  string         `json:"kind"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Origin is the instant entries' T counts from.
func (j *Journal) Origin() time.Time { return j.origin }

// Offset expresses an instant as journal time (since the journal's origin).
func (j *Journal) Offset(t time.Time) time.Duration {
	if j == nil {
		return 0
	}
	return t.Sub(j.origin)
}

// Entries returns a copy of the entries recorded so far.
func (j *Journal) Entries() []Entry {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.n == 0 {
		return nil
	}
	out := make([]Entry, 0, j.n)
	for _, c := range j.chunks {
		out = append(out, c...)
	}
	return out
}

// Len returns the number of entries.
func (j *Journal) Len() int {
	if j == nil {
		return 0
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// WriteJSONL writes every entry as one JSON line.
func (j *Journal) WriteJSONL(w io.Writer) error {
	return WriteJSONL(w, j.Entries())
}

// Bytes returns the JSON-lines form of the journal, for byte-for-byte comparison.
func (j *Journal) Bytes() []byte {
	var b bytesBuffer
	_ = j.WriteJSONL(&b)
	return b
}

type bytesBuffer []byte

func (b *bytesBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// WriteJSONL writes entries as JSON lines.
func WriteJSONL(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJSONL parses a JSON-lines journal. Numbers decode as float64.
func ReadJSONL(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("journal line %d: %w", line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Filter returns the entries of the given kinds, in order.
func Filter(entries []Entry, kinds ...string) []Entry {
	var out []Entry
	for _, e := range entries {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
