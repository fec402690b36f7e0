package nats_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/packet"
	fnats "github.com/faultline/faultline/broker/transport/nats"
)

// Broadcasts and packets to the node arrive on two subscriptions; the broker still sees them
// in the server's order, through the connection's one leading delivery goroutine.
func TestArrivalOrderAcrossSubjects(t *testing.T) {
	srv := startServer(t, -1, nil)
	const n = 2000
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	tr := fnats.New(fnats.Options{URL: url(srv)})
	require.NoError(t, tr.Connect("b", func(m packet.Message) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(m.Type)+">"+m.Target+":"+string(m.Body))
		if len(got) == n {
			close(done)
		}
	}))
	defer tr.Disconnect()

	raw, err := natsgo.Connect(url(srv))
	require.NoError(t, err)
	defer raw.Close()
	var want []string
	for i := range n {
		body := `{"ver":"5","sender":"a","cpu":` + strconv.Itoa(i) + `}`
		typ, target := packet.Heartbeat, ""
		if i%3 == 0 {
			typ, target = packet.Ping, "b"
		}
		require.NoError(t, raw.Publish(packet.Subject("", typ, target), []byte(body)))
		want = append(want, string(typ)+">"+target+":"+body)
	}
	require.NoError(t, raw.Flush())
	<-done
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, want, got)
	require.Equal(t, fnats.Stats{Received: n}, tr.Stats())
}

// A request's receiver that calls Detach keeps the delivering goroutine while the packets
// after it go on arriving, in order, on another; many requests blocked at once each hold a
// goroutine of their own and all finish. Without Detach delivery waits for the callback.
func TestDetachedRequestDoesNotHoldDelivery(t *testing.T) {
	srv := startServer(t, -1, nil)
	const blocked = 20 // more than the parked followers kept, so some goroutines exit after
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	var served sync.WaitGroup
	served.Add(blocked)
	heartbeats := make(chan struct{})
	tr := fnats.New(fnats.Options{URL: url(srv)})
	require.NoError(t, tr.Connect("b", func(m packet.Message) {
		mu.Lock()
		got = append(got, string(m.Type)+":"+string(m.Body))
		n := len(got)
		mu.Unlock()
		switch m.Type {
		case packet.Request:
			if !assert.NotNil(t, m.Detach) {
				return
			}
			m.Detach()
			<-release // blocks this goroutine only
			served.Done()
		case packet.Heartbeat:
			assert.Nil(t, m.Detach, "only a request may detach")
			if n == 2*blocked {
				close(heartbeats)
			}
		}
	}))
	defer tr.Disconnect()
	raw, err := natsgo.Connect(url(srv))
	require.NoError(t, err)
	defer raw.Close()
	var want []string
	for i := range blocked {
		req := `{"ver":"5","sender":"a","id":"r` + strconv.Itoa(i) + `"}`
		hb := `{"ver":"5","sender":"a","cpu":` + strconv.Itoa(i) + `}`
		require.NoError(t, raw.Publish(packet.Subject("", packet.Request, "b"), []byte(req)))
		require.NoError(t, raw.Publish(packet.Subject("", packet.Heartbeat, ""), []byte(hb)))
		want = append(want, string(packet.Request)+":"+req, string(packet.Heartbeat)+":"+hb)
	}
	require.NoError(t, raw.Flush())
	select {
	case <-heartbeats: // every packet delivered while all 20 requests still block
	case <-time.After(10 * time.Second):
		t.Fatal("delivery stalled behind a detached request")
	}
	mu.Lock()
	require.Equal(t, want, got)
	mu.Unlock()
	close(release)
	served.Wait()
	// The goroutines that served go back to following (or exit); delivery goes on after them.
	last := `{"ver":"5","sender":"a","cpu":-1}`
	require.NoError(t, raw.Publish(packet.Subject("", packet.Heartbeat, ""), []byte(last)))
	require.NoError(t, raw.Flush())
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2*blocked+1 }, "a packet after the served requests")
	mu.Lock()
	require.Equal(t, string(packet.Heartbeat)+":"+last, got[2*blocked])
	mu.Unlock()
}

// Send before Connect, and after Disconnect, fails with ErrNotConnected; Connect to a server
// that is not there fails with the URL in the error; packets to another node or from this one
// never reach recv.
func TestConnectAndSendErrors(t *testing.T) {
	tr := fnats.New(fnats.Options{URL: "nats://127.0.0.1:1"})
	require.ErrorIs(t, tr.Send(packet.Message{Type: packet.Heartbeat, Sender: "a", Body: []byte(`{}`)}), fnats.ErrNotConnected)
	err := tr.Connect("a", func(packet.Message) {})
	require.ErrorContains(t, err, "nats: connect to nats://127.0.0.1:1: ")

	srv := startServer(t, -1, nil)
	var mu sync.Mutex
	var got []string
	tr = fnats.New(fnats.Options{URL: url(srv)})
	require.NoError(t, tr.Connect("a", func(m packet.Message) { mu.Lock(); got = append(got, m.Sender); mu.Unlock() }))
	require.ErrorContains(t, tr.Connect("a", func(packet.Message) {}), "Connect called twice")
	raw, err := natsgo.Connect(url(srv))
	require.NoError(t, err)
	defer raw.Close()
	for _, subj := range []string{"MOL.HEARTBEAT", "MOL.PING.other", "MOL.PING.a"} {
		require.NoError(t, raw.Publish(subj, []byte(`{"ver":"5","sender":"a"}`))) // from a itself: skipped
		require.NoError(t, raw.Publish(subj, []byte(fmt.Sprintf(`{"ver":"5","sender":"z","s":%q}`, subj))))
	}
	require.NoError(t, raw.Flush())
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 }, "two packets from z")
	require.NoError(t, tr.Disconnect())
	require.NoError(t, tr.Disconnect(), "a second Disconnect is a no-op")
	require.ErrorIs(t, tr.Send(packet.Message{Type: packet.Heartbeat, Sender: "a", Body: []byte(`{}`)}), fnats.ErrNotConnected)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"z", "z"}, got)
	require.Equal(t, uint64(0), tr.Stats().Dropped, "MOL.PING.other is not subscribed to")
}
