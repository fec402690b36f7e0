package scenarios

import (
	"context"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/rt"
)

// simRedis is a Redis cacher on an embedded Redis-protocol server (miniredis) whose clock is
// kept in step with the simulation: before every operation the server is fast-forwarded by
// the virtual time passed since the last one, so TTLs expire at exact virtual instants.
type simRedis struct {
	*cache.Redis
	mr    *miniredis.Miniredis
	clock rt.Clock
	mu    sync.Mutex
	last  time.Time
}

func newSharedRedis(clock rt.Clock) (*simRedis, error) {
	mr, err := miniredis.Run()
	if err != nil {
		return nil, err
	}
	r, err := cache.NewRedis(cache.RedisOptions{URL: "redis://" + mr.Addr()})
	if err != nil {
		mr.Close()
		return nil, err
	}
	return &simRedis{Redis: r, mr: mr, clock: clock, last: clock.Now()}, nil
}

func (s *simRedis) sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if d := now.Sub(s.last); d > 0 {
		s.mr.FastForward(d)
		s.last = now
	}
}

func (s *simRedis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.sync()
	return s.Redis.Get(ctx, key)
}

func (s *simRedis) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.sync()
	return s.Redis.Set(ctx, key, v, ttl)
}

func (s *simRedis) Del(ctx context.Context, keys ...string) error {
	s.sync()
	return s.Redis.Del(ctx, keys...)
}

func (s *simRedis) Clean(ctx context.Context, patterns ...string) error {
	s.sync()
	return s.Redis.Clean(ctx, patterns...)
}

func (s *simRedis) Keys(ctx context.Context) ([]string, error) {
	s.sync()
	return s.Redis.Keys(ctx)
}

func (s *simRedis) Close() error {
	err := s.Redis.Close()
	s.mr.Close()
	return err
}
