// Package dbtest is the conformance suite every db.Adapter must pass. It is a
// regular (non-test) package so that each adapter's tests, and future ones
// outside this module's db package, run the very same checks: the memory
// adapter used in simulations is only a faithful stand-in if it behaves
// exactly like the SQL ones.
package dbtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

// NewAdapterFunc returns a new, not yet connected adapter for m. Adapters
// created for the same t must share one storage (one database), so that
// several models can live side by side; different t must never share data.
type NewAdapterFunc func(t *testing.T, m db.Model) db.Adapter

// RunAdapterSuite runs the whole conformance suite as subtests of t. The
// suite connects adapters itself and disconnects them on cleanup.
func RunAdapterSuite(t *testing.T, newAdapter NewAdapterFunc) {
	s := &suite{newAdapter: newAdapter}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"InsertAssignsIDs", s.testInsertAssignsIDs},
		{"InsertMany", s.testInsertMany},
		{"InsertManyIsAtomic", s.testInsertManyAtomic},
		{"TypeRoundTrip", s.testTypeRoundTrip},
		{"LenientInputs", s.testLenientInputs},
		{"FindByID", s.testFindByID},
		{"FindByIDs", s.testFindByIDs},
		{"FindOne", s.testFindOne},
		{"QueryOperators", s.testQueryOperators},
		{"Sort", s.testSort},
		{"LimitOffset", s.testLimitOffset},
		{"Search", s.testSearch},
		{"SearchASCIIFolding", s.testSearchASCIIFolding},
		{"Count", s.testCount},
		{"UpdateSet", s.testUpdateSet},
		{"UpdateInc", s.testUpdateInc},
		{"UpdateNotFound", s.testUpdateNotFound},
		{"Guard", s.testGuard},
		{"GuardConcurrent", s.testGuardConcurrent},
		{"IncConcurrent", s.testIncConcurrent},
		{"InsertConcurrent", s.testInsertConcurrent},
		{"UniqueInsert", s.testUniqueInsert},
		{"UniqueNil", s.testUniqueNil},
		{"UniqueInsertMany", s.testUniqueInsertMany},
		{"UniqueUpdate", s.testUniqueUpdate},
		{"UniqueAfterRemove", s.testUniqueAfterRemove},
		{"UniqueConcurrent", s.testUniqueConcurrent},
		{"RemoveByID", s.testRemoveByID},
		{"Clear", s.testClear},
		{"TablesAreIndependent", s.testTablesIndependent},
		{"ReturnsCopies", s.testReturnsCopies},
		{"UnknownFields", s.testUnknownFields},
		{"InvalidValues", s.testInvalidValues},
		{"InvalidQueries", s.testInvalidQueries},
		{"InvalidUpdates", s.testInvalidUpdates},
		{"InvalidModel", s.testInvalidModel},
		{"ContextCanceled", s.testContextCanceled},
	} {
		t.Run(tc.name, tc.run)
	}
}

type suite struct {
	newAdapter NewAdapterFunc
}

// products exercises every field type; "createdAt" needs quoting in
// PostgreSQL, which would otherwise fold it to lower case.
var products = db.Model{Name: "products", Fields: []db.Field{
	{Name: "name", Type: db.TypeString},
	{Name: "category", Type: db.TypeString},
	{Name: "price", Type: db.TypeFloat},
	{Name: "stock", Type: db.TypeInt},
	{Name: "active", Type: db.TypeBool},
	{Name: "tags", Type: db.TypeJSON},
	{Name: "createdAt", Type: db.TypeTime},
}}

// orders has SQL keywords as table and column names to prove identifiers are
// quoted everywhere.
var orders = db.Model{Name: "order", Fields: []db.Field{
	{Name: "user", Type: db.TypeString},
	{Name: "select", Type: db.TypeInt},
}}

func (s *suite) open(t *testing.T, m db.Model) db.Adapter {
	t.Helper()
	a := s.newAdapter(t, m)
	require.NoError(t, a.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, a.Disconnect()) })
	return a
}

// t0 anchors fixture times; it has a non-zero microsecond part on purpose.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// fixture is the data most find tests run against. Ids are 1..6 in order.
func fixture() []db.Entity {
	return []db.Entity{
		{"name": "Red Shirt", "category": "apparel", "price": 19.99, "stock": 10, "active": true, "tags": []any{"red", "cotton"}, "createdAt": t0},
		{"name": "blue shirt", "category": "apparel", "price": 24.5, "stock": 0, "active": true, "tags": []any{"blue"}, "createdAt": t0.Add(time.Hour)},
		{"name": "Hat", "category": "apparel", "price": 9.99, "stock": 5, "active": false, "createdAt": t0.Add(2 * time.Hour)},
		{"name": "Mug", "category": "kitchen", "price": 5.0, "stock": 100, "active": true, "tags": map[string]any{"material": "ceramic"}, "createdAt": t0.Add(-24 * time.Hour)},
		{"name": "SHIRT_100%", "category": "apparel", "price": 24.5},
		{"name": "Kettle", "price": 30, "stock": 2, "active": true, "createdAt": t0.Add(3 * time.Hour)},
	}
}

func (s *suite) seeded(t *testing.T) db.Adapter {
	t.Helper()
	a := s.open(t, products)
	es, err := a.InsertMany(t.Context(), fixture())
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, ids(es))
	return a
}

func ids(es []db.Entity) []int64 {
	out := make([]int64, 0, len(es))
	for _, e := range es {
		out = append(out, e["id"].(int64))
	}
	return out
}

func (s *suite) findIDs(t *testing.T, a db.Adapter, p db.FindParams) []int64 {
	t.Helper()
	es, err := a.Find(t.Context(), p)
	require.NoError(t, err, "find %+v", p)
	require.NotNil(t, es, "find returns an empty slice, not nil")
	return ids(es)
}
