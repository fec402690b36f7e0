// Package bulkhead limits the concurrency of one action or event handler on its serving node,
// with Moleculer 0.15 semantics (see SEMANTICS.md, "Bulkhead"): up to concurrency calls run,
// the next maxQueueSize wait in a FIFO queue, and the rest are rejected (the driver answers
// them with QueueIsFullError, 429, retryable).
//
// It is a pure state machine over call ids: it never blocks or starts anything. The driver
// runs a call when Admit or Done says so, and parks queued calls on its runtime's signals,
// which keeps the order of admission deterministic under Faultline's simulated runtime. It is
// not safe for concurrent use; the driver serialises access to it.
package bulkhead

import "fmt"

// Decision is what Admit decided for a call.
type Decision int

const (
	// Run: the call may start now; the driver must call Done when it finishes.
	Run Decision = iota
	// Queued: the call waits; a later Done returns its id when it may start.
	Queued
	// Rejected: both the running slots and the queue are full.
	Rejected
)

func (d Decision) String() string {
	switch d {
	case Run:
		return "run"
	case Queued:
		return "queued"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Bulkhead is the bulkhead of one handler. The zero value is not usable; call New.
type Bulkhead struct {
	concurrency, maxQueueSize int
	running                   int
	// queue[head:] are the waiting ids, oldest first. Popping advances head rather than
	// shifting, and the slice is compacted when it would otherwise grow, so a steady stream of
	// calls does not allocate.
	queue []uint64
	head  int
}

// New returns an empty bulkhead. concurrency 0 queues every call and runs none (as Moleculer
// would); negative sizes are programming errors and panic.
func New(concurrency, maxQueueSize int) *Bulkhead {
	if concurrency < 0 || maxQueueSize < 0 {
		panic(fmt.Sprintf("bulkhead: negative size (concurrency %d, maxQueueSize %d)", concurrency, maxQueueSize))
	}
	return &Bulkhead{concurrency: concurrency, maxQueueSize: maxQueueSize}
}

// Admit decides for a newly arrived call: Run if fewer than concurrency calls are running,
// else Queued if the queue has room, else Rejected. ids identify queued calls for Done and
// Cancel; they should be unique among queued calls (Cancel removes the oldest match).
func (b *Bulkhead) Admit(id uint64) Decision {
	if b.running < b.concurrency {
		b.running++
		return Run
	}
	if b.Queued() >= b.maxQueueSize {
		return Rejected
	}
	if len(b.queue) == cap(b.queue) && b.head > 0 {
		n := copy(b.queue, b.queue[b.head:])
		b.queue = b.queue[:n]
		b.head = 0
	}
	b.queue = append(b.queue, id)
	return Queued
}

// Done records that a running call finished. If calls are queued, the oldest starts running in
// the freed slot and its id is returned, so the driver wakes exactly that call. Done without a
// running call is a driver bug and panics, because silently going negative would let the
// bulkhead over-admit forever after.
func (b *Bulkhead) Done() (next uint64, ok bool) {
	if b.running == 0 {
		panic("bulkhead: Done without a running call")
	}
	b.running--
	if b.Queued() == 0 || b.running >= b.concurrency {
		return 0, false
	}
	next = b.queue[b.head]
	b.head++
	if b.head == len(b.queue) {
		b.queue, b.head = b.queue[:0], 0
	}
	b.running++
	return next, true
}

// Cancel removes a queued call whose caller gave up (for example, its timeout passed while it
// waited), so it neither takes a slot later nor holds a queue place meanwhile. It reports
// whether id was queued; a running or unknown id is left alone.
func (b *Bulkhead) Cancel(id uint64) bool {
	for i := b.head; i < len(b.queue); i++ {
		if b.queue[i] == id {
			copy(b.queue[i:], b.queue[i+1:])
			b.queue = b.queue[:len(b.queue)-1]
			if b.head == len(b.queue) {
				b.queue, b.head = b.queue[:0], 0
			}
			return true
		}
	}
	return false
}

// Running returns the number of calls running.
func (b *Bulkhead) Running() int { return b.running }

// Queued returns the number of calls waiting.
func (b *Bulkhead) Queued() int { return len(b.queue) - b.head }
