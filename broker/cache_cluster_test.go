package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/coherence"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/testutil"
)

// kindDBWrite is the journal entry the test's product database records when a write commits.
const kindDBWrite = "db.write"

const (
	productTTL  = 30 * time.Second
	netLatency  = time.Millisecond
	dbReadDelay = 5 * time.Millisecond
)

// productDB is the database behind the product service. Every node reads and writes the same
// one, as instances of a real service share their database; the cache is per node.
type productDB struct {
	j      *journal.Journal
	prices map[int]int
}

func (db *productDB) write(ctx *broker.Context, id, price int) {
	db.prices[id] = price
	db.j.Record(ctx.Broker().NodeID(), kindDBWrite, map[string]any{"id": id, "price": price})
}

func intParam(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	}
	panic(fmt.Sprintf("not a number: %#v", v))
}

// productService caches get (on the id) and list (on every param) with productTTL; update
// writes the database and invalidates every node's cache with the one-line helper.
func productService(db *productDB) *broker.Service {
	return &broker.Service{
		Name: "product",
		Actions: map[string]broker.Action{
			"get": {
				Cache: &broker.CacheOptions{Keys: []string{"id"}, TTL: broker.Dur(productTTL)},
				Handler: func(ctx *broker.Context) (any, error) {
					if err := ctx.Sleep(dbReadDelay); err != nil {
						return nil, err
					}
					id := intParam(ctx.Params["id"])
					return map[string]any{"id": id, "price": db.prices[id]}, nil
				},
			},
			"list": {
				Cache: &broker.CacheOptions{TTL: broker.Dur(productTTL)},
				Handler: func(ctx *broker.Context) (any, error) {
					if err := ctx.Sleep(dbReadDelay); err != nil {
						return nil, err
					}
					ids := make([]int, 0, len(db.prices))
					for id := range db.prices {
						ids = append(ids, id)
					}
					sort.Ints(ids)
					out := []any{}
					for _, id := range ids[:min(len(ids), intParam(ctx.Params["limit"]))] {
						out = append(out, map[string]any{"id": id, "price": db.prices[id]})
					}
					return out, nil
				},
			},
			"update": {
				Handler: func(ctx *broker.Context) (any, error) {
					id, price := intParam(ctx.Params["id"]), intParam(ctx.Params["price"])
					db.write(ctx, id, price)
					if err := broker.InvalidateCache(ctx, "product"); err != nil {
						return nil, err
					}
					return map[string]any{"id": id, "price": price}, nil
				},
			},
		},
		Events: map[string]broker.Event{"cache.clean.product": broker.CacheCleanEvent("product")},
	}
}

// productCluster is a client and two product nodes, each product node with the cacher
// newCacher gives it, on a network with a 1 ms latency.
func productCluster(t *testing.T, seed uint64, opts broker.Options, newCacher func(node string, sim *rt.Sim) broker.Cacher) (*testutil.Cluster, *productDB) {
	t.Helper()
	c := testutil.NewSim(seed, testutil.FixedLatency(netLatency))
	t.Cleanup(c.Close)
	db := &productDB{j: c.Journal, prices: map[int]int{1: 10, 2: 20, 3: 30}}
	c.MustAddNode("client", opts)
	for _, id := range []string{"product-1", "product-2"} {
		o := opts
		o.Cacher = newCacher(id, c.Sim)
		c.MustAddNode(id, o, productService(db))
	}
	return c, db
}

// startAll starts every node and waits until each knows all the others.
func startAll(t *testing.T, c *testutil.Cluster) {
	t.Helper()
	require.NoError(t, c.Start())
}

func memoryCachers(_ string, sim *rt.Sim) broker.Cacher { return cache.NewMemory(sim) }

// at sleeps the calling task until the virtual instant d (since the epoch).
func at(t *testing.T, c *testutil.Cluster, d time.Duration) {
	t.Helper()
	now := c.Sim.Elapsed()
	require.GreaterOrEqual(t, d, now, "at(+%s) is in the past", d)
	c.Sim.Sleep(d - now)
}

func getProduct(t *testing.T, c *testutil.Cluster, node string, id int) map[string]any {
	t.Helper()
	res, err := c.Node("client").Call("product.get", map[string]any{"id": id}, broker.WithNodeID(node))
	require.NoError(t, err)
	return res.(map[string]any)
}

func priceOf(t *testing.T, c *testutil.Cluster, node string, id int) float64 {
	t.Helper()
	return getProduct(t, c, node, id)["price"].(float64)
}

// cacheLines describes the journal's cache entries, one line each.
func cacheLines(c *testutil.Cluster) []string {
	return testutil.Describe(c.Kinds(journal.CacheHit, journal.CacheMiss, journal.CacheSet, journal.CacheClean, journal.CacheError), "key", "patterns", "op")
}

// writeAt is when the journal's only database write committed.
func writeAt(t *testing.T, c *testutil.Cluster) time.Duration {
	t.Helper()
	w := c.Kinds(kindDBWrite)
	require.Len(t, w, 1)
	return w[0].T
}

// dropEvent makes the network lose every EVENT packet of the named event sent to node, and
// returns a counter of the packets it dropped.
func dropEvent(t *testing.T, net *memnet.Network, node, event string) *int {
	dropped := new(int)
	net.SetInterceptor(func(d *memnet.Delivery) []memnet.Route {
		if d.Type == packet.Event && d.To == node {
			var p struct {
				Event string `json:"event"`
			}
			require.NoError(t, json.Unmarshal(d.Body, &p))
			if p.Event == event {
				*dropped++
				return nil
			}
		}
		return []memnet.Route{{}}
	})
	return dropped
}

// Two product nodes with a memory cacher each: each caches the client's reads; an update
// cleans both, and the next reads are fresh. Everything is asserted from the journal.
func TestCacheClusterInvalidation(t *testing.T) {
	c, _ := productCluster(t, 11, broker.Options{}, memoryCachers)
	var before, after, list1, list2 []any
	c.Run(t, func() {
		startAll(t, c)
		at(t, c, 1000*time.Millisecond)
		before = append(before, priceOf(t, c, "product-1", 1))
		at(t, c, 1100*time.Millisecond)
		before = append(before, priceOf(t, c, "product-2", 1))
		for i, node := range []string{"product-1", "product-2"} {
			at(t, c, time.Duration(1200+100*i)*time.Millisecond)
			res, err := c.Node("client").Call("product.list", map[string]any{"limit": 2}, broker.WithNodeID(node))
			require.NoError(t, err)
			list1 = append(list1, res)
		}
		at(t, c, 1500*time.Millisecond)
		before = append(before, priceOf(t, c, "product-1", 1))
		at(t, c, 1600*time.Millisecond)
		before = append(before, priceOf(t, c, "product-2", 1))

		at(t, c, 2000*time.Millisecond)
		_, err := c.Node("client").Call("product.update", map[string]any{"id": 1, "price": 11}, broker.WithNodeID("product-1"))
		require.NoError(t, err)

		at(t, c, 3000*time.Millisecond)
		after = append(after, priceOf(t, c, "product-1", 1))
		at(t, c, 3100*time.Millisecond)
		after = append(after, priceOf(t, c, "product-2", 1))
		for i, node := range []string{"product-1", "product-2"} {
			at(t, c, time.Duration(3200+100*i)*time.Millisecond)
			res, err := c.Node("client").Call("product.list", map[string]any{"limit": 2}, broker.WithNodeID(node))
			require.NoError(t, err)
			list2 = append(list2, res)
		}
	})
	assert.Equal(t, []any{10.0, 10.0, 10.0, 10.0}, before)
	assert.Equal(t, []any{11.0, 11.0}, after)
	old := []any{map[string]any{"id": 1.0, "price": 10.0}, map[string]any{"id": 2.0, "price": 20.0}}
	fresh := []any{map[string]any{"id": 1.0, "price": 11.0}, map[string]any{"id": 2.0, "price": 20.0}}
	assert.Equal(t, []any{old, old}, list1)
	assert.Equal(t, []any{fresh, fresh}, list2)

	// Requests arrive 1 ms after they are sent; a read of the database takes 5 ms. The
	// writer cleans its own cache as the write commits, the other node when the broadcast
	// arrives 1 ms later.
	assert.Equal(t, []string{
		`+1.001s product-1 cache.miss key=product.get:1`,
		`+1.006s product-1 cache.set key=product.get:1`,
		`+1.101s product-2 cache.miss key=product.get:1`,
		`+1.106s product-2 cache.set key=product.get:1`,
		`+1.201s product-1 cache.miss key=product.list:limit|2`,
		`+1.206s product-1 cache.set key=product.list:limit|2`,
		`+1.301s product-2 cache.miss key=product.list:limit|2`,
		`+1.306s product-2 cache.set key=product.list:limit|2`,
		`+1.501s product-1 cache.hit key=product.get:1`,
		`+1.601s product-2 cache.hit key=product.get:1`,
		`+2.001s product-1 cache.clean patterns=[product.**]`,
		`+2.002s product-2 cache.clean patterns=[product.**]`,
		`+3.001s product-1 cache.miss key=product.get:1`,
		`+3.006s product-1 cache.set key=product.get:1`,
		`+3.101s product-2 cache.miss key=product.get:1`,
		`+3.106s product-2 cache.set key=product.get:1`,
		`+3.201s product-1 cache.miss key=product.list:limit|2`,
		`+3.206s product-1 cache.set key=product.list:limit|2`,
		`+3.301s product-2 cache.miss key=product.list:limit|2`,
		`+3.306s product-2 cache.set key=product.list:limit|2`,
	}, cacheLines(c))
	assert.Equal(t, 2001*time.Millisecond, writeAt(t, c))

	// A hit names the call it answered: the client's own call ID, across the network.
	var started []journal.Entry
	for _, e := range c.Kinds(journal.CallStarted) {
		if e.Node == "client" && e.Str("action") == "product.get" {
			started = append(started, e)
		}
	}
	hits := c.Kinds(journal.CacheHit)
	require.Len(t, started, 6)
	require.Len(t, hits, 2)
	assert.Equal(t, started[2].Str("id"), hits[0].Str("call"))
	assert.Equal(t, started[3].Str("id"), hits[1].Str("call"))
	// ctx.CachedResult is not sent back to a remote caller.
	for _, e := range c.Kinds(journal.CallFinished) {
		assert.False(t, e.Bool("cached"), "%v", e.Attrs)
	}
	// Both nodes handled the broadcast; the writer's handler cleaned nothing more (one
	// cache.clean per node above): InvalidateCache had cleaned it already.
	handled := journal.Filter(c.Journal.Entries(), journal.EventHandled)
	require.Len(t, handled, 2)
	for _, e := range handled {
		assert.True(t, e.Bool("ok"))
	}

	rep := coherence.Check(c.Journal.Entries(), writeAt(t, c), coherence.Options{Keys: "product.**"})
	assert.False(t, rep.Stale(), rep.String())
}

// The cache.clean.product broadcast is lost on its way to product-2: product-2 serves the
// old price until its entry's TTL runs out, to the nanosecond, and the coherence check
// reports that window.
func TestCacheLostBroadcastServesStaleUntilTTL(t *testing.T) {
	c, _ := productCluster(t, 12, broker.Options{}, memoryCachers)
	dropped := dropEvent(t, c.Net, "product-2", "cache.clean.product")
	type read struct {
		node  string
		price float64
	}
	var reads []read
	var expiry time.Duration
	var probes [2]float64
	c.Run(t, func() {
		startAll(t, c)
		at(t, c, 1000*time.Millisecond)
		require.Equal(t, 10.0, priceOf(t, c, "product-1", 1))
		at(t, c, 1100*time.Millisecond)
		require.Equal(t, 10.0, priceOf(t, c, "product-2", 1))

		at(t, c, 2000*time.Millisecond)
		_, err := c.Node("client").Call("product.update", map[string]any{"id": 1, "price": 11}, broker.WithNodeID("product-1"))
		require.NoError(t, err)

		for s := 3; s <= 30; s++ {
			at(t, c, time.Duration(s)*time.Second)
			for _, node := range []string{"product-1", "product-2"} {
				reads = append(reads, read{node, priceOf(t, c, node, 1)})
			}
		}

		// product-2's entry was stored at its cache.set; it expires exactly TTL later. One
		// read arrives 1 ns before that instant, one at it.
		sets := journal.Filter(c.Journal.Entries(), journal.CacheSet)
		require.NotEmpty(t, sets)
		require.Equal(t, "product-2", sets[1].Node)
		expiry = sets[1].T + productTTL
		done := [2]rt.Signal{c.Sim.NewSignal("probe 0"), c.Sim.NewSignal("probe 1")}
		for i, arrive := range []time.Duration{expiry - time.Nanosecond, expiry} {
			c.Sim.Go(fmt.Sprintf("probe %d", i), func() {
				at(t, c, arrive-netLatency)
				probes[i] = priceOf(t, c, "product-2", 1)
				done[i].Fire()
			})
		}
		done[0].Wait()
		done[1].Wait()
		at(t, c, 40*time.Second)
		reads = append(reads, read{"product-2", priceOf(t, c, "product-2", 1)})
	})

	assert.Equal(t, 1, *dropped, "exactly one clean broadcast was lost")
	assert.Equal(t, 31106*time.Millisecond, expiry)
	for i, r := range reads {
		switch {
		case r.node == "product-1" || i == len(reads)-1:
			assert.Equal(t, 11.0, r.price, "read %d on %s is fresh", i, r.node)
		default:
			assert.Equal(t, 10.0, r.price, "read %d on %s is stale", i, r.node)
		}
	}
	assert.Equal(t, [2]float64{10, 11}, probes, "stale 1 ns before the expiry, fresh at it")

	// The journal tells the same story: product-2 never cleaned, hit until expiry-1ns, and
	// missed at the expiry instant.
	var p2 []journal.Entry
	for _, e := range c.Kinds(journal.CacheHit, journal.CacheMiss, journal.CacheClean) {
		if e.Node == "product-2" {
			p2 = append(p2, e)
		}
	}
	require.Len(t, p2, 1+28+2+1)
	assert.Equal(t, journal.CacheMiss, p2[0].Kind)
	for _, e := range p2[1:29] {
		assert.Equal(t, journal.CacheHit, e.Kind)
	}
	assert.Equal(t, []string{
		"+31.105999999s product-2 cache.hit key=product.get:1",
		"+31.106s product-2 cache.miss key=product.get:1",
		"+40.001s product-2 cache.hit key=product.get:1",
	}, testutil.Describe(p2[29:], "key"))

	rep := coherence.Check(c.Journal.Entries(), writeAt(t, c), coherence.Options{Keys: "product.**"})
	require.True(t, rep.Stale())
	assert.Equal(t, []coherence.Window{{
		Node: "product-2", First: 3008 * time.Millisecond, Last: expiry - time.Nanosecond, Reads: 29, Until: expiry,
	}}, rep.Windows)
	assert.Equal(t, "after the write at +2.001s: product-2 served 29 stale read(s) from +3.008s to +31.105999999s, stale value servable until +31.106s", rep.String())
	for _, r := range rep.Reads {
		assert.Equal(t, 1106*time.Millisecond, r.StoredAt)
		assert.Equal(t, expiry, r.ExpiresAt)
	}
	_, p1 := rep.Window("product-1")
	assert.False(t, p1, "the writer's own cache was cleaned")
}

func newSimMiniredis(t *testing.T, clock rt.Clock) *miniredis.Miniredis {
	mr, err := testutil.NewSimMiniredis(clock)
	require.NoError(t, err)
	t.Cleanup(mr.Close)
	return mr
}

func newSimRedis(t *testing.T, mr *miniredis.Miniredis, clock rt.Clock) *testutil.SimRedis {
	r, err := testutil.NewSimRedis(mr, clock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Two product nodes share one Redis (miniredis): a value one node stores is a hit on the
// other, one node's clean clears it for both, a lost broadcast leaves nothing stale, and the
// TTL runs out at the exact virtual instant. Calls carry a timeout, so serving contexts have
// virtual deadlines: those must not leak into the Redis client's wall-clock deadlines.
func TestCacheSharedRedis(t *testing.T) {
	var mr *miniredis.Miniredis
	redisCachers := func(_ string, sim *rt.Sim) broker.Cacher {
		if mr == nil {
			mr = newSimMiniredis(t, sim)
		}
		return newSimRedis(t, mr, sim)
	}
	c, _ := productCluster(t, 13, broker.Options{RequestTimeout: 5 * time.Second}, redisCachers)
	dropped := dropEvent(t, c.Net, "product-2", "cache.clean.product")
	var prices []float64
	var probes [2]float64
	var expiry time.Duration
	c.Run(t, func() {
		startAll(t, c)
		read := func(d time.Duration, node string) {
			at(t, c, d)
			prices = append(prices, priceOf(t, c, node, 1))
		}
		read(1000*time.Millisecond, "product-1") // miss, set
		read(1100*time.Millisecond, "product-2") // hit: stored by product-1
		at(t, c, 2000*time.Millisecond)
		require.NoError(t, c.Node("product-1").CleanCache("product.**"))
		read(2100*time.Millisecond, "product-2") // miss: product-1's clean cleared it for both
		read(2200*time.Millisecond, "product-1") // hit

		at(t, c, 3000*time.Millisecond)
		_, err := c.Node("client").Call("product.update", map[string]any{"id": 1, "price": 11}, broker.WithNodeID("product-1"))
		require.NoError(t, err)
		read(3100*time.Millisecond, "product-2") // miss, fresh, although its broadcast was lost
		read(3200*time.Millisecond, "product-1") // hit, fresh

		sets := c.Kinds(journal.CacheSet)
		require.NotEmpty(t, sets)
		expiry = sets[len(sets)-1].T + productTTL
		done := [2]rt.Signal{c.Sim.NewSignal("probe 0"), c.Sim.NewSignal("probe 1")}
		for i, arrive := range []time.Duration{expiry - time.Nanosecond, expiry} {
			c.Sim.Go(fmt.Sprintf("probe %d", i), func() {
				at(t, c, arrive-netLatency)
				probes[i] = priceOf(t, c, "product-1", 1)
				done[i].Fire()
			})
		}
		done[0].Wait()
		done[1].Wait()
	})
	assert.Equal(t, 1, *dropped)
	assert.Equal(t, []float64{10, 10, 10, 10, 11, 11}, prices)
	assert.Equal(t, [2]float64{11, 11}, probes)
	assert.Equal(t, 33106*time.Millisecond, expiry)
	for _, id := range []string{"product-1", "product-2"} {
		assert.Zero(t, c.Node(id).CacheErrors(), "%s: virtual deadlines must not reach go-redis", id)
	}
	assert.Equal(t, []string{
		`+1.001s product-1 cache.miss key=product.get:1`,
		`+1.006s product-1 cache.set key=product.get:1`,
		`+1.101s product-2 cache.hit key=product.get:1`,
		`+2s product-1 cache.clean patterns=[product.**]`,
		`+2.101s product-2 cache.miss key=product.get:1`,
		`+2.106s product-2 cache.set key=product.get:1`,
		`+2.201s product-1 cache.hit key=product.get:1`,
		`+3.001s product-1 cache.clean patterns=[product.**]`,
		`+3.101s product-2 cache.miss key=product.get:1`,
		`+3.106s product-2 cache.set key=product.get:1`,
		`+3.201s product-1 cache.hit key=product.get:1`,
		`+33.105999999s product-1 cache.hit key=product.get:1`,
		`+33.106s product-1 cache.miss key=product.get:1`,
		`+33.111s product-1 cache.set key=product.get:1`,
	}, cacheLines(c))
	rep := coherence.Check(c.Journal.Entries(), writeAt(t, c), coherence.Options{Keys: "product.**", Shared: true, StarCrossesDot: true})
	assert.False(t, rep.Stale(), rep.String())
	assert.Equal(t, []string{"MOL-product.get:1"}, mr.Keys())
}

// A cacher that cannot reach Redis never fails a call: the handler answers, and the failure
// is logged, journaled and counted.
func TestCacheUnreachableRedis(t *testing.T) {
	c := testutil.NewSim(14)
	defer c.Close()
	r, err := cache.NewRedis(cache.RedisOptions{URL: "redis://127.0.0.1:1"})
	require.NoError(t, err)
	defer r.Close()
	var logs bytes.Buffer
	runs := 0
	b := c.MustAddNode("solo", broker.Options{Cacher: r, RequestTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		&broker.Service{Name: "svc", Actions: map[string]broker.Action{
			"get": {Cache: &broker.CacheOptions{Keys: []string{"id"}, TTL: broker.Dur(time.Minute)}, Handler: func(ctx *broker.Context) (any, error) {
				runs++
				return map[string]any{"id": ctx.Params["id"], "run": runs}, nil
			}},
		}})
	var results []any
	var cleanErr error
	c.Run(t, func() {
		startAll(t, c)
		for range 2 {
			res, err := b.Call("svc.get", map[string]any{"id": 5})
			require.NoError(t, err, "an unreachable cache must not fail the call")
			results = append(results, res)
		}
		cleanErr = b.CleanCache("svc.**")
	})
	assert.Equal(t, []any{map[string]any{"id": 5.0, "run": 1.0}, map[string]any{"id": 5.0, "run": 2.0}}, results)
	assert.Error(t, cleanErr)
	assert.Equal(t, int64(3), b.CacheErrors())
	errsJ := c.Kinds(journal.CacheError)
	require.Len(t, errsJ, 3)
	for i, op := range []string{"get", "get", "clean"} {
		assert.Equal(t, op, errsJ[i].Str("op"))
		assert.Equal(t, "solo", errsJ[i].Node)
		assert.Contains(t, errsJ[i].Str("error"), "127.0.0.1:1")
	}
	assert.Equal(t, "svc.get:5", errsJ[0].Str("key"))
	assert.Empty(t, c.Kinds(journal.CacheHit, journal.CacheMiss, journal.CacheSet, journal.CacheClean),
		"a failed Get is neither a hit nor a miss, and the cacher is not asked to Set")
	assert.Len(t, c.Kinds(journal.ActionRun), 2)
	assert.Equal(t, 2, strings.Count(logs.String(), "cacher failed; calling the handler"), logs.String())
	assert.Contains(t, logs.String(), "cacher clean failed")
	assert.Contains(t, logs.String(), "key=svc.get:5")
}

// keysService exercises the key options, null results, errors and the $cache bypass.
func keysService(runs map[string]int) *broker.Service {
	handler := func(name string, res func(ctx *broker.Context) (any, error)) broker.Handler {
		return func(ctx *broker.Context) (any, error) {
			runs[name]++
			return res(ctx)
		}
	}
	echo := func(ctx *broker.Context) (any, error) {
		return map[string]any{"params": ctx.Params, "lang": ctx.Meta["user"].(map[string]any)["lang"]}, nil
	}
	return &broker.Service{Name: "keys", Actions: map[string]broker.Action{
		"meta": {Cache: &broker.CacheOptions{Keys: []string{"id", "#user.lang"}}, Handler: handler("meta", echo)},
		"long": {Cache: &broker.CacheOptions{MaxParamsLength: broker.Int(50)}, Handler: handler("long", echo)},
		"custom": {Cache: &broker.CacheOptions{KeyFunc: func(action string, params, meta map[string]any) string {
			return fmt.Sprintf("%s/%v/%v", action, params["id"], meta["tenant"])
		}}, Handler: handler("custom", func(ctx *broker.Context) (any, error) { return ctx.Params["id"], nil })},
		"null": {Cache: &broker.CacheOptions{}, Handler: handler("null", func(*broker.Context) (any, error) { return nil, nil })},
		"fail": {Cache: &broker.CacheOptions{}, Handler: handler("fail", func(*broker.Context) (any, error) { return nil, errors.New("db down") })},
		"typed": {Cache: &broker.CacheOptions{}, Handler: handler("typed", func(*broker.Context) (any, error) {
			return struct {
				ID    int      `json:"id"`
				Tags  []string `json:"tags"`
				Price float32  `json:"price"`
			}{7, []string{"a"}, 1.5}, nil
		})},
	}}
}

// Key options, null results, errors, the bypass, and what a caller can see of
// ctx.CachedResult, for a local caller and a remote one that must get the same results.
func TestCacheKeysAndResults(t *testing.T) {
	c := testutil.NewSim(15, testutil.FixedLatency(netLatency))
	defer c.Close()
	runs := map[string]int{}
	var sawCached []bool
	observer := broker.Middleware{Name: "observer", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		return func(ctx *broker.Context) (any, error) {
			sawCached = append(sawCached, ctx.CachedResult)
			return next(ctx)
		}
	}}
	srv := c.MustAddNode("server", broker.Options{Cacher: cache.NewMemory(c.Sim), Middlewares: []broker.Middleware{observer}}, keysService(runs))
	remote := c.MustAddNode("remote", broker.Options{})
	en := broker.WithMeta(map[string]any{"user": map[string]any{"lang": "en"}})
	de := broker.WithMeta(map[string]any{"user": map[string]any{"lang": "de"}})
	long := map[string]any{"query": strings.Repeat("x", 60), "page": 1}
	type out struct {
		res any
		err error
	}
	var local, fromRemote []out
	c.Run(t, func() {
		startAll(t, c)
		for _, caller := range []*broker.Broker{srv, remote} {
			call := func(action string, params any, opts ...broker.CallOption) {
				res, err := caller.Call(action, params, opts...)
				if caller == srv {
					local = append(local, out{res, err})
				} else {
					fromRemote = append(fromRemote, out{res, err})
				}
			}
			require.NoError(t, srv.CleanCache())
			call("keys.meta", map[string]any{"id": 1}, en)                                 // miss
			call("keys.meta", map[string]any{"id": 1}, de)                                 // miss: another #user.lang
			call("keys.meta", map[string]any{"id": 1, "ignored": true}, en)                // hit: only id and #user.lang count
			call("keys.meta", map[string]any{"id": 1}, en, broker.WithMeta(map[string]any{ // bypass: runs, stores nothing
				"$cache": false, "user": map[string]any{"lang": "en"}}))
			call("keys.long", long, en)                                                                   // miss, hashed key
			call("keys.long", long, en)                                                                   // hit
			call("keys.custom", map[string]any{"id": 3}, broker.WithMeta(map[string]any{"tenant": "t1"})) // miss
			call("keys.custom", map[string]any{"id": 3}, broker.WithMeta(map[string]any{"tenant": "t1"})) // hit
			call("keys.null", nil)                                                                        // miss: null stored
			call("keys.null", nil)                                                                        // hit on the cached null
			call("keys.fail", nil)                                                                        // miss, error not stored
			call("keys.fail", nil)                                                                        // miss again
			call("keys.typed", nil)                                                                       // miss: JSON form
			call("keys.typed", nil)                                                                       // hit: the same value
		}
	})

	enRes := map[string]any{"params": map[string]any{"id": 1.0}, "lang": "en"}
	deRes := map[string]any{"params": map[string]any{"id": 1.0}, "lang": "de"}
	longRes := map[string]any{"params": map[string]any{"query": strings.Repeat("x", 60), "page": 1.0}, "lang": "en"}
	typed := map[string]any{"id": 7.0, "tags": []any{"a"}, "price": 1.5}
	want := []any{enRes, deRes, enRes, enRes, longRes, longRes, 3.0, 3.0, nil, nil, "err", "err", typed, typed}
	for i, w := range want {
		for who, got := range map[string][]out{"local": local, "remote": fromRemote} {
			if w == "err" {
				assert.ErrorContains(t, got[i].err, "db down", "%s call %d", who, i)
				continue
			}
			require.NoError(t, got[i].err, "%s call %d", who, i)
			assert.Equal(t, w, got[i].res, "%s call %d: a local caller gets the JSON form on a miss and a hit alike, as a remote one does", who, i)
		}
	}
	// Each caller's round: meta ×3 (one bypass), long, custom, null, fail ×2, typed.
	assert.Equal(t, map[string]int{"meta": 6, "long": 2, "custom": 2, "null": 2, "fail": 4, "typed": 2}, runs)

	hashed := cache.Key("keys.long", long, nil, nil, 50)
	require.Len(t, hashed, len("keys.long:")+50)
	round := []string{
		`server cache.clean patterns=[]`,
		`server cache.miss key=keys.meta:1|"en"`,
		`server cache.set key=keys.meta:1|"en"`,
		`server cache.miss key=keys.meta:1|"de"`,
		`server cache.set key=keys.meta:1|"de"`,
		`server cache.hit key=keys.meta:1|"en"`,
		`server cache.miss key=` + hashed,
		`server cache.set key=` + hashed,
		`server cache.hit key=` + hashed,
		`server cache.miss key=keys.custom/3/t1`,
		`server cache.set key=keys.custom/3/t1`,
		`server cache.hit key=keys.custom/3/t1`,
		`server cache.miss key=keys.null:`,
		`server cache.set key=keys.null:`,
		`server cache.hit key=keys.null:`,
		`server cache.miss key=keys.fail:`,
		`server cache.miss key=keys.fail:`,
		`server cache.miss key=keys.typed:`,
		`server cache.set key=keys.typed:`,
		`server cache.hit key=keys.typed:`,
	}
	var lines []string
	for _, l := range cacheLines(c) {
		lines = append(lines, l[strings.Index(l, " ")+1:]) // drop the time
	}
	assert.Equal(t, append(append([]string{}, round...), round...), lines, "the remote caller's params and meta give the same keys")

	// ctx.CachedResult: a local caller's call.finished says cached (the caller's view of it);
	// a remote caller is not told. A user middleware sits inside the cacher: it only ever runs
	// on a miss, where CachedResult is false.
	var cached []string
	for _, e := range c.Kinds(journal.CallFinished) {
		if e.Bool("cached") {
			cached = append(cached, e.Node+" "+e.Str("action"))
		}
	}
	assert.Equal(t, []string{"server keys.meta", "server keys.long", "server keys.custom", "server keys.null", "server keys.typed"}, cached)
	assert.Len(t, sawCached, 2*(3+1+1+1+2+1))
	assert.NotContains(t, sawCached, true)
}

// TTL on the broker's clock and LRU eviction order, on one node with local calls.
func TestCacheTTLAndLRU(t *testing.T) {
	c := testutil.NewSim(16)
	defer c.Close()
	lru := cache.NewMemoryLRU(c.Sim, 2)
	lru.OnEvict = func(key string) { c.Journal.Record("lru", "cache.evict", map[string]any{"key": key}) }
	mem := cache.NewMemory(c.Sim)
	svc := func(name string, ttl time.Duration) *broker.Service {
		return &broker.Service{Name: name, Actions: map[string]broker.Action{
			"get": {Cache: &broker.CacheOptions{Keys: []string{"id"}, TTL: broker.Dur(ttl)}, Handler: func(ctx *broker.Context) (any, error) {
				if err := ctx.Sleep(dbReadDelay); err != nil {
					return nil, err
				}
				return ctx.Params["id"], nil
			}},
		}}
	}
	ttlNode := c.MustAddNode("ttl", broker.Options{Cacher: mem}, svc("ttl", 10*time.Second))
	lruNode := c.MustAddNode("lru", broker.Options{Cacher: lru}, svc("lru", 0))
	c.Run(t, func() {
		startAll(t, c)
		call := func(b *broker.Broker, action string, id int) {
			_, err := b.Call(action, map[string]any{"id": id})
			require.NoError(t, err)
		}
		at(t, c, time.Second)
		call(ttlNode, "ttl.get", 1) // miss at 1s, stored at 1.005s, expires at 11.005s
		at(t, c, 11005*time.Millisecond-time.Nanosecond)
		call(ttlNode, "ttl.get", 1) // hit
		at(t, c, 11005*time.Millisecond)
		call(ttlNode, "ttl.get", 1) // miss: expired at exactly this instant

		at(t, c, 20*time.Second)
		for _, id := range []int{1, 2, 1, 3, 2, 1} {
			call(lruNode, "lru.get", id)
		}
	})
	var ttl, lruLines []string
	for _, e := range c.Kinds(journal.CacheHit, journal.CacheMiss, journal.CacheSet, "cache.evict") {
		line := testutil.Describe([]journal.Entry{e}, "key")[0]
		if e.Node == "ttl" {
			ttl = append(ttl, line)
		} else {
			lruLines = append(lruLines, line[strings.Index(line, " ")+1:])
		}
	}
	assert.Equal(t, []string{
		"+1s ttl cache.miss key=ttl.get:1",
		"+1.005s ttl cache.set key=ttl.get:1",
		"+11.004999999s ttl cache.hit key=ttl.get:1",
		"+11.005s ttl cache.miss key=ttl.get:1",
		"+11.01s ttl cache.set key=ttl.get:1",
	}, ttl)
	assert.Equal(t, []string{
		"lru cache.miss key=lru.get:1", "lru cache.set key=lru.get:1",
		"lru cache.miss key=lru.get:2", "lru cache.set key=lru.get:2",
		"lru cache.hit key=lru.get:1", // 1 becomes the most recently used
		"lru cache.miss key=lru.get:3", "lru cache.evict key=lru.get:2", "lru cache.set key=lru.get:3",
		"lru cache.miss key=lru.get:2", "lru cache.evict key=lru.get:1", "lru cache.set key=lru.get:2",
		"lru cache.miss key=lru.get:1", "lru cache.evict key=lru.get:3", "lru cache.set key=lru.get:1",
	}, lruLines)
	assert.Equal(t, []string{"lru.get:1", "lru.get:2"}, lru.Recency())
}

// The journal of a cached cluster run is a pure function of the seed.
func TestCacheJournalIsDeterministic(t *testing.T) {
	run := func() []byte {
		c, _ := productCluster(t, 21, broker.Options{}, memoryCachers)
		dropEvent(t, c.Net, "product-2", "cache.clean.product")
		c.Run(t, func() {
			startAll(t, c)
			for i := range 20 {
				node := []string{"product-1", "product-2"}[i%2]
				c.Sim.Go(fmt.Sprintf("reader %d", i), func() { priceOf(t, c, node, 1+i%3) })
			}
			c.Sim.Sleep(time.Second)
			_, err := c.Node("client").Call("product.update", map[string]any{"id": 1, "price": 11})
			require.NoError(t, err)
			for i := range 20 {
				node := []string{"product-1", "product-2"}[i%2]
				c.Sim.Go(fmt.Sprintf("reader %d", i), func() { priceOf(t, c, node, 1+i%3) })
			}
			c.Sim.Sleep(time.Second)
		})
		return c.Journal.Bytes()
	}
	a, b := run(), run()
	require.NotEmpty(t, a)
	assert.True(t, bytes.Equal(a, b), "same seed, same journal")
}

// A cached entry that does not decode is a cacher error: the handler answers and its result
// replaces the entry.
func TestCacheCorruptEntryIsReplaced(t *testing.T) {
	c := testutil.NewSim(17)
	defer c.Close()
	mem := cache.NewMemory(c.Sim)
	b := c.MustAddNode("solo", broker.Options{Cacher: mem}, &broker.Service{Name: "svc", Actions: map[string]broker.Action{
		"get": {Cache: &broker.CacheOptions{Keys: []string{"id"}}, Handler: func(ctx *broker.Context) (any, error) { return "fresh", nil }},
	}})
	var res []any
	c.Run(t, func() {
		require.NoError(t, c.Start())
		require.NoError(t, mem.Set(context.Background(), "svc.get:1", []byte("{not json"), 0))
		for range 2 {
			r, err := b.Call("svc.get", map[string]any{"id": 1})
			require.NoError(t, err)
			res = append(res, r)
		}
	})
	assert.Equal(t, []any{"fresh", "fresh"}, res)
	assert.Equal(t, int64(1), b.CacheErrors())
	assert.Equal(t, []string{
		"+0s solo cache.error key=svc.get:1 op=decode",
		"+0s solo cache.set key=svc.get:1",
		"+0s solo cache.hit key=svc.get:1",
	}, cacheLines(c))
}

// breakableCacher wraps a cacher with two switches a test flips: down fails every operation
// (an outage), cleanFails fails only Clean (a half-broken backend: reads and writes work).
type breakableCacher struct {
	broker.Cacher
	down, cleanFails bool
}

var errBroken = errors.New("test cacher: broken")

func (c *breakableCacher) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if c.down {
		return nil, false, errBroken
	}
	return c.Cacher.Get(ctx, key)
}

func (c *breakableCacher) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if c.down {
		return errBroken
	}
	return c.Cacher.Set(ctx, key, value, ttl)
}

func (c *breakableCacher) Clean(ctx context.Context, patterns ...string) error {
	if c.down || c.cleanFails {
		return errBroken
	}
	return c.Cacher.Clean(ctx, patterns...)
}

// product-2's cacher is down when the clean broadcast of an update arrives: the clean fails
// and the old entry stays in the cacher. Once the cacher answers again, that entry must not
// be served: the node owes the clean, every read retries it first and bypasses the cache
// while the retry fails (here too while gets already work again), and the first read after
// a successful retry misses. Without the debt, the reads at +4s and +5s were hits of the
// old price 10, an acknowledged update earlier.
func TestCacheFailedCleanIsOwedUntilARetrySucceeds(t *testing.T) {
	var p2 *breakableCacher
	c, _ := productCluster(t, 15, broker.Options{}, func(node string, sim *rt.Sim) broker.Cacher {
		if node == "product-2" {
			p2 = &breakableCacher{Cacher: cache.NewMemory(sim)}
			return p2
		}
		return cache.NewMemory(sim)
	})
	var prices []float64
	c.Run(t, func() {
		startAll(t, c)
		at(t, c, 1000*time.Millisecond)
		prices = append(prices, priceOf(t, c, "product-2", 1))

		at(t, c, 2000*time.Millisecond)
		p2.down = true
		_, err := c.Node("client").Call("product.update", map[string]any{"id": 1, "price": 11}, broker.WithNodeID("product-1"))
		require.NoError(t, err)

		at(t, c, 3000*time.Millisecond) // still down
		prices = append(prices, priceOf(t, c, "product-2", 1))
		at(t, c, 4000*time.Millisecond) // gets and sets work, cleans still fail
		p2.down, p2.cleanFails = false, true
		prices = append(prices, priceOf(t, c, "product-2", 1))
		at(t, c, 5000*time.Millisecond) // healed
		p2.cleanFails = false
		prices = append(prices, priceOf(t, c, "product-2", 1))
		at(t, c, 6000*time.Millisecond)
		prices = append(prices, priceOf(t, c, "product-2", 1))
	})
	assert.Equal(t, []float64{10, 11, 11, 11, 11}, prices, "no read after the update sees the old price")
	assert.Equal(t, []string{
		`+1.001s product-2 cache.miss key=product.get:1`,
		`+1.006s product-2 cache.set key=product.get:1`,
		`+2.001s product-1 cache.clean patterns=[product.**]`,
		`+2.002s product-2 cache.error patterns=[product.**] op=clean`, // the broadcast's clean
		`+3.001s product-2 cache.error patterns=[product.**] op=clean`, // owed, retried: down
		`+4.001s product-2 cache.error patterns=[product.**] op=clean`, // owed, retried: cleans fail
		`+5.001s product-2 cache.clean patterns=[product.**]`,          // owed, paid
		`+5.001s product-2 cache.miss key=product.get:1`,
		`+5.006s product-2 cache.set key=product.get:1`,
		`+6.001s product-2 cache.hit key=product.get:1`,
	}, cacheLines(c))
	owed := 0
	for _, e := range c.Kinds(journal.CacheError, journal.CacheClean) {
		if e.Bool("owed") {
			owed++
			assert.Equal(t, "product.get", e.Str("action"), "a retry names the read that paid it")
		}
	}
	assert.Equal(t, 3, owed, "three reads retried the owed clean")
	assert.Equal(t, int64(3), c.Node("product-2").CacheErrors())
	assert.Zero(t, c.Node("product-1").CacheErrors())
}
