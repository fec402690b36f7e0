package cache_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/cachetest"
)

var benchValue = []byte(`{"id":5,"title":"Hello","tags":["go","chaos"],"published":true}`)

func benchGet(b *testing.B, c cache.Cacher) {
	ctx := context.Background()
	if err := c.Set(ctx, "posts.find:id|5", benchValue, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, ok, err := c.Get(ctx, "posts.find:id|5"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	benchGet(b, cache.NewMemory(cachetest.NewClock()))
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	c := cache.NewMemory(cachetest.NewClock())
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("posts.find:id|%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Set(ctx, keys[i%len(keys)], benchValue, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkLRUGet(b *testing.B) {
	benchGet(b, cache.NewMemoryLRU(cachetest.NewClock(), 1000))
}

func BenchmarkRedisGet(b *testing.B) {
	b.Run("miniredis", func(b *testing.B) {
		c, _ := newMiniredisCacher(b, "")
		benchGet(b, c)
	})
	if url := os.Getenv("REDIS_URL"); url != "" {
		b.Run("real", func(b *testing.B) {
			c, err := cache.NewRedis(cache.RedisOptions{URL: url, Prefix: fmt.Sprintf("FLBENCH-%d-", os.Getpid())})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				_ = c.Clean(context.Background())
				_ = c.Close()
			})
			benchGet(b, c)
		})
	}
}

func BenchmarkKey(b *testing.B) {
	ordered, err := cache.ParseOrdered([]byte(`{"limit":10,"offset":30,"sort":["-createdAt","title"],"query":{"status":"published","tags":["go","chaos"]}}`))
	if err != nil {
		b.Fatal(err)
	}
	asMap := map[string]any{"limit": 10, "offset": 30, "sort": []any{"-createdAt", "title"}, "query": map[string]any{"status": "published"}}
	meta := map[string]any{"user": map[string]any{"role": "admin"}}
	b.Run("ordered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cache.Key("posts.find", ordered, meta, nil, 0)
		}
	})
	b.Run("ordered-hashed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cache.Key("posts.find", ordered, meta, nil, 60)
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cache.Key("posts.find", asMap, meta, nil, 0)
		}
	})
	b.Run("keys", func(b *testing.B) {
		b.ReportAllocs()
		keys := []string{"limit", "#user.role"}
		for b.Loop() {
			_ = cache.Key("posts.find", ordered, meta, keys, 0)
		}
	})
}
