package broker

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
)

// Cacher stores action results; see package cache for the implementations.
type Cacher = cache.Cacher

// cacheStats counts this broker's cacher failures.
type cacheStats struct{ errors atomic.Int64 }

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
				if v, ok := ctx.Meta["$cache"].(bool); ok && !v {
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
