package natsmesh_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/realtier/natsmesh"
)

// settle bounds every wait of these tests; they poll for a state, never assert a duration.
const settle = 10 * time.Second

func connect(t *testing.T, m *natsmesh.Mesh, node string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(m.ClientURL(node), nats.Name(node))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// delivered publishes n messages from one node to a subject another node subscribes to and
// returns how many arrived. Interest crosses routes asynchronously, so a probe first waits
// until the subscriber's interest has reached the publisher's server (or the wait ends).
func delivered(t *testing.T, from, to *nats.Conn, n int, wantInterest bool) int {
	t.Helper()
	subject := fmt.Sprintf("probe.%d", time.Now().UnixNano())
	sub, err := to.SubscribeSync(subject)
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, to.Flush())
	if wantInterest {
		// A request answered by the subscriber's side proves the route carries interest.
		ready, err := to.Subscribe(subject+".ready", func(m *nats.Msg) { _ = m.Respond(nil) })
		require.NoError(t, err)
		defer ready.Unsubscribe()
		require.NoError(t, to.Flush())
		deadline := time.Now().Add(settle)
		for {
			if _, err := from.Request(subject+".ready", nil, 200*time.Millisecond); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "interest never crossed the route")
		}
	}
	for i := 0; i < n; i++ {
		require.NoError(t, from.Publish(subject, []byte("x")))
	}
	require.NoError(t, from.Flush())
	got := 0
	for {
		// A message that can cross arrives within the route's round trip; a second of
		// silence after the last one means the rest are not coming.
		if _, err := sub.NextMsg(time.Second); err != nil {
			return got
		}
		got++
	}
}

// TestCutPartitionsOnePairOnly: NATS forwards one route hop, so with the A–B route cut A and
// B do not hear each other in either direction while both still reach C; healing restores
// A–B. Every route runs through its pair's proxy (no direct gossiped route survives).
func TestCutPartitionsOnePairOnly(t *testing.T) {
	m, err := natsmesh.Start([]string{"c", "a", "b"}, natsmesh.Options{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	assert.Equal(t, []string{"a", "b", "c"}, m.Nodes())

	for _, n := range m.Nodes() {
		rz, err := m.Server(n).Routez(nil)
		require.NoError(t, err)
		assert.Len(t, rz.Routes, 2, "%s: one route per peer, none gossiped around the proxies", n)
	}

	a, b, c := connect(t, m, "a"), connect(t, m, "b"), connect(t, m, "c")
	assert.Equal(t, 10, delivered(t, a, b, 10, true))

	require.NoError(t, m.Cut("b", "a"))
	require.NoError(t, m.WaitCut("a", "b", settle))
	assert.Equal(t, 0, delivered(t, a, b, 10, false), "a→b cut")
	assert.Equal(t, 0, delivered(t, b, a, 10, false), "b→a cut")
	assert.Equal(t, 10, delivered(t, a, c, 10, true), "a still reaches c")
	assert.Equal(t, 10, delivered(t, c, b, 10, true), "c still reaches b")
	assert.Equal(t, 10, delivered(t, b, c, 10, true), "b still reaches c")
	assert.False(t, m.Connected("a", "b"))
	assert.True(t, m.Connected("a", "c"))

	require.NoError(t, m.Heal("a", "b"))
	require.NoError(t, m.WaitRoutes(settle))
	assert.Equal(t, 10, delivered(t, a, b, 10, true), "healed")
	assert.Equal(t, 10, delivered(t, b, a, 10, true), "healed")
}

// TestPartitionAndHealAll: a side of one node against two cuts both of its routes.
func TestPartitionAndHealAll(t *testing.T) {
	m, err := natsmesh.Start([]string{"a", "b", "c"}, natsmesh.Options{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	require.NoError(t, m.Partition([]string{"a"}, []string{"b", "c"}))
	require.NoError(t, m.WaitCut("a", "b", settle))
	require.NoError(t, m.WaitCut("a", "c", settle))
	assert.True(t, m.Connected("b", "c"))
	a, b := connect(t, m, "a"), connect(t, m, "b")
	assert.Equal(t, 0, delivered(t, b, a, 5, false))
	require.NoError(t, m.HealAll())
	require.NoError(t, m.WaitRoutes(settle))
	assert.Equal(t, 5, delivered(t, b, a, 5, true))
}

// TestToxicOnARoute: a latency toxic on the a–b route delays a request from a to a
// responder on b by at least twice the toxic (it applies to each direction), and removing
// it takes the delay away. Only a lower bound is asserted: a loaded machine adds, never
// subtracts.
func TestToxicOnARoute(t *testing.T) {
	m, err := natsmesh.Start([]string{"a", "b"}, natsmesh.Options{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	a, b := connect(t, m, "a"), connect(t, m, "b")
	_, err = b.Subscribe("echo", func(msg *nats.Msg) { _ = msg.Respond(msg.Data) })
	require.NoError(t, err)
	require.NoError(t, b.Flush())
	delivered(t, a, b, 1, true) // interest has crossed

	slow := natsmesh.Toxic{Type: "latency", Attributes: map[string]any{"latency": 150}}
	require.NoError(t, m.AddToxic("a", "b", slow))
	start := time.Now()
	_, err = a.Request("echo", []byte("x"), settle)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "150 ms each way")

	require.NoError(t, m.RemoveToxic("a", "b", slow))
	assert.Error(t, m.RemoveToxic("a", "b", slow), "removing twice names the toxic")
	assert.ErrorContains(t, m.AddToxic("a", "zz", slow), `no route between "a" and "zz"`)
	assert.ErrorContains(t, m.AddToxic("a", "b", natsmesh.Toxic{Type: "nope"}), "nope")
}

// TestNamedProxy: a proxy in front of any TCP service (a node's Redis connection, in the
// real tier) disables and re-enables on the same address.
func TestNamedProxy(t *testing.T) {
	m, err := natsmesh.Start([]string{"a"}, natsmesh.Options{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	upstream := m.ClientURL("a")[len("nats://"):]
	addr, err := m.Proxy("nats-a", upstream)
	require.NoError(t, err)
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0))
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.Flush())

	require.NoError(t, m.DisableProxy("nats-a"))
	_, err = nats.Connect("nats://"+addr, nats.MaxReconnects(0), nats.Timeout(time.Second))
	assert.Error(t, err, "a disabled proxy refuses connections")
	require.NoError(t, m.EnableProxy("nats-a"))
	nc2, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0))
	require.NoError(t, err)
	nc2.Close()
	_, err = m.Proxy("nats-a", upstream)
	assert.ErrorContains(t, err, `proxy "nats-a" exists`)
	assert.ErrorContains(t, m.DisableProxy("nope"), `no proxy "nope"`)
}
