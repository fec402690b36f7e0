package validator_test

import (
	"testing"

	"github.com/faultline/faultline/broker/validator"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
)

// courseSchemas are the params schemas of the course's product and order actions, read from
// the services themselves, with a valid params object for each.
func courseSchemas(b *testing.B) map[string]struct {
	schema validator.Schema
	params func() map[string]any
} {
	ps, err := product.New(product.Config{Products: db.NewMemory(product.Model), Ops: db.NewMemory(product.OpsModel)})
	if err != nil {
		b.Fatal(err)
	}
	os, err := order.New(order.Config{Adapter: db.NewMemory(order.Model), JWTSecret: []byte("k")})
	if err != nil {
		b.Fatal(err)
	}
	pa, oa := ps.Schema().Actions, os.Schema().Actions
	type entry = struct {
		schema validator.Schema
		params func() map[string]any
	}
	return map[string]entry{
		"product.create": {pa["create"].Params, func() map[string]any {
			return map[string]any{"name": "Widget", "description": "A widget", "price": 9.99, "stock": 50.0}
		}},
		"product.reduceStock": {pa["reduceStock"].Params, func() map[string]any {
			return map[string]any{"id": 3.0, "quantity": 2.0, "opKey": "order:1:k"}
		}},
		"order.create": {oa["create"].Params, func() map[string]any {
			return map[string]any{"productId": 3.0, "quantity": 2.0, "idempotencyKey": "k-1"}
		}},
		"order.myOrders": {oa["myOrders"].Params, func() map[string]any {
			return map[string]any{"page": 2.0, "pageSize": 10.0}
		}},
		"order.updateStatus": {oa["updateStatus"].Params, func() map[string]any {
			return map[string]any{"id": 7.0, "status": "shipped"}
		}},
	}
}

// BenchmarkCourseSchemas validates valid params against each course schema (the target is
// ≤ 300 ns and at most one allocation).
func BenchmarkCourseSchemas(b *testing.B) {
	for name, s := range courseSchemas(b) {
		b.Run(name, func(b *testing.B) {
			v := validator.MustCompile(s.schema)
			p := s.params()
			if errs := v.Validate(p); errs != nil {
				b.Fatal(errs)
			}
			b.ReportAllocs()
			for b.Loop() {
				if errs := v.Validate(p); errs != nil {
					b.Fatal(errs)
				}
			}
		})
	}
}
