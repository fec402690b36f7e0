package testutil

import (
	"context"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/rt"
)

// NewSimMiniredis starts an embedded Redis-protocol server (miniredis) whose TTLs follow the
// given clock instead of its own: its time is set to the clock now, and SimRedis sets it
// again before every command, so keys expire exactly when the simulated clock reaches their
// TTL, as a real Redis would in real time.
func NewSimMiniredis(clock rt.Clock) (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, err
	}
	mr.SetTime(clock.Now())
	mr.ClockTTL(true)
	return mr, nil
}

// SimRedis is a Redis cacher on a NewSimMiniredis server that keeps the server's clock in
// step with the simulation. Several SimRedis may share one server (one per node).
type SimRedis struct {
	*cache.Redis
	mr    *miniredis.Miniredis
	clock rt.Clock
}

// NewSimRedis connects a Redis cacher to mr.
func NewSimRedis(mr *miniredis.Miniredis, clock rt.Clock) (*SimRedis, error) {
	r, err := cache.NewRedis(cache.RedisOptions{URL: "redis://" + mr.Addr()})
	if err != nil {
		return nil, err
	}
	return &SimRedis{Redis: r, mr: mr, clock: clock}, nil
}

func (s *SimRedis) sync() { s.mr.SetTime(s.clock.Now()) }

func (s *SimRedis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.sync()
	return s.Redis.Get(ctx, key)
}

func (s *SimRedis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.sync()
	return s.Redis.Set(ctx, key, value, ttl)
}

func (s *SimRedis) Del(ctx context.Context, keys ...string) error {
	s.sync()
	return s.Redis.Del(ctx, keys...)
}

func (s *SimRedis) Clean(ctx context.Context, patterns ...string) error {
	s.sync()
	return s.Redis.Clean(ctx, patterns...)
}

func (s *SimRedis) Keys(ctx context.Context) ([]string, error) {
	s.sync()
	return s.Redis.Keys(ctx)
}
