package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultRedisPrefix is Moleculer's key prefix for a broker without a namespace.
const DefaultRedisPrefix = "MOL-"

// Defaults applied to a client NewRedis builds from a URL, unless the URL sets them. They are
// short so that an unreachable Redis fails a call within a few hundred milliseconds: the
// broker treats a cacher error as a miss and calls the handler, which is only useful if the
// error comes quickly.
const (
	DefaultRedisDialTimeout = 200 * time.Millisecond
	DefaultRedisIOTimeout   = 200 * time.Millisecond
)

// scanCount is the COUNT hint for SCAN: how many keys Redis examines per step (and therefore
// roughly the batch size of deletes during Clean).
const scanCount = 100

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// URL is a redis:// or rediss:// URL, parsed with redis.ParseURL.
	URL string
	// Client, when set, is used instead of URL. The caller keeps ownership: Close does not
	// close it. Cluster and Ring clients are supported (Clean and Keys scan every shard).
	Client redis.UniversalClient
	// Prefix is prepended to every key; empty means DefaultRedisPrefix. Use NewRedisPrefix
	// for a namespaced broker.
	Prefix string
}

// NewRedisPrefix returns Moleculer's key prefix for a broker namespace: "MOL-" or "MOL-<ns>-".
func NewRedisPrefix(namespace string) string {
	if namespace == "" {
		return DefaultRedisPrefix
	}
	return DefaultRedisPrefix + namespace + "-"
}

// Redis is Moleculer's RedisCacher: values live in Redis under prefix+key, Redis keeps the
// TTL, and Clean walks the keyspace with SCAN (never KEYS, which blocks the server).
//
// As in Moleculer, Clean turns `**` into `*` and hands the pattern to Redis' MATCH, where `*`
// crosses dots: `svc.*` removes svc.find:q|"a.b" here but not on a memory cacher (see
// StarCrossesDot). Unlike Moleculer, the glob metacharacters `[`, `]` and `\` in the prefix
// and pattern are escaped, so keys holding arrays ([1|2]) can be cleaned literally, as they
// can on the memory cachers. A further Moleculer behaviour kept: the prefix "MOL-" also
// matches "MOL-ns-" keys, so a cacher without a namespace sees the keys of namespaced ones
// sharing the same Redis.
//
// Every failure is returned as an error; nothing panics when Redis is unreachable.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	owned   bool // the client was built from a URL: Close closes it
	cluster bool // multi-key DEL may span slots: delete key by key
}

var _ Cacher = (*Redis)(nil)

// NewRedis returns a Redis cacher. It does not connect: the first command does, so a Redis
// that is down at startup shows up as errors from the calls, not from NewRedis.
func NewRedis(opts RedisOptions) (*Redis, error) {
	r := &Redis{client: opts.Client, prefix: opts.Prefix}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.client == nil {
		if opts.URL == "" {
			return nil, errors.New("cache: RedisOptions needs a URL or a Client")
		}
		ro, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("cache: redis URL: %w", err)
		}
		applyRedisDefaults(ro)
		r.client = redis.NewClient(ro)
		r.owned = true
	}
	switch r.client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		r.cluster = true
	}
	return r, nil
}

func applyRedisDefaults(o *redis.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultRedisDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultRedisIOTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultRedisIOTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1 // go-redis: -1 disables retries (0 would mean its default, 3)
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1 // one dial attempt per command, no 100 ms backoff loop
	}
	// Let a caller's context deadline cut a command short too.
	o.ContextTimeoutEnabled = true
	// A cacher needs neither CLIENT SETINFO nor Redis Enterprise maintenance notifications;
	// skipping them saves round trips on every new connection.
	o.DisableIdentity = true
	if o.MaintNotificationsConfig == nil {
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// Prefix returns the prefix every key is stored under.
func (r *Redis) Prefix() string { return r.prefix }

// CleanStarCrossesDot reports that `*` in a Clean pattern matches dots (see StarCrossesDot).
func (r *Redis) CleanStarCrossesDot() bool { return true }

// Client returns the underlying Redis client.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Get implements Cacher.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("cache: redis GET %s: %w", key, err)
	}
	return v, true, nil
}

// Set implements Cacher with SET key value [PX ttl]: Redis expires the key itself.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if err := r.client.Set(ctx, r.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("cache: redis SET %s: %w", key, err)
	}
	return nil
}

// Del implements Cacher.
func (r *Redis) Del(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.prefix + k
	}
	if err := r.del(ctx, r.client, full); err != nil {
		return fmt.Errorf("cache: redis DEL: %w", err)
	}
	return nil
}

// del removes already-prefixed keys through c.
func (r *Redis) del(ctx context.Context, c redis.Cmdable, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if !r.cluster || len(keys) == 1 {
		return c.Del(ctx, keys...).Err()
	}
	// Keys in different hash slots cannot share one DEL; a pipeline of single-key DELs is
	// still one round trip per node.
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}

// Clean implements Cacher: SCAN MATCH prefix+pattern (with `**` turned into `*`) on every
// shard, deleting each batch SCAN returns. Deleting while scanning is safe: SCAN still
// returns every key that exists for the whole walk.
func (r *Redis) Clean(ctx context.Context, patterns ...string) error {
	if len(patterns) == 0 {
		patterns = []string{"**"}
	}
	for _, p := range patterns {
		match := escapeRedisGlob(r.prefix) + redisPattern(p)
		err := r.scan(ctx, match, func(ctx context.Context, c redis.Cmdable, keys []string) error {
			return r.del(ctx, c, keys)
		})
		if err != nil {
			return fmt.Errorf("cache: redis clean %q: %w", p, err)
		}
	}
	return nil
}

// Keys implements Cacher with SCAN (which may repeat a key, hence the dedup).
func (r *Redis) Keys(ctx context.Context) ([]string, error) {
	var (
		mu   sync.Mutex // cluster shards are scanned concurrently by go-redis
		keys []string
	)
	err := r.scan(ctx, escapeRedisGlob(r.prefix)+"*", func(_ context.Context, _ redis.Cmdable, batch []string) error {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range batch {
			keys = append(keys, strings.TrimPrefix(k, r.prefix))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: redis keys: %w", err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// scan runs SCAN MATCH match to completion on every shard, passing each non-empty batch to fn.
func (r *Redis) scan(ctx context.Context, match string, fn func(context.Context, redis.Cmdable, []string) error) error {
	one := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(ctx, c, keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return one(ctx, n) })
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return one(ctx, n) })
	default:
		return one(ctx, r.client)
	}
}

// Close closes the client if NewRedis created it.
func (r *Redis) Close() error {
	if !r.owned {
		return nil
	}
	return r.client.Close()
}

// redisPattern turns a clean pattern into a Redis MATCH pattern: `**` becomes `*` (Redis' `*`
// already crosses dots) and Redis-only metacharacters are escaped.
func redisPattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteByte('*')
			for i+1 < len(p) && p[i+1] == '*' {
				i++
			}
		case '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeRedisGlob makes s match itself literally in a Redis MATCH pattern.
func escapeRedisGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
