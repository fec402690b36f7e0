package gateway_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/gateway"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/user"
	"github.com/faultline/faultline/testutil"
)

// shopCluster runs the shop on the real runtime with the shop gateway on node "gw", every
// service on a node of its own, and an HTTP test server in front of the gateway.
func shopCluster(t *testing.T, cfg gateway.ShopConfig) (*testutil.Cluster, *httptest.Server) {
	t.Helper()
	cfg.JWTSecret = []byte(catalog.DefaultJWTSecret)
	g := gateway.MustNew(gateway.Shop(cfg))
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
		{ID: "gw", Define: func() []*broker.Service { return []*broker.Service{g.Schema()} }},
		{ID: "users", Services: []string{"user", "email"}},
		{ID: "products", Services: []string{"product"}},
		{ID: "orders", Services: []string{"order", "notification"}},
	}})
	require.NoError(t, c.Start())
	require.NoError(t, c.WaitForServices("user", "product", "order"))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return c, srv
}

func login(t *testing.T, srv *httptest.Server, email string) string {
	t.Helper()
	r := do(t, srv, "POST", "/api/auth/register", map[string]any{"email": email, "password": "s3cret-pass", "name": "Ada"})
	require.Equal(t, 200, r.Status, r.Raw)
	r = do(t, srv, "POST", "/api/auth/login", map[string]any{"email": email, "password": "s3cret-pass"})
	require.Equal(t, 200, r.Status, r.Raw)
	tok, _ := r.JSON["token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// TestShopFlowsOverHTTP is the course's flows through the gateway over real HTTP.
func TestShopFlowsOverHTTP(t *testing.T) {
	c, srv := shopCluster(t, gateway.ShopConfig{Admins: []string{"Boss@Example.com"}})
	admin := login(t, srv, "boss@example.com")
	ada := login(t, srv, "ada@example.com")
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	// Admin creates a product through the REST alias; a user may not.
	r := do(t, srv, "POST", "/api/admin/products", map[string]any{"name": "Widget", "price": 2.5, "stock": 10}, bearer(admin)...)
	require.Equal(t, 200, r.Status, r.Raw)
	id := r.JSON["id"]
	require.EqualValues(t, 1, id)
	requireError(t, do(t, srv, "POST", "/api/admin/products", map[string]any{"name": "X", "price": 1, "stock": 1}, bearer(ada)...),
		403, gateway.NameForbidden, gateway.ErrForbidden)
	requireError(t, do(t, srv, "POST", "/api/admin/products", map[string]any{"name": "X", "price": 1, "stock": 1}),
		401, gateway.NameUnauthorized, gateway.ErrNoToken)

	// Public reads.
	r = do(t, srv, "GET", "/api/products?page=1&pageSize=5", nil)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.EqualValues(t, 1, r.JSON["total"])
	assert.EqualValues(t, 5, r.JSON["pageSize"])
	r = do(t, srv, "GET", "/api/products/1", nil)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, "Widget", r.JSON["name"])
	requireError(t, do(t, srv, "GET", "/api/products/99", nil), 404, "EntityNotFoundError", "ENTITY_NOT_FOUND")

	// An order with the token; the same idempotency key twice makes one order.
	order := map[string]any{"productId": 1, "quantity": 2}
	r1 := do(t, srv, "POST", "/api/orders", order, append(bearer(ada), "Idempotency-Key", "k-1")...)
	require.Equal(t, 200, r1.Status, r1.Raw)
	assert.Equal(t, 5.0, r1.JSON["totalPrice"])
	r2 := do(t, srv, "POST", "/api/orders", order, append(bearer(ada), "Idempotency-Key", "k-1")...)
	require.Equal(t, 200, r2.Status, r2.Raw)
	assert.Equal(t, r1.JSON["id"], r2.JSON["id"])
	p, err := c.Adapter(product.Model).FindByID(context.Background(), 1)
	require.NoError(t, err)
	assert.EqualValues(t, 8, p["stock"], "stock reduced once")
	r = do(t, srv, "GET", "/api/orders", nil, bearer(ada)...)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.EqualValues(t, 1, r.JSON["total"])
	r = do(t, srv, "GET", "/api/me", nil, bearer(ada)...)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, "ada@example.com", r.JSON["email"])

	// Bad input.
	requireError(t, do(t, srv, "POST", "/api/orders", order), 401, gateway.NameUnauthorized, gateway.ErrNoToken)
	requireError(t, do(t, srv, "POST", "/api/orders", `{"productId": 1,`, bearer(ada)...), 400, gateway.NameInvalidRequestBody, "INVALID_REQUEST_BODY")
	requireError(t, do(t, srv, "POST", "/api/auth/register", map[string]any{"email": "x@example.com", "password": "short", "name": "X"}),
		422, "ValidationError", "VALIDATION_ERROR")
	requireError(t, do(t, srv, "POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": "wrong-pass"}),
		401, "MoleculerClientError", "INVALID_CREDENTIALS")
	requireError(t, do(t, srv, "GET", "/api/nothing", nil), 404, gateway.NameNotFound, "NOT_FOUND")
	requireError(t, do(t, srv, "GET", "/elsewhere", nil), 404, gateway.NameNotFound, "NOT_FOUND")
	big := `{"name":"` + strings.Repeat("x", gateway.DefaultBodyLimit) + `"}`
	requireError(t, do(t, srv, "POST", "/api/orders", big, bearer(ada)...), 413, gateway.NamePayloadTooLarge, "PAYLOAD_TOO_LARGE")
}

// TestShopTokens rejects every token that is not a valid HS256 token of the shop's secret.
func TestShopTokens(t *testing.T) {
	_, srv := shopCluster(t, gateway.ShopConfig{})
	good := login(t, srv, "ada@example.com")
	secret := []byte(catalog.DefaultJWTSecret)
	now := time.Now()
	expired, err := user.IssueToken(secret, time.Minute, now.Add(-time.Hour), 1, "ada@example.com")
	require.NoError(t, err)
	foreign, err := user.IssueToken([]byte("another-secret"), time.Hour, now, 1, "ada@example.com")
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, user.Claims{UserID: 1, Email: "ada@example.com",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	resigned := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	for name, tok := range map[string]string{"expired": expired, "foreign secret": foreign, "alg none": none,
		"tampered payload": tampered, "bad signature": resigned, "garbage": "not.a.token", "two parts": "a.b"} {
		t.Run(name, func(t *testing.T) {
			requireError(t, do(t, srv, "GET", "/api/me", nil, "Authorization", "Bearer "+tok), 401, gateway.NameUnauthorized, gateway.ErrInvalidToken)
		})
	}
	requireError(t, do(t, srv, "GET", "/api/me", nil, "Authorization", "Basic YWRhOnB3"), 401, gateway.NameUnauthorized, gateway.ErrNoToken)
	requireError(t, do(t, srv, "GET", "/api/me", nil, "Authorization", "Bearer"), 401, gateway.NameUnauthorized, gateway.ErrNoToken)
	r := do(t, srv, "GET", "/api/me", nil, "Authorization", "bearer "+good)
	require.Equal(t, 200, r.Status, r.Raw)
}

// TestShopRateLimit: over the limit is 429 with the X-Rate-Limit headers; X-Forwarded-For
// counts only from a trusted proxy.
func TestShopRateLimit(t *testing.T) {
	_, srv := shopCluster(t, gateway.ShopConfig{RateLimit: &gateway.RateLimit{Limit: 3, Window: time.Hour, Headers: true},
		TrustedProxies: []string{"10.0.0.0/8"}})
	for i := 1; i <= 3; i++ {
		r := do(t, srv, "GET", "/api/products", nil, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		require.Equal(t, 200, r.Status, r.Raw)
		assert.Equal(t, "3", r.Header.Get("X-Rate-Limit-Limit"))
		assert.Equal(t, fmt.Sprint(3-i), r.Header.Get("X-Rate-Limit-Remaining"))
		require.NotEmpty(t, r.Header.Get("X-Rate-Limit-Reset"))
	}
	// The test client is 127.0.0.1, not a trusted proxy: its X-Forwarded-For is ignored and
	// all four requests are one client's.
	r := do(t, srv, "GET", "/api/products", nil, "X-Forwarded-For", "192.0.2.99")
	requireError(t, r, 429, gateway.NameRateLimitExceeded, "RATE_LIMIT_EXCEEDED")
	assert.Equal(t, "0", r.Header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, "3", r.Header.Get("X-Rate-Limit-Limit"))
}
