package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/cachetest"
	"github.com/faultline/faultline/broker/rt"
)

func TestMemoryConformance(t *testing.T) {
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		clock := cachetest.NewClock()
		c := cache.NewMemory(clock)
		t.Cleanup(func() { _ = c.Close() })
		return c, clock.Advance
	})
}

func TestLRUConformance(t *testing.T) {
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		clock := cachetest.NewClock()
		c := cache.NewMemoryLRU(clock, 100)
		t.Cleanup(func() { _ = c.Close() })
		return c, clock.Advance
	})
}

// TestMemoryConformanceRealClock runs the suite's real-time branch (the one a real Redis
// server gets, with no Advance) on a memory cacher over the wall clock, so that branch is
// exercised even where REDIS_URL is unset.
func TestMemoryConformanceRealClock(t *testing.T) {
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		c := cache.NewMemory(rt.NewReal())
		t.Cleanup(func() { _ = c.Close() })
		return c, nil
	})
}

func TestMemoryPruneAndClose(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	m := cache.NewMemory(clock)
	require.NoError(t, m.Set(ctx, "a", []byte("1"), time.Second))
	require.NoError(t, m.Set(ctx, "b", []byte("2"), 2*time.Second))
	require.NoError(t, m.Set(ctx, "c", []byte("3"), 0))
	clock.Advance(time.Second)
	assert.Equal(t, 3, m.Len(), "expiry is lazy")
	keys, err := m.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c"}, keys, "expired entries are never listed")
	assert.Equal(t, 1, m.Prune())
	assert.Equal(t, 2, m.Len())

	require.NoError(t, m.Close())
	_, _, err = m.Get(ctx, "c")
	assert.True(t, errors.Is(err, cache.ErrClosed))
	assert.True(t, errors.Is(m.Set(ctx, "c", nil, 0), cache.ErrClosed))
	assert.True(t, errors.Is(m.Clean(ctx), cache.ErrClosed))
	assert.NoError(t, m.Close(), "closing twice is harmless")
}

func TestLRUEvictionOrder(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	c := cache.NewMemoryLRU(clock, 3)
	var evicted []string
	c.OnEvict = func(key string) { evicted = append(evicted, key) }

	set := func(k string) { require.NoError(t, c.Set(ctx, k, []byte(k), 0)) }
	set("a")
	set("b")
	set("c")
	assert.Equal(t, []string{"c", "b", "a"}, c.Recency())

	_, ok, err := c.Get(ctx, "a") // a becomes the most recent; b is now the oldest
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []string{"a", "c", "b"}, c.Recency())

	set("d")
	assert.Equal(t, []string{"b"}, evicted)
	assert.Equal(t, []string{"d", "a", "c"}, c.Recency())

	set("c") // overwriting refreshes too
	set("e")
	assert.Equal(t, []string{"b", "a"}, evicted)
	assert.Equal(t, []string{"e", "c", "d"}, c.Recency())

	_, err = c.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"e", "c", "d"}, c.Recency(), "Keys does not touch recency")

	_, ok, _ = c.Get(ctx, "missing")
	assert.False(t, ok)
	require.NoError(t, c.Del(ctx, "c"))
	require.NoError(t, c.Clean(ctx, "e"))
	assert.Equal(t, []string{"b", "a"}, evicted, "Del and Clean are not evictions")
	assert.Equal(t, 1, c.Len())
}

func TestLRUExpiry(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	c := cache.NewMemoryLRU(clock, 10)
	require.NoError(t, c.Set(ctx, "a", []byte("1"), time.Second))
	require.NoError(t, c.Set(ctx, "b", []byte("2"), 0))
	clock.Advance(time.Second)
	assert.Equal(t, []string{"b"}, c.Recency())
	assert.Equal(t, 2, c.Len())
	assert.Equal(t, 1, c.Prune())
	assert.Equal(t, 1, c.Len())
}

func TestLRUOnEvictMayReenter(t *testing.T) {
	ctx := context.Background()
	c := cache.NewMemoryLRU(cachetest.NewClock(), 1)
	var seen []string
	c.OnEvict = func(key string) {
		keys, err := c.Keys(ctx) // must not deadlock: the hook runs unlocked
		require.NoError(t, err)
		seen = append(seen, key+">"+keys[0])
	}
	require.NoError(t, c.Set(ctx, "a", nil, 0))
	require.NoError(t, c.Set(ctx, "b", nil, 0))
	assert.Equal(t, []string{"a>b"}, seen)
}

func TestLRUDefaultMax(t *testing.T) {
	ctx := context.Background()
	c := cache.NewMemoryLRU(cachetest.NewClock(), 0)
	for i := range cache.DefaultLRUMax + 5 {
		require.NoError(t, c.Set(ctx, string(rune('A'+i%26))+time.Duration(i).String(), nil, 0))
	}
	assert.Equal(t, cache.DefaultLRUMax, c.Len())
}

// GetValue hands out what decoding Get's bytes would, a fresh copy of the containers per
// hit, honours expiry and reports a corrupt entry as a DecodeError.
func TestMemoryGetValue(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	c := cache.NewMemory(clock)
	require.NoError(t, c.Set(ctx, "k", []byte(`{"id":5,"tags":["a","b"],"n":null}`), time.Second))

	v, ok, err := c.GetValue(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	want := map[string]any{"id": 5.0, "tags": []any{"a", "b"}, "n": nil}
	assert.Equal(t, want, v)
	v.(map[string]any)["id"] = "changed"
	v.(map[string]any)["tags"].([]any)[0] = "changed"
	again, _, _ := c.GetValue(ctx, "k")
	assert.Equal(t, want, again, "a caller's changes never reach the cache")

	require.NoError(t, c.Set(ctx, "k", []byte(`[1]`), time.Second))
	v, _, _ = c.GetValue(ctx, "k")
	assert.Equal(t, []any{1.0}, v, "a new Set replaces the decoded value")

	require.NoError(t, c.Set(ctx, "bad", []byte(`{`), 0))
	_, ok, err = c.GetValue(ctx, "bad")
	var de *cache.DecodeError
	assert.True(t, ok)
	assert.True(t, errors.As(err, &de), "got %v", err)

	clock.Advance(time.Second)
	_, ok, err = c.GetValue(ctx, "k")
	assert.NoError(t, err)
	assert.False(t, ok, "expired exactly at its ttl")
	_, ok, _ = c.GetValue(ctx, "missing")
	assert.False(t, ok)
}
