package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/broker/rt"
)

// RedisStore returns a RateLimit.NewStore that counts in Redis, so every gateway node
// sharing the server shares one limit per client. Keys are "<prefix><window start in Unix
// ms>:<client key>", created by INCR and expiring at the window's end (PEXPIREAT); windows
// are aligned on the clock, as the memory store's. Each count waits at most timeout (0: 1 s);
// a failed count lets the request through (see RateStore).
func RedisStore(client redis.UniversalClient, prefix string, timeout time.Duration) func(window time.Duration, clock rt.Clock) RateStore {
	if timeout <= 0 {
		timeout = time.Second
	}
	return func(window time.Duration, clock rt.Clock) RateStore {
		return &redisStore{client: client, prefix: prefix, timeout: timeout, window: window, clock: clock}
	}
}

type redisStore struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	window  time.Duration
	clock   rt.Clock
}

func (s *redisStore) Inc(key string) (int, time.Time, error) {
	start := s.clock.Now().Truncate(s.window)
	reset := start.Add(s.window)
	k := s.prefix + strconv.FormatInt(start.UnixMilli(), 10) + ":" + key
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var incr *redis.IntCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.PExpireAt(ctx, k, reset)
		return nil
	})
	if err != nil {
		return 0, reset, err
	}
	return int(incr.Val()), reset, nil
}
