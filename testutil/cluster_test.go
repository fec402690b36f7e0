package testutil_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/testutil"
)

func TestBuildRejectsBadSpecs(t *testing.T) {
	for name, spec := range map[string]testutil.Spec{
		"unknown service": {Nodes: []testutil.NodeSpec{{ID: "a", Services: []string{"nope"}}}},
		"duplicate id":    {Nodes: []testutil.NodeSpec{{ID: "a"}, {ID: "a"}}},
		"no id":           {Nodes: []testutil.NodeSpec{{}}},
		"unknown cacher":  {Cacher: "redis-ish"},
	} {
		_, err := testutil.Build(spec)
		assert.Error(t, err, name)
	}
}

func TestCatalogNames(t *testing.T) {
	for _, n := range []string{"user", "product", "order", "email", "notification"} {
		assert.Contains(t, catalog.Names(), n)
	}
}

func productCount(t *testing.T, c *testutil.Cluster) int {
	n, err := c.Adapter(product.Model).Count(context.Background(), nil)
	require.NoError(t, err)
	return n
}

// TestCrashAndRestart: a crashed node loses its memory (its cache), not the data; the
// restarted node is a new instance with the same ID and services, and serves again.
func TestCrashAndRestart(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Seed: 1, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
		{ID: "client"},
		{ID: "p1", Services: []string{"product"}},
		{ID: "p2", Services: []string{"product"}},
	}})
	assert.Equal(t, []string{"p1", "p2"}, c.NodesRunning("product"))
	c.Run(t, func() {
		require.NoError(t, c.Start())
		cl := c.Node("client")
		_, err := cl.Call("product.create", map[string]any{"name": "Widget", "price": 1, "stock": 5})
		require.NoError(t, err)
		_, err = cl.Call("product.get", map[string]any{"id": 1}, broker.WithNodeID("p1"))
		require.NoError(t, err)
		keys, err := c.Node("p1").Cacher().Keys(context.Background())
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		oldInstance := instance(c.Node("p1"))

		c.Crash("p1")
		assert.False(t, c.Node("p1").Started())
		_, err = cl.Call("product.get", map[string]any{"id": 1}, broker.WithNodeID("p2"))
		require.NoError(t, err)

		require.NoError(t, c.Restart("p1"))
		assert.NotEqual(t, oldInstance, instance(c.Node("p1")))
		keys, err = c.Node("p1").Cacher().Keys(context.Background())
		require.NoError(t, err)
		assert.Empty(t, keys, "a restarted node's memory cacher is empty")
		res, err := cl.Call("product.get", map[string]any{"id": 1}, broker.WithNodeID("p1"))
		require.NoError(t, err)
		var p map[string]any
		require.NoError(t, broker.Decode(res, &p))
		assert.Equal(t, "Widget", p["name"], "the data survived the crash")
	})
	assert.Equal(t, 1, productCount(t, c))
	started := 0
	for _, e := range c.Kinds(journal.NodeStarted) {
		if e.Node == "p1" {
			started++
		}
	}
	assert.Equal(t, 2, started)
}

func instance(b *broker.Broker) string {
	for _, n := range b.Nodes() {
		if n.Local {
			return n.InstanceID
		}
	}
	return ""
}

func TestSharedCacherSurvivesRestart(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Seed: 2, Cacher: testutil.CacherShared, Nodes: []testutil.NodeSpec{
		{ID: "p1", Services: []string{"product"}},
		{ID: "p2", Services: []string{"product"}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		assert.Same(t, c.Node("p1").Cacher(), c.Node("p2").Cacher())
		_, err := c.Node("p1").Call("product.create", map[string]any{"name": "Widget", "price": 1})
		require.NoError(t, err)
		c.Sleep(time.Second) // every node's cache.clean has run
		_, err = c.Node("p1").Call("product.get", map[string]any{"id": 1})
		require.NoError(t, err)
		require.NoError(t, c.Restart("p1"))
		keys, err := c.Node("p1").Cacher().Keys(context.Background())
		require.NoError(t, err)
		assert.NotEmpty(t, keys)
	})
}

func TestCustomServicesAndAddNode(t *testing.T) {
	echo := func(*catalog.Resources) (*broker.Service, error) {
		return &broker.Service{Name: "echo", Actions: map[string]broker.Action{
			"say": {Handler: func(ctx *broker.Context) (any, error) { return ctx.Params["text"], nil }},
		}}, nil
	}
	c := testutil.MustBuild(t, testutil.Spec{Seed: 3, Services: map[string]catalog.Constructor{"echo": echo},
		Nodes: []testutil.NodeSpec{{ID: "a"}}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := c.AddNode(testutil.NodeSpec{ID: "b", Services: []string{"echo"}})
		require.NoError(t, err)
		res, err := c.Node("a").Call("echo.say", map[string]any{"text": "hi"})
		require.NoError(t, err)
		assert.Equal(t, "hi", res)
	})
	assert.Equal(t, []string{"a", "b"}, c.NodeIDs())
}

// TestRealRuntime runs the order flow on the wall-clock runtime.
func TestRealRuntime(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
		{ID: "gw", Options: broker.Options{RequestTimeout: 10 * time.Second}},
		{ID: "users", Services: []string{"user", "email"}},
		{ID: "shop", Services: []string{"product", "order", "notification"}},
	}})
	assert.Nil(t, c.Sim)
	c.Run(t, func() {
		require.NoError(t, c.Start())
		gw := c.Node("gw")
		_, err := gw.Call("product.create", map[string]any{"name": "Widget", "price": 2.5, "stock": 3})
		require.NoError(t, err)
		_, err = gw.Call("user.register", map[string]any{"email": "ada@example.com", "password": "pa55word", "name": "Ada"})
		require.NoError(t, err)
		res, err := gw.Call("user.login", map[string]any{"email": "ada@example.com", "password": "pa55word"})
		require.NoError(t, err)
		var login struct{ Token string }
		require.NoError(t, broker.Decode(res, &login))
		res, err = gw.Call("order.create", map[string]any{"productId": 1, "quantity": 2}, broker.WithMeta(map[string]any{"token": login.Token}))
		require.NoError(t, err)
		var o struct{ TotalPrice float64 }
		require.NoError(t, broker.Decode(res, &o))
		assert.Equal(t, 5.0, o.TotalPrice)
		require.Eventually(t, func() bool {
			return c.Outbox("email").Count("order.created") == 1 && c.Outbox("notification").Count("order.created") == 1
		}, 5*time.Second, 5*time.Millisecond)
	})
	p, err := c.Adapter(product.Model).FindByID(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, int64(1), p["stock"])
}

func echoService() *broker.Service {
	return &broker.Service{Name: "echo", Actions: map[string]broker.Action{
		"say": {Handler: func(ctx *broker.Context) (any, error) { return ctx.Params["text"], nil }},
	}}
}

// TestLateJoinAndWaitForServices: a node added after Start joins, and WaitForServices returns
// once every running node sees the service — at the instant discovery completes, not later.
func TestLateJoinAndWaitForServices(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Seed: 4, Network: testutil.FixedLatency(3 * time.Millisecond),
		Nodes: []testutil.NodeSpec{{ID: "a"}, {ID: "b"}}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		joinedAt := c.Elapsed()
		c.Go("late joiner", func() {
			c.Sleep(time.Second)
			_, err := c.AddNode(testutil.NodeSpec{ID: "late", Define: func() []*broker.Service { return []*broker.Service{echoService()} }})
			assert.NoError(t, err)
		})
		require.NoError(t, c.WaitForServices("echo"))
		// The late node starts at +1s; its INFO reaches a and b one latency later.
		assert.Equal(t, joinedAt+time.Second+3*time.Millisecond, c.Elapsed())
		res, err := c.Node("a").Call("echo.say", map[string]any{"text": "hi"})
		require.NoError(t, err)
		assert.Equal(t, "hi", res)
	})
	assert.Equal(t, []string{"a", "b", "late"}, c.NodeIDs())
}

func TestWaitForServicesTimesOut(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Seed: 1, Nodes: []testutil.NodeSpec{{ID: "a"}}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		start := c.Elapsed()
		err := c.WaitForServices("nobody")
		assert.EqualError(t, err, "testutil: services [nobody] did not become available on a within 1m0s")
		assert.GreaterOrEqual(t, c.Elapsed()-start, time.Minute)
	})
}

// TestDefaultNetworkIsRealistic: with no network spec, every packet takes 0.5–2 ms one way,
// drawn from the seed: the same seed gives the same delays, another seed others.
func TestDefaultNetworkIsRealistic(t *testing.T) {
	delays := func(seed uint64) []time.Duration {
		c := testutil.MustBuild(t, testutil.Spec{Seed: seed, Nodes: []testutil.NodeSpec{
			{ID: "a"}, {ID: "b", Define: func() []*broker.Service { return []*broker.Service{echoService()} }},
		}})
		var out []time.Duration
		c.Run(t, func() {
			require.NoError(t, c.Start())
			for range 20 {
				t0 := c.Elapsed()
				_, err := c.Node("a").Call("echo.say", map[string]any{"text": "x"})
				require.NoError(t, err)
				out = append(out, c.Elapsed()-t0) // request + response
			}
		})
		return out
	}
	first := delays(7)
	for _, d := range first {
		assert.GreaterOrEqual(t, d, 2*testutil.DefaultLatency)
		assert.Less(t, d, 2*(testutil.DefaultLatency+testutil.DefaultJitter))
	}
	assert.Equal(t, first, delays(7), "replayable from the seed")
	assert.NotEqual(t, first, delays(8))
	lat, jit := testutil.NetworkSpec{}.Effective()
	assert.Equal(t, []time.Duration{500 * time.Microsecond, 1500 * time.Microsecond}, []time.Duration{lat, jit})
	lat, jit = testutil.Ideal.Effective()
	assert.Equal(t, []time.Duration{0, 0}, []time.Duration{lat, jit})
}

// TestPauseResumeAndPartition drive node and network faults through the cluster API: a paused
// node is lost after the heartbeat timeout and rejoins on resume; a partition cuts calls
// across it until it heals.
func TestPauseResumeAndPartition(t *testing.T) {
	hb := broker.Options{HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second}
	c := testutil.MustBuild(t, testutil.Spec{Seed: 2, Network: testutil.Ideal, Nodes: []testutil.NodeSpec{
		{ID: "a", Options: hb},
		{ID: "b", Options: hb, Define: func() []*broker.Service { return []*broker.Service{echoService()} }},
	}})
	available := func() bool {
		for _, n := range c.Node("a").Nodes() {
			if n.ID == "b" {
				return n.Available
			}
		}
		return false
	}
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, c.Pause("b"))
		c.Sleep(5 * time.Second)
		assert.False(t, available(), "lost while paused")
		require.NoError(t, c.Resume("b"))
		require.NoError(t, c.WaitForServices("echo"))
		assert.True(t, available())

		require.NoError(t, c.Partition([]string{"a"}, []string{"b"}, 10*time.Second))
		_, err := c.Node("a").Call("echo.say", map[string]any{"text": "x"}, broker.WithTimeout(500*time.Millisecond))
		assert.Equal(t, "RequestTimeoutError", errs.NameOf(err))
		c.Sleep(15 * time.Second)
		require.NoError(t, c.WaitForServices("echo"))
		_, err = c.Node("a").Call("echo.say", map[string]any{"text": "x"})
		assert.NoError(t, err, "healed")
	})
	assert.Len(t, c.Kinds(journal.FaultApplied), 1)
	assert.Len(t, c.Kinds(journal.FaultHealed), 1)
}

func TestSetSkewMovesOnlyThatNodesClock(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Seed: 1, Network: testutil.Ideal, Nodes: []testutil.NodeSpec{{ID: "a"}, {ID: "b"}}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, c.SetSkew("b", -90*time.Second))
		assert.Equal(t, -90*time.Second, c.Node("b").Runtime().Now().Sub(c.Node("a").Runtime().Now()))
	})
	assert.EqualError(t, c.SetSkew("nope", time.Second), `testutil: no node "nope"`)
}

func TestUnknownTier(t *testing.T) {
	_, err := testutil.Build(testutil.Spec{Tier: "moon"})
	assert.EqualError(t, err, `testutil: unknown tier "moon" (have [nats sim wall])`)
}

// An alias names a registered tier everywhere a tier is named: Build, CanonicalTier,
// KnownTier; Tiers lists the tiers only, and a name cannot be taken twice.
func TestTierAlias(t *testing.T) {
	testutil.RegisterAlias("wallclock", testutil.TierWall)
	assert.Equal(t, testutil.TierWall, testutil.CanonicalTier("wallclock"))
	assert.Equal(t, "moon", testutil.CanonicalTier("moon"))
	assert.Equal(t, "", testutil.CanonicalTier(""))
	assert.True(t, testutil.KnownTier("wallclock"))
	assert.True(t, testutil.KnownTier(""))
	assert.False(t, testutil.KnownTier("moon"))
	assert.Equal(t, []string{"nats", "sim", "wall"}, testutil.Tiers())
	assert.Equal(t, map[string]string{"wallclock": "wall"}, testutil.TierAliases())
	assert.PanicsWithValue(t, `testutil: tier name "wallclock" registered twice`, func() { testutil.RegisterAlias("wallclock", "sim") })
	assert.PanicsWithValue(t, `testutil: tier name "sim" registered twice`, func() { testutil.RegisterAlias("sim", "wall") })
	c := testutil.MustBuild(t, testutil.Spec{Tier: "wallclock", Nodes: []testutil.NodeSpec{{ID: "a"}}})
	assert.Nil(t, c.Sim, "the alias built the wall-clock tier")
}

// TestRealTierMeshesWhenTheFirstInfoIsLost: on a real NATS cluster a node's first INFO can
// reach a server that does not know yet that its peer subscribes, and is lost. Start must
// still mesh the cluster without waiting for a heartbeat (an hour here): it asks the nodes
// to announce themselves again.
func TestRealTierMeshesWhenTheFirstInfoIsLost(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Nodes: []testutil.NodeSpec{
		{ID: "a", Options: broker.Options{HeartbeatInterval: time.Hour}},
		{ID: "b", Options: broker.Options{HeartbeatInterval: time.Hour},
			Define: func() []*broker.Service { return []*broker.Service{echoService()} }},
	}})
	require.NotNil(t, c.Net)
	var mu sync.Mutex
	dropped, delivered := 0, 0
	const lose = 4 // every INFO of the first round: two broadcasts and two answers to DISCOVER
	c.Net.SetInterceptor(func(d *memnet.Delivery) []memnet.Route {
		if d.Type != packet.Info {
			return []memnet.Route{{}}
		}
		mu.Lock()
		defer mu.Unlock()
		if dropped < lose {
			dropped++
			return nil
		}
		delivered++
		return []memnet.Route{{}}
	})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := c.Node("a").Call("echo.say", map[string]any{"text": "hi"})
		require.NoError(t, err)
		assert.Equal(t, "hi", res)
	})
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, lose, dropped)
	assert.GreaterOrEqual(t, delivered, 2, "each node's INFO reached the other after rediscovery")
}
