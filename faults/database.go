package faults

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/db"
)

// ErrDatabaseDown is what every operation of a FlakyAdapter returns while it is down.
var ErrDatabaseDown = errors.New("faults: database is down")

// FlakyAdapter wraps a storage adapter with dependency faults, as FlakyCacher does a cacher:
// while down, every operation fails with ErrDatabaseDown (the service's handler sees the
// error, the caller gets a 500); while slow, every operation first waits on the runtime's
// clock, ignoring call deadlines as a slow database does. Connect and Disconnect are never
// faulted. With no fault active it is a transparent pass-through.
type FlakyAdapter struct {
	inner db.Adapter
	rt    rt.Runtime

	mu   sync.Mutex
	down []*depFault
	slow []*depFault
}

var _ db.Adapter = (*FlakyAdapter)(nil)

// NewFlakyAdapter wraps inner; slowness sleeps on r.
func NewFlakyAdapter(inner db.Adapter, r rt.Runtime) *FlakyAdapter {
	return &FlakyAdapter{inner: inner, rt: r}
}

// Inner returns the wrapped adapter.
func (a *FlakyAdapter) Inner() db.Adapter { return a.inner }

func (a *FlakyAdapter) before(ctx context.Context) error {
	a.mu.Lock()
	var wait time.Duration
	for _, f := range a.slow {
		wait += f.d
		f.c.matched.Add(1)
		f.c.fired.Add(1)
	}
	down := len(a.down) > 0
	for _, f := range a.down {
		f.c.matched.Add(1)
		f.c.fired.Add(1)
	}
	a.mu.Unlock()
	if wait > 0 {
		a.rt.Sleep(wait)
	}
	if down {
		return ErrDatabaseDown
	}
	return nil
}

func (a *FlakyAdapter) Connect(ctx context.Context) error { return a.inner.Connect(ctx) }
func (a *FlakyAdapter) Disconnect() error                 { return a.inner.Disconnect() }

func (a *FlakyAdapter) Find(ctx context.Context, p db.FindParams) ([]db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.Find(ctx, p)
}

func (a *FlakyAdapter) FindOne(ctx context.Context, q db.Query) (db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.FindOne(ctx, q)
}

func (a *FlakyAdapter) FindByID(ctx context.Context, id any) (db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.FindByID(ctx, id)
}

func (a *FlakyAdapter) FindByIDs(ctx context.Context, ids []any) ([]db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.FindByIDs(ctx, ids)
}

func (a *FlakyAdapter) Count(ctx context.Context, q db.Query) (int, error) {
	if err := a.before(ctx); err != nil {
		return 0, err
	}
	return a.inner.Count(ctx, q)
}

func (a *FlakyAdapter) Insert(ctx context.Context, e db.Entity) (db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.Insert(ctx, e)
}

func (a *FlakyAdapter) InsertMany(ctx context.Context, es []db.Entity) ([]db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.InsertMany(ctx, es)
}

func (a *FlakyAdapter) UpdateByID(ctx context.Context, id any, u db.Update) (db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.UpdateByID(ctx, id, u)
}

func (a *FlakyAdapter) RemoveByID(ctx context.Context, id any) (db.Entity, error) {
	if err := a.before(ctx); err != nil {
		return nil, err
	}
	return a.inner.RemoveByID(ctx, id)
}

func (a *FlakyAdapter) Clear(ctx context.Context) (int, error) {
	if err := a.before(ctx); err != nil {
		return 0, err
	}
	return a.inner.Clear(ctx)
}

func (a *FlakyAdapter) add(list *[]*depFault, f *depFault) func() {
	a.mu.Lock()
	*list = append(*list, f)
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		*list = slices.DeleteFunc(*list, func(x *depFault) bool { return x == f })
		a.mu.Unlock()
	}
}

// databases returns the named model's adapter, or every adapter (in name order) for "".
func databases(env *Env, model string) ([]*FlakyAdapter, error) {
	if model != "" {
		a := env.Targets.Databases[model]
		if a == nil {
			return nil, errors.New("no database for model " + model + " in Targets.Databases")
		}
		return []*FlakyAdapter{a}, nil
	}
	if len(env.Targets.Databases) == 0 {
		return nil, errors.New("database fault without databases (Targets.Databases)")
	}
	names := make([]string, 0, len(env.Targets.Databases))
	for n := range env.Targets.Databases {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*FlakyAdapter, len(names))
	for k, n := range names {
		out[k] = env.Targets.Databases[n]
	}
	return out, nil
}

func applyDB(env *Env, model string, slow time.Duration) (func(), error) {
	as, err := databases(env, model)
	if err != nil {
		return nil, err
	}
	f := &depFault{c: env.counters(), d: slow}
	var heals []func()
	for _, a := range as {
		list := &a.down
		if slow > 0 {
			list = &a.slow
		}
		heals = append(heals, a.add(list, f))
	}
	return func() {
		for _, h := range heals {
			h()
		}
	}, nil
}

// DatabaseDown makes a model's storage fail every operation (Model names an entry of
// Targets.Databases, a model name such as "products"; empty: every model).
type DatabaseDown struct {
	Model string
}

func (f DatabaseDown) Kind() string { return "db.down" }
func (f DatabaseDown) Attrs() map[string]any {
	return map[string]any{"model": orAll(f.Model)}
}
func (f DatabaseDown) Validate(env *Env) error        { _, err := databases(env, f.Model); return err }
func (f DatabaseDown) Apply(env *Env) (func(), error) { return applyDB(env, f.Model, 0) }

// DatabaseSlow makes every operation on a model's storage take D longer, on the runtime's
// clock, ignoring call deadlines.
type DatabaseSlow struct {
	Model string
	D     time.Duration
}

func (f DatabaseSlow) Kind() string { return "db.slow" }
func (f DatabaseSlow) Attrs() map[string]any {
	return map[string]any{"model": orAll(f.Model), "delay": f.D}
}
func (f DatabaseSlow) Validate(env *Env) error {
	if f.D <= 0 {
		return errors.New("database slowness must be positive")
	}
	_, err := databases(env, f.Model)
	return err
}
func (f DatabaseSlow) Apply(env *Env) (func(), error) { return applyDB(env, f.Model, f.D) }
