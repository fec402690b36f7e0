package cache_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/cachetest"
	"github.com/faultline/faultline/testutil"
)

// redisImage is the server the Docker tier runs.
const redisImage = "redis:7-alpine"

// TestRedisConformanceContainer is the third Redis tier: where a Docker engine exists, the
// conformance suite runs against a real Redis in a container started by testcontainers-go.
// Elsewhere it is skipped (the miniredis tiers always run, the REDIS_URL tier in CI).
func TestRedisConformanceContainer(t *testing.T) {
	if !testutil.DockerSocketLikely() {
		t.Skip("no Docker engine: skipping testcontainers Redis tier")
	}
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		t.Skipf("no Docker engine: skipping testcontainers Redis tier (%v)", err)
	}
	healthErr := provider.Health(context.Background())
	_ = provider.Close()
	if healthErr != nil {
		t.Skipf("no Docker engine: skipping testcontainers Redis tier (%v)", healthErr)
	}

	ctx := context.Background()
	ctr, err := tcredis.Run(ctx, redisImage)
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err)
	url, err := ctr.ConnectionString(ctx)
	require.NoError(t, err)
	seq := 0
	cachetest.RunConformance(t, func(t *testing.T) (cache.Cacher, cachetest.Advance) {
		seq++
		c, err := cache.NewRedis(cache.RedisOptions{URL: url, Prefix: fmt.Sprintf("FLTC-%d-", seq)})
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = c.Clean(context.Background())
			_ = c.Close()
		})
		return c, nil // real time: the suite waits out TTLs
	})
}
