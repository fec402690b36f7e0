package broker_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/rt"
)

// benchProductCall measures one local call of product.get on the real runtime (a single local
// call needs no simulator task), with the action cached or not. The broker has a memory
// cacher either way; only the action's Cache option differs.
func benchProductCall(b *testing.B, co *broker.CacheOptions) {
	r := rt.NewReal()
	n := broker.MustNew(broker.Options{Runtime: r, NodeID: "a", Cacher: cache.NewMemory(r)})
	n.MustAddService(&broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Cache: co, Handler: func(ctx *broker.Context) (any, error) {
			return map[string]any{"id": ctx.Params["id"], "name": "Widget", "price": 10.5, "tags": []any{"tools", "metal"}}, nil
		}},
	}})
	if err := n.Start(); err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	params := map[string]any{"id": 5}
	if _, err := n.Call("product.get", params); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Call("product.get", params); err != nil {
			b.Fatal(err)
		}
	}
	if co != nil && n.CacheErrors() != 0 {
		b.Fatal("cache errors")
	}
}

// BenchmarkCachedLocalCall: every call is a cache hit (key built, entry read and decoded; the
// handler never runs).
func BenchmarkCachedLocalCall(b *testing.B) {
	benchProductCall(b, &broker.CacheOptions{Keys: []string{"id"}, TTL: broker.Dur(time.Hour)})
}

// BenchmarkUncachedLocalCall: the same call with the action not cached: the handler runs.
func BenchmarkUncachedLocalCall(b *testing.B) {
	benchProductCall(b, nil)
}
