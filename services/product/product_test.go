package product_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/svc/svcmock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	s             *product.Service
	products, ops db.Adapter
}

var seq atomic.Int64

// stores runs a test on memory stores and on SQLite.
func stores(t *testing.T, run func(t *testing.T, f fixture)) {
	open := func(t *testing.T, products, ops db.Adapter) fixture {
		require.NoError(t, products.Connect(t.Context()))
		require.NoError(t, ops.Connect(t.Context()))
		s, err := product.New(product.Config{Products: products, Ops: ops})
		require.NoError(t, err)
		_, err = products.Insert(t.Context(), db.Entity{"name": "Widget", "price": 9.99, "stock": 10})
		require.NoError(t, err)
		return fixture{s: s, products: products, ops: ops}
	}
	t.Run("memory", func(t *testing.T) {
		run(t, open(t, db.NewMemory(product.Model), db.NewMemory(product.OpsModel)))
	})
	t.Run("sqlite", func(t *testing.T) {
		conn, err := db.OpenSQLite(fmt.Sprintf("file:product_test_%d?mode=memory&cache=shared", seq.Add(1)))
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		run(t, open(t, db.NewSQL(conn, db.SQLite, product.Model), db.NewSQL(conn, db.SQLite, product.OpsModel)))
	})
}

func requireErr(t *testing.T, err error, name string, code int, typ string) *errs.Error {
	t.Helper()
	require.Error(t, err)
	e := errs.From(err)
	require.Equal(t, name, e.Name, "%v", err)
	require.Equal(t, code, e.Code, "%v", err)
	require.Equal(t, typ, e.Type, "%v", err)
	return e
}

func (f fixture) stock(t *testing.T) int64 {
	p, err := f.products.FindByID(t.Context(), 1)
	require.NoError(t, err)
	return p["stock"].(int64)
}

func (f fixture) opCount(t *testing.T) int {
	n, err := f.ops.Count(t.Context(), nil)
	require.NoError(t, err)
	return n
}

func TestReduceStockInvalidatesTheCache(t *testing.T) {
	stores(t, func(t *testing.T, f fixture) {
		c := svcmock.NewCaller(t)
		c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Once()
		p, err := f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 3, OpKey: "op-1"})
		require.NoError(t, err)
		assert.Equal(t, db.Entity{"id": int64(1), "name": "Widget", "description": nil, "price": 9.99, "stock": int64(7)}, p)
		assert.Equal(t, int64(7), f.stock(t))
		assert.Equal(t, 1, f.opCount(t))
	})
}

func TestReduceStockIsAppliedOncePerOpKey(t *testing.T) {
	stores(t, func(t *testing.T, f fixture) {
		c := svcmock.NewCaller(t)
		c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Once() // the replays write nothing
		for i := range 4 {
			p, err := f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 2, OpKey: "order:1:k"})
			require.NoError(t, err)
			assert.Equal(t, int64(8), p["stock"])
			assert.Equal(t, i > 0, p["replayed"] == true)
		}
		assert.Equal(t, int64(8), f.stock(t))
		assert.Equal(t, 1, f.opCount(t))

		_, err := f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 5, OpKey: "order:1:k"})
		e := requireErr(t, err, "MoleculerClientError", 409, "OPKEY_CONFLICT")
		assert.Equal(t, map[string]any{"opKey": "order:1:k"}, e.Data)
		assert.Equal(t, int64(8), f.stock(t))
	})
}

func TestReduceStockShortChangesNothing(t *testing.T) {
	stores(t, func(t *testing.T, f fixture) {
		c := svcmock.NewCaller(t) // no write, no broadcast
		_, err := f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 11, OpKey: "op"})
		e := requireErr(t, err, "MoleculerClientError", 422, "INSUFFICIENT_STOCK")
		assert.Equal(t, map[string]any{"available": int64(10), "requested": int64(11)}, e.Data)
		assert.False(t, e.Retryable)
		_, err = f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 42, Quantity: 1, OpKey: "op"})
		e = requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
		assert.Equal(t, map[string]any{"id": int64(42)}, e.Data)
		_, err = f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 0})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		assert.Equal(t, int64(10), f.stock(t))
		assert.Equal(t, 0, f.opCount(t), "a failed reduction records no key: a retry can still apply it")
	})
}

func TestConcurrentReductionsNeverGoBelowZero(t *testing.T) {
	stores(t, func(t *testing.T, f fixture) {
		c := svcmock.NewCaller(t)
		c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Times(5)
		var wg sync.WaitGroup
		var ok, short atomic.Int64
		for i := range 12 {
			wg.Go(func() {
				_, err := f.s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 2, OpKey: fmt.Sprint("op-", i)})
				if err == nil {
					ok.Add(1)
				} else if errs.From(err).Type == "INSUFFICIENT_STOCK" {
					short.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(5), ok.Load())
		assert.Equal(t, int64(7), short.Load())
		assert.Equal(t, int64(0), f.stock(t))
		assert.Equal(t, 5, f.opCount(t))
	})
}

func TestLostOpRecordUndoesTheReduction(t *testing.T) {
	products := db.NewMemory(product.Model)
	require.NoError(t, products.Connect(t.Context()))
	_, err := products.Insert(t.Context(), db.Entity{"name": "Widget", "price": 1, "stock": 10})
	require.NoError(t, err)
	ops := svcmock.NewAdapter(t)
	ops.EXPECT().FindOne(mock.Anything, db.Query{"key": "op"}).Return(nil, db.ErrNotFound).Once()
	ops.EXPECT().Insert(mock.Anything, mock.Anything).Return(nil, errors.New("disk full")).Once()
	s, err := product.New(product.Config{Products: products, Ops: ops})
	require.NoError(t, err)
	c := svcmock.NewCaller(t)
	c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Once() // the stock moved and came back
	_, err = s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 4, OpKey: "op"})
	requireErr(t, err, "MoleculerError", 500, "DB_ERROR")
	p, err := products.FindByID(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, int64(10), p["stock"])
}

// TestLosingTheRecordIsAReplay: a call whose reduction went through but whose key record
// lost the unique-index race to a concurrent call with the key undoes its reduction and
// answers as that call's replay.
func TestLosingTheRecordIsAReplay(t *testing.T) {
	products := db.NewMemory(product.Model)
	require.NoError(t, products.Connect(t.Context()))
	_, err := products.Insert(t.Context(), db.Entity{"name": "Widget", "price": 1, "stock": 10})
	require.NoError(t, err)
	ops := svcmock.NewAdapter(t)
	won := db.Entity{"id": int64(1), "key": "op", "productId": int64(1), "quantity": int64(4), "appliedAt": t0}
	ops.EXPECT().FindOne(mock.Anything, db.Query{"key": "op"}).Return(nil, db.ErrNotFound).Once()
	ops.EXPECT().Insert(mock.Anything, mock.Anything).Return(nil,
		fmt.Errorf("db: stock_ops insert: %w", &db.DuplicateError{Model: "stock_ops", Fields: []string{"key"}})).Once()
	ops.EXPECT().FindOne(mock.Anything, db.Query{"key": "op"}).Return(won, nil).Once()
	s, err := product.New(product.Config{Products: products, Ops: ops})
	require.NoError(t, err)
	c := svcmock.NewCaller(t)
	c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Once()
	p, err := s.ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 4, OpKey: "op"})
	require.NoError(t, err)
	assert.Equal(t, true, p["replayed"])
	assert.Equal(t, int64(10), p["stock"], "this call's reduction is undone; the winner's is not in this store")
}

// TestShortStockAfterARacingWinnerIsAReplay: the guard fails because a concurrent call with
// the same key took the stock between this call's key check and its update; the second key
// check finds the record, so the call is a replay, not INSUFFICIENT_STOCK.
func TestShortStockAfterARacingWinnerIsAReplay(t *testing.T) {
	products := db.NewMemory(product.Model)
	require.NoError(t, products.Connect(t.Context()))
	_, err := products.Insert(t.Context(), db.Entity{"name": "Widget", "price": 1, "stock": 1})
	require.NoError(t, err)
	ops := svcmock.NewAdapter(t)
	won := db.Entity{"id": int64(1), "key": "op", "productId": int64(1), "quantity": int64(4), "appliedAt": t0}
	ops.EXPECT().FindOne(mock.Anything, db.Query{"key": "op"}).Return(nil, db.ErrNotFound).Once()
	ops.EXPECT().FindOne(mock.Anything, db.Query{"key": "op"}).Return(won, nil).Once()
	s, err := product.New(product.Config{Products: products, Ops: ops})
	require.NoError(t, err)
	p, err := s.ReduceStock(t.Context(), svcmock.NewCaller(t), t0, product.ReduceStockInput{ID: 1, Quantity: 4, OpKey: "op"})
	require.NoError(t, err)
	assert.Equal(t, true, p["replayed"])
	assert.Equal(t, int64(1), p["stock"])
}

// TestOpKeyRaceAcrossProcesses: product services of two processes (two connection pools on
// one SQLite file, no lock in common) reduce with one key concurrently: the stock goes down
// exactly once and one key is recorded. While the stock can take every racing reduction at
// once, every other call is a replay; once it cannot, a loser may instead see
// INSUFFICIENT_STOCK (the winner's reduction is applied but not yet recorded), never a
// second reduction.
func TestOpKeyRaceAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	var svcs []*product.Service
	var products, ops db.Adapter
	for range 2 {
		conn, err := db.OpenSQLite(path)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		products = db.NewSQL(conn, db.SQLite, product.Model)
		ops = db.NewSQL(conn, db.SQLite, product.OpsModel)
		require.NoError(t, products.Connect(t.Context()))
		require.NoError(t, ops.Connect(t.Context()))
		s, err := product.New(product.Config{Products: products, Ops: ops})
		require.NoError(t, err)
		svcs = append(svcs, s)
	}
	const n, initial = 8, 12
	_, err := products.Insert(t.Context(), db.Entity{"name": "Widget", "price": 1, "stock": initial})
	require.NoError(t, err)
	for round := range initial {
		key := fmt.Sprint("order:1:race-", round)
		c := svcmock.NewCaller(t)
		c.EXPECT().Broadcast("cache.clean.product", nil).Return(nil).Maybe()
		var wg sync.WaitGroup
		var applied, replayed, short atomic.Int64
		for i := range n {
			wg.Go(func() {
				p, err := svcs[i%2].ReduceStock(t.Context(), c, t0, product.ReduceStockInput{ID: 1, Quantity: 1, OpKey: key})
				switch {
				case err != nil:
					assert.Equal(t, "INSUFFICIENT_STOCK", errs.From(err).Type, "%v", err)
					short.Add(1)
				case p["replayed"] == true:
					replayed.Add(1)
				default:
					applied.Add(1)
				}
			})
		}
		wg.Wait()
		before := int64(initial - round)
		require.Equal(t, int64(1), applied.Load(), "round %d", round)
		require.Equal(t, int64(n-1), replayed.Load()+short.Load(), "round %d", round)
		if before >= n {
			require.Zero(t, short.Load(), "round %d: stock %d takes all %d reductions", round, before, n)
		}
		p, err := products.FindByID(t.Context(), 1)
		require.NoError(t, err)
		require.Equal(t, before-1, p["stock"], "round %d: reduced once", round)
		count, err := ops.Count(t.Context(), db.Query{"key": key})
		require.NoError(t, err)
		require.Equal(t, 1, count, "round %d", round)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, product.Validate(db.Entity{"name": "x", "price": 0, "stock": int64(0)}))
	assert.NoError(t, product.Validate(db.Entity{"name": "x", "price": 1.5}))
	for field, e := range map[string]db.Entity{
		"name":  {"price": 1},
		"price": {"name": "x", "price": -1},
		"stock": {"name": "x", "price": 1, "stock": 1.5},
	} {
		err := product.Validate(e)
		got := requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		assert.Equal(t, field, got.Data.([]map[string]any)[0]["field"])
	}
}

func TestSchema(t *testing.T) {
	s, err := product.New(product.Config{Products: db.NewMemory(product.Model), Ops: db.NewMemory(product.OpsModel)})
	require.NoError(t, err)
	schema := s.Schema()
	for _, a := range []string{"find", "count", "list", "get", "create", "insert", "update", "remove", "reduceStock"} {
		assert.Contains(t, schema.Actions, a)
	}
	assert.NotNil(t, schema.Actions["get"].Cache, "get is cached")
	assert.NotNil(t, schema.Actions["list"].Cache, "list is cached")
	assert.Nil(t, schema.Actions["reduceStock"].Cache)
	assert.Contains(t, schema.Events, "cache.clean.product")
}
