package gateway_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/gateway"
	"github.com/faultline/faultline/testutil"
)

// TestRedisStoreSharedByTwoGateways: two gateway nodes counting in one Redis share one limit
// per client: 3 requests alternating between them pass, the 4th is 429 wherever it lands.
// With Redis gone, requests are let through.
func TestRedisStoreSharedByTwoGateways(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	settings := func() gateway.Settings {
		s := testSettings()
		s.RateLimit = &gateway.RateLimit{Limit: 3, Window: time.Hour, Headers: true, NewStore: gateway.RedisStore(client, "rl:", 0)}
		return s
	}
	g1, g2 := gateway.MustNew(settings()), gateway.MustNew(settings())
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Nodes: []testutil.NodeSpec{
		{ID: "gw-1", Define: func() []*broker.Service { return []*broker.Service{g1.Schema()} }},
		{ID: "gw-2", Define: func() []*broker.Service { return []*broker.Service{g2.Schema()} }},
		{ID: "svc", Define: func() []*broker.Service { return []*broker.Service{echoService()} }},
	}})
	require.NoError(t, c.Start())
	require.NoError(t, c.WaitForServices("echo"))
	s1, s2 := httptest.NewServer(g1), httptest.NewServer(g2)
	t.Cleanup(s1.Close)
	t.Cleanup(s2.Close)

	for i, srv := range []*httptest.Server{s1, s2, s1} {
		r := do(t, srv, "GET", "/api/say/x", nil)
		require.Equal(t, 200, r.Status, r.Raw)
		assert.Equal(t, []string{"2", "1", "0"}[i], r.Header.Get("X-Rate-Limit-Remaining"))
	}
	requireError(t, do(t, s2, "GET", "/api/say/x", nil), 429, gateway.NameRateLimitExceeded, "RATE_LIMIT_EXCEEDED")
	keys := mr.Keys()
	require.Len(t, keys, 1)
	assert.Regexp(t, `^rl:\d+:127\.0\.0\.1$`, keys[0])
	assert.Greater(t, mr.TTL(keys[0]), time.Duration(0), "the count expires with its window")

	mr.Close()
	r := do(t, s1, "GET", "/api/say/x", nil)
	assert.Equal(t, 200, r.Status, "a store that cannot count does not take the API down")
}
