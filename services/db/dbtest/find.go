package dbtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

// Fixture recap (id: name, category, price, stock, active, createdAt):
//
//	1: Red Shirt   apparel 19.99  10   true  t0
//	2: blue shirt  apparel 24.5    0   true  t0+1h
//	3: Hat         apparel  9.99   5   false t0+2h
//	4: Mug         kitchen  5     100  true  t0-24h
//	5: SHIRT_100%  apparel 24.5   nil  nil   nil
//	6: Kettle      nil     30      2   true  t0+3h
func (s *suite) testQueryOperators(t *testing.T) {
	a := s.seeded(t)
	type q = db.Query
	for _, tc := range []struct {
		name  string
		query db.Query
		want  []int64
	}{
		{"all", nil, []int64{1, 2, 3, 4, 5, 6}},
		{"eq", q{"category": "apparel"}, []int64{1, 2, 3, 5}},
		{"eq null", q{"category": nil}, []int64{6}},
		{"$eq", q{"stock": q{"$eq": 5}}, []int64{3}},
		{"$ne includes null", q{"category": q{"$ne": "apparel"}}, []int64{4, 6}},
		{"$ne null", q{"category": q{"$ne": nil}}, []int64{1, 2, 3, 4, 5}},
		{"$gt skips null", q{"stock": q{"$gt": 5}}, []int64{1, 4}},
		{"$gte", q{"stock": q{"$gte": 5}}, []int64{1, 3, 4}},
		{"$lt", q{"stock": q{"$lt": 5}}, []int64{2, 6}},
		{"$lte", q{"stock": q{"$lte": 5}}, []int64{2, 3, 6}},
		{"range", q{"stock": q{"$gte": 1, "$lt": 10}}, []int64{3, 6}},
		{"$in", q{"stock": q{"$in": []any{0, 100}}}, []int64{2, 4}},
		{"$in typed slice", q{"name": q{"$in": []string{"Hat", "Mug", "nope"}}}, []int64{3, 4}},
		{"$in empty", q{"stock": q{"$in": []int{}}}, []int64{}},
		{"$in with null", q{"stock": q{"$in": []any{nil, 5}}}, []int64{3, 5}},
		{"$in only null", q{"active": q{"$in": []any{nil}}}, []int64{5}},
		{"float eq", q{"price": 24.5}, []int64{2, 5}},
		{"float gt", q{"price": q{"$gt": 20}}, []int64{2, 5, 6}},
		{"bool", q{"active": false}, []int64{3}},
		{"bool gt", q{"active": q{"$gt": false}}, []int64{1, 2, 4, 6}},
		{"and", q{"active": true, "category": "apparel"}, []int64{1, 2}},
		{"time gte", q{"createdAt": q{"$gte": t0}}, []int64{1, 2, 3, 6}},
		{"time as string", q{"createdAt": q{"$lt": t0.Format(time.RFC3339)}}, []int64{4}},
		{"time other zone", q{"createdAt": t0.In(time.FixedZone("X", -5*3600))}, []int64{1}},
		{"id", q{"id": 3}, []int64{3}},
		{"id $in mixed", q{"id": q{"$in": []any{"2", 4.0, int64(6), 99}}}, []int64{2, 4, 6}},
		{"string is byte-wise", q{"name": q{"$gt": "Z"}}, []int64{2}},
		{"numeric string", q{"stock": "5"}, []int64{3}},
		{"integral float", q{"stock": 5.0}, []int64{3}},
		{"no match", q{"name": "nope"}, []int64{}},
	} {
		require.Equal(t, tc.want, s.findIDs(t, a, db.FindParams{Query: tc.query}), tc.name)
	}
}

func (s *suite) testSort(t *testing.T) {
	a := s.seeded(t)
	for _, tc := range []struct {
		sort []string
		want []int64
	}{
		{nil, []int64{1, 2, 3, 4, 5, 6}},
		{[]string{"price"}, []int64{4, 3, 1, 2, 5, 6}},
		{[]string{"+price"}, []int64{4, 3, 1, 2, 5, 6}},
		{[]string{"-price"}, []int64{6, 2, 5, 1, 3, 4}}, // ties by id ascending
		{[]string{"-price", "-id"}, []int64{6, 5, 2, 1, 3, 4}},
		{[]string{"-id"}, []int64{6, 5, 4, 3, 2, 1}},
		{[]string{"stock"}, []int64{5, 2, 6, 3, 1, 4}},  // nil first
		{[]string{"-stock"}, []int64{4, 1, 3, 6, 2, 5}}, // nil last
		{[]string{"category", "-price"}, []int64{6, 2, 5, 1, 3, 4}},
		{[]string{"category,-price"}, []int64{6, 2, 5, 1, 3, 4}},
		{[]string{"category -price"}, []int64{6, 2, 5, 1, 3, 4}},
		{[]string{"name"}, []int64{3, 6, 4, 1, 5, 2}}, // byte-wise: upper case first
		{[]string{"createdAt"}, []int64{5, 4, 1, 2, 3, 6}},
		{[]string{"active"}, []int64{5, 3, 1, 2, 4, 6}},
		{[]string{"-active", "name"}, []int64{6, 4, 1, 2, 3, 5}},
		{[]string{"price", "price", "-price"}, []int64{4, 3, 1, 2, 5, 6}},
	} {
		require.Equal(t, tc.want, s.findIDs(t, a, db.FindParams{Sort: tc.sort}), "sort %q", tc.sort)
	}
}

func (s *suite) testLimitOffset(t *testing.T) {
	a := s.seeded(t)
	byPrice := []string{"price"} // 4, 3, 1, 2, 5, 6
	for _, tc := range []struct {
		limit, offset int
		want          []int64
	}{
		{0, 0, []int64{4, 3, 1, 2, 5, 6}},
		{2, 0, []int64{4, 3}},
		{2, 2, []int64{1, 2}},
		{2, 5, []int64{6}},
		{0, 4, []int64{5, 6}},
		{0, 10, []int64{}},
		{100, 0, []int64{4, 3, 1, 2, 5, 6}},
	} {
		got := s.findIDs(t, a, db.FindParams{Sort: byPrice, Limit: tc.limit, Offset: tc.offset})
		require.Equal(t, tc.want, got, "limit %d offset %d", tc.limit, tc.offset)
	}
	got := s.findIDs(t, a, db.FindParams{Query: db.Query{"category": "apparel"}, Sort: []string{"-price"}, Limit: 2, Offset: 1})
	require.Equal(t, []int64{5, 1}, got)

	_, err := a.Find(t.Context(), db.FindParams{Limit: -1})
	require.ErrorIs(t, err, db.ErrInvalid)
	_, err = a.Find(t.Context(), db.FindParams{Offset: -1})
	require.ErrorIs(t, err, db.ErrInvalid)
}

func (s *suite) testSearch(t *testing.T) {
	a := s.seeded(t)
	for _, tc := range []struct {
		name string
		p    db.FindParams
		want []int64
	}{
		{"empty search", db.FindParams{Search: ""}, []int64{1, 2, 3, 4, 5, 6}},
		{"case-insensitive", db.FindParams{Search: "shirt"}, []int64{1, 2, 5}},
		{"upper case term", db.FindParams{Search: "SHIRT"}, []int64{1, 2, 5}},
		{"underscore is literal", db.FindParams{Search: "_"}, []int64{5}},
		{"percent is literal", db.FindParams{Search: "%"}, []int64{5}},
		{"backslash is literal", db.FindParams{Search: `\`}, []int64{}},
		{"all string fields by default", db.FindParams{Search: "KITCH"}, []int64{4}},
		{"restricted fields", db.FindParams{Search: "kitchen", SearchFields: []string{"name"}}, []int64{}},
		{"any of several fields", db.FindParams{Search: "K", SearchFields: []string{"category", "name"}}, []int64{4, 6}},
		{"one field", db.FindParams{Search: "K", SearchFields: []string{"name"}}, []int64{6}},
		{"with query", db.FindParams{Search: "shirt", Query: db.Query{"price": 24.5}}, []int64{2, 5}},
		{"with sort and limit", db.FindParams{Search: "shirt", Sort: []string{"-price"}, Limit: 1}, []int64{2}},
		{"no match", db.FindParams{Search: "zebra"}, []int64{}},
	} {
		require.Equal(t, tc.want, s.findIDs(t, a, tc.p), tc.name)
	}
}

// testSearchASCIIFolding pins that only A-Z fold: the common denominator of
// SQLite's lower() and a byte-wise collation.
func (s *suite) testSearchASCIIFolding(t *testing.T) {
	a := s.open(t, products)
	_, err := a.InsertMany(t.Context(), []db.Entity{{"name": "ÉCOLE"}, {"name": "école"}, {"name": "Straße"}})
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, s.findIDs(t, a, db.FindParams{Search: "COLE"}))
	require.Equal(t, []int64{2}, s.findIDs(t, a, db.FindParams{Search: "école"}))
	require.Equal(t, []int64{1}, s.findIDs(t, a, db.FindParams{Search: "É"}))
	require.Equal(t, []int64{3}, s.findIDs(t, a, db.FindParams{Search: "STRAß"}))
}
