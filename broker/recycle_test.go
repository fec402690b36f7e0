package broker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/rt"
)

// cachedProduct is a broker with product.get cached by id; keep receives each context the
// handler runs with.
func cachedProduct(t *testing.T, opts broker.Options, co broker.CacheOptions, keep func(*broker.Context)) *broker.Broker {
	t.Helper()
	r := rt.NewReal()
	opts.Runtime, opts.Cacher = r, cache.NewMemory(r)
	b := broker.MustNew(opts)
	co.TTL = broker.Dur(time.Hour)
	b.MustAddService(&broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Params: map[string]any{"id": "number"}, Cache: &co,
			Handler: func(ctx *broker.Context) (any, error) {
				keep(ctx)
				return map[string]any{"id": ctx.Params["id"]}, nil
			}},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	return b
}

// kept is what a context said when it was kept, to compare with what it says later.
type kept struct {
	ctx            *broker.Context
	id, action, of string
}

func keepCtx(ctx *broker.Context) kept {
	tenant, _ := ctx.Meta["tenant"].(string)
	return kept{ctx: ctx, id: ctx.ID, action: ctx.Action, of: tenant}
}

// requireIntact checks that no kept context was reused for a later call.
func requireIntact(t *testing.T, ks []kept) {
	t.Helper()
	seen := map[*broker.Context]bool{}
	for _, k := range ks {
		require.False(t, seen[k.ctx], "a kept context served a second call")
		seen[k.ctx] = true
		tenant, _ := k.ctx.Meta["tenant"].(string)
		require.Equal(t, k, kept{ctx: k.ctx, id: k.ctx.ID, action: k.ctx.Action, of: tenant})
	}
}

// A handler that keeps its context (ctx.Keep) finds it intact after any number of later
// calls, cache hits included (which the broker answers alone, and whose contexts it reuses).
func TestKeptHandlerContextIsNotRecycled(t *testing.T) {
	var ks []kept
	b := cachedProduct(t, broker.Options{}, broker.CacheOptions{Keys: []string{"id"}}, func(ctx *broker.Context) {
		ctx.Keep()
		ks = append(ks, keepCtx(ctx))
	})
	for i := range 3 {
		_, err := b.Call("product.get", map[string]any{"id": float64(i)}, broker.WithMeta(map[string]any{"tenant": fmt.Sprint("t", i)}))
		require.NoError(t, err)
	}
	for i := range 200 { // hits
		_, err := b.Call("product.get", map[string]any{"id": float64(i % 3)}, broker.WithMeta(map[string]any{"tenant": "hit"}))
		require.NoError(t, err)
	}
	require.Len(t, ks, 3, "three misses ran the handler")
	requireIntact(t, ks)
	require.Equal(t, "t2", ks[2].of)
}

// A user middleware that keeps the contexts of cache hits (the handler never sees them)
// keeps them intact too: a context that reached code outside the broker is never reused.
func TestKeptMiddlewareContextIsNotRecycled(t *testing.T) {
	var ks []kept
	mw := broker.Middleware{Name: "keeper", LocalAction: func(next broker.Handler, _ *broker.Endpoint) broker.Handler {
		return func(ctx *broker.Context) (any, error) {
			ks = append(ks, keepCtx(ctx))
			return next(ctx)
		}
	}}
	b := cachedProduct(t, broker.Options{Observers: []broker.Middleware{mw}}, broker.CacheOptions{Keys: []string{"id"}}, func(*broker.Context) {})
	for i := range 100 {
		_, err := b.Call("product.get", map[string]any{"id": 1.0}, broker.WithMeta(map[string]any{"tenant": fmt.Sprint("t", i)}))
		require.NoError(t, err)
	}
	require.Len(t, ks, 100)
	requireIntact(t, ks)
	require.Equal(t, "t99", ks[99].of)
}

// A cache KeyFunc gets the context's Meta map; one that keeps it finds it intact.
func TestKeptKeyFuncMetaIsNotRecycled(t *testing.T) {
	var metas []map[string]any
	keyFunc := func(action string, params, meta map[string]any) string {
		metas = append(metas, meta)
		return action + ":" + fmt.Sprint(params["id"])
	}
	b := cachedProduct(t, broker.Options{}, broker.CacheOptions{KeyFunc: keyFunc}, func(*broker.Context) {})
	for i := range 100 {
		_, err := b.Call("product.get", map[string]any{"id": 1.0}, broker.WithMeta(map[string]any{"tenant": fmt.Sprint("t", i)}))
		require.NoError(t, err)
	}
	require.Len(t, metas, 100)
	for i, m := range metas {
		require.Equal(t, map[string]any{"tenant": fmt.Sprint("t", i)}, m)
	}
}

// A handler that does not call Keep gives its context back when it returns: later calls
// reuse it (this is what makes a local call cost no Context allocation). sync.Pool may drop
// an entry at a collection (and, under -race, at random), so the test asks for reuse, not
// for a count.
func TestHandlerContextIsReusedWithoutKeep(t *testing.T) {
	seen := map[*broker.Context]bool{}
	reused := 0
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	b.MustAddService(&broker.Service{Name: "math", Actions: map[string]broker.Action{
		"add": {Params: map[string]any{"a": "number", "b": "number"}, Handler: func(ctx *broker.Context) (any, error) {
			if seen[ctx] {
				reused++
			}
			seen[ctx] = true
			require.Empty(t, ctx.Meta, "a reused context starts with empty Meta")
			ctx.Meta["scratch"] = true
			return ctx.Params["a"].(float64) + ctx.Params["b"].(float64), nil
		}},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	for range 200 {
		res, err := b.Call("math.add", map[string]any{"a": 1.0, "b": 2.0})
		require.NoError(t, err)
		require.Equal(t, 3.0, res)
	}
	require.Positive(t, reused, "no context was reused in 200 calls")
}

// A handler that returns its own ctx.Meta, or puts it inside its result, hands that map to
// its caller, which finds it intact after later calls: a handler's context never passes its
// Meta on.
func TestMetaReturnedAsResultIsNotReused(t *testing.T) {
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	b.MustAddService(&broker.Service{Name: "echo", Actions: map[string]broker.Action{
		"meta":   {Handler: func(ctx *broker.Context) (any, error) { return ctx.Meta, nil }},
		"nested": {Handler: func(ctx *broker.Context) (any, error) { return map[string]any{"meta": ctx.Meta}, nil }},
		"fail":   {Handler: func(ctx *broker.Context) (any, error) { return nil, errs.New("no", 500, "NO", ctx.Meta) }},
		"scalar": {Handler: func(ctx *broker.Context) (any, error) { return len(ctx.Meta), nil }},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	var got, nested, failed []any
	for i := range 100 {
		res, err := b.Call("echo.meta", nil, broker.WithMeta(map[string]any{"n": i}))
		require.NoError(t, err)
		got = append(got, res)
		res, err = b.Call("echo.nested", nil, broker.WithMeta(map[string]any{"n": i}))
		require.NoError(t, err)
		nested = append(nested, res)
		_, err = b.Call("echo.fail", nil, broker.WithMeta(map[string]any{"n": i}))
		failed = append(failed, errs.From(err).Data)
		// A scalar result cannot hold Meta: that context keeps its Meta map for reuse.
		res, err = b.Call("echo.scalar", nil, broker.WithMeta(map[string]any{"n": i, "m": i}))
		require.NoError(t, err)
		require.Equal(t, 2, res)
	}
	for i := range got {
		require.Equal(t, map[string]any{"n": i}, got[i])
		require.Equal(t, map[string]any{"meta": map[string]any{"n": i}}, nested[i])
		require.Equal(t, map[string]any{"n": i}, failed[i])
	}
}

// A handler that hands its context to code taking a context.Context — here
// context.WithTimeout, whose watcher goroutine reads the parent after the handler returned,
// as database/sql's Rows watcher does — keeps it from reuse without calling Keep: the
// library asked ctx.Done on the handler's goroutine, which marks the context. Under -race a
// reuse would also show as a race between the watcher and the next call.
func TestContextUsedAsContextContextIsNotReused(t *testing.T) {
	seen := map[*broker.Context]bool{}
	var watchers sync.WaitGroup
	release := make(chan struct{})
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	b.MustAddService(&broker.Service{Name: "db", Actions: map[string]broker.Action{
		"find": {Handler: func(ctx *broker.Context) (any, error) {
			require.False(t, seen[ctx], "a context handed to context.WithTimeout served a second call")
			seen[ctx] = true
			child, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			id := ctx.ID
			watchers.Go(func() {
				<-release // the handler has long returned
				require.NoError(t, ctx.Err())
				require.Equal(t, id, ctx.ID)
			})
			return child.Err() == nil, nil
		}},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	for range 200 {
		res, err := b.Call("db.find", nil)
		require.NoError(t, err)
		require.Equal(t, true, res)
	}
	close(release)
	watchers.Wait()
	require.Len(t, seen, 200)
}

// A local call through the timeout middleware shares its context with the handler's task and
// the deadline timer; with none of them keeping it, the context is reused once all three are
// done, as an untimed call's is.
func TestTimedHandlerContextIsReused(t *testing.T) {
	seen := map[*broker.Context]bool{}
	reused := 0
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal(), RequestTimeout: time.Hour})
	b.MustAddService(&broker.Service{Name: "math", Actions: map[string]broker.Action{
		"add": {Handler: func(ctx *broker.Context) (any, error) {
			if seen[ctx] {
				reused++
			}
			seen[ctx] = true
			require.Empty(t, ctx.Meta, "a reused context starts with empty Meta")
			ctx.Meta["scratch"] = true
			return 3.0, nil
		}},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	for range 200 {
		res, err := b.Call("math.add", nil)
		require.NoError(t, err)
		require.Equal(t, 3.0, res)
	}
	require.Positive(t, reused, "no timed context was reused in 200 calls")
}

// A handler that runs past its caller's deadline still holds its context: later calls, which
// the broker serves from the pool, never get it while the handler runs, and the handler finds
// it as it was.
func TestTimedOutHandlerKeepsItsContext(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan [2]kept, 1) // what the handler saw before and after
	var mu sync.Mutex
	later := map[*broker.Context]bool{}
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	b.MustAddService(&broker.Service{Name: "slow", Actions: map[string]broker.Action{
		"hang": {Handler: func(ctx *broker.Context) (any, error) {
			before := keepCtx(ctx)
			<-release // until the caller has timed out and other calls have run
			finished <- [2]kept{before, keepCtx(ctx)}
			return nil, nil
		}},
		"quick": {Handler: func(ctx *broker.Context) (any, error) {
			mu.Lock()
			later[ctx] = true
			mu.Unlock()
			return 1.0, nil
		}},
	}})
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Stop() })
	_, err := b.Call("slow.hang", nil, broker.WithTimeout(time.Millisecond), broker.WithMeta(map[string]any{"tenant": "t1"}))
	require.Equal(t, "RequestTimeoutError", errs.Name(err))
	for range 200 {
		_, err := b.Call("slow.quick", nil, broker.WithTimeout(time.Hour))
		require.NoError(t, err)
	}
	close(release)
	k := <-finished
	mu.Lock()
	defer mu.Unlock()
	require.False(t, later[k[0].ctx], "a later call got the timed-out handler's context")
	require.Equal(t, k[0], k[1], "the timed-out handler's context changed under it")
	require.Equal(t, "t1", k[1].of)
}
