package dbtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

func (s *suite) testUpdateSet(t *testing.T) {
	a := s.seeded(t)
	before, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	at := time.Date(2030, 1, 1, 0, 0, 0, 999, time.UTC)
	e, err := a.UpdateByID(t.Context(), "1", db.Update{Set: map[string]any{
		"name": "Green Shirt", "price": 21, "category": nil, "tags": map[string]any{"k": []int{1}}, "createdAt": at,
	}})
	require.NoError(t, err)
	want := db.Entity{
		"id": int64(1), "name": "Green Shirt", "category": nil, "price": 21.0, "stock": before["stock"],
		"active": before["active"], "tags": map[string]any{"k": []any{1.0}}, "createdAt": at.Truncate(time.Microsecond),
	}
	require.Equal(t, want, e)
	got, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, want, got)

	other, err := a.FindByID(t.Context(), 2)
	require.NoError(t, err)
	require.Equal(t, "blue shirt", other["name"], "only the addressed entity changes")

	e, err = a.UpdateByID(t.Context(), 1, db.Update{})
	require.NoError(t, err)
	require.Equal(t, want, e, "an empty update returns the entity unchanged")
}

func (s *suite) testUpdateInc(t *testing.T) {
	a := s.seeded(t)
	e, err := a.UpdateByID(t.Context(), 1, db.Update{Inc: map[string]float64{"stock": 5, "price": -0.5}})
	require.NoError(t, err)
	require.Equal(t, int64(15), e["stock"])
	require.Equal(t, 19.99-0.5, e["price"])

	e, err = a.UpdateByID(t.Context(), 5, db.Update{Inc: map[string]float64{"stock": 3}})
	require.NoError(t, err)
	require.Equal(t, int64(3), e["stock"], "incrementing nil starts from zero")

	e, err = a.UpdateByID(t.Context(), 2, db.Update{Inc: map[string]float64{"stock": -4}, Set: map[string]any{"active": false}})
	require.NoError(t, err)
	require.Equal(t, int64(-4), e["stock"], "without a guard, values may go negative")
	require.Equal(t, false, e["active"])

	got, err := a.FindByID(t.Context(), 2)
	require.NoError(t, err)
	require.Equal(t, e, got)
}

func (s *suite) testUpdateNotFound(t *testing.T) {
	a := s.seeded(t)
	for _, u := range []db.Update{
		{Set: map[string]any{"name": "x"}},
		{Inc: map[string]float64{"stock": -1}, Guard: &db.Guard{Field: "stock", Min: 0}},
		{Inc: map[string]float64{"stock": -1000}, Guard: &db.Guard{Field: "stock", Min: 0}},
		{Set: map[string]any{"stock": -1}, Guard: &db.Guard{Field: "stock", Min: 0}},
		{},
	} {
		_, err := a.UpdateByID(t.Context(), 99, u)
		require.ErrorIs(t, err, db.ErrNotFound, "%+v", u)
		_, err = a.UpdateByID(t.Context(), "nope", u)
		require.ErrorIs(t, err, db.ErrNotFound, "%+v", u)
	}
}

func (s *suite) testGuard(t *testing.T) {
	a := s.seeded(t)
	ctx := t.Context()
	take := func(id any, qty float64) (db.Entity, error) {
		return a.UpdateByID(ctx, id, db.Update{
			Inc:   map[string]float64{"stock": -qty},
			Set:   map[string]any{"name": fmt.Sprint("took ", qty)},
			Guard: &db.Guard{Field: "stock", Min: 0},
		})
	}
	e, err := take(1, 3) // stock 10
	require.NoError(t, err)
	require.Equal(t, int64(7), e["stock"])
	_, err = take(1, 8)
	require.ErrorIs(t, err, db.ErrGuard)
	unchanged, err := a.FindByID(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, int64(7), unchanged["stock"], "a failed guard changes nothing")
	require.Equal(t, "took 3", unchanged["name"])
	e, err = take(1, 7)
	require.NoError(t, err)
	require.Equal(t, int64(0), e["stock"], "the guard is inclusive")

	_, err = a.UpdateByID(ctx, 3, db.Update{Set: map[string]any{"name": "x"}, Guard: &db.Guard{Field: "stock", Min: 6}})
	require.ErrorIs(t, err, db.ErrGuard, "a guard on an untouched field checks its current value")
	hat, err := a.FindByID(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, "Hat", hat["name"])
	_, err = a.UpdateByID(ctx, 3, db.Update{Guard: &db.Guard{Field: "stock", Min: 4.5}})
	require.NoError(t, err, "5 >= 4.5")
	_, err = a.UpdateByID(ctx, 3, db.Update{Guard: &db.Guard{Field: "stock", Min: 5.5}})
	require.ErrorIs(t, err, db.ErrGuard, "5 < 5.5")

	_, err = a.UpdateByID(ctx, 3, db.Update{Set: map[string]any{"stock": -1}, Guard: &db.Guard{Field: "stock", Min: 0}})
	require.ErrorIs(t, err, db.ErrGuard, "a guard on a set field checks the new value")
	e, err = a.UpdateByID(ctx, 3, db.Update{Set: map[string]any{"stock": 1}, Guard: &db.Guard{Field: "stock", Min: 0}})
	require.NoError(t, err)
	require.Equal(t, int64(1), e["stock"])
	_, err = a.UpdateByID(ctx, 3, db.Update{Set: map[string]any{"stock": nil}, Guard: &db.Guard{Field: "stock", Min: -100}})
	require.ErrorIs(t, err, db.ErrGuard, "nil never satisfies a guard")

	_, err = a.UpdateByID(ctx, 5, db.Update{Guard: &db.Guard{Field: "stock", Min: -100}})
	require.ErrorIs(t, err, db.ErrGuard, "nil never satisfies a guard")
	e, err = a.UpdateByID(ctx, 5, db.Update{Inc: map[string]float64{"stock": 2}, Guard: &db.Guard{Field: "stock", Min: 2}})
	require.NoError(t, err, "but an increment of nil counts from zero")
	require.Equal(t, int64(2), e["stock"])

	// Float fields: Mug costs 5.
	for _, want := range []float64{3.75, 2.5} {
		e, err = a.UpdateByID(ctx, 4, db.Update{Inc: map[string]float64{"price": -1.25}, Guard: &db.Guard{Field: "price", Min: 2.5}})
		require.NoError(t, err)
		require.Equal(t, want, e["price"])
	}
	_, err = a.UpdateByID(ctx, 4, db.Update{Inc: map[string]float64{"price": -0.01}, Guard: &db.Guard{Field: "price", Min: 2.5}})
	require.ErrorIs(t, err, db.ErrGuard)
}

// testGuardConcurrent is the stock reservation property: whatever the
// interleaving, exactly floor(stock/qty) reservations succeed and stock
// never goes below zero.
func (s *suite) testGuardConcurrent(t *testing.T) {
	for _, tc := range []struct {
		stock, qty, workers int
	}{
		{10, 3, 20},
		{7, 2, 10},
		{5, 1, 8},
		{2, 5, 6},
	} {
		a := s.open(t, products)
		e, err := a.Insert(t.Context(), db.Entity{"name": "hot item", "stock": tc.stock})
		require.NoError(t, err)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			ok, guard int
			other     []error
		)
		for range tc.workers {
			wg.Go(func() {
				_, err := a.UpdateByID(t.Context(), e["id"], db.Update{
					Inc:   map[string]float64{"stock": -float64(tc.qty)},
					Guard: &db.Guard{Field: "stock", Min: 0},
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, db.ErrGuard):
					guard++
				default:
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		require.Empty(t, other, "%+v", tc)
		require.Equal(t, tc.stock/tc.qty, ok, "%+v: successful reservations", tc)
		require.Equal(t, tc.workers-ok, guard, "%+v", tc)
		got, err := a.FindByID(t.Context(), e["id"])
		require.NoError(t, err)
		require.Equal(t, int64(tc.stock%tc.qty), got["stock"], "%+v: remaining stock", tc)
		_, err = a.Clear(t.Context())
		require.NoError(t, err)
	}
}

func (s *suite) testIncConcurrent(t *testing.T) {
	a := s.open(t, products)
	e, err := a.Insert(t.Context(), db.Entity{"stock": 0, "price": 0})
	require.NoError(t, err)
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = a.UpdateByID(t.Context(), e["id"], db.Update{Inc: map[string]float64{"stock": 1, "price": 0.5}})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := a.FindByID(t.Context(), e["id"])
	require.NoError(t, err)
	require.Equal(t, int64(n), got["stock"], "no increment is lost")
	require.Equal(t, n*0.5, got["price"])
}

func (s *suite) testInsertConcurrent(t *testing.T) {
	a := s.open(t, products)
	const n = 30
	var wg sync.WaitGroup
	got := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e, err := a.Insert(t.Context(), db.Entity{"stock": i})
			errs[i] = err
			if err == nil {
				got[i] = e["id"].(int64)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		require.False(t, seen[got[i]], "duplicate id %d", got[i])
		require.True(t, got[i] >= 1 && got[i] <= n, "id %d out of 1..%d", got[i], n)
		seen[got[i]] = true
	}
}
