package broker

import (
	"time"

	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/retry"
)

// The fault-tolerance options resolve in Moleculer's order: Moleculer's defaults, then the
// broker's options, then the action's (or event handler's), each level replacing only the
// fields it gives (Moleculer merges the objects with Object.assign). The resolved values are
// plain structs the middlewares read once, when they wrap an endpoint.

// breakerConfig is a resolved circuitBreaker.
type breakerConfig struct {
	Enabled bool
	breaker.Options
	WindowTime  time.Duration
	WindowStart time.Time
	Check       func(error) bool
}

// bulkheadConfig is a resolved bulkhead.
type bulkheadConfig struct {
	Enabled      bool
	Concurrency  int
	MaxQueueSize int
}

// cacheConfig is an action's resolved cache options.
type cacheConfig struct {
	Keys            []string
	TTL             time.Duration
	MaxParamsLength int
	KeyFunc         func(action string, params, meta map[string]any) string
}

// brokerRetry resolves the broker's retry policy over Moleculer's defaults; the default check
// reads the retryable flag of the broker's errors.
func brokerRetry(o retry.Overrides) retry.Policy {
	p := retry.Default()
	p.Check = errs.IsRetryable
	return p.Merge(o)
}

// actionRetry resolves an action's retry policy over the broker's.
func actionRetry(base retry.Policy, d *Action) retry.Policy {
	if d == nil || d.Retry == nil {
		return base
	}
	return base.Merge(*d.Retry)
}

// brokerBreaker resolves the broker's circuitBreaker over Moleculer's defaults.
func brokerBreaker(o CircuitBreakerOptions) breakerConfig {
	c := breakerConfig{Options: breaker.DefaultOptions(), WindowTime: 60 * time.Second, Check: DefaultBreakerCheck}
	c = mergeBreaker(c, o)
	if o.WindowTime != nil {
		c.WindowTime = *o.WindowTime
	}
	c.WindowStart = o.WindowStart
	return c
}

// actionBreaker resolves an action's circuitBreaker over the broker's. The window fields stay
// the broker's: one broker-wide timer tumbles every window.
func actionBreaker(base breakerConfig, d *Action) breakerConfig {
	if d == nil || d.CircuitBreaker == nil {
		return base
	}
	return mergeBreaker(base, *d.CircuitBreaker)
}

func mergeBreaker(c breakerConfig, o CircuitBreakerOptions) breakerConfig {
	set(&c.Enabled, o.Enabled)
	set(&c.Threshold, o.Threshold)
	set(&c.MinRequestCount, o.MinRequestCount)
	set(&c.HalfOpenTime, o.HalfOpenTime)
	if o.Check != nil {
		c.Check = o.Check
	}
	return c
}

// brokerBulkhead resolves the broker's bulkhead over Moleculer's defaults.
func brokerBulkhead(o BulkheadOptions) bulkheadConfig {
	return mergeBulkhead(bulkheadConfig{Concurrency: 10, MaxQueueSize: 100}, &o)
}

// mergeBulkhead resolves an action's or event handler's bulkhead (nil: none given) over the
// broker's.
func mergeBulkhead(c bulkheadConfig, o *BulkheadOptions) bulkheadConfig {
	if o == nil {
		return c
	}
	set(&c.Enabled, o.Enabled)
	set(&c.Concurrency, o.Concurrency)
	set(&c.MaxQueueSize, o.MaxQueueSize)
	return c
}

// actionTimeout resolves an action's timeout over the broker's requestTimeout (a call's
// timeout option, resolved per call, comes first).
func actionTimeout(base time.Duration, d *Action) time.Duration {
	if d != nil && d.Timeout != nil {
		return *d.Timeout
	}
	return base
}

// actionCache resolves a cached action's options over the broker's CacheDefaults.
func actionCache(base CacheOptions, o CacheOptions) cacheConfig {
	c := cacheConfig{Keys: o.Keys, KeyFunc: base.KeyFunc}
	set(&c.TTL, base.TTL)
	set(&c.MaxParamsLength, base.MaxParamsLength)
	set(&c.TTL, o.TTL)
	set(&c.MaxParamsLength, o.MaxParamsLength)
	if o.KeyFunc != nil {
		c.KeyFunc = o.KeyFunc
	}
	return c
}

// set replaces *dst with *v when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
