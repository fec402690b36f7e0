package memnet

import (
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// On the real runtime, arrivals do not each get a timer (a timer and a goroutine per packet
// made the tail latency of in-process calls grow with load). Each receiver has an inbox: its
// pending arrivals ordered by arrival time, then by send order, drained by one goroutine that
// sleeps on one reusable timer until the next arrival is due and stays alive while traffic
// flows. Every link's ordered arrival times are non-decreasing (see schedule) and ties keep
// send order, so each link stays FIFO; an Unordered route simply carries an earlier time.
// One inbox per receiver rather than per link keeps the goroutine count at one per node.
//
// The simulated runtime keeps its AfterFunc per arrival: the scheduler orders those timers
// deterministically, and an inbox goroutine would be outside its control.

// inboxIdle is how long an inbox goroutine waits for more traffic before it exits; the next
// arrival starts a new one.
const inboxIdle = time.Second

// usesInboxes reports whether deliveries on r go through inboxes: on the real runtime,
// skewed or not.
func usesInboxes(r rt.Runtime) bool {
	for {
		switch x := r.(type) {
		case *rt.Real:
			return true
		case *rt.Skewed:
			r = x.Runtime
		default:
			return false
		}
	}
}

type arrival struct {
	at  time.Time
	seq uint64
	d   Delivery
	r   Route
}

type inbox struct {
	net     *Network
	mu      sync.Mutex
	q       []arrival // a binary min-heap on (at, seq)
	seq     uint64
	running bool          // a drain goroutine exists
	wake    chan struct{} // capacity 1: "the heap changed"
}

func newInbox(n *Network) *inbox { return &inbox{net: n, wake: make(chan struct{}, 1)} }

// push queues one arrival and makes sure a goroutine will deliver it.
func (ib *inbox) push(at time.Time, d Delivery, r Route) {
	ib.mu.Lock()
	ib.seq++
	ib.q = append(ib.q, arrival{at: at, seq: ib.seq, d: d, r: r})
	ib.up(len(ib.q) - 1)
	start := !ib.running
	ib.running = true
	ib.mu.Unlock()
	if start {
		go ib.drain()
		return
	}
	select {
	case ib.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// drain delivers due arrivals in order, outside the lock (delivery runs the receiver's
// callback, which may send and so push to other inboxes, or to this one).
//
// Its one timer is re-armed only for an arrival with a time of its own: while traffic flows
// the idle timer is left as it is, and when it fires, activity since it was armed buys another
// period. So the goroutine exits one to two idle periods after the last delivery, and a busy
// inbox makes no timer call per wake-up (a Reset takes the runtime's timer lock).
func (ib *inbox) drain() {
	timer := time.NewTimer(ib.net.idle)
	defer timer.Stop()
	forArrival := false // the timer is armed for the first queued arrival, not for idleness
	active := false     // something was delivered since the idle timer was armed
	var due []arrival
	for {
		ib.mu.Lock()
		// An arrival at the zero time is due at once (schedule); the clock is read only
		// for one with a time of its own.
		var now time.Time
		for len(ib.q) > 0 {
			if at := ib.q[0].at; !at.IsZero() {
				if now.IsZero() {
					now = ib.net.rt.Now()
				}
				if at.After(now) {
					break
				}
			}
			due = append(due, ib.pop())
		}
		var next time.Duration // until the first queued arrival, if any
		waiting := len(ib.q) > 0
		if waiting {
			next = ib.q[0].at.Sub(now)
		}
		ib.mu.Unlock()
		if len(due) > 0 {
			for i := range due {
				ib.net.arrive(due[i].d, due[i].r)
				due[i] = arrival{} // drop the body for the collector
			}
			due = due[:0]
			active = true
			continue
		}
		switch {
		case waiting:
			timer.Reset(next)
			forArrival = true
		case forArrival:
			timer.Reset(ib.net.idle)
			forArrival, active = false, false
		}
		select {
		case <-ib.wake:
		case <-timer.C:
			if forArrival {
				forArrival = false // the arrival is due; the idle timer is armed again after it
				timer.Reset(ib.net.idle)
				active = true
				continue
			}
			if active {
				active = false
				timer.Reset(ib.net.idle)
				continue
			}
			ib.mu.Lock()
			if len(ib.q) == 0 {
				ib.running = false
				ib.mu.Unlock()
				return
			}
			ib.mu.Unlock()
			timer.Reset(ib.net.idle)
		}
	}
}

func (ib *inbox) less(i, j int) bool {
	a, b := &ib.q[i], &ib.q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

func (ib *inbox) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !ib.less(i, p) {
			return
		}
		ib.q[i], ib.q[p] = ib.q[p], ib.q[i]
		i = p
	}
}

func (ib *inbox) pop() arrival {
	top := ib.q[0]
	last := len(ib.q) - 1
	ib.q[0] = ib.q[last]
	ib.q[last] = arrival{}
	ib.q = ib.q[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(ib.q) && ib.less(l, m) {
			m = l
		}
		if r < len(ib.q) && ib.less(r, m) {
			m = r
		}
		if m == i {
			return top
		}
		ib.q[i], ib.q[m] = ib.q[m], ib.q[i]
		i = m
	}
}
