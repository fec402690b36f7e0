package cache

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// What makes an unreachable Redis fail fast is the client's configuration, asserted here
// exactly rather than by timing calls against the wall clock: short dial and I/O timeouts,
// no command retries, one dial attempt.
func TestRedisDefaultsFailFast(t *testing.T) {
	o, err := redis.ParseURL("redis://127.0.0.1:1/0")
	assert.NoError(t, err)
	applyRedisDefaults(o)
	assert.Equal(t, 200*time.Millisecond, o.DialTimeout)
	assert.Equal(t, 200*time.Millisecond, o.ReadTimeout)
	assert.Equal(t, 200*time.Millisecond, o.WriteTimeout)
	assert.Equal(t, -1, o.MaxRetries)
	assert.Equal(t, 1, o.DialerRetries)
	assert.True(t, o.ContextTimeoutEnabled)

	// Explicit settings are kept.
	o = &redis.Options{DialTimeout: time.Second, MaxRetries: 2}
	applyRedisDefaults(o)
	assert.Equal(t, time.Second, o.DialTimeout)
	assert.Equal(t, 2, o.MaxRetries)
}
