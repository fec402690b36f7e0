package broker

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
)

// Cacher stores action results; see package cache for the implementations.
type Cacher = cache.Cacher

// cacheErrors counts cacher failures across brokers of the process, per broker.
type cacheStats struct{ errors atomic.Int64 }

// CacheErrors returns how many cacher operations failed on this broker (each one fell
// through to the handler).
func (b *Broker) CacheErrors() int64 { return b.cacheStats.errors.Load() }

// Cacher returns the broker's cacher (nil when caching is off).
func (b *Broker) Cacher() Cacher { return b.opts.Cacher }

// cacherMiddleware serves opted-in actions from the cache on the serving node. A cacher
// that fails is logged, journaled and counted, and the call falls through to the handler:
// a broken cache must never break a call.
func (b *Broker) cacherMiddleware() Middleware {
	return Middleware{
		Name: "Cacher",
		LocalAction: func(next Handler, ep *Endpoint) Handler {
			d := ep.Def()
			if b.opts.Cacher == nil || d == nil || d.Cache == nil {
				return next
			}
			co := *d.Cache
			c := b.opts.Cacher
			return func(ctx *Context) (any, error) {
				if v, ok := ctx.Meta["$cache"].(bool); ok && !v {
					return next(ctx)
				}
				key := b.cacheKey(ctx, ep.Action, co)
				raw, hit, err := c.Get(ctx, key)
				if err != nil {
					b.cacheFailed("get", key, err)
				} else if hit {
					var res any
					if err := json.Unmarshal(raw, &res); err == nil {
						b.journal.Record(b.nodeID, journal.CacheHit, map[string]any{"key": key, "action": ep.Action, "call": ctx.ID})
						ctx.CachedResult = true
						return res, nil
					}
				} else {
					b.journal.Record(b.nodeID, journal.CacheMiss, map[string]any{"key": key, "action": ep.Action, "call": ctx.ID})
				}
				res, herr := next(ctx)
				if herr != nil || err != nil {
					return res, herr
				}
				data, mErr := json.Marshal(res)
				if mErr != nil {
					return res, nil
				}
				if err := c.Set(ctx, key, data, co.TTL); err != nil {
					b.cacheFailed("set", key, err)
				} else {
					b.journal.Record(b.nodeID, journal.CacheSet, map[string]any{"key": key, "action": ep.Action, "ttl": co.TTL})
				}
				return res, nil
			}
		},
	}
}

func (b *Broker) cacheKey(ctx *Context, action string, co CacheOptions) string {
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

func (b *Broker) cacheFailed(op, key string, err error) {
	b.cacheStats.errors.Add(1)
	b.log.Warn("cacher failed; calling the handler", "op", op, "key", key, "err", err)
	b.journal.Record(b.nodeID, journal.CacheError, map[string]any{"op": op, "key": key, "error": err.Error()})
}

// CleanCache removes cached entries matching the patterns from this node's cacher.
func (b *Broker) CleanCache(patterns ...string) error {
	if b.opts.Cacher == nil {
		return nil
	}
	err := b.opts.Cacher.Clean(context.Background(), patterns...)
	if err != nil {
		b.cacheFailed("clean", "", err)
		return err
	}
	b.journal.Record(b.nodeID, journal.CacheClean, map[string]any{"patterns": patterns})
	return nil
}

// CacheCleanEvent is the event subscription that makes a node drop its cached results of a
// service when any node broadcasts "cache.clean.<service>" (see InvalidateCache). Add it to
// the service's Events: Events: map[string]broker.Event{"cache.clean.product": broker.CacheCleanEvent("product")}.
func CacheCleanEvent(service string) Event {
	return Event{
		// Every instance must clean its own cache: a group per node makes a plain emit
		// behave like a broadcast, and keeps it out of the service's own group.
		Handler: func(ctx *Context) error { return ctx.broker.CleanCache(service + ".**") },
	}
}

// InvalidateCache broadcasts "cache.clean.<service>": the one line a writer needs so that
// every node cleans its cached results of that service.
func InvalidateCache(ctx *Context, service string) error {
	return ctx.Broadcast("cache.clean."+service, nil)
}
