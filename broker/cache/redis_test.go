package cache_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/cachetest"
	"github.com/faultline/faultline/testutil"
)

func newMiniredisCacher(t testing.TB, prefix string) (*cache.Redis, *miniredis.Miniredis) {
	mr := miniredis.RunT(t)
	c, err := cache.NewRedis(cache.RedisOptions{URL: "redis://" + mr.Addr(), Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, mr
}

func TestRedisConformanceMiniredis(t *testing.T) {
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		c, mr := newMiniredisCacher(t, "")
		return c, mr.FastForward
	})
}

func TestRedisConformanceMiniredisClient(t *testing.T) {
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		mr := miniredis.RunT(t)
		client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = client.Close() })
		c, err := cache.NewRedis(cache.RedisOptions{Client: client, Prefix: cache.NewRedisPrefix("ns")})
		require.NoError(t, err)
		return c, mr.FastForward
	})
}

var realRedisSeq atomic.Int64

// TestRedisConformanceReal runs the suite against a real server: REDIS_URL, or a
// redis-server the test starts. Without either it skips in one line (fails in CI, which sets
// FAULTLINE_REQUIRE=redis). Each subtest uses its own prefix and cleans it up, so a shared
// server is left as it was.
func TestRedisConformanceReal(t *testing.T) {
	url := testutil.RedisURL(t)
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		prefix := fmt.Sprintf("FLTEST-%d-%d-", os.Getpid(), realRedisSeq.Add(1))
		c, err := cache.NewRedis(cache.RedisOptions{URL: url, Prefix: prefix})
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = c.Clean(context.Background())
			_ = c.Close()
		})
		return c, nil
	})
}

func TestRedisStoresPrefixedKeysWithTTL(t *testing.T) {
	ctx := context.Background()
	c, mr := newMiniredisCacher(t, cache.NewRedisPrefix("prod"))
	assert.Equal(t, "MOL-prod-", c.Prefix())
	require.NoError(t, c.Set(ctx, "posts.find:id|5", []byte(`{"id":5}`), 1500*time.Millisecond))
	require.NoError(t, c.Set(ctx, "posts.list", []byte(`[]`), 0))

	got, err := mr.Get("MOL-prod-posts.find:id|5")
	require.NoError(t, err)
	assert.Equal(t, `{"id":5}`, got)
	assert.Equal(t, 1500*time.Millisecond, mr.TTL("MOL-prod-posts.find:id|5"), "sub-second TTLs kept (PX)")
	assert.Equal(t, time.Duration(0), mr.TTL("MOL-prod-posts.list"), "ttl 0: no expiry")

	// A foreign key outside the prefix is neither listed nor cleaned.
	require.NoError(t, mr.Set("other-app-key", "x"))
	keys, err := c.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"posts.find:id|5", "posts.list"}, keys)
	require.NoError(t, c.Clean(ctx))
	assert.True(t, mr.Exists("other-app-key"))
	assert.False(t, mr.Exists("MOL-prod-posts.list"))
}

func TestRedisCleanManyKeysInBatches(t *testing.T) {
	ctx := context.Background()
	c, mr := newMiniredisCacher(t, "")
	for i := range 1050 { // several SCAN batches
		require.NoError(t, c.Set(ctx, fmt.Sprintf("svc.k%d", i), []byte("1"), 0))
	}
	require.NoError(t, c.Set(ctx, "keep.me", []byte("1"), 0))
	keys, err := c.Keys(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 1051)
	require.NoError(t, c.Clean(ctx, "svc.**"))
	assert.Equal(t, []string{"MOL-keep.me"}, mr.Keys())
}

func TestRedisProvidedClientIsNotClosed(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	c, err := cache.NewRedis(cache.RedisOptions{Client: client})
	require.NoError(t, err)
	assert.Equal(t, "MOL-", c.Prefix())
	require.NoError(t, c.Close())
	assert.NoError(t, client.Ping(context.Background()).Err(), "the caller still owns the client")
}

func TestNewRedisErrors(t *testing.T) {
	_, err := cache.NewRedis(cache.RedisOptions{})
	assert.Error(t, err)
	_, err = cache.NewRedis(cache.RedisOptions{URL: "http://nope"})
	assert.Error(t, err)
}

// exerciseFailing runs every Cacher method against a broken backend: each must return an
// error, never panic. (That it is fast follows from the client settings asserted in
// TestRedisDefaultsFailFast.)
func exerciseFailing(t *testing.T, c cache.Cacher) {
	ctx := context.Background()
	_, ok, err := c.Get(ctx, "k")
	assert.Error(t, err)
	assert.False(t, ok)
	assert.Error(t, c.Set(ctx, "k", []byte("1"), time.Second))
	assert.Error(t, c.Del(ctx, "k"))
	assert.Error(t, c.Clean(ctx, "svc.**"))
	_, err = c.Keys(ctx)
	assert.Error(t, err)
	assert.NoError(t, c.Close())
}

func TestRedisUnreachable(t *testing.T) {
	c, err := cache.NewRedis(cache.RedisOptions{URL: "redis://127.0.0.1:1"})
	require.NoError(t, err, "NewRedis does not connect")
	exerciseFailing(t, c)
}

// TestRedisHung: a server that accepts connections but never answers must cost one short
// timeout per call, not the go-redis default of seconds and retries.
func TestRedisHung(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	c, err := cache.NewRedis(cache.RedisOptions{URL: "redis://" + ln.Addr().String()})
	require.NoError(t, err)
	exerciseFailing(t, c)
}

func TestRedisStoppedServer(t *testing.T) {
	ctx := context.Background()
	c, mr := newMiniredisCacher(t, "")
	require.NoError(t, c.Set(ctx, "k", []byte("1"), 0))
	mr.Close()
	_, _, err := c.Get(ctx, "k")
	assert.Error(t, err)
	require.NoError(t, mr.Restart()) // same address, same data
	v, ok, err := c.Get(ctx, "k")
	require.NoError(t, err, "the client reconnects once Redis is back")
	assert.True(t, ok)
	assert.Equal(t, "1", string(v))
}
