package broker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/testutil"
)

func echoService(name string) *broker.Service {
	return &broker.Service{Name: name, Actions: map[string]broker.Action{
		"where": {Handler: func(ctx *broker.Context) (any, error) { return ctx.Broker().NodeID(), nil }},
	}}
}

func TestNodeLossAtExactlyLastHeartbeatPlusTimeout(t *testing.T) {
	c := testutil.NewSim(3)
	defer c.Close()
	hb := broker.Options{HeartbeatInterval: 5 * time.Second, HeartbeatTimeout: 15 * time.Second}
	caller := c.MustAddNode("caller", hb)
	c.MustAddNode("svc-1", hb, &broker.Service{Name: "svc", Actions: map[string]broker.Action{
		"slow":  {Handler: func(ctx *broker.Context) (any, error) { ctx.Broker().Runtime().Sleep(time.Hour); return "late", nil }},
		"where": {Handler: func(ctx *broker.Context) (any, error) { return ctx.Broker().NodeID(), nil }},
	}})
	c.MustAddNode("svc-2", hb, echoService("svc"))
	var disconnected []map[string]any
	caller.MustAddService(&broker.Service{Name: "watch", Events: map[string]broker.Event{
		"$node.disconnected": {Handler: func(ctx *broker.Context) error {
			disconnected = append(disconnected, map[string]any{"id": ctx.Params["node"].(map[string]any)["id"], "unexpected": ctx.Params["unexpected"], "at": c.Sim.Elapsed()})
			return nil
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		c.Sim.Sleep(20 * time.Second)
		var slowErr error
		done := c.Sim.NewSignal("slow call")
		c.Sim.Go("slow caller", func() {
			_, slowErr = caller.Call("svc.slow", nil, broker.WithNodeID("svc-1"))
			done.Fire()
		})
		c.Sim.Sleep(time.Second)
		c.Node("svc-1").Crash() // the connection drops: no DISCONNECT
		done.Wait()

		var rejected *errs.Error
		require.ErrorAs(t, slowErr, &rejected)
		assert.Equal(t, "RequestRejectedError", rejected.Name)
		assert.Equal(t, 503, rejected.Code)
		assert.Equal(t, "REQUEST_REJECTED", rejected.Type)
		assert.True(t, rejected.Retryable)
		assert.Equal(t, map[string]any{"action": "svc.slow", "nodeID": "svc-1"}, rejected.Data)

		// Calls now go to the remaining endpoint only.
		for range 4 {
			res, err := caller.Call("svc.where", nil)
			require.NoError(t, err)
			assert.Equal(t, "svc-2", res)
		}
	})

	// The loss happened exactly HeartbeatTimeout after the last packet heard from svc-1.
	var lastHeard time.Duration
	for _, e := range c.Journal.Entries() {
		if e.Node == "caller" && (e.Kind == journal.ResReceived || e.Kind == journal.NodeJoined) && (e.Str("from") == "svc-1" || e.Str("peer") == "svc-1") {
			lastHeard = e.T
		}
	}
	lost := c.Kinds(journal.NodeLost)
	var callerLost []journal.Entry
	for _, e := range lost {
		if e.Node == "caller" {
			callerLost = append(callerLost, e)
		}
	}
	require.Len(t, callerLost, 1)
	assert.Equal(t, "svc-1", callerLost[0].Str("peer"))
	last := callerLost[0].Dur("lastSeen")
	assert.GreaterOrEqual(t, last, lastHeard)
	assert.Equal(t, last+15*time.Second, callerLost[0].T, "lost exactly lastSeen + heartbeatTimeout")
	// svc-1 heartbeats every 5 s ± 0.5 s: its last packet is within one interval of the crash at +21s.
	assert.InDelta(t, float64(21*time.Second), float64(last), float64(5500*time.Millisecond))
	require.Len(t, disconnected, 1)
	assert.Equal(t, "svc-1", disconnected[0]["id"])
	assert.Equal(t, true, disconnected[0]["unexpected"])
	assert.Equal(t, callerLost[0].T, disconnected[0]["at"])
	rej := c.Kinds(journal.ReqRejected)
	require.Len(t, rej, 1)
	assert.Equal(t, callerLost[0].T, rej[0].T)
}

func TestGracefulStopSendsDisconnect(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	caller := c.MustAddNode("caller", broker.Options{})
	c.MustAddNode("svc-1", broker.Options{}, echoService("svc"))
	var unexpected []any
	caller.MustAddService(&broker.Service{Name: "watch", Events: map[string]broker.Event{
		"$node.disconnected": {Handler: func(ctx *broker.Context) error { unexpected = append(unexpected, ctx.Params["unexpected"]); return nil }},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		c.Sim.Sleep(time.Second)
		require.NoError(t, c.Node("svc-1").Stop())
		c.Sim.Sleep(time.Millisecond)
		_, err := caller.Call("svc.where", nil)
		assert.ErrorIs(t, err, errs.ErrServiceNotFound)
	})
	assert.Equal(t, []any{false}, unexpected)
	left := c.Kinds(journal.NodeLeft)
	require.Len(t, left, 1)
	assert.Equal(t, time.Second, left[0].T)
}

func TestEmitOncePerGroupBroadcastToAll(t *testing.T) {
	c := testutil.NewSim(5)
	defer c.Close()
	got := map[string][]string{}
	listener := func(name string) *broker.Service {
		return &broker.Service{Name: name, Events: map[string]broker.Event{
			"user.*": {Handler: func(ctx *broker.Context) error {
				key := fmt.Sprintf("%s %v", ctx.Event, ctx.Params["id"])
				got[key] = append(got[key], name+"@"+ctx.Broker().NodeID())
				return nil
			}},
		}}
	}
	emitter := c.MustAddNode("emitter", broker.Options{})
	c.MustAddNode("n1", broker.Options{}, listener("mail"), listener("audit"))
	c.MustAddNode("n2", broker.Options{}, listener("mail"), listener("audit"))
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for i := range 4 {
			require.NoError(t, emitter.Emit("user.created", map[string]any{"id": i}))
		}
		require.NoError(t, emitter.Broadcast("user.removed", map[string]any{"id": 9}))
		require.NoError(t, emitter.Emit("user.updated", map[string]any{"id": 7}, broker.ToGroups("audit")))
		c.Sim.Sleep(time.Second)
	})
	for i := range 4 {
		handlers := got[fmt.Sprintf("user.created %d", i)]
		sort.Strings(handlers)
		require.Len(t, handlers, 2, "one handler per group")
		assert.Equal(t, "audit", handlers[0][:5])
		assert.Equal(t, "mail", handlers[1][:4])
	}
	// Round robin spreads each group over both nodes.
	perNode := map[string]int{}
	for i := range 4 {
		for _, h := range got[fmt.Sprintf("user.created %d", i)] {
			perNode[h]++
		}
	}
	assert.Equal(t, map[string]int{"audit@n1": 2, "audit@n2": 2, "mail@n1": 2, "mail@n2": 2}, perNode)
	b := got["user.removed 9"]
	sort.Strings(b)
	assert.Equal(t, []string{"audit@n1", "audit@n2", "mail@n1", "mail@n2"}, b)
	u := got["user.updated 7"]
	require.Len(t, u, 1)
	assert.Equal(t, "audit", u[0][:5])
}

func TestErrorsKeepEveryFieldAcrossNodes(t *testing.T) {
	c := testutil.NewSim(2)
	defer c.Close()
	caller := c.MustAddNode("node-a", broker.Options{})
	c.MustAddNode("node-b", broker.Options{}, &broker.Service{Name: "greeter", Version: "2",
		Actions: map[string]broker.Action{
			"hello": {Params: map[string]any{"name": "string", "age": "number|optional|min:18"},
				Handler: func(ctx *broker.Context) (any, error) { return "Hello " + ctx.Params["name"].(string), nil }},
			"fail": {Handler: func(ctx *broker.Context) (any, error) {
				return nil, errs.Retryable("stock service down", 503, "STOCK_DOWN", map[string]any{"sku": "A1", "n": 3})
			}},
			"plain":  {Handler: func(ctx *broker.Context) (any, error) { return nil, errors.New("boom") }},
			"panics": {Handler: func(ctx *broker.Context) (any, error) { panic("kaput") }},
		}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := caller.Call("v2.greeter.hello", map[string]any{"name": "Ann"}, broker.WithMeta(map[string]any{"user": map[string]any{"id": 7}}))
		require.NoError(t, err)
		assert.Equal(t, "Hello Ann", res)

		_, err = caller.Call("v2.greeter.fail", nil)
		var e *errs.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, errs.Error{Name: "MoleculerRetryableError", Message: "stock service down", NodeID: "node-b", Code: 503,
			Type: "STOCK_DOWN", Retryable: true, Data: map[string]any{"sku": "A1", "n": float64(3)}}, *e)

		_, err = caller.Call("v2.greeter.hello", map[string]any{"name": 5, "age": 12})
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "ValidationError", e.Name)
		assert.Equal(t, 422, e.Code)
		assert.Equal(t, "VALIDATION_ERROR", e.Type)
		assert.Equal(t, "Parameters validation error!", e.Message)
		assert.Equal(t, "node-b", e.NodeID)
		assert.False(t, e.Retryable)
		assert.Equal(t, []any{
			map[string]any{"type": "numberMin", "message": "The 'age' field must be greater than or equal to 18.", "field": "age", "actual": float64(12), "expected": float64(18), "nodeID": "node-a", "action": "v2.greeter.hello"},
			map[string]any{"type": "string", "message": "The 'name' field must be a string.", "field": "name", "actual": float64(5), "nodeID": "node-a", "action": "v2.greeter.hello"},
		}, e.Data)

		_, err = caller.Call("v2.greeter.plain", nil)
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "Error", e.Name)
		assert.Equal(t, "boom", e.Message)
		assert.Equal(t, 0, e.Code)

		_, err = caller.Call("v2.greeter.panics", nil)
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "MoleculerError", e.Name)
		assert.Equal(t, 500, e.Code)
		assert.Equal(t, "HANDLER_PANIC", e.Type)
		assert.Equal(t, "panic in action 'v2.greeter.panics': kaput", e.Message)
		// ...and the node keeps serving.
		_, err = caller.Call("v2.greeter.hello", map[string]any{"name": "Bo"})
		require.NoError(t, err)

		_, err = caller.Call("nope.nothing", nil)
		require.ErrorAs(t, err, &e)
		assert.Equal(t, errs.Error{Name: "ServiceNotFoundError", Message: "Service 'nope.nothing' is not found.", Code: 404,
			Type: "SERVICE_NOT_FOUND", Retryable: true, Data: map[string]any{"action": "nope.nothing"}}, *e)
	})
}

func TestValidationErrorOnTheWireMatchesMoleculer(t *testing.T) {
	// The RES packet carrying a ValidationError has the fields of the captured wire sample.
	c := testutil.NewSim(2)
	defer c.Close()
	var resBody []byte
	c.Net.SetInterceptor(func(d *memnetDelivery) []memnetRoute {
		if d.Type == packet.Response && d.From == "node-b" {
			resBody = d.Body
		}
		return []memnetRoute{{}}
	})
	caller := c.MustAddNode("node-a", broker.Options{})
	c.MustAddNode("node-b", broker.Options{}, &broker.Service{Name: "greeter", Version: "2", Actions: map[string]broker.Action{
		"hello": {Params: map[string]any{"name": "string"}, Handler: func(ctx *broker.Context) (any, error) { return "x", nil }},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := caller.Call("v2.greeter.hello", map[string]any{"name": 5})
		require.Error(t, err)
	})
	var res map[string]any
	require.NoError(t, json.Unmarshal(resBody, &res))
	e := res["error"].(map[string]any)
	assert.Equal(t, false, res["success"])
	assert.Equal(t, "5", res["ver"])
	assert.Equal(t, "node-b", res["sender"])
	assert.Equal(t, "ValidationError", e["name"])
	assert.Equal(t, "Parameters validation error!", e["message"])
	assert.Equal(t, "node-b", e["nodeID"])
	assert.Equal(t, float64(422), e["code"])
	assert.Equal(t, "VALIDATION_ERROR", e["type"])
	assert.Equal(t, false, e["retryable"])
	assert.Equal(t, []any{map[string]any{"type": "string", "message": "The 'name' field must be a string.", "field": "name",
		"actual": float64(5), "nodeID": "node-a", "action": "v2.greeter.hello"}}, e["data"])
}

func TestDeadlockNamesPendingCalls(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	caller := c.MustAddNode("gateway", broker.Options{})
	c.MustAddNode("order", broker.Options{}, &broker.Service{Name: "order", Actions: map[string]broker.Action{
		// Waits for an event that never comes, with no timeout anywhere.
		"create": {Handler: func(ctx *broker.Context) (any, error) { return nil, ctx.WaitDone() }},
	}})
	err := c.Sim.Run(func() {
		require.NoError(t, c.Start())
		_, _ = caller.Call("order.create", nil)
	})
	var dl *rt.DeadlockError
	require.ErrorAs(t, err, &dl)
	assert.Contains(t, dl.Pending, "main: waiting for response to order.create from order")
	assert.Contains(t, dl.Error(), "deadline of order.create")
	// Heartbeats kept virtual time moving; the run ended after the idle limit, not never.
	assert.InDelta(t, float64(rt.DefaultIdleLimit), float64(dl.At.Sub(rt.Epoch)), float64(10*time.Second))
}

func TestPreferLocalStrategiesAndPinning(t *testing.T) {
	for _, strategy := range []string{"RoundRobin", "Random", "CpuUsage", "Latency"} {
		t.Run(strategy, func(t *testing.T) {
			c := testutil.NewSim(9)
			defer c.Close()
			opts := broker.Options{Strategy: strategy}
			local := c.MustAddNode("local", opts, echoService("svc"))
			c.MustAddNode("r1", opts, echoService("svc"))
			c.MustAddNode("r2", opts, echoService("svc"))
			remoteOnly := c.MustAddNode("client", opts)
			c.Run(t, func() {
				require.NoError(t, c.Start())
				for range 5 {
					res, err := local.Call("svc.where", nil)
					require.NoError(t, err)
					assert.Equal(t, "local", res, "preferLocal")
				}
				seen := map[any]int{}
				for range 60 {
					res, err := remoteOnly.Call("svc.where", nil)
					require.NoError(t, err)
					seen[res]++
				}
				if strategy == "RoundRobin" {
					assert.Equal(t, map[any]int{"local": 20, "r1": 20, "r2": 20}, seen)
				} else {
					assert.NotEmpty(t, seen)
				}
				res, err := remoteOnly.Call("svc.where", nil, broker.WithNodeID("r2"))
				require.NoError(t, err)
				assert.Equal(t, "r2", res)
				_, err = remoteOnly.Call("svc.where", nil, broker.WithNodeID("ghost"))
				assert.ErrorIs(t, err, errs.ErrServiceNotFound)
			})
		})
	}
}

func TestMetaMergesBackAndMaxCallLevel(t *testing.T) {
	c := testutil.NewSim(4)
	defer c.Close()
	a := c.MustAddNode("a", broker.Options{MaxCallLevel: 3}, &broker.Service{Name: "outer", Actions: map[string]broker.Action{
		"run": {Handler: func(ctx *broker.Context) (any, error) {
			_, err := ctx.Call("inner.run", nil)
			return ctx.Meta["stamp"], err
		}},
		"recurse": {Handler: func(ctx *broker.Context) (any, error) { return ctx.Call("outer.recurse", nil) }},
	}})
	c.MustAddNode("b", broker.Options{}, &broker.Service{Name: "inner", Actions: map[string]broker.Action{
		"run": {Handler: func(ctx *broker.Context) (any, error) {
			assert.Equal(t, "outer", ctx.Caller)
			assert.Equal(t, 2, ctx.Level)
			assert.Equal(t, "t1", ctx.Meta["tenant"])
			ctx.Meta["stamp"] = "from-inner"
			return nil, nil
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := a.Call("outer.run", nil, broker.WithMeta(map[string]any{"tenant": "t1"}))
		require.NoError(t, err)
		assert.Equal(t, "from-inner", res)
		_, err = a.Call("outer.recurse", nil)
		var e *errs.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "MaxCallLevelError", e.Name)
		assert.Equal(t, "Request level is reached the limit (4) on 'a' node.", e.Message)
	})
}

func TestDependenciesWaitForRemoteServices(t *testing.T) {
	c := testutil.NewSim(6)
	defer c.Close()
	var startedAt time.Duration
	c.MustAddNode("a", broker.Options{}, &broker.Service{Name: "order", Dependencies: []string{"product"},
		Started: func(s *broker.ServiceInstance) error { startedAt = c.Sim.Elapsed(); return nil }})
	pb := c.MustAddNode("b", broker.Options{})
	c.Run(t, func() {
		c.Sim.Go("start a", func() { _ = c.Node("a").Start() })
		require.NoError(t, pb.Start())
		c.Sim.Sleep(3 * time.Second)
		assert.Zero(t, startedAt, "order must wait for product")
		pb.MustAddService(echoService("product"))
		c.Sim.Sleep(time.Second)
	})
	assert.Equal(t, 3*time.Second, startedAt)
}

func TestMalformedPacketIsDroppedAndJournaled(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	b := c.MustAddNode("a", broker.Options{}, echoService("svc"))
	rogue := c.Net.Transport()
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, rogue.Connect("rogue", func(packet.Message) {}))
		require.NoError(t, rogue.Send(packet.Message{Type: packet.Request, Target: "a", Body: []byte(`{"ver":"5","sender":"rogue","id":`)}))
		require.NoError(t, rogue.Send(packet.Message{Type: packet.Request, Target: "a", Body: []byte(`{"ver":"4","sender":"rogue","id":"x","action":"svc.where"}`)}))
		require.NoError(t, rogue.Send(packet.Message{Type: packet.Request, Target: "a", Body: []byte(`{"ver":"5","sender":"rogue"}`)}))
		c.Sim.Sleep(time.Millisecond)
		res, err := b.Call("svc.where", nil)
		require.NoError(t, err)
		assert.Equal(t, "a", res)
	})
	bad := c.Kinds(journal.PacketBad)
	require.Len(t, bad, 3)
	assert.Contains(t, bad[0].Str("error"), "InvalidPacketDataError")
	assert.Contains(t, bad[1].Str("error"), "ProtocolVersionMismatchError")
	assert.Contains(t, bad[2].Str("error"), "request without id or action")
}

// TestSimulatedHourOfHeartbeats is the speed acceptance: one virtual hour of five nodes
// heartbeating every 5 s. The ratio is logged, not asserted (wall-clock assertions flake).
func TestSimulatedHourOfHeartbeats(t *testing.T) {
	c := testutil.NewSim(11)
	defer c.Close()
	for i := range 5 {
		c.MustAddNode(fmt.Sprintf("n%d", i), broker.Options{HeartbeatInterval: 5 * time.Second}, echoService(fmt.Sprintf("s%d", i)))
	}
	start := time.Now() // wall clock only for the logged ratio
	c.Run(t, func() {
		require.NoError(t, c.Start())
		c.Sim.Sleep(time.Hour)
		for i := range 5 {
			assert.Len(t, c.Node(fmt.Sprintf("n%d", i)).Nodes(), 5, "no node was lost")
		}
	})
	wall := time.Since(start)
	assert.Empty(t, c.Kinds(journal.NodeLost))
	t.Logf("1h of virtual time, 5 nodes, heartbeat 5s: wall %s, ratio %.0fx, %d scheduler steps", wall, float64(time.Hour)/float64(wall), c.Sim.Steps())
}
