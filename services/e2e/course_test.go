package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/user"
	"github.com/faultline/faultline/testutil"
)

// courseFlow is the acceptance flow: a product with stock 50, a user who registers and logs
// in, an order for 2 placed from another node; order.created reaches email and notification
// once each and the stock is 48.
func courseFlow(t *testing.T, seed uint64, edit ...func(*testutil.Spec)) *shop {
	s := newShop(t, seed, edit...)
	var orderID any
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		assert.Equal(t, float64(50), p["stock"])

		tok := s.registerAndLogin("gateway", "ada@example.com")
		me := s.must("gateway", "user.me", nil, withToken(tok))
		assert.Equal(t, "ada@example.com", me["email"])
		assert.NotContains(t, me, "passwordHash")

		// Another node than the one that logged in, and than the one serving orders.
		o := s.must("products-2", "order.create", map[string]any{"productId": p["id"], "quantity": 2}, withToken(tok))
		orderID = o["id"]
		assert.Equal(t, 19.98, o["totalPrice"])
		assert.Equal(t, "pending", o["status"])
		assert.Equal(t, float64(2), o["quantity"])
		assert.Equal(t, me["id"], o["userId"])
		s.settle()

		for _, node := range []string{"gateway", "products-1", "products-2"} {
			got := s.must(node, "product.get", map[string]any{"id": p["id"]})
			assert.Equal(t, float64(48), got["stock"], "product.get from %s", node)
		}
		mine := s.must("gateway", "order.myOrders", nil, withToken(tok))
		assert.Equal(t, float64(1), mine["total"])
	})

	assert.Equal(t, int64(48), s.stock(1))
	for _, svc := range []string{mailer.Email, mailer.Notification} {
		ob := s.Outbox(svc)
		assert.Equal(t, 1, ob.Count("order.created"), "%s order.created messages", svc)
		assert.Equal(t, 1, ob.Count("user.registered"), "%s user.registered messages", svc)
		assert.Equal(t, 0, ob.Duplicates())
	}
	assert.Equal(t, "ada@example.com", s.Outbox(mailer.Email).Sent()[1].To)
	assert.Equal(t, fmt.Sprintf("Order #%v confirmed", orderID), s.Outbox(mailer.Email).Sent()[1].Subject)

	// Exactly one delivery per group, handled successfully.
	handled := map[string]int{}
	for _, e := range s.Kinds(journal.EventHandled) {
		if e.Str("event") == "order.created" {
			require.True(t, e.Bool("ok"), "%v", e.Attrs)
			handled[e.Str("service")]++
		}
	}
	assert.Equal(t, map[string]int{"email": 1, "notification": 1}, handled)
	return s
}

func TestCourseFlow(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { courseFlow(t, seed) })
	}
}

// TestCourseFlowOnSQLite runs the flow with every store in one SQLite database.
// TestCourseFlowOnSQL runs the flow on SQLite, and on PostgreSQL too when POSTGRES_DSN is
// set (a subtest that exists only then: there is no skipped test standing in for it).
func TestCourseFlowOnSQL(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		stores, err := catalog.OpenSQLite(filepath.Join(t.TempDir(), "shop.db"))
		require.NoError(t, err)
		res := catalog.SimResources()
		res.Stores = stores
		t.Cleanup(func() { assert.NoError(t, res.Close()) })
		courseFlow(t, 1, func(spec *testutil.Spec) { spec.Resources = res })
	})
	if dsn := os.Getenv("POSTGRES_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) { courseFlowOnPostgres(t, dsn) })
	}
}

func courseFlowOnPostgres(t *testing.T, dsn string) {
	conn, err := db.OpenPostgres(dsn)
	require.NoError(t, err)
	prefix := fmt.Sprintf("e2e%d_", os.Getpid())
	t.Cleanup(func() {
		for _, m := range []db.Model{user.Model, product.Model, product.OpsModel, order.Model} {
			_, err := conn.Exec(`DROP TABLE IF EXISTS "` + prefix + m.Name + `"`)
			assert.NoError(t, err)
		}
		conn.Close()
	})
	res := catalog.SimResources()
	res.Stores = catalog.SQLStores(conn, db.Postgres, prefix)
	courseFlow(t, 1, func(spec *testutil.Spec) { spec.Resources = res })
}

func TestCourseFlowIsDeterministic(t *testing.T) {
	a, b := courseFlow(t, 42), courseFlow(t, 42)
	require.NotZero(t, a.Journal.Len())
	assert.True(t, bytes.Equal(a.Journal.Bytes(), b.Journal.Bytes()), "same seed, same journal")
}

// TestProductCacheIsInvalidatedAcrossNodes: each product node caches product.get; a stock
// reduction served by one node cleans the cache of both.
func TestProductCacheIsInvalidatedAcrossNodes(t *testing.T) {
	s := newShop(t, 3)
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 1, "stock": 10})
		s.settle()
		for range 2 {
			for _, node := range []string{"products-1", "products-2"} {
				s.must("gateway", "product.get", map[string]any{"id": p["id"]}, broker.WithNodeID(node))
				s.must("gateway", "product.list", nil, broker.WithNodeID(node))
			}
		}
		hits := len(s.Kinds(journal.CacheHit))
		assert.Equal(t, 4, hits, "the second round is served from the caches")

		s.must("gateway", "product.reduceStock", map[string]any{"id": p["id"], "quantity": 3}, broker.WithNodeID("products-1"))
		s.settle()
		for _, node := range []string{"products-1", "products-2"} {
			got := s.must("gateway", "product.get", map[string]any{"id": p["id"]}, broker.WithNodeID(node))
			assert.Equal(t, float64(7), got["stock"], "fresh on %s", node)
			list := s.must("gateway", "product.list", nil, broker.WithNodeID(node))
			assert.Equal(t, float64(7), list["rows"].([]any)[0].(map[string]any)["stock"], "fresh list on %s", node)
		}
		assert.Equal(t, hits, len(s.Kinds(journal.CacheHit)), "no stale hit after the write")
		cleans := map[string]int{}
		for _, e := range s.Kinds(journal.CacheClean) {
			cleans[e.Node]++
		}
		assert.Positive(t, cleans["products-1"])
		assert.Positive(t, cleans["products-2"])
	})
}

// TestStockNeverNegativeUnderConcurrency: 30 concurrent orders of 1 from three nodes for a
// stock of 20: exactly 20 succeed, the rest fail with INSUFFICIENT_STOCK, the stock ends at 0.
func TestStockNeverNegativeUnderConcurrency(t *testing.T) {
	s := newShop(t, 11)
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 2, "stock": 20})
		tok := s.registerAndLogin("gateway", "bob@example.com")
		ok := 0
		var failures []error
		var done []interface{ Wait() }
		for i := range 30 {
			node := []string{"gateway", "users", "products-1"}[i%3]
			done = append(done, s.Go(fmt.Sprint("client ", i), func() {
				_, err := s.call(node, "order.create", map[string]any{"productId": p["id"], "quantity": 1}, withToken(tok))
				if err == nil {
					ok++
					return
				}
				failures = append(failures, err) // checked below: never fail a test inside a task
			}))
		}
		for _, d := range done {
			d.Wait()
		}
		assert.Equal(t, 20, ok)
		require.Len(t, failures, 10)
		for _, err := range failures {
			requireErr(t, err, "MoleculerClientError", 422, "INSUFFICIENT_STOCK")
		}
	})
	assert.Equal(t, int64(0), s.stock(1))
	assert.Equal(t, 20, s.count(order.Model))
	assert.Equal(t, 20, s.count(product.OpsModel))
}
