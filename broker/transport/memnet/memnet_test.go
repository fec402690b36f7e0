package memnet

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
)

// collector records what one node receives, safely from the inbox goroutine.
type collector struct {
	mu   sync.Mutex
	got  []string
	done chan struct{}
	want int
}

func (c *collector) recv(m packet.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m.Sender+":"+string(m.Body))
	if len(c.got) == c.want {
		close(c.done)
	}
}

func connect(t *testing.T, n *Network, id string, c *collector) *Transport {
	t.Helper()
	tr := n.Transport()
	recv := func(packet.Message) {}
	if c != nil {
		recv = c.recv
	}
	if err := tr.Connect(id, recv); err != nil {
		t.Fatal(err)
	}
	return tr
}

// On the real runtime every link stays FIFO through the receiver's inbox, whatever the
// interceptor's (ordered) delays, while two senders' traffic interleaves.
func TestRealRuntimeLinksStayFIFO(t *testing.T) {
	r := rt.NewReal()
	n := New(r)
	if n.inboxes == nil {
		t.Fatal("the real runtime should deliver through inboxes")
	}
	const perSender = 500
	c := &collector{done: make(chan struct{}), want: 2 * perSender}
	connect(t, n, "b", c)
	a1, a2 := connect(t, n, "a1", nil), connect(t, n, "a2", nil)
	i := 0
	n.SetInterceptor(func(d *Delivery) []Route {
		i++ // the interceptor runs in the sender's task: the two senders below take turns
		return []Route{{Delay: time.Duration(i%7) * 100 * time.Microsecond}}
	})
	for k := range perSender {
		for _, tr := range []*Transport{a1, a2} {
			if err := tr.Send(packet.Message{Type: packet.Event, Target: "b", Body: []byte(strconv.Itoa(k))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %d of %d packets", len(c.got), c.want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[string]int{}
	for _, g := range c.got {
		sender, body, _ := strings.Cut(g, ":")
		if body != strconv.Itoa(next[sender]) {
			t.Fatalf("link %s→b out of order: got %s, want %d (all: %v)", sender, body, next[sender], c.got)
		}
		next[sender]++
	}
}

// The inbox orders arrivals by time, then by the order they were queued in.
func TestInboxOrder(t *testing.T) {
	ib := newInbox(nil)
	base := time.Unix(0, 0)
	for _, x := range []struct {
		at   int
		body string
	}{{3, "c1"}, {1, "a1"}, {2, "b1"}, {1, "a2"}, {3, "c2"}, {0, "z"}, {2, "b2"}, {1, "a3"}} {
		ib.seq++
		ib.q = append(ib.q, arrival{at: base.Add(time.Duration(x.at)), seq: ib.seq, d: Delivery{Body: []byte(x.body)}})
		ib.up(len(ib.q) - 1)
	}
	var got []string
	for len(ib.q) > 0 {
		got = append(got, string(ib.pop().d.Body))
	}
	want := []string{"z", "a1", "a2", "a3", "b1", "b2", "c1", "c2"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// Packets to a node that left are dropped on arrival and reported, on the real runtime too.
func TestRealRuntimeDropsForGoneReceiver(t *testing.T) {
	n := New(rt.NewReal())
	dropped := make(chan string, 1)
	n.OnDrop(func(d *Delivery, reason string) { dropped <- d.To + ": " + reason })
	a := connect(t, n, "a", nil)
	b := connect(t, n, "b", nil)
	n.SetInterceptor(func(*Delivery) []Route { return []Route{{Delay: 20 * time.Millisecond}} })
	if err := a.Send(packet.Message{Type: packet.Event, Target: "b", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	_ = b.Disconnect()
	select {
	case got := <-dropped:
		if got != "b: receiver not connected" {
			t.Fatalf("drop %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no drop reported")
	}
}

// The simulator keeps a timer per arrival: no inboxes.
func TestSimUsesNoInboxes(t *testing.T) {
	if New(rt.NewSim(1)).inboxes != nil {
		t.Fatal("the simulator must not deliver through inboxes")
	}
	if New(rt.NewSkewed(rt.NewReal())).inboxes == nil {
		t.Fatal("a skewed real runtime should deliver through inboxes")
	}
}

// TestInfoDecodedOncePerBody: every receiver of an INFO gets the payload already decoded,
// one value per distinct body (a node's INFO is not parsed once per receiver); a body that
// does not decode arrives undecoded, for the broker to reject.
func TestInfoDecodedOncePerBody(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	n := New(s)
	payloads := map[string][]any{}
	for _, id := range []string{"a", "b", "c"} {
		tr := n.Transport()
		if err := tr.Connect(id, func(m packet.Message) { payloads[id] = append(payloads[id], m.Payload) }); err != nil {
			t.Fatal(err)
		}
	}
	info, err := packet.Marshal(&packet.InfoPayload{Header: packet.Header{Ver: packet.ProtocolVersion, Sender: "a"}, InstanceID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	a := n.nodes["a"]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Send(packet.Message{Type: packet.Info, Body: info}))                            // broadcast
	must(a.Send(packet.Message{Type: packet.Info, Target: "b", Body: slices.Clone(info)})) // an answer to DISCOVER
	must(a.Send(packet.Message{Type: packet.Info, Target: "c", Body: []byte(`{"ver":"5"`)}))
	must(s.RunFor(time.Second))
	if len(payloads["b"]) != 2 || len(payloads["c"]) != 2 || len(payloads["a"]) != 0 {
		t.Fatalf("deliveries: %v", payloads)
	}
	p, ok := payloads["b"][0].(*packet.InfoPayload)
	if !ok || p.Sender != "a" || p.InstanceID != "i1" {
		t.Fatalf("b got %#v", payloads["b"][0])
	}
	if payloads["b"][1] != any(p) || payloads["c"][0] != any(p) {
		t.Fatalf("one body, several values: %p %p %p", payloads["b"][1], payloads["c"][0], p)
	}
	if payloads["c"][1] != nil {
		t.Fatalf("malformed INFO decoded: %#v", payloads["c"][1])
	}
	if len(n.infos) != 1 {
		t.Fatalf("%d bodies kept, want 1", len(n.infos))
	}
}

// Packets due at once take the real runtime's fast path, which keeps no per-link state; once
// one packet is delayed, the packets after it on its link wait behind it.
func TestRealRuntimeFastPathThenDelayStaysFIFO(t *testing.T) {
	n := New(rt.NewReal())
	const total = 300
	c := &collector{done: make(chan struct{}), want: total}
	connect(t, n, "b", c)
	a := connect(t, n, "a", nil)
	send := func(k int) {
		if err := a.Send(packet.Message{Type: packet.Event, Target: "b", Body: []byte(strconv.Itoa(k))}); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 100 {
		send(k)
	}
	n.SetInterceptor(func(*Delivery) []Route { return []Route{{Delay: 30 * time.Millisecond}} })
	send(100)
	n.SetInterceptor(nil)
	for k := 101; k < total; k++ {
		send(k)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %d of %d packets", len(c.got), c.want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, g := range c.got {
		if g != "a:"+strconv.Itoa(k) {
			t.Fatalf("packet %d is %q (all: %v)", k, g, c.got)
		}
	}
}

// An inbox's goroutine exits once traffic stops, and a later packet starts a new one.
func TestInboxGoroutineExitsWhenIdle(t *testing.T) {
	n := New(rt.NewReal())
	n.idle = 5 * time.Millisecond
	c := &collector{done: make(chan struct{}), want: 2}
	connect(t, n, "b", c)
	a := connect(t, n, "a", nil)
	running := func() bool {
		n.mu.RLock()
		ib := n.inboxes["b"]
		n.mu.RUnlock()
		ib.mu.Lock()
		defer ib.mu.Unlock()
		return ib.running
	}
	waitIdle := func() {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); running(); time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the inbox goroutine did not exit")
			}
		}
	}
	if err := a.Send(packet.Message{Type: packet.Event, Target: "b", Body: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	waitIdle()
	if err := a.Send(packet.Message{Type: packet.Event, Target: "b", Body: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %v", c.got)
	}
	waitIdle()
}
