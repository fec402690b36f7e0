package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/gateway"
)

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time { return c.t }

// TestMemoryStoreWindows: counts restart at each window's end; windows are aligned on the
// clock, whatever the gaps between requests.
func TestMemoryStoreWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &manualClock{t: t0.Add(3 * time.Second)}
	s := gateway.NewMemoryStore(10*time.Second, clk)
	inc := func(key string) (int, time.Time) {
		n, reset, err := s.Inc(key)
		require.NoError(t, err)
		return n, reset
	}
	n, reset := inc("a")
	assert.Equal(t, 1, n)
	assert.Equal(t, t0.Add(10*time.Second), reset)
	clk.t = t0.Add(9999 * time.Millisecond)
	n, _ = inc("a")
	assert.Equal(t, 2, n)
	n, _ = inc("b")
	assert.Equal(t, 1, n)
	clk.t = t0.Add(10 * time.Second)
	n, reset = inc("a")
	assert.Equal(t, 1, n, "a new window")
	assert.Equal(t, t0.Add(20*time.Second), reset)
	clk.t = t0.Add(45 * time.Second)
	n, reset = inc("a")
	assert.Equal(t, 1, n)
	assert.Equal(t, t0.Add(50*time.Second), reset)
}

// TestTrustedProxy: behind a trusted proxy every X-Forwarded-For client has a limit of its
// own; the rightmost address that is not a trusted proxy is the client.
func TestTrustedProxy(t *testing.T) {
	_, srv := shopCluster(t, gateway.ShopConfig{RateLimit: &gateway.RateLimit{Limit: 1, Window: time.Hour, Headers: true},
		TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}})
	for i := 1; i <= 3; i++ {
		r := do(t, srv, "GET", "/api/products", nil, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d, 10.1.1.1", i))
		require.Equal(t, 200, r.Status, r.Raw)
		assert.Equal(t, "0", r.Header.Get("X-Rate-Limit-Remaining"))
	}
	// A client spoofing a leftmost address is still counted by its real one (192.0.2.1).
	r := do(t, srv, "GET", "/api/products", nil, "X-Forwarded-For", "203.0.113.9, 192.0.2.1")
	requireError(t, r, 429, gateway.NameRateLimitExceeded, "RATE_LIMIT_EXCEEDED")
}
