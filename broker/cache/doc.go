// Package cache implements Moleculer's action-result cachers for Faultline: the cache-key
// generator (byte-for-byte Moleculer's defaultKeygen), the clean-pattern glob, an in-memory
// cacher, a bounded LRU cacher and a Redis cacher.
//
// Values are opaque JSON bytes so that every cacher stores and returns exactly the same thing:
// a cached JSON null ("null") is a hit, not a miss.
//
// The memory cachers never start goroutines or timers: expiry is checked lazily against an
// rt.Clock when an entry is touched (and by Prune), so they behave identically under the
// deterministic simulator and the real runtime.
package cache
