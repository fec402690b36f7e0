package dbtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

// testUnknownFields checks every place a field name is accepted: a typo must
// fail loudly, naming the field, rather than match nothing or be dropped.
func (s *suite) testUnknownFields(t *testing.T) {
	a := s.seeded(t)
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		require.ErrorIs(t, err, db.ErrUnknownField, what)
		require.Contains(t, err.Error(), "colour", what)
	}
	_, err := a.Insert(ctx, db.Entity{"name": "x", "colour": "red"})
	check("insert", err)
	_, err = a.InsertMany(ctx, []db.Entity{{"name": "x"}, {"colour": "red"}})
	check("insert many", err)
	_, err = a.UpdateByID(ctx, 1, db.Update{Set: map[string]any{"colour": "red"}})
	check("update set", err)
	_, err = a.UpdateByID(ctx, 1, db.Update{Inc: map[string]float64{"colour": 1}})
	check("update inc", err)
	_, err = a.UpdateByID(ctx, 1, db.Update{Guard: &db.Guard{Field: "colour"}})
	check("update guard", err)
	_, err = a.Find(ctx, db.FindParams{Query: db.Query{"colour": "red"}})
	check("find query", err)
	_, err = a.Find(ctx, db.FindParams{Sort: []string{"-colour"}})
	check("find sort", err)
	_, err = a.Find(ctx, db.FindParams{Search: "x", SearchFields: []string{"colour"}})
	check("find search fields", err)
	_, err = a.FindOne(ctx, db.Query{"colour": "red"})
	check("find one", err)
	_, err = a.Count(ctx, db.Query{"colour": db.Query{"$gt": 1}})
	check("count", err)

	n, err := a.Count(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 6, n, "failed inserts stored nothing")
	e, err := a.FindByID(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "Red Shirt", e["name"], "failed updates changed nothing")
}

func (s *suite) testInvalidValues(t *testing.T) {
	a := s.open(t, products)
	for _, tc := range []struct {
		field string
		value any
	}{
		{"stock", "many"},
		{"stock", 1.5},
		{"stock", true},
		{"stock", uint64(1 << 63)},
		{"price", "cheap"},
		{"price", false},
		{"active", "maybe"},
		{"active", 1},
		{"name", 5},
		{"name", []byte("bytes")},
		{"createdAt", "yesterday"},
		{"createdAt", 1700000000},
		{"createdAt", "10000-01-01T00:00:00Z"},
		{"tags", func() {}},
		{"tags", make(chan int)},
	} {
		_, err := a.Insert(t.Context(), db.Entity{tc.field: tc.value})
		require.ErrorIs(t, err, db.ErrInvalid, "%s = %#v", tc.field, tc.value)
		require.Contains(t, err.Error(), tc.field)
		_, err = a.UpdateByID(t.Context(), 1, db.Update{Set: map[string]any{tc.field: tc.value}})
		require.ErrorIs(t, err, db.ErrInvalid, "set %s = %#v", tc.field, tc.value)
	}
	_, err := a.Insert(t.Context(), db.Entity{"id": 5, "name": "x"})
	require.ErrorIs(t, err, db.ErrInvalid, "ids are assigned by the adapter")
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

func (s *suite) testInvalidQueries(t *testing.T) {
	a := s.seeded(t)
	type q = db.Query
	for name, p := range map[string]db.FindParams{
		"unsupported operator": {Query: q{"name": q{"$regex": "x"}}},
		"top-level operator":   {Query: q{"$or": []any{q{"name": "x"}}}},
		"empty operators":      {Query: q{"name": q{}}},
		"$in not a list":       {Query: q{"stock": q{"$in": 5}}},
		"$in bad element":      {Query: q{"stock": q{"$in": []any{1, "x"}}}},
		"compare with null":    {Query: q{"stock": q{"$gt": nil}}},
		"wrong value type":     {Query: q{"stock": "many"}},
		"json field query":     {Query: q{"tags": "red"}},
		"json field sort":      {Sort: []string{"tags"}},
		"search non-string":    {Search: "1", SearchFields: []string{"price"}},
	} {
		_, err := a.Find(t.Context(), p)
		require.ErrorIs(t, err, db.ErrInvalid, name)
	}
}

func (s *suite) testInvalidUpdates(t *testing.T) {
	a := s.seeded(t)
	for name, u := range map[string]db.Update{
		"set id":              {Set: map[string]any{"id": 7}},
		"inc id":              {Inc: map[string]float64{"id": 1}},
		"inc string":          {Inc: map[string]float64{"name": 1}},
		"inc fraction of int": {Inc: map[string]float64{"stock": 0.5}},
		"set and inc":         {Set: map[string]any{"stock": 1}, Inc: map[string]float64{"stock": 1}},
		"guard on string":     {Guard: &db.Guard{Field: "name"}},
		"guard on json":       {Guard: &db.Guard{Field: "tags"}},
	} {
		_, err := a.UpdateByID(t.Context(), 1, u)
		require.ErrorIs(t, err, db.ErrInvalid, name)
	}
	e, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, int64(10), e["stock"])
}

func (s *suite) testInvalidModel(t *testing.T) {
	for name, m := range map[string]db.Model{
		"declares id":     {Name: "bad", Fields: []db.Field{{Name: "id", Type: db.TypeInt}}},
		"duplicate field": {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeInt}, {Name: "a", Type: db.TypeString}}},
		"unknown type":    {Name: "bad", Fields: []db.Field{{Name: "a", Type: "decimal"}}},
		"empty field":     {Name: "bad", Fields: []db.Field{{Name: "", Type: db.TypeInt}}},
		"empty unique":    {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeInt}}, Unique: [][]string{{}}},
		"unique unknown":  {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeInt}}, Unique: [][]string{{"b"}}},
		"unique id":       {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeInt}}, Unique: [][]string{{"id"}}},
		"unique json":     {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeJSON}}, Unique: [][]string{{"a"}}},
		"unique repeats":  {Name: "bad", Fields: []db.Field{{Name: "a", Type: db.TypeInt}}, Unique: [][]string{{"a", "a"}}},
	} {
		a := s.newAdapter(t, m)
		require.ErrorIs(t, a.Connect(t.Context()), db.ErrInvalid, name)
		_, err := a.Insert(t.Context(), db.Entity{})
		require.ErrorIs(t, err, db.ErrInvalid, name)
		_, err = a.Find(t.Context(), db.FindParams{})
		require.ErrorIs(t, err, db.ErrInvalid, name)
		require.NoError(t, a.Disconnect())
	}
}

func (s *suite) testContextCanceled(t *testing.T) {
	a := s.seeded(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := a.Find(ctx, db.FindParams{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = a.Insert(ctx, db.Entity{"name": "late"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = a.UpdateByID(ctx, 1, db.Update{Inc: map[string]float64{"stock": -1}})
	require.ErrorIs(t, err, context.Canceled)

	e, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, int64(10), e["stock"], "a canceled update did not happen")
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, 6, n)
}
