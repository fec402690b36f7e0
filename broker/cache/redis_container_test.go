package cache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/cache/cachetest"
)

// redisImage is the server the Docker tier runs.
const redisImage = "redis:7-alpine"

// dockerEngineLikely is a cheap first look for a Docker engine: DOCKER_HOST, or one of the
// usual sockets. testcontainers' own health check follows when it says yes.
func dockerEngineLikely() bool {
	if os.Getenv("DOCKER_HOST") != "" {
		return true
	}
	socks := []string{"/var/run/docker.sock"}
	if home, err := os.UserHomeDir(); err == nil {
		socks = append(socks, filepath.Join(home, ".docker", "run", "docker.sock"), filepath.Join(home, ".docker", "desktop", "docker.sock"))
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		socks = append(socks, filepath.Join(dir, "docker.sock"))
	}
	for _, s := range socks {
		if _, err := os.Stat(s); err == nil {
			return true
		}
	}
	return false
}

// TestRedisConformanceContainer is the third Redis tier: where a Docker engine exists, the
// conformance suite runs against a real Redis in a container started by testcontainers-go.
// Elsewhere it is skipped (the miniredis tiers always run, the REDIS_URL tier in CI).
func TestRedisConformanceContainer(t *testing.T) {
	if !dockerEngineLikely() {
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
