// Package memnet is an in-process network joining many brokers, on a runtime's clock. It is
// FIFO per link (sender → receiver), like a real message bus connection, and has one seam
// for faults: an Interceptor sees every delivery (one per receiver, broadcasts expanded) and
// decides whether it arrives, when, how many times, and whether it may overtake earlier
// packets on its link. Pausing a node holds its traffic, in order, until it resumes.
package memnet

import (
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
)

// Delivery is one packet on its way from one node to another.
type Delivery struct {
	From, To  string
	Type      packet.Type
	Body      []byte
	Broadcast bool
	SentAt    time.Time
}

// Route is one arrival of a delivery.
type Route struct {
	// Delay is the latency of this arrival.
	Delay time.Duration
	// Unordered lets this arrival overtake packets sent earlier on the same link (reorder).
	Unordered bool
}

// Interceptor decides the fate of a delivery: no routes drops it, one route delivers it,
// several deliver duplicates. It runs in the sender's task and must not block.
type Interceptor func(d *Delivery) []Route

// Network is a simulated network.
type Network struct {
	rt rt.Runtime

	// mu is read-locked on the way of every packet and write-locked to change the network:
	// on the real runtime many goroutines send at once.
	mu          sync.RWMutex
	latency     time.Duration
	jitter      time.Duration
	interceptor Interceptor
	nodes       map[string]*Transport
	lastArrival map[link]time.Time
	// pruneAt is the size of lastArrival at which the simulator drops its past entries, and
	// prunedAt when it last did (see prune).
	pruneAt  int
	prunedAt time.Time
	// delayed records that some arrival was ever scheduled at a time of its own. Until then
	// every arrival on the inboxes is due at once, every link's last arrival is the zero time
	// and lastArrival need not be kept (see schedule).
	delayed bool
	paused  map[string][]pendingSend // node -> traffic held while paused (both directions)
	onDrop  func(d *Delivery, reason string)
	inboxes map[string]*inbox // receiver -> pending arrivals, on the real runtime only (see inbox.go)
	idle    time.Duration     // how long an inbox goroutine outlives its traffic (inboxIdle; tests shorten it)
	// sorted is the connected node IDs in order, rebuilt after a connect or disconnect
	// (never modified in place: a broadcast iterates it outside the lock).
	sorted []string
	// infos holds the decoded form of every distinct INFO body seen (see decodeInfo).
	infos map[string]any
}

type link struct{ from, to string }

type pendingSend struct {
	d Delivery
	r Route
}

// Option configures a Network.
type Option func(*Network)

// WithLatency sets the base one-way latency of every delivery (default 0).
func WithLatency(d time.Duration) Option { return func(n *Network) { n.latency = d } }

// WithJitter adds to every delivery a uniform extra delay in [0, d), drawn from the runtime's
// random source (seeded in the simulator). Links stay FIFO: a packet never overtakes an
// earlier one on its link because of jitter.
func WithJitter(d time.Duration) Option { return func(n *Network) { n.jitter = d } }

// New returns an empty network on runtime r.
func New(r rt.Runtime, opts ...Option) *Network {
	n := &Network{rt: r, nodes: map[string]*Transport{}, lastArrival: map[link]time.Time{}, paused: map[string][]pendingSend{}, pruneAt: minPrune}
	for _, o := range opts {
		o(n)
	}
	if usesInboxes(r) {
		n.inboxes, n.idle = map[string]*inbox{}, inboxIdle
	}
	return n
}

// SetInterceptor installs the fault seam (nil removes it).
func (n *Network) SetInterceptor(i Interceptor) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.interceptor = i
}

// OnDrop registers a callback for deliveries the network itself discards (receiver gone).
func (n *Network) OnDrop(fn func(d *Delivery, reason string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onDrop = fn
}

// Latency returns the base latency.
func (n *Network) Latency() time.Duration { return n.latency }

// Nodes returns the connected node IDs, sorted.
func (n *Network) Nodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sortedNodes()
}

func (n *Network) sortedNodes() []string {
	return append([]string(nil), n.connected()...)
}

// connected returns the cached sorted node IDs; the caller holds n.mu and must not modify it.
func (n *Network) connected() []string {
	if n.sorted == nil {
		ids := make([]string, 0, len(n.nodes))
		for id := range n.nodes {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		n.sorted = ids
	}
	return n.sorted
}

// decodeInfo returns the decoded payload of an INFO body, decoding each distinct body once
// for the whole network, or nil when it does not decode (the receiving broker then decodes
// it and reports the error itself). A node's INFO reaches every other node, as a broadcast
// and as the answer to each DISCOVER, with the same bytes: decoded per receiver, a cluster
// of N nodes would parse N² copies of the service schemas and keep them all. Every receiver
// gets the same value, which brokers treat as read-only (the registry keeps it as the
// node's services).
func (n *Network) decodeInfo(body []byte) any {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.infos[string(body)]; ok {
		return p
	}
	p, err := packet.Decode(packet.Message{Type: packet.Info, Body: body})
	if err != nil {
		return nil
	}
	if n.infos == nil {
		n.infos = map[string]any{}
	}
	n.infos[string(body)] = p
	return p
}

// Pause holds every packet to or from node until Resume: the node keeps its connection but
// neither hears nor is heard, like a stopped process.
func (n *Network) Pause(node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.paused[node]; !ok {
		n.paused[node] = []pendingSend{}
	}
}

// Resume releases a paused node's held traffic, in the order it was held.
func (n *Network) Resume(node string) {
	n.mu.Lock()
	held, ok := n.paused[node]
	delete(n.paused, node)
	n.mu.Unlock()
	if !ok {
		return
	}
	for _, p := range held {
		n.schedule(p.d, p.r)
	}
}

// Paused reports whether node is paused.
func (n *Network) Paused(node string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	_, ok := n.paused[node]
	return ok
}

// Transport returns a new, unconnected transporter on this network.
func (n *Network) Transport() *Transport { return &Transport{net: n} }

func (n *Network) send(m packet.Message) error {
	n.mu.RLock()
	from := n.nodes[m.Sender]
	if from == nil {
		n.mu.RUnlock()
		return errors.New("memnet: send from a node that is not connected")
	}
	var one [1]string
	targets := one[:0]
	if m.Target != "" {
		targets = append(targets, m.Target)
	} else if targets = n.sorted; targets == nil {
		n.mu.RUnlock()
		n.mu.Lock() // connected rebuilds the sorted list
		targets = n.connected()
		n.mu.Unlock()
		n.mu.RLock()
	}
	icpt := n.interceptor
	onDrop := n.onDrop
	n.mu.RUnlock()

	// SentAt is for the fault seam and the drop callback. On the real runtime with neither
	// installed nothing reads it, and a clock read is ~70 ns on a VM's clock: skip it.
	var now time.Time
	if n.inboxes == nil || icpt != nil || onDrop != nil {
		now = n.rt.Now()
	}
	for _, to := range targets {
		if to == m.Sender {
			continue
		}
		d := Delivery{From: m.Sender, To: to, Type: m.Type, Body: m.Body, Broadcast: m.Target == "", SentAt: now}
		var direct [1]Route
		routes := direct[:]
		if icpt != nil {
			seen := d // the interceptor gets its own copy, so d itself stays off the heap
			routes = icpt(&seen)
			d = seen
		}
		for _, r := range routes {
			r.Delay += n.latency
			if n.jitter > 0 {
				r.Delay += time.Duration(n.rt.Rand().Int64N(int64(n.jitter)))
			}
			n.schedule(d, r)
		}
	}
	return nil
}

// schedule queues one arrival, keeping links FIFO unless the route may overtake.
func (n *Network) schedule(d Delivery, r Route) {
	if n.inboxes != nil && r.Delay <= 0 {
		// The real runtime's common case: nothing paused, nothing ever delayed, the
		// receiver's inbox made. The arrival is due at once and its link has no later
		// arrival to wait behind: no write to the network's state.
		n.mu.RLock()
		ib := n.inboxes[d.To]
		fast := ib != nil && !n.delayed && len(n.paused) == 0
		n.mu.RUnlock()
		if fast {
			ib.push(time.Time{}, d, r)
			return
		}
	}
	n.mu.Lock()
	for _, node := range []string{d.From, d.To} {
		if held, ok := n.paused[node]; ok {
			n.paused[node] = append(held, pendingSend{d, r})
			n.mu.Unlock()
			return
		}
	}
	// On the inboxes (the real runtime), an arrival due at once carries the zero time,
	// which an inbox delivers without reading the clock (see inbox.drain); the link's order
	// holds as for any other time. The simulator's clock costs nothing to read.
	var at time.Time
	if n.inboxes == nil || r.Delay > 0 {
		at = n.rt.Now().Add(r.Delay)
		n.delayed = true
	}
	l := link{d.From, d.To}
	if !r.Unordered {
		if last, ok := n.lastArrival[l]; ok && last.After(at) {
			at = last
		}
		n.lastArrival[l] = at
		if n.inboxes == nil && len(n.lastArrival) >= minPrune &&
			(len(n.lastArrival) >= n.pruneAt || !at.Before(n.prunedAt.Add(pruneEvery))) {
			n.prune()
		}
	}
	if n.inboxes != nil {
		ib := n.inboxes[d.To]
		if ib == nil {
			ib = newInbox(n)
			n.inboxes[d.To] = ib
		}
		n.mu.Unlock()
		ib.push(at, d, r)
		return
	}
	n.mu.Unlock()
	n.rt.AfterFunc(at.Sub(n.rt.Now()), func() { n.arrive(d, r) })
}

// prune drops the links whose last arrival is not after now, on the simulator; the caller
// holds n.mu. Every link a node ever sent on keeps an entry otherwise: N² of them in a
// cluster of N nodes (~130 bytes each, a million at N = 1,000), while the links with a
// packet in flight are few. Dropping one changes no arrival: an arrival is due at
// max(now, at, last), and a last that is not after now adds nothing to that, now or at any
// later instant (the clock only moves on; an arrival due in the past, from a negative delay,
// fires now either way). The real runtime's inboxes read the zero time as "at once", which a
// past last would replace, so they keep every entry.
func (n *Network) prune() {
	now := n.rt.Now()
	// Into a new map: a map does not shrink when entries are deleted, and a cluster's start
	// has N² packets in flight at once.
	kept := make(map[link]time.Time)
	for l, last := range n.lastArrival {
		if last.After(now) {
			kept[l] = last
		}
	}
	n.lastArrival = kept
	// Prune again when the map has doubled (amortized O(1) per arrival), or a virtual second
	// on: what a start's burst left in flight has arrived by then, and the map does not grow
	// back to twice that burst when traffic is steady.
	n.pruneAt, n.prunedAt = max(2*len(n.lastArrival), minPrune), now
}

const (
	// minPrune is the fewest links the simulator keeps before pruning: small networks never do.
	minPrune = 4096
	// pruneEvery is the least virtual time between two prunes of a map that has not doubled.
	pruneEvery = time.Second
)

func (n *Network) arrive(d Delivery, r Route) {
	n.mu.RLock()
	_, paused := n.paused[d.To]
	to := n.nodes[d.To]
	onDrop := n.onDrop
	n.mu.RUnlock()
	if paused {
		n.mu.Lock()
		if _, ok := n.paused[d.To]; ok {
			// Paused after the packet left: it waits at the receiver's door.
			n.paused[d.To] = append(n.paused[d.To], pendingSend{d, Route{Unordered: r.Unordered}})
			n.mu.Unlock()
			return
		}
		to = n.nodes[d.To] // resumed meanwhile
		n.mu.Unlock()
	}
	if to == nil {
		if onDrop != nil {
			dropped := d // taking d's own address would move every delivery to the heap
			onDrop(&dropped, "receiver not connected")
		}
		return
	}
	target := d.To
	if d.Broadcast {
		target = ""
	}
	m := packet.Message{Type: d.Type, Sender: d.From, Target: target, Body: d.Body}
	switch d.Type {
	case packet.Info:
		m.Payload = n.decodeInfo(d.Body)
	case packet.Request, packet.Response, packet.Event, packet.Heartbeat:
		// A body on this network is written once by its sender's Marshal and never
		// changed (duplicates and broadcasts share it), so the payload may keep slices of
		// it instead of copies. A body not in the exact form goes to the broker's Decode.
		if p, sender, ok := packet.DecodeExact(d.Type, d.Body); ok && sender == d.From {
			m.Payload = p
		}
	}
	to.recv(m)
}

// Transport is one node's connection to a Network.
type Transport struct {
	net    *Network
	nodeID string
	recv   func(packet.Message)
}

// WakesCallersInBatches marks the transport as a transport.BatchWaker: a node's inbox
// delivers the responses it holds back to back, on one goroutine.
func (t *Transport) WakesCallersInBatches() {}

// Connect joins the network as nodeID.
func (t *Transport) Connect(nodeID string, recv func(packet.Message)) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if _, taken := t.net.nodes[nodeID]; taken {
		return errors.New("memnet: node " + nodeID + " is already connected")
	}
	t.nodeID, t.recv = nodeID, recv
	t.net.nodes[nodeID] = t
	t.net.sorted = nil
	return nil
}

// Disconnect leaves the network; packets in flight to this node are dropped on arrival.
func (t *Transport) Disconnect() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.net.nodes[t.nodeID] == t {
		delete(t.net.nodes, t.nodeID)
		t.net.sorted = nil
	}
	return nil
}

// Send publishes a message on the network.
func (t *Transport) Send(m packet.Message) error {
	m.Sender = t.nodeID
	return t.net.send(m)
}
