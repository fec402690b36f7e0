package db

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Memory is an in-process Adapter for tests and the deterministic simulator.
// It never starts goroutines and never blocks beyond its mutex, and it hands
// out deep copies only, so callers cannot reach into stored state. Data
// survives Disconnect/Connect, like a database server would.
type Memory struct {
	s *schema

	mu     sync.Mutex
	excl   sync.Mutex       // ExclusiveLock: check-then-write sections of the CRUD mixin
	rows   map[int64]Entity // canonical values, never shared outside
	order  []int64          // ascending ids: scans are deterministic
	lastID int64
	unique []map[string]int64 // per Model.Unique set: uniqueKey → id
}

var _ Adapter = (*Memory)(nil)

// ExclusiveLock is the lock the CRUD mixin's Exclusive sections on this store hold. It lives
// on the store, so that it goes when the store goes (a process-wide map keyed by adapter
// kept every simulated run's store alive: a sweep's memory grew with its seeds).
func (m *Memory) ExclusiveLock() *sync.Mutex { return &m.excl }

// NewMemory returns an empty in-memory store for m. An invalid model is
// reported by Connect and by every operation.
func NewMemory(m Model) *Memory {
	a := &Memory{s: newSchema(m), rows: map[int64]Entity{}}
	a.clearUnique()
	return a
}

func (a *Memory) clearUnique() {
	a.unique = make([]map[string]int64, len(a.s.unique))
	for i := range a.unique {
		a.unique[i] = map[string]int64{}
	}
}

// Connect only reports an invalid model; there is nothing to connect to.
func (a *Memory) Connect(ctx context.Context) error { return a.s.err }

// Disconnect is a no-op; data is kept.
func (a *Memory) Disconnect() error { return nil }

// begin checks what every operation must check before taking the lock.
func (a *Memory) begin(ctx context.Context) error {
	if a.s.err != nil {
		return a.s.err
	}
	return ctx.Err()
}

func (a *Memory) Find(ctx context.Context, p FindParams) ([]Entity, error) {
	plan, err := a.s.compileFind(p)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.find(plan), nil
}

// find must be called with a.mu held.
func (a *Memory) find(plan *findPlan) []Entity {
	var hits []Entity
	for _, id := range a.order {
		if e := a.rows[id]; matches(e, plan) {
			hits = append(hits, e)
		}
	}
	slices.SortFunc(hits, func(x, y Entity) int { return compareEntities(x, y, plan.sort) })
	hits = hits[min(plan.offset, len(hits)):]
	if plan.limit > 0 && len(hits) > plan.limit {
		hits = hits[:plan.limit]
	}
	out := make([]Entity, len(hits))
	for i, e := range hits {
		out[i] = cloneEntity(e)
	}
	return out
}

func (a *Memory) FindOne(ctx context.Context, q Query) (Entity, error) {
	es, err := a.Find(ctx, FindParams{Query: q, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return es[0], nil
}

func (a *Memory) FindByID(ctx context.Context, id any) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.rows[n]
	if !ok {
		return nil, ErrNotFound
	}
	return cloneEntity(e), nil
}

func (a *Memory) FindByIDs(ctx context.Context, ids []any) ([]Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Entity, 0, len(ids))
	for _, id := range ids {
		if n, ok := parseID(id); ok {
			if e, ok := a.rows[n]; ok {
				out = append(out, cloneEntity(e))
			}
		}
	}
	return out, nil
}

func (a *Memory) Count(ctx context.Context, q Query) (int, error) {
	plan, err := a.s.compileFind(FindParams{Query: q})
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.rows {
		if matches(e, plan) {
			n++
		}
	}
	return n, nil
}

func (a *Memory) Insert(ctx context.Context, e Entity) (Entity, error) {
	es, err := a.InsertMany(ctx, []Entity{e})
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// InsertMany validates everything before storing anything, which is what
// makes it all-or-nothing.
func (a *Memory) InsertMany(ctx context.Context, es []Entity) ([]Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	vals := make([][]any, len(es))
	for i, e := range es {
		v, err := a.s.values(e)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	fresh := make([]Entity, len(vals))
	batch := make([]map[string]bool, len(a.unique))
	for i, v := range vals {
		fresh[i] = a.s.entity(0, v)
		for j, set := range a.s.unique {
			k, ok := uniqueKey(set, fresh[i])
			if !ok {
				continue
			}
			if _, taken := a.unique[j][k]; taken || batch[j][k] {
				return nil, &DuplicateError{Model: a.s.name, Fields: set}
			}
			if batch[j] == nil {
				batch[j] = map[string]bool{}
			}
			batch[j][k] = true
		}
	}
	out := make([]Entity, len(es))
	for i, stored := range fresh {
		a.lastID++
		stored[IDField] = a.lastID
		a.rows[a.lastID] = stored
		a.order = append(a.order, a.lastID)
		a.index(stored, a.lastID)
		out[i] = cloneEntity(stored)
	}
	return out, nil
}

// index records e's unique keys as held by id; unindex forgets them. Both must be called
// with a.mu held.
func (a *Memory) index(e Entity, id int64) {
	for j, set := range a.s.unique {
		if k, ok := uniqueKey(set, e); ok {
			a.unique[j][k] = id
		}
	}
}

func (a *Memory) unindex(e Entity) {
	for j, set := range a.s.unique {
		if k, ok := uniqueKey(set, e); ok {
			delete(a.unique[j], k)
		}
	}
}

// uniqueKey encodes e's canonical values of a unique set so that two keys are equal exactly
// when the values are (strings quoted, so no value can fake a separator; -0 is 0, as SQL
// compares it). ok is false when a value is nil: the set does not constrain e.
func uniqueKey(set []string, e Entity) (key string, ok bool) {
	var b strings.Builder
	for _, f := range set {
		switch v := e[f].(type) {
		case nil:
			return "", false
		case string:
			b.WriteString(strconv.Quote(v))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			if v == 0 {
				v = 0
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case time.Time:
			b.WriteString(strconv.FormatInt(v.UnixMicro(), 10))
		default: // JSON fields are rejected by the schema
			b.WriteString(fmt.Sprintf("%#v", v))
		}
		b.WriteByte(',')
	}
	return b.String(), true
}

func (a *Memory) UpdateByID(ctx context.Context, id any, u Update) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	plan, err := a.s.compileUpdate(u)
	if err != nil {
		return nil, err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, ok := a.rows[n]
	if !ok {
		return nil, ErrNotFound
	}
	next := cloneEntity(cur)
	for _, s := range plan.set {
		next[s.field] = cloneValue(s.val)
	}
	for _, i := range plan.inc {
		next[i.field] = addNumber(next[i.field], i.delta)
	}
	if plan.guard != nil && !plan.guard.passes(next[plan.guard.field]) {
		return nil, ErrGuard
	}
	for j, set := range a.s.unique {
		if k, ok := uniqueKey(set, next); ok {
			if holder, taken := a.unique[j][k]; taken && holder != n {
				return nil, &DuplicateError{Model: a.s.name, Fields: set}
			}
		}
	}
	a.unindex(cur)
	a.index(next, n)
	a.rows[n] = next
	return cloneEntity(next), nil
}

func (a *Memory) RemoveByID(ctx context.Context, id any) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.rows[n]
	if !ok {
		return nil, ErrNotFound
	}
	delete(a.rows, n)
	a.unindex(e)
	if i, found := slices.BinarySearch(a.order, n); found {
		a.order = slices.Delete(a.order, i, i+1)
	}
	return e, nil // no longer stored, so no copy needed
}

func (a *Memory) Clear(ctx context.Context) (int, error) {
	if err := a.begin(ctx); err != nil {
		return 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.rows)
	a.rows = map[int64]Entity{}
	a.order = nil
	a.clearUnique()
	return n, nil
}
