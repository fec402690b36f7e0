package interop_test

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// goService is the Go twin of peer.js's "js" service.
func goService(id string) *broker.Service {
	return &broker.Service{Name: "go", Actions: map[string]broker.Action{
		"echo": {Params: map[string]any{"text": "string", "n": "number"}, Handler: func(ctx *broker.Context) (any, error) {
			metaIn := maps.Clone(ctx.Meta)
			ctx.Meta["fromGo"] = map[string]any{"node": id, "n": ctx.Params["n"]}
			return map[string]any{"text": ctx.Params["text"], "n": ctx.Params["n"], "node": id, "caller": ctx.NodeID, "metaIn": metaIn}, nil
		}},
		"validate": {Params: map[string]any{"id": "number"}, Handler: func(ctx *broker.Context) (any, error) {
			return ctx.Params["id"], nil
		}},
		"refuse": {Handler: func(ctx *broker.Context) (any, error) {
			return nil, &errs.Error{Name: "OutOfStockError", Message: "no stock left", Code: 409, Type: "OUT_OF_STOCK",
				Data: map[string]any{"sku": "A-1", "left": 0.0}}
		}},
	}}
}

// probe makes a nested call from Go, so meta the callee sets merges back into the probe's
// context, which it returns with the result.
var probe = &broker.Service{Name: "probe", Actions: map[string]broker.Action{
	"call": {Handler: func(ctx *broker.Context) (any, error) {
		meta, _ := ctx.Params["meta"].(map[string]any)
		maps.Copy(ctx.Meta, meta)
		params, _ := ctx.Params["params"].(map[string]any)
		res, err := ctx.Call(ctx.Params["action"].(string), params)
		if err != nil {
			return nil, err
		}
		return map[string]any{"result": res, "meta": ctx.Meta}, nil
	}},
}}

func goErr(t *testing.T, err error) errs.Error {
	t.Helper()
	var e *errs.Error
	require.True(t, errors.As(err, &e), "error %T %v", err, err)
	e2 := *e
	e2.Stack = ""
	return e2
}

// Go calls JS and JS calls Go, with params and meta; the meta each callee sets is merged back
// into the caller's context.
func TestCallsBothWays(t *testing.T) {
	srv := startServer(t)
	g := startGo(t, srv, "go-a", nil, goService("go-a"), probe)
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "js.echo")

	meta := map[string]any{"user": map[string]any{"id": 7.0, "roles": []any{"admin"}}, "tenant": "t1"}
	res, err := g.Call("probe.call", map[string]any{"action": "js.echo", "params": map[string]any{"text": "héllo", "n": 3.5}, "meta": meta})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"result": map[string]any{"text": "héllo", "n": 3.5, "node": "js-1", "caller": "go-a", "metaIn": meta},
		"meta":   map[string]any{"user": meta["user"], "tenant": "t1", "fromJS": map[string]any{"node": "js-1", "n": 3.5}},
	}, res)

	// JS validates what Go sends: a wrong type fails there (see TestErrorsBothWays), a right
	// one passes.
	got := jsCall(t, g, js, "go.echo", map[string]any{"text": "hi", "n": 42.0}, meta)
	require.Nil(t, got.Error)
	require.Equal(t, map[string]any{"text": "hi", "n": 42.0, "node": "go-a", "caller": "js-1", "metaIn": meta}, got.Result)
	require.Equal(t, map[string]any{"user": meta["user"], "tenant": "t1", "fromGo": map[string]any{"node": "go-a", "n": 42.0}}, got.Meta)
}

// A ValidationError and a custom error cross both ways with name, message, code, type, data
// and nodeID; each side rebuilds the other's ValidationError as its own.
func TestErrorsBothWays(t *testing.T) {
	srv := startServer(t)
	g := startGo(t, srv, "go-a", nil, goService("go-a"))
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "js.validate")

	// JS's errors seen by Go.
	_, err := g.Call("js.validate", map[string]any{"id": "x"})
	require.Equal(t, errs.Error{Name: errs.NameValidation, Message: "Parameters validation error!", NodeID: "js-1", Code: 422,
		Type: "VALIDATION_ERROR", Data: []any{map[string]any{"type": "number", "message": "The 'id' field must be a number.",
			"field": "id", "actual": "x", "nodeID": "go-a", "action": "js.validate"}}}, goErr(t, err))
	require.True(t, errors.Is(err, errs.ErrValidation), "a JS ValidationError is a Go ValidationError")

	_, err = g.Call("js.refuse", map[string]any{"n": 2.0})
	require.Equal(t, errs.Error{Name: errs.NameMoleculerError, Message: "JS refuses", NodeID: "js-1", Code: 409, Type: "JS_REFUSES",
		Data: map[string]any{"why": "test", "n": 2.0}}, goErr(t, err))

	// Go's errors seen by JS.
	got := jsCall(t, g, js, "go.validate", map[string]any{"id": "x"}, nil)
	require.NotNil(t, got.Error)
	require.Equal(t, jsError{Name: "ValidationError", Message: "Parameters validation error!", Code: 422, Type: "VALIDATION_ERROR",
		Data: got.Error.Data, NodeID: "go-a", IsValidationError: true, IsMoleculerError: true}, *got.Error)
	require.Equal(t, []any{map[string]any{"type": "number", "field": "id", "actual": "x", "message": "The 'id' field must be a number.",
		"nodeID": "js-1", "action": "go.validate"}},
		got.Error.Data)

	got = jsCall(t, g, js, "go.refuse", nil, nil)
	require.Equal(t, &jsError{Name: "OutOfStockError", Message: "no stock left", Code: 409, Type: "OUT_OF_STOCK",
		Data: map[string]any{"sku": "A-1", "left": 0.0}, NodeID: "go-a"}, got.Error)
}

// deliveries counts Go-side event deliveries by service, event id and broadcast.
type deliveries struct {
	mu sync.Mutex
	n  map[delivery]int
}

type delivery struct {
	Service string
	ID      float64
}

func (d *deliveries) subscriber(service string) *broker.Service {
	handler := func(ctx *broker.Context) error {
		id, _ := ctx.Params["id"].(float64)
		d.mu.Lock()
		d.n[delivery{service, id}]++
		d.mu.Unlock()
		return nil
	}
	return &broker.Service{Name: service, Events: map[string]broker.Event{"order.created": {Handler: handler}, "barrier": {Handler: handler}}}
}

func (d *deliveries) snapshot() map[delivery]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.n)
}

// Emit delivers once per group across both languages ("billing" is served by Go and JS, one
// group), emit with groups only to those, broadcast to every subscriber, in both directions.
func TestEventsBothWays(t *testing.T) {
	srv := startServer(t)
	d := &deliveries{n: map[delivery]int{}}
	g := startGo(t, srv, "go-a", nil, d.subscriber("billing"), d.subscriber("audit"))
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "ctl.emit")
	// js-1 must know go-a's subscriptions before it emits.
	eventually(t, func() bool {
		list, err := tryCtl[[]map[string]any](g, js, "services", nil)
		if err != nil {
			return false
		}
		for _, s := range list {
			if s["name"] == "audit" && s["nodeID"] == "go-a" {
				return true
			}
		}
		return false
	}, "js-1 discovers go-a's audit")

	require.NoError(t, g.Emit("order.created", map[string]any{"id": 1.0}))
	require.NoError(t, g.Emit("order.created", map[string]any{"id": 2.0}, broker.ToGroups("mailer")))
	require.NoError(t, g.Broadcast("order.created", map[string]any{"id": 3.0}))
	ctl[bool](t, g, js, "emit", map[string]any{"event": "order.created", "data": map[string]any{"id": 4}})
	ctl[bool](t, g, js, "emit", map[string]any{"event": "order.created", "data": map[string]any{"id": 5}, "groups": []string{"audit"}})
	ctl[bool](t, g, js, "broadcast", map[string]any{"event": "order.created", "data": map[string]any{"id": 6}})
	// A broadcast from each side after the others: once both arrive everywhere, any late
	// duplicate of the events above would have arrived before (one sender, one subject, in order).
	require.NoError(t, g.Broadcast("barrier", map[string]any{"id": 100.0}))
	ctl[bool](t, g, js, "broadcast", map[string]any{"event": "barrier", "data": map[string]any{"id": 101}})

	type jsEvent struct {
		Kind, Service, Event, From string
		ID                         float64
		Broadcast                  bool
	}
	jsSeen := func() map[delivery]int {
		out := map[delivery]int{}
		list, _ := tryCtl[[]jsEvent](g, js, "seen", nil)
		for _, e := range list {
			if e.Kind == "event" {
				out[delivery{e.Service, e.ID}]++
			}
		}
		return out
	}
	barriers := func(m map[delivery]int, services ...string) bool {
		for _, s := range services {
			if m[delivery{s, 100}] != 1 || m[delivery{s, 101}] != 1 {
				return false
			}
		}
		return true
	}
	eventually(t, func() bool { return barriers(d.snapshot(), "billing", "audit") && barriers(jsSeen(), "mailer") },
		"barrier broadcasts reach every subscriber")

	goGot, jsGot := d.snapshot(), jsSeen()
	billing := func(id float64) int { return goGot[delivery{"billing", id}] + jsGot[delivery{"billing", id}] }
	// Emit, both directions: billing once (Go or JS), mailer once, audit once.
	for _, id := range []float64{1, 4} {
		require.Equal(t, 1, billing(id), "emit %v: billing once across Go and JS", id)
		require.Equal(t, 1, jsGot[delivery{"mailer", id}], "emit %v: mailer", id)
		require.Equal(t, 1, goGot[delivery{"audit", id}], "emit %v: audit", id)
	}
	// Emit to one group: only that group.
	require.Equal(t, 1, jsGot[delivery{"mailer", 2}])
	require.Zero(t, billing(2)+goGot[delivery{"audit", 2}])
	require.Equal(t, 1, goGot[delivery{"audit", 5}])
	require.Zero(t, billing(5)+jsGot[delivery{"mailer", 5}])
	// Broadcast, both directions: every subscriber once.
	for _, id := range []float64{3, 6} {
		require.Equal(t, 1, goGot[delivery{"billing", id}], "broadcast %v: Go billing", id)
		require.Equal(t, 1, jsGot[delivery{"billing", id}], "broadcast %v: JS billing", id)
		require.Equal(t, 1, jsGot[delivery{"mailer", id}], "broadcast %v: mailer", id)
		require.Equal(t, 1, goGot[delivery{"audit", id}], "broadcast %v: audit", id)
	}
	total := 0
	for k, v := range goGot {
		if k.ID < 100 {
			total += v
		}
	}
	for k, v := range jsGot {
		if k.ID < 100 {
			total += v
		}
	}
	require.Equal(t, 3+3+1+1+4+4, total, "no delivery beyond those")
}

// Each side's registry lists the other's services and actions, params included.
func TestDiscoveryBothWays(t *testing.T) {
	srv := startServer(t)
	g := startGo(t, srv, "go-a", nil, goService("go-a"))
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "js.echo")

	// Go's registry: js-1 with its services, actions and params, as its INFO gave them.
	var jsInfo map[string]map[string]any
	for _, n := range g.Nodes() {
		if n.ID != "js-1" {
			continue
		}
		require.True(t, n.Available)
		jsInfo = map[string]map[string]any{}
		for _, s := range n.Services {
			for name, a := range s.Actions {
				jsInfo[name] = a.Params
			}
		}
	}
	require.NotNil(t, jsInfo, "go-a knows js-1")
	require.Equal(t, map[string]any{"text": "string", "n": "number"}, jsInfo["js.echo"])
	require.Equal(t, map[string]any{"id": "number"}, jsInfo["js.validate"])
	require.Contains(t, jsInfo, "ctl.call")

	// Moleculer's registry: go-a's service with its actions and their params schema.
	type action struct {
		Name   string         `json:"name"`
		Params map[string]any `json:"params"`
	}
	type service struct {
		Name    string            `json:"name"`
		NodeID  string            `json:"nodeID"`
		Actions map[string]action `json:"actions"`
	}
	var goSvc *service
	for _, s := range ctl[[]service](t, g, js, "services", nil) {
		if s.Name == "go" {
			goSvc = &s
		}
	}
	require.NotNil(t, goSvc, "js-1 lists the go service")
	require.Equal(t, "go-a", goSvc.NodeID)
	require.Equal(t, map[string]action{
		"go.echo":     {Name: "go.echo", Params: map[string]any{"text": "string", "n": "number"}},
		"go.validate": {Name: "go.validate", Params: map[string]any{"id": "number"}},
		"go.refuse":   {Name: "go.refuse"},
	}, goSvc.Actions)
}

// kill -9 of the JS process: no DISCONNECT, Go notices after heartbeatTimeout
// ($node.disconnected, unexpected: true) and the JS endpoints are gone.
func TestJSKilledIsLostByGo(t *testing.T) {
	srv := startServer(t)
	g := startGo(t, srv, "go-a", nil)
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "js.echo")

	js.kill()
	eventually(t, func() bool { _, ok := g.lost("js-1"); return ok }, "go-a loses js-1")
	unexpected, _ := g.lost("js-1")
	require.True(t, unexpected, "a killed node's loss is unexpected")
	require.Empty(t, g.Endpoints("js.echo"))
	_, err := g.Call("js.echo", map[string]any{"text": "x", "n": 1.0})
	require.Equal(t, errs.NameServiceNotFound, goErr(t, err).Name)
}

// Go's Stop sends DISCONNECT: Moleculer sees a graceful leave (unexpected: false) at once.
func TestGoStopIsGracefulForJS(t *testing.T) {
	srv := startServer(t)
	a := startGo(t, srv, "go-a", nil, goService("go-a"))
	b := startGo(t, srv, "go-b", nil)
	js := startJS(t, srv, "js-1")
	awaitPeer(t, b, "js-1", "ctl.seen")
	type seen struct {
		Kind, Node string
		Unexpected bool
	}
	knows := func(id string) bool {
		list, _ := tryCtl[[]struct {
			ID        string
			Available bool
		}](b, js, "nodes", nil)
		for _, n := range list {
			if n.ID == id {
				return n.Available
			}
		}
		return false
	}
	eventually(t, func() bool { return knows("go-a") }, "js-1 discovers go-a")

	require.NoError(t, a.Stop())
	var got []seen
	eventually(t, func() bool {
		got = nil
		list, _ := tryCtl[[]seen](b, js, "seen", nil)
		for _, e := range list {
			if e.Kind == "node.disconnected" {
				got = append(got, e)
			}
		}
		return len(got) > 0
	}, "js-1 sees go-a leave")
	require.Equal(t, []seen{{Kind: "node.disconnected", Node: "go-a", Unexpected: false}}, got)
	require.False(t, knows("go-a"))
}

// A Go caller's breaker opens for a JS endpoint that keeps failing, and calls move to the
// healthy Go endpoint of the same action.
func TestBreakerMovesCallsOffFailingJS(t *testing.T) {
	srv := startServer(t)
	healthy := &broker.Service{Name: "shared", Actions: map[string]broker.Action{
		"work": {Handler: func(ctx *broker.Context) (any, error) { return "go-b", nil }},
	}}
	startGo(t, srv, "go-b", nil, healthy)
	caller := startGo(t, srv, "caller", func(o *broker.Options) {
		o.CircuitBreaker = broker.CircuitBreakerOptions{Enabled: broker.Bool(true), Threshold: broker.Float(0.5),
			MinRequestCount: broker.Int(3), WindowTime: broker.Dur(time.Hour), HalfOpenTime: broker.Dur(time.Hour)}
	})
	js := startJS(t, srv, "js-1")
	awaitPeer(t, caller, "go-b", "shared.work")
	awaitPeer(t, caller, "js-1", "shared.work")

	// RoundRobin over [go-b, js-1] (sorted by node ID): js-1 fails every other call until its
	// third failure opens its breaker (3 requests, rate 1 >= 0.5); then only go-b is called.
	var outcomes []string
	for range 16 {
		res, err := caller.Call("shared.work", nil)
		if err != nil {
			e := goErr(t, err)
			outcomes = append(outcomes, e.Name+"/"+e.Type+"@"+e.NodeID)
			continue
		}
		outcomes = append(outcomes, res.(string))
	}
	fail := "MoleculerError/JS_FAILING@js-1"
	require.Equal(t, []string{"go-b", fail, "go-b", fail, "go-b", fail,
		"go-b", "go-b", "go-b", "go-b", "go-b", "go-b", "go-b", "go-b", "go-b", "go-b"}, outcomes)
	require.Equal(t, map[string]float64{"shared.work": 3}, ctl[map[string]float64](t, caller, js, "runs", nil))

	var transitions []string
	for _, e := range caller.j.Entries() {
		if e.Kind == journal.BreakerChange {
			transitions = append(transitions, e.Str("peer")+":"+e.Str("action")+":"+e.Str("from")+">"+e.Str("to"))
		}
	}
	require.Equal(t, []string{"js-1:shared.work:closed>open"}, transitions)
}

// Cache keys are Moleculer's for the same params and meta: the keys JS stores for Go's calls
// are the ones Faultline computes, and the keys Faultline stores for JS's calls are the ones
// Moleculer computes, on all params, on given params and meta paths, and hashed past
// maxParamsLength.
func TestCacheKeysMatchMoleculer(t *testing.T) {
	srv := startServer(t)
	var runs sync.Map
	count := func(name string) broker.Handler {
		return func(ctx *broker.Context) (any, error) {
			n, _ := runs.LoadOrStore(name, new(int))
			*n.(*int)++
			return map[string]any{"run": float64(*n.(*int))}, nil
		}
	}
	cacher := cache.NewMemory(rt.NewReal())
	g := startGo(t, srv, "go-a", func(o *broker.Options) {
		o.Cacher = cacher
	}, &broker.Service{Name: "gocache", Actions: map[string]broker.Action{
		"find": {Cache: &broker.CacheOptions{}, Handler: count("find")},
		"get":  {Cache: &broker.CacheOptions{Keys: []string{"id", "#user.role"}}, Handler: count("get")},
		"long": {Cache: &broker.CacheOptions{MaxParamsLength: broker.Int(60)}, Handler: count("long")},
	}})
	js := startJS(t, srv, "js-1")
	awaitPeer(t, g, "js-1", "cached.find")

	admin := map[string]any{"user": map[string]any{"role": "admin"}}
	type keyCase struct {
		action       string
		params, meta map[string]any
		keys         []string
		maxLen       int // the cacher's maxParamsLength (0: never hashed)
	}
	cases := []keyCase{
		{"find", map[string]any{"id": 5.0}, nil, nil, 0},
		{"find", map[string]any{"id": "5"}, nil, nil, 0},
		{"find", map[string]any{"limit": 10.0, "offset": 30.0, "sort": []any{"-createdAt", "title"},
			"query": map[string]any{"status": "published", "tags": []any{"go", "chaos"}}}, nil, nil, 0},
		{"find", map[string]any{"a": nil, "b": true, "c": 1.5, "d": "x|y", "e": 1e21, "f": 0.1}, nil, nil, 0},
		{"find", nil, nil, nil, 0},
		{"get", map[string]any{"id": 5.0, "other": 1.0}, admin, []string{"id", "#user.role"}, 0},
		{"get", map[string]any{"id": "7"}, nil, []string{"id", "#user.role"}, 0},
	}

	// Go calls JS's cached actions: JS stores Moleculer's keys; Faultline computes the same.
	var want []string
	for _, c := range cases {
		_, err := g.Call("cached."+c.action, c.params, broker.WithMeta(c.meta))
		require.NoError(t, err)
		want = append(want, cache.Key("cached."+c.action, c.params, c.meta, c.keys, 0))
	}
	slices.Sort(want)
	require.Equal(t, want, ctl[[]string](t, g, js, "cacheKeys", nil))
	require.Contains(t, want, `cached.get:5|"admin"`)

	// JS calls Go's cached actions: Faultline stores the key Moleculer computes for that call,
	// and a second call is a hit.
	cases = append(cases, keyCase{"long", map[string]any{"limit": 10.0, "offset": 30.0, "sort": []any{"-createdAt", "title"},
		"query": map[string]any{"status": "published", "tags": []any{"go", "chaos"}}}, nil, nil, 60})
	want = nil
	for _, c := range cases {
		keys := c.keys
		if keys == nil {
			keys = []string{}
		}
		got := jsCall(t, g, js, "gocache."+c.action, c.params, c.meta)
		require.Nil(t, got.Error)
		first := got.Result
		got = ctl[jsCallResult](t, g, js, "call", map[string]any{"action": "gocache." + c.action, "params": c.params, "meta": c.meta, "cacheKeys": keys, "maxParamsLength": c.maxLen})
		require.Equal(t, first, got.Result, "second call of gocache.%s %v is a hit", c.action, c.params)
		want = append(want, got.CacheKey)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	stored, err := cacher.Keys(t.Context())
	require.NoError(t, err)
	require.Equal(t, want, stored)
	require.Contains(t, stored, "gocache.long:limit|10|offset|eRJOd9OUIYzJC798AfjxRj7LB/Il2/aVEkprJbKCoCo=")
}
