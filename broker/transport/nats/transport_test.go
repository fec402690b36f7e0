package nats_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/packet"
	fnats "github.com/faultline/faultline/broker/transport/nats"
)

// Broadcasts and packets to the node arrive on two subscriptions; the broker still sees them
// in the server's order, through the connection's one dispatch goroutine.
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
