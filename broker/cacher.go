package broker

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
)

// Cacher stores action results; see package cache for the implementations.
type Cacher = cache.Cacher

// cacheStats is this broker's cacher bookkeeping: how many operations failed, and the
// cleans it still owes.
type cacheStats struct {
	errors atomic.Int64
	owed   cleanDebt
}

// cleanDebt remembers the cleans this broker's cacher failed. A failed clean is the one
// cacher failure that falling through to the handler does not make harmless: the entries it
// should have removed are still in the cacher (an outage of Redis, or of the link to it, loses
// no data), and once the cacher answers again they would be served as fresh, until their TTL,
// after a write that was acknowledged long before. So a node that failed a clean treats its
// cache as incoherent: every read first retries the owed clean, and while that retry fails the
// read bypasses the cache altogether (no get, no set), even if gets would succeed. The first
// read after the cacher comes back pays the debt, then reads are cached again.
//
// Why not the alternatives: cleaning on a "reconnected" signal needs every cacher to report
// its connection (memory cachers have none, and a slow or half-broken Redis never
// disconnects); bypassing reads until a timer clears the debt guesses a duration; deleting
// the entry on a failed clean is impossible, since the cacher is what failed. Retrying on the
// read path costs one atomic load per read while nothing is owed.
type cleanDebt struct {
	pending atomic.Bool // fast path: nothing owed
	mu      sync.Mutex
	// patterns owed (cache.Match globs), sorted and unique; all: a clean of every entry is
	// owed (one was asked for, or too many distinct patterns piled up).
	patterns []string
	all      bool
	// gen counts failed cleans, so that a retry that succeeds clears only what was owed when
	// it started: a clean that fails meanwhile stays owed.
	gen uint64
}

// maxOwedPatterns is how many distinct patterns a debt keeps before it owes a clean of
// everything instead (a bound on memory, and on the retry's work).
const maxOwedPatterns = 64

// owe records a clean of patterns (none: every entry) that failed.
func (d *cleanDebt) owe(patterns []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	switch {
	case d.all:
	case len(patterns) == 0:
		d.all, d.patterns = true, nil
	default:
		for _, p := range patterns {
			if i, found := slices.BinarySearch(d.patterns, p); !found {
				d.patterns = slices.Insert(d.patterns, i, p)
			}
		}
		if len(d.patterns) > maxOwedPatterns {
			d.all, d.patterns = true, nil
		}
	}
	d.pending.Store(true)
}

// owed returns what is owed (patterns; none with all) and the generation to settle it with.
func (d *cleanDebt) owed() (patterns []string, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.all {
		return []string{}, d.gen
	}
	return slices.Clone(d.patterns), d.gen
}

// settle clears the debt after a successful clean of what owed returned with gen, unless a
// clean failed since.
func (d *cleanDebt) settle(gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen == gen {
		d.patterns, d.all = nil, false
		d.pending.Store(false)
	}
}

// payCleanDebt retries the cleans this broker owes (see cleanDebt) for the read call of
// action, and reports whether the cache may be used. The retry is journaled as cache.clean
// with owed: true, or, failing, as cache.error (op clean). Like every cacher call, the clean
// gets a context without the call's virtual deadline (see cacherMiddleware).
func (b *Broker) payCleanDebt(action, call string) bool {
	patterns, gen := b.cacheStats.owed.owed()
	if err := b.opts.Cacher.Clean(context.Background(), patterns...); err != nil {
		b.cacheStats.errors.Add(1)
		b.log.Warn("cacher still owes a clean; bypassing the cache", "patterns", patterns, "action", action, "err", err)
		b.journal.Record(b.nodeID, journal.CacheError, map[string]any{"op": "clean", "patterns": patterns, "owed": true, "action": action, "call": call, "error": err.Error()})
		return false
	}
	b.cacheStats.owed.settle(gen)
	b.cacheHook("clean", "")
	b.journal.Record(b.nodeID, journal.CacheClean, map[string]any{"patterns": patterns, "owed": true, "action": action, "call": call})
	return true
}

// CacheErrors returns how many cacher operations failed on this broker (each one fell
// through to the handler).
func (b *Broker) CacheErrors() int64 { return b.cacheStats.errors.Load() }

// Cacher returns the broker's cacher (nil when caching is off).
func (b *Broker) Cacher() Cacher { return b.opts.Cacher }

// cacherMiddleware serves opted-in actions from the cache on the serving node. A cacher
// that fails is logged, journaled and counted, and the call falls through to the handler:
// a broken cache must never break a call.
//
// The result of a cached action is always handed out in its JSON form (what a hit decodes
// to: map[string]any, []any, float64, string, bool or nil), on a miss, a bypass or a cacher
// failure too, so that a local caller sees the same value whether or not it came from the
// cache, and the same value a remote caller sees.
func (b *Broker) cacherMiddleware() Middleware {
	return Middleware{
		Name: "Cacher",
		LocalAction: func(next Handler, ep *Endpoint) Handler {
			d := ep.Def()
			if b.opts.Cacher == nil || d == nil || d.Cache == nil {
				return next
			}
			co := actionCache(b.opts.CacheDefaults, *d.Cache)
			c := b.opts.Cacher
			return func(ctx *Context) (any, error) {
				bypass := false
				if v, ok := ctx.Meta["$cache"].(bool); ok && !v {
					bypass = true
				} else if b.cacheStats.owed.pending.Load() {
					bypass = !b.payCleanDebt(ep.Action, ctx.ID)
				}
				if bypass {
					res, err := next(ctx)
					if err != nil {
						return res, err
					}
					_, out := jsonForm(res)
					return out, nil
				}
				key := b.cacheKey(ctx, ep.Action, co)
				// The broker context's deadline is on the runtime's clock, which in a
				// simulation is not the wall clock a network client (go-redis) measures its
				// deadlines against: a virtual deadline would look long past. The cacher
				// gets a context without deadline or cancellation; backends bound their own
				// operations (the Redis cacher's short dial and I/O timeouts). A broker
				// context carries no values (Context.Value), so that context is Background:
				// what context.WithoutCancel(ctx) would give, without its allocation per call.
				cctx := context.Background()
				cached, hit, getErr, decodeErr := cacheGet(cctx, c, key)
				b.cacheHook("get", ep.Action)
				switch {
				case getErr != nil:
					b.cacheFailed("get", key, ep.Action, ctx.ID, getErr)
				case hit:
					if decodeErr != nil {
						// A corrupt entry: count it, and let the handler's result replace it.
						b.cacheFailed("decode", key, ep.Action, ctx.ID, decodeErr)
						break
					}
					res := cached
					b.cacheHook("found", ep.Action)
					if b.journal != nil {
						b.journal.Record(b.nodeID, journal.CacheHit, map[string]any{"key": key, "action": ep.Action, "call": ctx.ID})
					}
					ctx.CachedResult = true
					return res, nil
				default:
					if b.journal != nil {
						b.journal.Record(b.nodeID, journal.CacheMiss, map[string]any{"key": key, "action": ep.Action, "call": ctx.ID})
					}
				}
				res, err := next(ctx)
				if err != nil {
					return res, err // errors are never cached
				}
				data, out := jsonForm(res)
				if data == nil || getErr != nil {
					// Not serializable; or the cacher just failed, and a second failure per
					// call would only add latency and noise.
					return out, nil
				}
				if err := c.Set(cctx, key, data, co.TTL); err != nil {
					b.cacheFailed("set", key, ep.Action, ctx.ID, err)
				} else if b.cacheHook("set", ep.Action); b.journal != nil {
					b.journal.Record(b.nodeID, journal.CacheSet, map[string]any{"key": key, "action": ep.Action, "call": ctx.ID, "ttl": co.TTL})
				}
				return out, nil
			}
		},
	}
}

// cacheGet reads key and decodes the entry: through cache.ValueGetter when the cacher keeps
// entries decoded (the memory cacher: no JSON decoding per hit), else by decoding Get's bytes.
// decodeErr is set for a hit whose entry is not JSON.
func cacheGet(ctx context.Context, c Cacher, key string) (res any, hit bool, getErr, decodeErr error) {
	if vg, ok := c.(cache.ValueGetter); ok {
		res, hit, getErr = vg.GetValue(ctx, key)
		if de, ok := getErr.(*cache.DecodeError); ok {
			return nil, true, nil, de.Err
		}
		return res, hit, getErr, nil
	}
	raw, hit, getErr := c.Get(ctx, key)
	if getErr != nil || !hit {
		return nil, hit, getErr, nil
	}
	var out any // not res: its address would move res to the heap on every call, hits too
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, true, nil, err
	}
	return out, true, nil, nil
}

// jsonForm returns res serialized, and res as that JSON decodes. A value that does not
// serialize is returned as it is, with nil data.
func jsonForm(res any) ([]byte, any) {
	data, err := json.Marshal(res)
	if err != nil {
		return nil, res
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, res
	}
	return data, out
}

func (b *Broker) cacheKey(ctx *Context, action string, co cacheConfig) string {
	if co.KeyFunc != nil {
		return co.KeyFunc(action, ctx.Params, ctx.Meta)
	}
	var params any = ctx.Params
	if ctx.rawParams != nil {
		// Params that came over the wire keep the sender's field order, as Moleculer's keys do.
		if ordered, err := cache.ParseOrdered(ctx.rawParams); err == nil {
			params = ordered
		}
	}
	return cache.Key(action, params, ctx.Meta, co.Keys, co.MaxParamsLength)
}

func (b *Broker) cacheFailed(op, key, action, call string, err error) {
	b.cacheStats.errors.Add(1)
	b.log.Warn("cacher failed; calling the handler", "op", op, "key", key, "action", action, "err", err)
	attrs := map[string]any{"op": op, "key": key, "error": err.Error()}
	if action != "" {
		attrs["action"], attrs["call"] = action, call
	}
	b.journal.Record(b.nodeID, journal.CacheError, attrs)
}

// CleanCache removes cached entries matching the patterns (cache.Match globs; none: every
// entry) from this node's cacher, and journals cache.clean with the patterns.
func (b *Broker) CleanCache(patterns ...string) error {
	if b.opts.Cacher == nil {
		return nil
	}
	if patterns == nil {
		patterns = []string{}
	}
	err := b.opts.Cacher.Clean(context.Background(), patterns...)
	if err != nil {
		b.cacheStats.owed.owe(patterns)
		b.cacheStats.errors.Add(1)
		b.log.Warn("cacher clean failed", "patterns", patterns, "err", err)
		b.journal.Record(b.nodeID, journal.CacheError, map[string]any{"op": "clean", "patterns": patterns, "error": err.Error()})
		return err
	}
	b.cacheHook("clean", "")
	b.journal.Record(b.nodeID, journal.CacheClean, map[string]any{"patterns": patterns})
	return nil
}

// cacheCleanedBy is the event meta InvalidateCache sets to the writer's node ID: the writer
// has already cleaned its own cacher, and its own CacheCleanEvent handler skips the event.
const cacheCleanedBy = "$cacheCleanedBy"

// CacheCleanEvent is the event subscription that makes a node drop its cached results of a
// service when any node broadcasts "cache.clean.<service>" (see InvalidateCache). Add it to
// the service's Events:
//
//	Events: map[string]broker.Event{"cache.clean.product": broker.CacheCleanEvent("product")}
//
// service is the service's full name ("v2.product" for a versioned one): the handler cleans
// "<service>.**". The subscription is in the service's own event group, so the event must be
// broadcast (as InvalidateCache does): a plain emit would reach one node of the group only.
func CacheCleanEvent(service string) Event {
	return Event{
		Handler: func(ctx *Context) error {
			if by, _ := ctx.Meta[cacheCleanedBy].(string); by == ctx.broker.nodeID {
				return nil // InvalidateCache cleaned this node before broadcasting
			}
			return ctx.broker.CleanCache(service + ".**")
		},
	}
}

// InvalidateCache is the one line a writer needs: it cleans "<service>.**" from this node's
// cacher at once, so that a read on this node after it returns is fresh (as awaiting
// Moleculer's broadcast awaits the local handlers), then broadcasts "cache.clean.<service>"
// so that every other node (subscribed with CacheCleanEvent) cleans its own.
func InvalidateCache(ctx *Context, service string) error {
	cleanErr := ctx.broker.CleanCache(service + ".**")
	err := ctx.Broadcast("cache.clean."+service, nil, WithEventMeta(map[string]any{cacheCleanedBy: ctx.broker.nodeID}))
	return errors.Join(cleanErr, err)
}
