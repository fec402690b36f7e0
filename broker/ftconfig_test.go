package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/retry"
)

// TestOverridesKeepFieldsNotGiven walks every fault-tolerance option and every field: the
// broker gives a value for each field, an action overrides one field only, and the effective
// options keep the broker's value for every other field, enabled included (Moleculer merges
// an action's options over the broker's with Object.assign). A given zero is a value.
func TestOverridesKeepFieldsNotGiven(t *testing.T) {
	ms := time.Millisecond
	brokerCheck := func(error) bool { return true }
	actionCheck := func(error) bool { return false }

	t.Run("retry", func(t *testing.T) {
		base := brokerRetry(retry.Overrides{Enabled: Bool(true), Retries: Int(3), Delay: Dur(50 * ms), MaxDelay: Dur(400 * ms), Factor: Float(3), Check: brokerCheck})
		want := retry.Policy{Enabled: true, Retries: 3, Delay: 50 * ms, MaxDelay: 400 * ms, Factor: 3}
		for _, tc := range []struct {
			name     string
			override retry.Overrides
			want     func(p *retry.Policy)
		}{
			{"none", retry.Overrides{}, func(*retry.Policy) {}},
			{"enabled", retry.Overrides{Enabled: Bool(false)}, func(p *retry.Policy) { p.Enabled = false }},
			{"retries", retry.Overrides{Retries: Int(1)}, func(p *retry.Policy) { p.Retries = 1 }},
			{"retries 0", retry.Overrides{Retries: Int(0)}, func(p *retry.Policy) { p.Retries = 0 }},
			{"delay", retry.Overrides{Delay: Dur(10 * ms)}, func(p *retry.Policy) { p.Delay = 10 * ms }},
			{"delay 0", retry.Overrides{Delay: Dur(0)}, func(p *retry.Policy) { p.Delay = 0 }},
			{"maxDelay", retry.Overrides{MaxDelay: Dur(2 * time.Second)}, func(p *retry.Policy) { p.MaxDelay = 2 * time.Second }},
			{"factor", retry.Overrides{Factor: Float(1.5)}, func(p *retry.Policy) { p.Factor = 1.5 }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.override
				got := actionRetry(base, &Action{Retry: &o})
				exp := want
				tc.want(&exp)
				assert.True(t, got.Check(errors.New("x")), "the broker's check stays")
				got.Check = nil
				assert.Equal(t, exp, got)
			})
		}
		o := retry.Overrides{Check: actionCheck}
		assert.False(t, actionRetry(base, &Action{Retry: &o}).Check(errors.New("x")), "check: the action's")
		assert.Equal(t, base.Retries, actionRetry(base, &Action{}).Retries, "no override")
	})

	t.Run("circuitBreaker", func(t *testing.T) {
		start := time.Date(2026, 1, 1, 0, 0, 7, 0, time.UTC)
		base := brokerBreaker(CircuitBreakerOptions{Enabled: Bool(true), Threshold: Float(0.3), MinRequestCount: Int(4),
			WindowTime: Dur(30 * time.Second), WindowStart: start, HalfOpenTime: Dur(2 * time.Second), Check: brokerCheck})
		want := breakerConfig{Enabled: true, Options: breaker.Options{Threshold: 0.3, MinRequestCount: 4, HalfOpenTime: 2 * time.Second},
			WindowTime: 30 * time.Second, WindowStart: start}
		for _, tc := range []struct {
			name     string
			override CircuitBreakerOptions
			want     func(c *breakerConfig)
		}{
			{"none", CircuitBreakerOptions{}, func(*breakerConfig) {}},
			{"enabled", CircuitBreakerOptions{Enabled: Bool(false)}, func(c *breakerConfig) { c.Enabled = false }},
			{"threshold", CircuitBreakerOptions{Threshold: Float(0.9)}, func(c *breakerConfig) { c.Threshold = 0.9 }},
			{"threshold 0", CircuitBreakerOptions{Threshold: Float(0)}, func(c *breakerConfig) { c.Threshold = 0 }},
			{"minRequestCount", CircuitBreakerOptions{MinRequestCount: Int(1)}, func(c *breakerConfig) { c.MinRequestCount = 1 }},
			{"minRequestCount 0", CircuitBreakerOptions{MinRequestCount: Int(0)}, func(c *breakerConfig) { c.MinRequestCount = 0 }},
			{"halfOpenTime", CircuitBreakerOptions{HalfOpenTime: Dur(9 * time.Second)}, func(c *breakerConfig) { c.HalfOpenTime = 9 * time.Second }},
			// One broker-wide timer tumbles every window: an action's window is ignored.
			{"windowTime (ignored)", CircuitBreakerOptions{WindowTime: Dur(time.Second)}, func(*breakerConfig) {}},
			{"windowStart (ignored)", CircuitBreakerOptions{WindowStart: start.Add(time.Hour)}, func(*breakerConfig) {}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := tc.override
				got := actionBreaker(base, &Action{CircuitBreaker: &o})
				exp := want
				tc.want(&exp)
				assert.True(t, got.Check(errors.New("x")), "the broker's check stays")
				got.Check = nil
				assert.Equal(t, exp, got)
			})
		}
		o := CircuitBreakerOptions{Check: actionCheck}
		assert.False(t, actionBreaker(base, &Action{CircuitBreaker: &o}).Check(errors.New("x")), "check: the action's")
	})

	t.Run("bulkhead", func(t *testing.T) {
		base := brokerBulkhead(BulkheadOptions{Enabled: Bool(true), Concurrency: Int(5), MaxQueueSize: Int(7)})
		want := bulkheadConfig{Enabled: true, Concurrency: 5, MaxQueueSize: 7}
		for _, tc := range []struct {
			name     string
			override *BulkheadOptions
			want     func(c *bulkheadConfig)
		}{
			{"none", nil, func(*bulkheadConfig) {}},
			{"empty", &BulkheadOptions{}, func(*bulkheadConfig) {}},
			{"enabled", &BulkheadOptions{Enabled: Bool(false)}, func(c *bulkheadConfig) { c.Enabled = false }},
			{"concurrency (issue 17: stays enabled)", &BulkheadOptions{Concurrency: Int(3)}, func(c *bulkheadConfig) { c.Concurrency = 3 }},
			{"maxQueueSize", &BulkheadOptions{MaxQueueSize: Int(20)}, func(c *bulkheadConfig) { c.MaxQueueSize = 20 }},
			{"maxQueueSize 0", &BulkheadOptions{MaxQueueSize: Int(0)}, func(c *bulkheadConfig) { c.MaxQueueSize = 0 }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				exp := want
				tc.want(&exp)
				assert.Equal(t, exp, mergeBulkhead(base, tc.override), "action")
				assert.Equal(t, exp, mergeBulkhead(base, Event{Bulkhead: tc.override}.Bulkhead), "event handler")
			})
		}
	})

	t.Run("timeout", func(t *testing.T) {
		base := 800 * ms
		assert.Equal(t, base, actionTimeout(base, nil), "remote endpoint")
		assert.Equal(t, base, actionTimeout(base, &Action{}), "not given")
		assert.Equal(t, 300*ms, actionTimeout(base, &Action{Timeout: Dur(300 * ms)}))
		assert.Equal(t, time.Duration(0), actionTimeout(base, &Action{Timeout: Dur(0)}), "Dur(0) disables it")
	})

	t.Run("cache", func(t *testing.T) {
		brokerKey := func(string, map[string]any, map[string]any) string { return "broker" }
		actionKey := func(string, map[string]any, map[string]any) string { return "action" }
		base := CacheOptions{TTL: Dur(30 * time.Second), MaxParamsLength: Int(60), KeyFunc: brokerKey}
		for _, tc := range []struct {
			name     string
			override CacheOptions
			ttl      time.Duration
			maxLen   int
			key      string
			keys     []string
		}{
			{"none", CacheOptions{}, 30 * time.Second, 60, "broker", nil},
			{"keys", CacheOptions{Keys: []string{"id"}}, 30 * time.Second, 60, "broker", []string{"id"}},
			{"ttl", CacheOptions{TTL: Dur(time.Second)}, time.Second, 60, "broker", nil},
			{"ttl 0 (never expires)", CacheOptions{TTL: Dur(0)}, 0, 60, "broker", nil},
			{"maxParamsLength", CacheOptions{MaxParamsLength: Int(100)}, 30 * time.Second, 100, "broker", nil},
			{"maxParamsLength 0", CacheOptions{MaxParamsLength: Int(0)}, 30 * time.Second, 0, "broker", nil},
			{"keyFunc", CacheOptions{KeyFunc: actionKey}, 30 * time.Second, 60, "action", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := actionCache(base, tc.override)
				assert.Equal(t, tc.ttl, got.TTL)
				assert.Equal(t, tc.maxLen, got.MaxParamsLength)
				assert.Equal(t, tc.key, got.KeyFunc("", nil, nil))
				assert.Equal(t, tc.keys, got.Keys)
			})
		}
		got := actionCache(CacheOptions{}, CacheOptions{})
		assert.Equal(t, cacheConfig{}, cacheConfig{Keys: got.Keys, TTL: got.TTL, MaxParamsLength: got.MaxParamsLength}, "no defaults: no TTL, no hashing")
	})

	t.Run("broker defaults", func(t *testing.T) {
		p := brokerRetry(retry.Overrides{})
		p.Check = nil
		assert.Equal(t, retry.Policy{Retries: 5, Delay: 100 * ms, MaxDelay: time.Second, Factor: 2}, p)
		cb := brokerBreaker(CircuitBreakerOptions{})
		cb.Check = nil
		assert.Equal(t, breakerConfig{Options: breaker.Options{Threshold: 0.5, MinRequestCount: 20, HalfOpenTime: 10 * time.Second}, WindowTime: 60 * time.Second}, cb)
		assert.Equal(t, bulkheadConfig{Concurrency: 10, MaxQueueSize: 100}, brokerBulkhead(BulkheadOptions{}))
		assert.Equal(t, bulkheadConfig{Enabled: true, Concurrency: 10, MaxQueueSize: 0}, brokerBulkhead(BulkheadOptions{Enabled: Bool(true), MaxQueueSize: Int(0)}), "a given zero is kept")
	})
}
