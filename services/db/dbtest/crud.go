package dbtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

func (s *suite) testInsertAssignsIDs(t *testing.T) {
	a := s.open(t, products)
	in := db.Entity{"name": "Pen", "stock": 3}
	e, err := a.Insert(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, db.Entity{
		"id": int64(1), "name": "Pen", "category": nil, "price": nil,
		"stock": int64(3), "active": nil, "tags": nil, "createdAt": nil,
	}, e, "every declared field is present, absent ones as nil")
	require.NotContains(t, in, "id", "the caller's map is not modified")

	for want := int64(2); want <= 3; want++ {
		e, err := a.Insert(t.Context(), db.Entity{})
		require.NoError(t, err)
		require.Equal(t, want, e["id"])
	}
	got, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, e["name"], got["name"])
}

func (s *suite) testInsertMany(t *testing.T) {
	a := s.open(t, products)
	es, err := a.InsertMany(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, es)

	es, err = a.InsertMany(t.Context(), fixture())
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, ids(es))
	require.Equal(t, "Mug", es[3]["name"])
	all, err := a.Find(t.Context(), db.FindParams{})
	require.NoError(t, err)
	require.Equal(t, es, all, "InsertMany returns what is stored")
}

func (s *suite) testInsertManyAtomic(t *testing.T) {
	a := s.open(t, products)
	_, err := a.InsertMany(t.Context(), []db.Entity{
		{"name": "ok"}, {"name": "bad", "stock": "many"}, {"name": "ok too"},
	})
	require.ErrorIs(t, err, db.ErrInvalid)
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	require.Zero(t, n, "nothing of a failed batch is stored")

	e, err := a.Insert(t.Context(), db.Entity{"name": "after"})
	require.NoError(t, err)
	require.Equal(t, int64(1), e["id"], "a batch rejected by validation consumes no ids")
}

// testTypeRoundTrip pins the canonical Go type of every field type, for
// written and read-back values alike.
func (s *suite) testTypeRoundTrip(t *testing.T) {
	a := s.open(t, products)
	zone := time.FixedZone("UTC+2", 2*3600)
	cases := []struct {
		name string
		in   db.Entity
		want db.Entity
	}{
		{"canonical", db.Entity{
			"name": "Ünïcødé \"quoted\" 'single' \\ ; DROP TABLE x; -- 🎉\n", "category": "",
			"price": 0.1, "stock": int64(1<<53 + 1), "active": false,
			"tags":      map[string]any{"a": []any{1, "x", true, nil, map[string]any{"b": 2.5}}, "s": "q\"uote"},
			"createdAt": time.Date(2024, 2, 29, 23, 59, 59, 123456789, zone),
		}, db.Entity{
			"name": "Ünïcødé \"quoted\" 'single' \\ ; DROP TABLE x; -- 🎉\n", "category": "",
			"price": 0.1, "stock": int64(1<<53 + 1), "active": false,
			"tags":      map[string]any{"a": []any{float64(1), "x", true, nil, map[string]any{"b": 2.5}}, "s": "q\"uote"},
			"createdAt": time.Date(2024, 2, 29, 21, 59, 59, 123456000, time.UTC),
		}},
		{"extremes", db.Entity{
			"price": -1e300, "stock": int64(-1 << 63), "active": true,
			"tags": []string{"x", "y"}, "createdAt": time.Date(1901, 1, 1, 0, 0, 0, 1000, time.UTC),
		}, db.Entity{
			"name": nil, "category": nil,
			"price": -1e300, "stock": int64(-1 << 63), "active": true,
			"tags": []any{"x", "y"}, "createdAt": time.Date(1901, 1, 1, 0, 0, 0, 1000, time.UTC),
		}},
		{"json scalars", db.Entity{"tags": "hello", "price": 1e-300, "stock": int64(1<<63 - 1)},
			db.Entity{"name": nil, "category": nil, "price": 1e-300, "stock": int64(1<<63 - 1), "active": nil, "tags": "hello", "createdAt": nil}},
		{"json false and null", db.Entity{"tags": false, "name": nil},
			db.Entity{"name": nil, "category": nil, "price": nil, "stock": nil, "active": nil, "tags": false, "createdAt": nil}},
		{"json number", db.Entity{"tags": 42},
			db.Entity{"name": nil, "category": nil, "price": nil, "stock": nil, "active": nil, "tags": float64(42), "createdAt": nil}},
		{"json raw", db.Entity{"tags": json.RawMessage(`{"z":1,"a":[]}`)},
			db.Entity{"name": nil, "category": nil, "price": nil, "stock": nil, "active": nil, "tags": map[string]any{"z": float64(1), "a": []any{}}, "createdAt": nil}},
	}
	for _, tc := range cases {
		e, err := a.Insert(t.Context(), tc.in)
		require.NoError(t, err, tc.name)
		tc.want["id"] = e["id"]
		require.Equal(t, tc.want, e, "%s: Insert", tc.name)
		got, err := a.FindByID(t.Context(), e["id"])
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, "%s: FindByID", tc.name)
		tm, _ := got["createdAt"].(time.Time)
		require.Equal(t, time.UTC, tm.Location(), "%s: times come back in UTC", tc.name)
	}
}

// testLenientInputs covers the shapes values arrive in from JSON bodies and
// query strings.
func (s *suite) testLenientInputs(t *testing.T) {
	a := s.open(t, products)
	type myInt int32
	e, err := a.Insert(t.Context(), db.Entity{
		"name": "x", "price": "2.25", "stock": "42", "active": "true",
		"createdAt": "2024-01-02T03:04:05.1234567+01:00",
	})
	require.NoError(t, err)
	require.Equal(t, 2.25, e["price"])
	require.Equal(t, int64(42), e["stock"])
	require.Equal(t, true, e["active"])
	require.Equal(t, time.Date(2024, 1, 2, 2, 4, 5, 123456000, time.UTC), e["createdAt"])

	e, err = a.Insert(t.Context(), db.Entity{
		"price": 3, "stock": 7.0, "active": false, "tags": []int{1, 2},
	})
	require.NoError(t, err)
	require.Equal(t, 3.0, e["price"])
	require.Equal(t, int64(7), e["stock"])
	require.Equal(t, []any{1.0, 2.0}, e["tags"])

	e, err = a.Insert(t.Context(), db.Entity{"stock": myInt(9), "price": json.Number("1.5")})
	require.NoError(t, err)
	require.Equal(t, int64(9), e["stock"])
	require.Equal(t, 1.5, e["price"])
}

func (s *suite) testFindByID(t *testing.T) {
	a := s.seeded(t)
	for _, id := range []any{2, int64(2), int32(2), uint8(2), 2.0, "2", json.Number("2")} {
		e, err := a.FindByID(t.Context(), id)
		require.NoError(t, err, "id %#v", id)
		require.Equal(t, int64(2), e["id"])
		require.Equal(t, "blue shirt", e["name"])
	}
	for _, id := range []any{999, 0, -1, "abc", "", 2.5, nil, true, []int{2}} {
		_, err := a.FindByID(t.Context(), id)
		require.ErrorIs(t, err, db.ErrNotFound, "id %#v", id)
	}
}

func (s *suite) testFindByIDs(t *testing.T) {
	a := s.seeded(t)
	es, err := a.FindByIDs(t.Context(), []any{3, "1", 999, 2.0, "x", int64(6), 3})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 1, 2, 6, 3}, ids(es), "order asked, missing and invalid skipped, repeats kept")
	es[0]["name"] = "changed"
	require.Equal(t, "Hat", es[4]["name"], "a repeated id yields an independent entity")

	es, err = a.FindByIDs(t.Context(), nil)
	require.NoError(t, err)
	require.NotNil(t, es)
	require.Empty(t, es)

	many := make([]any, 0, 1200)
	for i := range 1200 {
		many = append(many, 6-i%6)
	}
	es, err = a.FindByIDs(t.Context(), many)
	require.NoError(t, err)
	require.Len(t, es, 1200, "long lists are not truncated")
	require.Equal(t, int64(1), es[1199]["id"])
}

func (s *suite) testFindOne(t *testing.T) {
	a := s.seeded(t)
	e, err := a.FindOne(t.Context(), db.Query{"category": "apparel"})
	require.NoError(t, err)
	require.Equal(t, int64(1), e["id"], "the lowest matching id")
	e, err = a.FindOne(t.Context(), db.Query{"stock": db.Query{"$gte": 50}})
	require.NoError(t, err)
	require.Equal(t, "Mug", e["name"])
	_, err = a.FindOne(t.Context(), db.Query{"name": "nope"})
	require.ErrorIs(t, err, db.ErrNotFound)
	e, err = a.FindOne(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), e["id"])
}

func (s *suite) testCount(t *testing.T) {
	a := s.seeded(t)
	for _, tc := range []struct {
		q    db.Query
		want int
	}{
		{nil, 6},
		{db.Query{}, 6},
		{db.Query{"category": "apparel"}, 4},
		{db.Query{"stock": db.Query{"$gt": 1000}}, 0},
		{db.Query{"stock": nil}, 1},
	} {
		n, err := a.Count(t.Context(), tc.q)
		require.NoError(t, err, "%v", tc.q)
		require.Equal(t, tc.want, n, "%v", tc.q)
	}
}

func (s *suite) testRemoveByID(t *testing.T) {
	a := s.seeded(t)
	before, err := a.FindByID(t.Context(), 6)
	require.NoError(t, err)
	e, err := a.RemoveByID(t.Context(), "6")
	require.NoError(t, err)
	require.Equal(t, before, e, "the removed entity is returned")

	_, err = a.FindByID(t.Context(), 6)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = a.RemoveByID(t.Context(), 6)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = a.RemoveByID(t.Context(), "abc")
	require.ErrorIs(t, err, db.ErrNotFound)
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, 5, n)

	e, err = a.Insert(t.Context(), db.Entity{"name": "new"})
	require.NoError(t, err)
	require.Equal(t, int64(7), e["id"], "ids of removed entities are never reused")
}

func (s *suite) testClear(t *testing.T) {
	a := s.seeded(t)
	n, err := a.Clear(t.Context())
	require.NoError(t, err)
	require.Equal(t, 6, n)
	require.Empty(t, s.findIDs(t, a, db.FindParams{}))
	n, err = a.Clear(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)

	e, err := a.Insert(t.Context(), db.Entity{"name": "new"})
	require.NoError(t, err)
	require.Equal(t, int64(7), e["id"], "ids keep counting after Clear")
}

func (s *suite) testTablesIndependent(t *testing.T) {
	p := s.open(t, products)
	o := s.open(t, orders)
	_, err := p.InsertMany(t.Context(), fixture())
	require.NoError(t, err)
	e, err := o.Insert(t.Context(), db.Entity{"user": "ann", "select": 2})
	require.NoError(t, err)
	require.Equal(t, db.Entity{"id": int64(1), "user": "ann", "select": int64(2)}, e, "ids are per table")

	es, err := o.Find(t.Context(), db.FindParams{Query: db.Query{"select": db.Query{"$in": []int{2}}}, Sort: []string{"-user"}, Search: "AN"})
	require.NoError(t, err)
	require.Len(t, es, 1)
	_, err = o.UpdateByID(t.Context(), 1, db.Update{Set: map[string]any{"user": "bob"}, Inc: map[string]float64{"select": 1}, Guard: &db.Guard{Field: "select", Min: 3}})
	require.NoError(t, err)

	n, err := o.Clear(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = p.Count(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, 6, n, "clearing one table leaves the other alone")
}

func (s *suite) testReturnsCopies(t *testing.T) {
	a := s.open(t, products)
	tags := map[string]any{"list": []any{"a"}}
	in := db.Entity{"name": "orig", "tags": tags}
	e, err := a.Insert(t.Context(), in)
	require.NoError(t, err)

	tags["list"].([]any)[0] = "mutated input"
	in["name"] = "mutated input"
	e["name"] = "mutated result"
	e["tags"].(map[string]any)["list"].([]any)[0] = "mutated result"
	found, err := a.Find(t.Context(), db.FindParams{})
	require.NoError(t, err)
	found[0]["tags"].(map[string]any)["new"] = true
	byID, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	byID["name"] = "mutated by id"
	updated, err := a.UpdateByID(t.Context(), 1, db.Update{Inc: map[string]float64{"stock": 1}})
	require.NoError(t, err)
	updated["tags"].(map[string]any)["list"] = nil

	got, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, "orig", got["name"])
	require.Equal(t, map[string]any{"list": []any{"a"}}, got["tags"])
}
