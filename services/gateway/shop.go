package gateway

import (
	"slices"
	"strings"

	"github.com/faultline/faultline/services/user"
)

// ShopConfig configures the course's shop gateway (Shop).
type ShopConfig struct {
	// JWTSecret verifies tokens; it must be the user service's.
	JWTSecret []byte
	// Admins are the emails allowed on /api/admin (compared case-insensitively).
	Admins []string
	// RateLimit applies to every route (nil: none).
	RateLimit *RateLimit
	// CORS applies to every route (nil: none).
	CORS *CORS
	// Addr, TrustedProxies: see Settings.
	Addr           string
	TrustedProxies []string
}

// Shop returns the settings of the shop's gateway, the course's API:
//
//	POST /api/auth/register        user.register      public
//	POST /api/auth/login           user.login         public → {token, user}
//	GET  /api/products             product.list       public
//	GET  /api/products/:id         product.get        public
//	GET  /api/me                   user.me            Bearer token
//	GET  /api/orders               order.myOrders     Bearer token
//	POST /api/orders               order.create       Bearer token; Idempotency-Key header → idempotencyKey
//	REST /api/admin/products       product.*          Bearer token of an admin (else 403)
//	PUT  /api/admin/orders/:id/status order.updateStatus  admin
//
// The authenticated routes copy the token into ctx.meta.token, where the order and user
// services read it (their own check of it stays).
func Shop(cfg ShopConfig) Settings {
	auth := JWT(cfg.JWTSecret, JWTOptions{})
	copyToken := func(c *Call) error {
		if tok := BearerToken(c); tok != "" {
			c.Meta[user.MetaToken] = tok
		}
		if k := c.Request.Header.Get("Idempotency-Key"); k != "" && c.Action == "order.create" {
			c.Params["idempotencyKey"] = k
		}
		return nil
	}
	admins := make([]string, len(cfg.Admins))
	for i, a := range cfg.Admins {
		admins[i] = strings.ToLower(strings.TrimSpace(a))
	}
	isAdmin := func(c *Call) error {
		u, _ := c.User.(map[string]any)
		email, _ := u["email"].(string)
		if email == "" || !slices.Contains(admins, strings.ToLower(email)) {
			return Forbidden(ErrForbidden, map[string]any{"reason": "admin only"})
		}
		return nil
	}
	return Settings{
		Addr: cfg.Addr, TrustedProxies: cfg.TrustedProxies, RateLimit: cfg.RateLimit, CORS: cfg.CORS,
		Routes: []Route{
			{
				Name: "public", Path: "/api",
				Aliases: map[string]string{
					"POST /auth/register": "user.register",
					"POST /auth/login":    "user.login",
					"GET /products":       "product.list",
					"GET /products/:id":   "product.get",
				},
				BodyParsers: &BodyParsers{JSON: true, URLEncoded: true},
			},
			{
				Name: "user", Path: "/api",
				Aliases: map[string]string{
					"GET /me":      "user.me",
					"GET /orders":  "order.myOrders",
					"POST /orders": "order.create",
				},
				Authenticate: auth, OnBeforeCall: copyToken,
			},
			{
				Name: "admin", Path: "/api/admin",
				Aliases: map[string]string{
					"REST /products":         "product",
					"PUT /orders/:id/status": "order.updateStatus",
				},
				Whitelist:    []string{"product.*", "order.updateStatus"},
				Authenticate: auth, Authorize: isAdmin, OnBeforeCall: copyToken,
			},
		},
	}
}
