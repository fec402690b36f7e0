package nats_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	fnats "github.com/faultline/faultline/broker/transport/nats"
)

// Real-network tests wait for conditions with generous bounds; they never assert durations.
const (
	waitFor = 10 * time.Second
	tick    = 5 * time.Millisecond
)

func eventually(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, waitFor, tick, fmt.Sprintf(what, args...))
}

// startServer runs an embedded NATS server on port (-1: a random one).
func startServer(t testing.TB, port int, edit func(*server.Options)) *server.Server {
	t.Helper()
	o := natstest.DefaultTestOptions
	o.Port = port
	if edit != nil {
		edit(&o)
	}
	s := natstest.RunServer(&o)
	t.Cleanup(s.Shutdown)
	return s
}

func url(s *server.Server) string { return "nats://" + s.Addr().String() }

func port(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// node is a broker on the real runtime joined to NATS.
type node struct {
	*broker.Broker
	tr *fnats.Transport
	j  *journal.Journal

	mu   sync.Mutex
	gone map[string]bool // peer -> unexpected, from $node.disconnected
}

func newNode(t *testing.T, srv *server.Server, ns, id string, services ...*broker.Service) *node {
	t.Helper()
	tr := fnats.New(fnats.Options{URL: url(srv), Namespace: ns, ReconnectWait: 20 * time.Millisecond})
	clock := rt.NewReal()
	n := &node{tr: tr, gone: map[string]bool{}, j: journal.New(clock)}
	n.Broker = broker.MustNew(broker.Options{NodeID: id, Namespace: ns, Runtime: clock, Transporter: tr, Journal: n.j,
		HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: 2 * time.Second})
	n.MustAddService(&broker.Service{Name: "watch-" + id, Events: map[string]broker.Event{
		"$node.disconnected": {Handler: func(ctx *broker.Context) error {
			node, _ := ctx.Params["node"].(map[string]any)
			peer, _ := node["id"].(string)
			unexpected, _ := ctx.Params["unexpected"].(bool)
			n.mu.Lock()
			n.gone[peer] = unexpected
			n.mu.Unlock()
			return nil
		}},
	}})
	for _, s := range services {
		n.MustAddService(s)
	}
	require.NoError(t, n.Start())
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

func (n *node) lost(peer string) (unexpected, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	unexpected, ok = n.gone[peer]
	return
}

func (n *node) knows(peer string) bool {
	for _, x := range n.Nodes() {
		if x.ID == peer {
			return x.Available
		}
	}
	return false
}

// monitor is a raw nats.go client recording every packet under a prefix.
type monitor struct {
	mu  sync.Mutex
	got []wire
}

type wire struct {
	subject string
	body    map[string]any
}

func watch(t *testing.T, srv *server.Server, subject string) *monitor {
	t.Helper()
	nc, err := natsgo.Connect(url(srv))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	m := &monitor{}
	_, err = nc.Subscribe(subject, func(msg *natsgo.Msg) {
		var body map[string]any
		if err := json.Unmarshal(msg.Data, &body); err != nil {
			body = map[string]any{"<raw>": string(msg.Data)}
		}
		m.mu.Lock()
		m.got = append(m.got, wire{msg.Subject, body})
		m.mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return m
}

// find returns the packets on subject matching pred.
func (m *monitor) find(subject string, pred func(map[string]any) bool) []wire {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire
	for _, w := range m.got {
		if w.subject == subject && (pred == nil || pred(w.body)) {
			out = append(out, w)
		}
	}
	return out
}

func (m *monitor) subjects() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := map[string]bool{}
	for _, w := range m.got {
		set[w.subject] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func from(sender string) func(map[string]any) bool {
	return func(b map[string]any) bool { return b["sender"] == sender }
}

// sample reads the captured Moleculer 0.15.2 packets: subject -> the JSON bodies seen on it.
func sample(t *testing.T) map[string][]map[string]any {
	t.Helper()
	f, err := os.Open("testdata/wire-sample-v5.txt")
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]map[string]any{}
	var subject string
	var buf strings.Builder
	flush := func() {
		if subject == "" {
			return
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(buf.String()), &body), "sample packet on %s", subject)
		out[subject] = append(out[subject], body)
		subject = ""
		buf.Reset()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "MOL"):
			flush()
			subject = line
		case subject != "":
			buf.WriteString(line + "\n")
		}
	}
	flush()
	return out
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

var greeter = &broker.Service{Name: "greeter", Version: "2", Actions: map[string]broker.Action{
	"hello": {Params: map[string]any{"name": "string"}, Handler: func(ctx *broker.Context) (any, error) {
		return "Hello " + ctx.Params["name"].(string), nil
	}},
	"reserve": {Handler: func(ctx *broker.Context) (any, error) {
		return nil, &errs.Error{Name: "OutOfStockError", Message: "no stock left", Code: 409, Type: "OUT_OF_STOCK",
			Data: map[string]any{"sku": "A-1", "left": 0.0}}
	}},
}}

// hits counts deliveries of "user.created" by the event's id.
type hits struct {
	mu sync.Mutex
	by map[float64]int
}

func (h *hits) of(id float64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.by[id]
}

// counting is a service whose handler for "user.created" counts deliveries.
func counting(name string, h *hits) *broker.Service {
	h.by = map[float64]int{}
	return &broker.Service{Name: name, Events: map[string]broker.Event{
		"user.created": {Handler: func(ctx *broker.Context) error {
			h.mu.Lock()
			h.by[ctx.Params["id"].(float64)]++
			h.mu.Unlock()
			return nil
		}},
	}}
}

// Two (three) brokers on a real NATS server: discovery, a call with params validation, errors
// with every field, events by group and broadcast, PING/PONG, node loss and graceful stop,
// every packet on Moleculer's subject with the captured packet's JSON fields.
func TestClusterOverNATS(t *testing.T) {
	srv := startServer(t, -1, nil)
	mon := watch(t, srv, "MOL.>")
	var mailB, mailC, audit hits
	b := newNode(t, srv, "", "b", greeter, counting("mail", &mailB))
	c := newNode(t, srv, "", "c", counting("mail", &mailC), counting("audit", &audit))
	a := newNode(t, srv, "", "a")
	for _, n := range []*node{a, b, c} {
		for _, peer := range []string{"a", "b", "c"} {
			if peer != n.NodeID() {
				eventually(t, func() bool { return n.knows(peer) }, "%s discovers %s", n.NodeID(), peer)
			}
		}
	}

	res, err := a.Call("v2.greeter.hello", map[string]any{"name": "Ann"}, broker.WithMeta(map[string]any{"user": map[string]any{"id": 7.0}}))
	require.NoError(t, err)
	require.Equal(t, "Hello Ann", res)

	_, err = a.Call("v2.greeter.hello", map[string]any{"name": 5})
	var e *errs.Error
	require.True(t, errors.As(err, &e), "error %T %v", err, err)
	require.Equal(t, errs.NameValidation, e.Name)
	require.Equal(t, 422, e.Code)
	require.Equal(t, "VALIDATION_ERROR", e.Type)
	require.Equal(t, "b", e.NodeID)
	items, ok := e.Data.([]any)
	require.True(t, ok && len(items) == 1, "validation data %#v", e.Data)
	require.Equal(t, "name", items[0].(map[string]any)["field"])

	_, err = a.Call("v2.greeter.reserve", nil)
	require.True(t, errors.As(err, &e), "error %T %v", err, err)
	require.Equal(t, errs.Error{Name: "OutOfStockError", Message: "no stock left", Code: 409, Type: "OUT_OF_STOCK", NodeID: "b",
		Data: map[string]any{"sku": "A-1", "left": 0.0}}, *e)

	// Emit (id 1): each group once, mail on b or c, audit on c. Broadcast (id 2): every
	// subscriber. Counts are checked again after a round trip to both nodes, so a late
	// duplicate would show.
	require.NoError(t, a.Emit("user.created", map[string]any{"id": 1.0}))
	require.NoError(t, a.Broadcast("user.created", map[string]any{"id": 2.0}))
	counts := func() [5]int {
		return [5]int{mailB.of(1) + mailC.of(1), audit.of(1), mailB.of(2), mailC.of(2), audit.of(2)}
	}
	eventually(t, func() bool { return counts() == [5]int{1, 1, 1, 1, 1} }, "event deliveries %v", counts())
	for _, peer := range []string{"b", "c"} {
		a.Ping(peer)
		eventually(t, func() bool { return len(mon.find("MOL.PONG.a", from(peer))) == 1 }, "PONG from %s", peer)
	}
	require.Equal(t, [5]int{1, 1, 1, 1, 1}, counts(), "emit: once per group; broadcast: once per subscriber")

	// c dies without a word: a notices after the heartbeat timeout; b stops gracefully.
	c.Crash()
	eventually(t, func() bool { _, ok := a.lost("c"); return ok }, "a loses c")
	unexpected, _ := a.lost("c")
	require.True(t, unexpected, "c's loss is unexpected")
	require.Empty(t, mon.find("MOL.DISCONNECT", from("c")), "a crash sends no DISCONNECT")

	require.NoError(t, b.Stop())
	eventually(t, func() bool { _, ok := a.lost("b"); return ok }, "a sees b leave")
	unexpected, _ = a.lost("b")
	require.False(t, unexpected, "b's stop is graceful")
	eventually(t, func() bool { return len(mon.find("MOL.DISCONNECT", from("b"))) == 1 }, "b's DISCONNECT on the wire")

	// Every subject is Moleculer's, and each packet kind has the captured packet's fields.
	require.Subset(t, mon.subjects(), []string{"MOL.DISCOVER", "MOL.INFO", "MOL.INFO.a", "MOL.HEARTBEAT",
		"MOL.REQ.b", "MOL.RES.a", "MOL.EVENT.b", "MOL.EVENT.c", "MOL.PING.b", "MOL.PONG.a", "MOL.DISCONNECT"})
	for _, s := range mon.subjects() {
		require.Regexp(t, `^MOL\.(DISCOVER|INFO|HEARTBEAT|DISCONNECT|((INFO|DISCOVER|REQ|RES|EVENT|PING|PONG)\.[abc]))$`, s)
	}
	want := sample(t)
	fields := func(subject string, pred func(map[string]any) bool) []string {
		got := mon.find(subject, pred)
		require.NotEmpty(t, got, "no packet on %s", subject)
		return keys(got[0].body)
	}
	isErr := func(b map[string]any) bool { return b["success"] == false }
	isOK := func(b map[string]any) bool { return b["success"] == true }
	isBroadcast := func(b map[string]any) bool { return b["broadcast"] == true }
	isGrouped := func(b map[string]any) bool { return b["broadcast"] == false }
	for _, tc := range []struct {
		subject, sampleSubject string
		pred, samplePred       func(map[string]any) bool
	}{
		{"MOL.DISCOVER", "MOL.DISCOVER", nil, nil},
		{"MOL.INFO", "MOL.INFO", nil, nil},
		{"MOL.INFO.a", "MOL.INFO", nil, nil},
		{"MOL.HEARTBEAT", "MOL.HEARTBEAT", nil, nil},
		{"MOL.REQ.b", "MOL.REQ.node-b", nil, nil},
		{"MOL.RES.a", "MOL.RES.node-a", isOK, isOK},
		{"MOL.RES.a", "MOL.RES.node-a", isErr, isErr},
		{"MOL.EVENT.c", "MOL.EVENT.node-b", isGrouped, isGrouped},
		{"MOL.EVENT.c", "MOL.EVENT.node-b", isBroadcast, isBroadcast},
		{"MOL.PING.b", "MOL.PING.node-b", nil, nil},
		{"MOL.PONG.a", "MOL.PONG.node-a", nil, nil},
		{"MOL.DISCONNECT", "MOL.DISCONNECT", nil, nil},
	} {
		var ref map[string]any
		for _, body := range want[tc.sampleSubject] {
			if tc.samplePred == nil || tc.samplePred(body) {
				ref = body
			}
		}
		require.NotNil(t, ref, "sample has %s", tc.sampleSubject)
		require.Equal(t, keys(ref), fields(tc.subject, tc.pred), "fields of %s", tc.subject)
		if tc.pred != nil && tc.subject == "MOL.RES.a" && ref["error"] != nil {
			got := mon.find(tc.subject, tc.pred)[0].body["error"].(map[string]any)
			refErr := maps.Clone(ref["error"].(map[string]any))
			delete(refErr, "stack") // Go has no JS stack to send; Moleculer sends it only when present
			require.Equal(t, keys(refErr), keys(got), "error fields")
		}
	}
}

// With a namespace every subject starts with MOL-<ns>., and nodes of another namespace on
// the same server stay invisible.
func TestNamespace(t *testing.T) {
	srv := startServer(t, -1, nil)
	mon := watch(t, srv, ">")
	b := newNode(t, srv, "shop", "b", greeter)
	a := newNode(t, srv, "shop", "a")
	other := newNode(t, srv, "", "x")
	eventually(t, func() bool { return a.knows("b") }, "a discovers b")
	res, err := a.Call("v2.greeter.hello", map[string]any{"name": "Bo"})
	require.NoError(t, err)
	require.Equal(t, "Hello Bo", res)
	require.NoError(t, b.Stop())
	eventually(t, func() bool { return len(mon.find("MOL-shop.DISCONNECT", from("b"))) == 1 }, "b's DISCONNECT")
	eventually(t, func() bool { return len(mon.find("MOL.DISCOVER", from("x"))) > 0 }, "x's DISCOVER, outside the namespace")
	require.False(t, a.knows("x"))
	require.False(t, other.knows("a"))
	for _, s := range []string{"MOL-shop.DISCOVER", "MOL-shop.INFO", "MOL-shop.REQ.b", "MOL-shop.RES.a", "MOL-shop.DISCONNECT", "MOL.DISCOVER"} {
		require.Contains(t, mon.subjects(), s)
	}
	mon.mu.Lock()
	defer mon.mu.Unlock()
	for _, w := range mon.got {
		if sender := w.body["sender"]; sender == "a" || sender == "b" {
			require.True(t, strings.HasPrefix(w.subject, "MOL-shop."), "packet of a shop node on %s", w.subject)
		} else if sender == "x" {
			require.True(t, strings.HasPrefix(w.subject, "MOL."), "packet of x on %s", w.subject)
		}
	}
}

// Malformed messages are dropped, counted and never reach the broker, which keeps working.
func TestMalformedDropped(t *testing.T) {
	srv := startServer(t, -1, nil)
	b := newNode(t, srv, "", "b", greeter)
	a := newNode(t, srv, "", "a")
	eventually(t, func() bool { return a.knows("b") }, "a discovers b")

	raw, err := natsgo.Connect(url(srv))
	require.NoError(t, err)
	defer raw.Close()
	bad := []struct{ subject, body string }{
		{"MOL.REQ.b", "not json"},
		{"MOL.REQ.b", `["an", "array"]`},
		{"MOL.INFO", `{"ver":"4","sender":"old"}`},
		{"MOL.HEARTBEAT", `{"ver":"5","cpu":1}`},
		{"MOL.NOPE", `{"ver":"5","sender":"z"}`},
		{"MOL.RES.b", ""},
	}
	for _, m := range bad {
		require.NoError(t, raw.Publish(m.subject, []byte(m.body)))
	}
	require.NoError(t, raw.Flush())
	eventually(t, func() bool { return b.tr.Stats().Dropped == uint64(len(bad)) }, "b drops %d, has %d", len(bad), b.tr.Stats().Dropped)

	// Well-formed envelopes with a kind's fields missing pass the transport and are dropped
	// by the broker's decoder, which journals them.
	require.NoError(t, raw.Publish("MOL.REQ.b", []byte(`{"ver":"5","sender":"z","action":"v2.greeter.hello"}`)))
	require.NoError(t, raw.Publish("MOL.EVENT.b", []byte(`{"ver":"5","sender":"z","id":"1"}`)))
	require.NoError(t, raw.Flush())
	invalid := func() []string {
		var out []string
		for _, e := range journal.Filter(b.j.Entries(), journal.PacketBad) {
			out = append(out, e.Str("type")+" from "+e.Str("from"))
		}
		return out
	}
	eventually(t, func() bool { return len(invalid()) == 2 }, "b journals 2 invalid packets, has %v", invalid())
	require.Equal(t, []string{"REQ from z", "EVENT from z"}, invalid())

	res, err := a.Call("v2.greeter.hello", map[string]any{"name": "Cy"})
	require.NoError(t, err)
	require.Equal(t, "Hello Cy", res)
	require.Equal(t, uint64(len(bad)), b.tr.Stats().Dropped)
	eventually(t, func() bool { return a.tr.Stats().Dropped == 3 }, "a drops the 3 bad broadcasts, has %d", a.tr.Stats().Dropped)
	require.False(t, a.knows("old"))
}

// A packet over the server's max payload is refused by Send with a clear error.
func TestMaxPayload(t *testing.T) {
	srv := startServer(t, -1, func(o *server.Options) { o.MaxPayload = 4096 })
	b := newNode(t, srv, "", "b", greeter, blob)
	a := newNode(t, srv, "", "a")
	eventually(t, func() bool { return a.knows("b") }, "a discovers b")

	err := a.tr.Send(packet.Message{Type: packet.Event, Sender: "a", Target: "b", Body: make([]byte, 5000)})
	require.ErrorIs(t, err, fnats.ErrPayloadTooLarge)
	require.EqualError(t, err, "nats: packet exceeds the server's max payload: MOL.EVENT.b is 5000 bytes, the server accepts 4096")

	// A call whose REQ is too large fails at once, with an error that says so and is not
	// retried (the same params are as large for any node); the next call works.
	_, err = a.Call("v2.greeter.hello", map[string]any{"name": strings.Repeat("x", 5000)})
	var me *errs.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, "MoleculerError", me.Name)
	require.Equal(t, 500, me.Code)
	require.Equal(t, "REQUEST_TOO_LARGE", me.Type)
	require.Equal(t, "a", me.NodeID)
	require.False(t, me.Retryable)
	require.Contains(t, me.Message, "the request is too large for the transporter: nats: packet exceeds the server's max payload: MOL.REQ.b is")
	require.Equal(t, 1, count(a.j, journal.ReqSent), "one attempt")
	res, err := a.Call("v2.greeter.hello", map[string]any{"name": "Di"})
	require.NoError(t, err)
	require.Equal(t, "Hello Di", res)

	// A result too large for the server comes back as an error response at once, from the
	// serving node, instead of leaving the caller to its timeout.
	_, err = a.Call("big.blob", map[string]any{"n": 5000.0}, broker.WithTimeout(time.Minute))
	require.ErrorAs(t, err, &me)
	require.Equal(t, "MoleculerError", me.Name)
	require.Equal(t, 500, me.Code)
	require.Equal(t, "RESPONSE_TOO_LARGE", me.Type)
	require.Equal(t, "b", me.NodeID)
	require.Contains(t, me.Message, "the response is too large for the transporter: nats: packet exceeds the server's max payload: MOL.RES.a is")
	res, err = a.Call("big.blob", map[string]any{"n": 10.0})
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("x", 10), res)
	require.Equal(t, uint64(0), a.tr.Stats().Dropped+b.tr.Stats().Dropped)
}

// blob answers a string of n bytes: a small request with a result as large as asked.
var blob = &broker.Service{Name: "big", Actions: map[string]broker.Action{
	"blob": {Handler: func(ctx *broker.Context) (any, error) {
		return strings.Repeat("x", int(ctx.Params["n"].(float64))), nil
	}},
}}

// The server goes away and comes back on the same port: while it is down a call fails with
// BrokerDisconnectedError; afterwards the transports reconnect by themselves, the brokers
// re-announce themselves and calls work again without restarting them.
func TestReconnect(t *testing.T) {
	srv := startServer(t, -1, nil)
	p := port(srv)
	b := newNode(t, srv, "", "b", greeter)
	a := newNode(t, srv, "", "a")
	eventually(t, func() bool { return a.knows("b") }, "a discovers b")
	_, err := a.Call("v2.greeter.hello", map[string]any{"name": "Ed"})
	require.NoError(t, err)

	// A call in flight when the connection drops fails with BrokerDisconnectedError at once,
	// not at its (long) timeout: its response, if any, would be published while a is away.
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	b.MustAddService(&broker.Service{Name: "slow", Actions: map[string]broker.Action{
		"wait": {Handler: func(*broker.Context) (any, error) {
			entered <- struct{}{}
			<-release
			return "late", nil
		}}}})
	eventually(t, func() bool { return a.Endpoints("slow.wait")["b"] }, "a learns slow.wait")
	inFlight := make(chan error, 1)
	go func() {
		_, err := a.Call("slow.wait", nil, broker.WithTimeout(time.Hour))
		inFlight <- err
	}()
	<-entered

	srv.Shutdown()
	srv.WaitForShutdown()
	err = <-inFlight
	require.Equal(t, errs.NameBrokerDisconnected, errs.NameOf(err), "call in flight: %v", err)
	require.Equal(t, 1, count(a.j, journal.ReqRejected))
	eventually(t, func() bool { return !a.tr.Conn().IsConnected() }, "a notices the server is gone")
	_, err = a.Call("v2.greeter.hello", map[string]any{"name": "Ed"})
	require.Equal(t, errs.NameBrokerDisconnected, errs.NameOf(err), "call while down: %v", err)

	// A service b adds while cut off is announced by an INFO that cannot leave; only the INFO
	// b re-sends after the reconnect tells a about it (the outage is far shorter than the
	// heartbeat timeout, so a never loses b and never asks again).
	b.MustAddService(&broker.Service{Name: "late", Actions: map[string]broker.Action{
		"hi": {Handler: func(*broker.Context) (any, error) { return "hi", nil }}}})

	startServer(t, p, nil)
	eventually(t, func() bool { return a.tr.Conn().IsConnected() && b.tr.Conn().IsConnected() }, "both reconnect")
	eventually(t, func() bool {
		res, err := a.Call("v2.greeter.hello", map[string]any{"name": "Flo"}, broker.WithTimeout(time.Second))
		return err == nil && res == "Hello Flo"
	}, "calls work again")
	eventually(t, func() bool { return a.Endpoints("late.hi")["b"] }, "a learns b's late service from the INFO sent on reconnect")
	res, err := a.Call("late.hi", nil)
	require.NoError(t, err)
	require.Equal(t, "hi", res)
	_, lost := a.lost("b")
	require.False(t, lost, "a never lost b")
	require.Equal(t, uint64(0), a.tr.Stats().Dropped+b.tr.Stats().Dropped)
}

// count is the number of entries of kind in j.
func count(j *journal.Journal, kind string) int {
	n := 0
	for _, e := range j.Entries() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
