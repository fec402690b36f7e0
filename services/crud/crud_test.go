package crud_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/db/mongotest"
	"github.com/faultline/faultline/services/svc/svcmock"
)

var things = db.Model{Name: "things", Fields: []db.Field{
	{Name: "name", Type: db.TypeString},
	{Name: "qty", Type: db.TypeInt},
	{Name: "secret", Type: db.TypeString},
}}

// adapters runs a test on every adapter the simulator and production use.
func adapters(t *testing.T, run func(t *testing.T, a db.Adapter)) {
	t.Run("memory", func(t *testing.T) {
		a := db.NewMemory(things)
		require.NoError(t, a.Connect(t.Context()))
		run(t, a)
	})
	t.Run("sqlite", func(t *testing.T) {
		conn, err := db.OpenSQLite(fmt.Sprintf("file:crud_test_%d?mode=memory&cache=shared", seq.Add(1)))
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		a := db.NewSQL(conn, db.SQLite, things)
		require.NoError(t, a.Connect(t.Context()))
		run(t, a)
	})
}

var seq atomic.Int64

func nonNegative(e db.Entity) error {
	if q, ok := e["qty"].(int64); ok && q < 0 {
		return crud.Invalid("qty", "qty must be ≥ 0", q)
	}
	if q, ok := e["qty"].(int); ok && q < 0 {
		return crud.Invalid("qty", "qty must be ≥ 0", q)
	}
	return nil
}

func newMixin(a db.Adapter, cache bool) *crud.Mixin {
	return crud.New(crud.Config{Name: "things", Adapter: a, Fields: []string{"id", "name", "qty"}, Validate: nonNegative, Cache: cache, PageSize: 2, MaxPageSize: 3})
}

// expectClean expects n cache-clean broadcasts.
func expectClean(c *svcmock.Caller, n int) {
	if n > 0 {
		c.EXPECT().Broadcast("cache.clean.things", nil).Return(nil).Times(n)
	}
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

func seed(t *testing.T, m *crud.Mixin, c *svcmock.Caller) {
	t.Helper()
	res, err := m.InsertEntities(t.Context(), c, map[string]any{"entities": []any{
		map[string]any{"name": "apple", "qty": 3, "secret": "s1"},
		map[string]any{"name": "banana", "qty": 0, "secret": "s2"},
		map[string]any{"name": "cherry", "qty": 7, "secret": "s3"},
		map[string]any{"name": "Apricot", "qty": 1, "secret": "s4"},
	}})
	require.NoError(t, err)
	require.Len(t, res, 4)
}

func TestWritesInvalidateTheCacheOnce(t *testing.T) {
	adapters(t, func(t *testing.T, a db.Adapter) {
		c := svcmock.NewCaller(t)
		m := newMixin(a, true)
		expectClean(c, 1)
		seed(t, m, c) // one insert of many: one clean

		expectClean(c, 4)
		e, err := m.CreateEntity(t.Context(), c, map[string]any{"name": "date", "qty": 2})
		require.NoError(t, err)
		assert.Equal(t, db.Entity{"id": int64(5), "name": "date", "qty": int64(2)}, e, "public fields only")
		_, err = m.InsertEntities(t.Context(), c, map[string]any{"entity": map[string]any{"name": "elder"}})
		require.NoError(t, err)
		_, err = m.UpdateEntity(t.Context(), c, 5, map[string]any{"qty": 9})
		require.NoError(t, err)
		_, err = m.RemoveEntity(t.Context(), c, 6)
		require.NoError(t, err)
	})
}

func TestReadsAndFailedWritesDoNotTouchTheCluster(t *testing.T) {
	adapters(t, func(t *testing.T, a db.Adapter) {
		c := svcmock.NewCaller(t) // no expectation: any call or event fails the test
		m := newMixin(a, true)
		expectClean(c, 1)
		seed(t, m, c)
		c2 := svcmock.NewCaller(t)
		_, err := m.FindEntities(t.Context(), crud.FindParams{})
		require.NoError(t, err)
		_, err = m.CreateEntity(t.Context(), c2, map[string]any{"name": "neg", "qty": -1})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = m.UpdateEntity(t.Context(), c2, 99, map[string]any{"qty": 1})
		requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
		_, err = m.RemoveEntity(t.Context(), c2, 99)
		requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
	})
}

func TestNoCacheNoBroadcast(t *testing.T) {
	adapters(t, func(t *testing.T, a db.Adapter) {
		c := svcmock.NewCaller(t)
		m := newMixin(a, false)
		seed(t, m, c)
		_, err := m.UpdateEntity(t.Context(), c, 1, map[string]any{"qty": 4})
		require.NoError(t, err)
		assert.Empty(t, m.Events())
		assert.Nil(t, m.Actions()["get"].Cache)
	})
}

func TestFindCountListGet(t *testing.T) {
	adapters(t, func(t *testing.T, a db.Adapter) {
		c := svcmock.NewCaller(t)
		m := newMixin(a, false)
		seed(t, m, c)
		ctx := t.Context()

		p, err := crud.ParseFind(map[string]any{"sort": "-qty", "limit": 2, "fields": "name secret"})
		require.NoError(t, err)
		es, err := m.FindEntities(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, []db.Entity{{"name": "cherry"}, {"name": "apple"}}, es, "secret is not public")

		p, err = crud.ParseFind(map[string]any{"query": `{"qty": {"$gte": 1}}`, "sort": []any{"name"}, "offset": "1"})
		require.NoError(t, err)
		es, err = m.FindEntities(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, []any{"apple", "cherry"}, names(es), "byte-wise order: Apricot first, skipped by offset")

		p, err = crud.ParseFind(map[string]any{"search": "AP", "searchFields": "name"})
		require.NoError(t, err)
		n, err := m.CountEntities(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		n, err = m.CountEntities(ctx, crud.FindParams{Query: db.Query{"qty": 0}})
		require.NoError(t, err)
		assert.Equal(t, 1, n)

		lp, err := crud.ParseList(map[string]any{"page": 2, "sort": "id"})
		require.NoError(t, err)
		l, err := m.ListEntities(ctx, lp)
		require.NoError(t, err)
		assert.Equal(t, 4, l.Total)
		assert.Equal(t, 2, l.Page)
		assert.Equal(t, 2, l.PageSize, "Config.PageSize")
		assert.Equal(t, 2, l.TotalPages)
		assert.Equal(t, []any{"cherry", "Apricot"}, names(l.Rows))
		l, err = m.ListEntities(ctx, crud.ListParams{PageSize: 50})
		require.NoError(t, err)
		assert.Equal(t, 3, l.PageSize, "capped at MaxPageSize")
		assert.Equal(t, 2, l.TotalPages)

		one, err := m.GetEntities(ctx, float64(2), nil, false)
		require.NoError(t, err)
		assert.Equal(t, db.Entity{"id": int64(2), "name": "banana", "qty": int64(0)}, one)
		many, err := m.GetEntities(ctx, []any{3, 99, "1"}, []string{"name"}, false)
		require.NoError(t, err)
		assert.Equal(t, []db.Entity{{"name": "cherry"}, {"name": "apple"}}, many, "missing ids skipped, order kept")
		mapped, err := m.GetEntities(ctx, []any{3, 1}, []string{"id", "name"}, true)
		require.NoError(t, err)
		assert.Equal(t, map[string]db.Entity{"3": {"id": int64(3), "name": "cherry"}, "1": {"id": int64(1), "name": "apple"}}, mapped)
		_, err = m.GetEntities(ctx, 42, nil, false)
		e := requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
		assert.Equal(t, map[string]any{"id": 42}, e.Data)
	})
}

func names(es []db.Entity) []any {
	out := []any{}
	for _, e := range es {
		out = append(out, e["name"])
	}
	return out
}

func TestBadQueriesAndFieldsAreValidationErrors(t *testing.T) {
	adapters(t, func(t *testing.T, a db.Adapter) {
		c := svcmock.NewCaller(t)
		m := newMixin(a, false)
		seed(t, m, c)
		ctx := t.Context()
		_, err := m.FindEntities(ctx, crud.FindParams{Query: db.Query{"colour": "red"}})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = m.FindEntities(ctx, crud.FindParams{Sort: []string{"nope"}})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = m.UpdateEntity(ctx, c, 1, map[string]any{"qty": "lots"})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = crud.ParseFind(map[string]any{"query": "{not json"})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = crud.ParseFind(map[string]any{"limit": -1})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = m.InsertEntities(ctx, c, map[string]any{})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")

		// insert of many is all-or-nothing, validator included.
		_, err = m.InsertEntities(ctx, c, map[string]any{"entities": []any{map[string]any{"name": "ok"}, map[string]any{"qty": -3}}})
		e := requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		assert.Equal(t, crud.EntityValidationMessage, e.Message)
		n, err := m.Count(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, 4, n)

		// update validates the entity as it would be.
		_, err = m.UpdateEntity(ctx, c, 1, map[string]any{"qty": -1})
		e = requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		assert.Equal(t, "qty", e.Data.([]map[string]any)[0]["field"])
	})
}

func TestStorageFailureIsDBError(t *testing.T) {
	a := svcmock.NewAdapter(t)
	a.EXPECT().FindByID(mock.Anything, 1).Return(nil, errors.New("connection reset")).Once()
	a.EXPECT().Find(mock.Anything, mock.Anything).Return(nil, context.DeadlineExceeded).Once()
	m := crud.New(crud.Config{Name: "things", Adapter: a})
	_, err := m.GetEntities(t.Context(), 1, nil, false)
	e := requireErr(t, err, "MoleculerError", 500, "DB_ERROR")
	assert.False(t, e.Retryable)
	_, err = m.FindEntities(t.Context(), crud.FindParams{})
	requireErr(t, err, "MoleculerError", 500, "DB_ERROR")
}

func TestGuardErrorIsKept(t *testing.T) {
	a := svcmock.NewAdapter(t)
	a.EXPECT().UpdateByID(mock.Anything, 1, mock.Anything).Return(nil, fmt.Errorf("wrapped: %w", db.ErrGuard)).Once()
	m := crud.New(crud.Config{Name: "things", Adapter: a})
	_, err := m.UpdateByID(t.Context(), 1, db.Update{Inc: map[string]float64{"qty": -1}, Guard: &db.Guard{Field: "qty"}})
	assert.ErrorIs(t, err, db.ErrGuard)
}

func TestStorageContextHasNoDeadline(t *testing.T) {
	a := svcmock.NewAdapter(t)
	a.EXPECT().Count(mock.Anything, db.Query(nil)).RunAndReturn(func(ctx context.Context, _ db.Query) (int, error) {
		_, has := ctx.Deadline()
		assert.False(t, has, "virtual deadlines must not reach storage drivers")
		return 0, nil
	}).Once()
	m := crud.New(crud.Config{Name: "things", Adapter: a})
	ctx, cancel := context.WithTimeout(t.Context(), 1e12)
	defer cancel()
	_, err := m.Count(ctx, nil)
	require.NoError(t, err)
}

func TestMergeKeepsServiceActions(t *testing.T) {
	m := newMixin(db.NewMemory(things), true)
	custom := m.Actions("get")["get"]
	custom.Params = map[string]any{"custom": "string"}
	s := m.Merge(&broker.Service{Name: "things", Actions: map[string]broker.Action{"get": custom}}, "get", "list")
	assert.Equal(t, map[string]any{"custom": "string"}, s.Actions["get"].Params, "the service's own action wins")
	assert.Contains(t, s.Actions, "list")
	assert.NotContains(t, s.Actions, "remove")
	assert.Contains(t, s.Events, "cache.clean.things")
	assert.Panics(t, func() { m.Actions("nope") })
}

// TestDuplicateIsConflict: a unique set violation, on every adapter, is a 409 DUPLICATE_KEY
// naming the set, from create, insert and update alike, and a failed write broadcasts
// nothing.
func TestDuplicateIsConflict(t *testing.T) {
	named := db.Model{Name: "named", Fields: things.Fields, Unique: [][]string{{"name"}}}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) db.Adapter
	}{
		{"memory", func(t *testing.T) db.Adapter { return db.NewMemory(named) }},
		{"sqlite", func(t *testing.T) db.Adapter {
			conn, err := db.OpenSQLite(fmt.Sprintf("file:crud_test_%d?mode=memory&cache=shared", seq.Add(1)))
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			return db.NewSQL(conn, db.SQLite, named)
		}},
		{"mongodb", func(t *testing.T) db.Adapter {
			return db.NewMongo(mongotest.FerretDB(t).Database(t), named, db.MongoOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.open(t)
			require.NoError(t, a.Connect(t.Context()))
			m := newMixin(a, true)
			c := svcmock.NewCaller(t)
			expectClean(c, 2)
			_, err := m.CreateEntity(t.Context(), c, map[string]any{"name": "apple"})
			require.NoError(t, err)
			_, err = m.CreateEntity(t.Context(), c, map[string]any{"name": "banana"})
			require.NoError(t, err)

			quiet := svcmock.NewCaller(t) // no expectation: a broadcast fails the test
			_, err = m.CreateEntity(t.Context(), quiet, map[string]any{"name": "apple"})
			e := requireErr(t, err, "MoleculerClientError", 409, "DUPLICATE_KEY")
			assert.Equal(t, map[string]any{"fields": []string{"name"}}, e.Data)
			assert.ErrorIs(t, err, crud.ErrDuplicateKey)
			assert.NotErrorIs(t, err, crud.ErrEntityNotFound)
			_, err = m.InsertEntities(t.Context(), quiet, map[string]any{"entities": []any{
				map[string]any{"name": "cherry"}, map[string]any{"name": "banana"}}})
			requireErr(t, err, "MoleculerClientError", 409, "DUPLICATE_KEY")
			_, err = m.UpdateEntity(t.Context(), quiet, 2, map[string]any{"name": "apple"})
			requireErr(t, err, "MoleculerClientError", 409, "DUPLICATE_KEY")
			n, err := m.Count(t.Context(), nil)
			require.NoError(t, err)
			assert.Equal(t, 2, n)
		})
	}
}
