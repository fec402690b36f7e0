package e2e_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/user"
)

// TestBadInput: each bad request gives its exact error name, code and type, and changes
// nothing: no table row, no outbox message.
func TestBadInput(t *testing.T) {
	s := newShop(t, 5)
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		o := s.must("gateway", "order.create", map[string]any{"productId": p["id"], "quantity": 2}, withToken(tok))
		s.settle()
		before := s.state()
		foreign, err := user.IssueToken([]byte("another secret"), 3600e9, s.Runtime.Now(), 1, "ada@example.com")
		require.NoError(t, err)

		type check struct {
			name   string
			node   string
			action string
			params map[string]any
			opts   []broker.CallOption
			// expected error
			errName string
			code    int
			typ     string
			verify  func(t *testing.T, data any)
		}
		validation := func(fields ...string) func(t *testing.T, data any) {
			return func(t *testing.T, data any) {
				var got []string
				for _, fe := range data.([]any) {
					got = append(got, fe.(map[string]any)["field"].(string))
				}
				assert.Subset(t, got, fields)
			}
		}
		checks := []check{
			{name: "wrong password", node: "orders", action: "user.login",
				params:  map[string]any{"email": "ada@example.com", "password": "wrong-password"},
				errName: "MoleculerClientError", code: 401, typ: "INVALID_CREDENTIALS"},
			{name: "unknown email", node: "orders", action: "user.login",
				params:  map[string]any{"email": "nobody@example.com", "password": "s3cret-pass"},
				errName: "MoleculerClientError", code: 401, typ: "INVALID_CREDENTIALS"},
			{name: "duplicate email", node: "gateway", action: "user.register",
				params:  map[string]any{"email": "ADA@Example.com", "password": "another-pass", "name": "Eve"},
				errName: "MoleculerClientError", code: 422, typ: "EMAIL_EXISTS",
				verify: func(t *testing.T, data any) {
					assert.Equal(t, map[string]any{"email": "ada@example.com"}, data)
				}},
			{name: "unknown product", node: "gateway", action: "order.create",
				params: map[string]any{"productId": 999, "quantity": 1}, opts: []broker.CallOption{withToken(tok)},
				errName: "EntityNotFoundError", code: 404, typ: "ENTITY_NOT_FOUND",
				verify: func(t *testing.T, data any) { assert.Equal(t, map[string]any{"id": float64(999)}, data) }},
			{name: "short stock", node: "gateway", action: "order.create",
				params: map[string]any{"productId": p["id"], "quantity": 49}, opts: []broker.CallOption{withToken(tok)},
				errName: "MoleculerClientError", code: 422, typ: "INSUFFICIENT_STOCK",
				verify: func(t *testing.T, data any) {
					assert.Equal(t, map[string]any{"available": float64(48), "requested": float64(49)}, data)
				}},
			{name: "short stock with an idempotency key", node: "users", action: "order.create",
				params: map[string]any{"productId": p["id"], "quantity": 49, "idempotencyKey": "k-short"}, opts: []broker.CallOption{withToken(tok)},
				errName: "MoleculerClientError", code: 422, typ: "INSUFFICIENT_STOCK",
				verify: func(t *testing.T, data any) {
					assert.Equal(t, map[string]any{"available": float64(48), "requested": float64(49)}, data)
				}},
			{name: "short stock on reduceStock", node: "gateway", action: "product.reduceStock",
				params:  map[string]any{"id": p["id"], "quantity": 100, "opKey": "op-1"},
				errName: "MoleculerClientError", code: 422, typ: "INSUFFICIENT_STOCK",
				verify: func(t *testing.T, data any) {
					assert.Equal(t, map[string]any{"available": float64(48), "requested": float64(100)}, data)
				}},
			{name: "bad status", node: "gateway", action: "order.updateStatus",
				params:  map[string]any{"id": o["id"], "status": "teleported"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR",
				verify: func(t *testing.T, data any) {
					fe := data.([]any)[0].(map[string]any)
					assert.Equal(t, "status", fe["field"])
					assert.Equal(t, "enumValue", fe["type"])
				}},
			{name: "status of an unknown order", node: "gateway", action: "order.updateStatus",
				params:  map[string]any{"id": 777, "status": "paid"},
				errName: "EntityNotFoundError", code: 404, typ: "ENTITY_NOT_FOUND"},
			{name: "register without password and name", node: "gateway", action: "user.register",
				params:  map[string]any{"email": "eve@example.com"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("name", "password")},
			{name: "register with a bad email", node: "gateway", action: "user.register",
				params:  map[string]any{"email": "not-an-email", "password": "s3cret-pass", "name": "Eve"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("email")},
			{name: "login without password", node: "gateway", action: "user.login",
				params:  map[string]any{"email": "ada@example.com"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("password")},
			{name: "order without quantity", node: "gateway", action: "order.create",
				params: map[string]any{"productId": p["id"]}, opts: []broker.CallOption{withToken(tok)},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("quantity")},
			{name: "order of zero", node: "gateway", action: "order.create",
				params: map[string]any{"productId": p["id"], "quantity": 0}, opts: []broker.CallOption{withToken(tok)},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("quantity")},
			{name: "product without price", node: "gateway", action: "product.create",
				params:  map[string]any{"name": "Gadget"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("price")},
			{name: "product with a negative stock", node: "gateway", action: "product.create",
				params:  map[string]any{"name": "Gadget", "price": 1, "stock": -1},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("stock")},
			{name: "update to a negative stock", node: "gateway", action: "product.update",
				params:  map[string]any{"id": p["id"], "stock": -5},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR", verify: validation("stock")},
			{name: "update of an unknown field", node: "gateway", action: "product.update",
				params:  map[string]any{"id": p["id"], "colour": "red"},
				errName: "ValidationError", code: 422, typ: "VALIDATION_ERROR"},
			{name: "get an unknown product", node: "gateway", action: "product.get",
				params:  map[string]any{"id": 12345},
				errName: "EntityNotFoundError", code: 404, typ: "ENTITY_NOT_FOUND"},
			{name: "remove an unknown product", node: "gateway", action: "product.remove",
				params:  map[string]any{"id": 12345},
				errName: "EntityNotFoundError", code: 404, typ: "ENTITY_NOT_FOUND"},
			{name: "order without token", node: "gateway", action: "order.create",
				params:  map[string]any{"productId": p["id"], "quantity": 1},
				errName: "MoleculerClientError", code: 401, typ: "NO_TOKEN"},
			{name: "order with a foreign token", node: "gateway", action: "order.create",
				params: map[string]any{"productId": p["id"], "quantity": 1}, opts: []broker.CallOption{withToken(foreign)},
				errName: "MoleculerClientError", code: 401, typ: "INVALID_TOKEN"},
			{name: "me with a garbage token", node: "gateway", action: "user.me",
				opts:    []broker.CallOption{withToken("garbage")},
				errName: "MoleculerClientError", code: 401, typ: "INVALID_TOKEN"},
		}
		for _, c := range checks {
			_, err := s.call(c.node, c.action, c.params, c.opts...)
			require.Error(t, err, c.name)
			e := requireErr(t, err, c.errName, c.code, c.typ)
			assert.False(t, e.Retryable, c.name)
			if c.verify != nil {
				c.verify(t, e.Data)
			}
			s.settle()
			assertUnchanged(t, before, s.state(), c.name)
		}
		// The product's cached view agrees with the store.
		got := s.must("gateway", "product.get", map[string]any{"id": p["id"]})
		assert.Equal(t, float64(48), got["stock"])
	})
}
