package dbtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

// accounts has a single-field and a two-field unique set, the shapes services
// use: a unique email, and an idempotency key scoped to a user.
var accounts = db.Model{
	Name: "accounts",
	Fields: []db.Field{
		{Name: "email", Type: db.TypeString},
		{Name: "userId", Type: db.TypeInt},
		{Name: "key", Type: db.TypeString},
		{Name: "n", Type: db.TypeInt},
	},
	Unique: [][]string{{"email"}, {"userId", "key"}},
}

// requireDuplicate checks that err is ErrDuplicate naming the set.
func requireDuplicate(t *testing.T, err error, fields []string, what string) {
	t.Helper()
	require.ErrorIs(t, err, db.ErrDuplicate, what)
	var dup *db.DuplicateError
	require.True(t, errors.As(err, &dup), "%s: %v is not a *db.DuplicateError", what, err)
	require.Equal(t, fields, dup.Fields, what)
}

func (s *suite) count(t *testing.T, a db.Adapter) int {
	t.Helper()
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	return n
}

func (s *suite) testUniqueInsert(t *testing.T) {
	a := s.open(t, accounts)
	ctx := t.Context()
	_, err := a.Insert(ctx, db.Entity{"email": "a@x", "userId": 1, "key": "k1"})
	require.NoError(t, err)

	_, err = a.Insert(ctx, db.Entity{"email": "a@x", "userId": 2})
	requireDuplicate(t, err, []string{"email"}, "same email")
	_, err = a.Insert(ctx, db.Entity{"email": "b@x", "userId": 1, "key": "k1"})
	requireDuplicate(t, err, []string{"userId", "key"}, "same user and key")
	require.Equal(t, 1, s.count(t, a), "failed inserts stored nothing")

	// Distinct in one field of a set is distinct; strings compare byte-wise.
	for _, e := range []db.Entity{
		{"email": "A@x", "userId": 2, "key": "k1"},
		{"email": "c@x", "userId": 1, "key": "K1"},
		{"email": "d@x", "userId": 1, "key": "k2"},
	} {
		_, err := a.Insert(ctx, e)
		require.NoError(t, err, "%v", e)
	}
	require.Equal(t, 4, s.count(t, a))
}

// testUniqueNil: as in SQL, a nil in any field of a set exempts the entity
// from that set, so optional keys can be unique among the entities having one.
func (s *suite) testUniqueNil(t *testing.T) {
	a := s.open(t, accounts)
	for _, e := range []db.Entity{
		{"userId": 1},
		{"userId": 1},
		{"userId": 1, "key": nil, "email": nil},
		{"key": "k"},
		{"key": "k"},
	} {
		_, err := a.Insert(t.Context(), e)
		require.NoError(t, err, "%v", e)
	}
	require.Equal(t, 5, s.count(t, a))
	_, err := a.Insert(t.Context(), db.Entity{"userId": 1, "key": "k"})
	require.NoError(t, err, "the first complete (userId, key)")
	_, err = a.Insert(t.Context(), db.Entity{"userId": 1, "key": "k"})
	requireDuplicate(t, err, []string{"userId", "key"}, "the second complete (userId, key)")
}

func (s *suite) testUniqueInsertMany(t *testing.T) {
	a := s.open(t, accounts)
	ctx := t.Context()
	_, err := a.InsertMany(ctx, []db.Entity{{"email": "a@x"}, {"email": "b@x"}, {"email": "a@x"}})
	requireDuplicate(t, err, []string{"email"}, "duplicate within the batch")
	require.Zero(t, s.count(t, a), "all or nothing")

	_, err = a.Insert(ctx, db.Entity{"email": "a@x"})
	require.NoError(t, err)
	_, err = a.InsertMany(ctx, []db.Entity{{"email": "b@x"}, {"email": "a@x"}})
	requireDuplicate(t, err, []string{"email"}, "duplicate of a stored entity")
	require.Equal(t, 1, s.count(t, a), "all or nothing")
}

func (s *suite) testUniqueUpdate(t *testing.T) {
	a := s.open(t, accounts)
	ctx := t.Context()
	es, err := a.InsertMany(ctx, []db.Entity{
		{"email": "a@x", "userId": 1, "key": "k1", "n": 0},
		{"email": "b@x", "userId": 2, "key": "k1", "n": 0},
	})
	require.NoError(t, err)
	second := es[1]["id"]

	_, err = a.UpdateByID(ctx, second, db.Update{Set: map[string]any{"email": "a@x", "n": 5}})
	requireDuplicate(t, err, []string{"email"}, "set to a taken email")
	_, err = a.UpdateByID(ctx, second, db.Update{Inc: map[string]float64{"userId": -1}})
	requireDuplicate(t, err, []string{"userId", "key"}, "increment into a taken (userId, key)")
	e, err := a.FindByID(ctx, second)
	require.NoError(t, err)
	require.Equal(t, "b@x", e["email"], "failed updates changed nothing")
	require.Equal(t, int64(2), e["userId"])
	require.Equal(t, int64(0), e["n"])

	e, err = a.UpdateByID(ctx, second, db.Update{Set: map[string]any{"email": "b@x", "n": 1}})
	require.NoError(t, err, "an entity does not collide with itself")
	require.Equal(t, int64(1), e["n"])
	_, err = a.UpdateByID(ctx, second, db.Update{Set: map[string]any{"email": "c@x"}})
	require.NoError(t, err)
	_, err = a.Insert(ctx, db.Entity{"email": "b@x"})
	require.NoError(t, err, "the old value is free after the update")
}

func (s *suite) testUniqueAfterRemove(t *testing.T) {
	a := s.open(t, accounts)
	ctx := t.Context()
	e, err := a.Insert(ctx, db.Entity{"email": "a@x"})
	require.NoError(t, err)
	_, err = a.RemoveByID(ctx, e["id"])
	require.NoError(t, err)
	_, err = a.Insert(ctx, db.Entity{"email": "a@x"})
	require.NoError(t, err, "free after remove")
	_, err = a.Clear(ctx)
	require.NoError(t, err)
	_, err = a.Insert(ctx, db.Entity{"email": "a@x"})
	require.NoError(t, err, "free after clear")
}

// testUniqueConcurrent is what the sets are for: of many concurrent inserts of
// one key, with no lock around them, exactly one is stored and every other
// one fails with ErrDuplicate.
func (s *suite) testUniqueConcurrent(t *testing.T) {
	a := s.open(t, accounts)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = a.Insert(t.Context(), db.Entity{"userId": 7, "key": "order-1", "n": i})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireDuplicate(t, err, []string{"userId", "key"}, fmt.Sprintf("insert %d", i))
	}
	require.Equal(t, 1, won, "exactly one insert wins")
	require.Equal(t, 1, s.count(t, a))
}
