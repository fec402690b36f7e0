package faults

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/rt"
)

// ErrCacherDown is what every operation of a FlakyCacher returns while it is down.
var ErrCacherDown = errors.New("faults: cacher is down")

// FlakyCacher wraps a cacher with dependency faults: while down, every operation fails with
// ErrCacherDown; while slow, every operation first waits on the runtime's clock (a real
// backend's calls happen outside virtual time, so its slowness is simulated here). With no
// fault active it is a transparent pass-through.
type FlakyCacher struct {
	inner cache.Cacher
	rt    rt.Runtime

	mu   sync.Mutex
	down []*depFault
	slow []*depFault
}

type depFault struct {
	c *counters
	d time.Duration
}

var _ cache.Cacher = (*FlakyCacher)(nil)

// NewFlakyCacher wraps inner; slowness sleeps on r.
func NewFlakyCacher(inner cache.Cacher, r rt.Runtime) *FlakyCacher {
	return &FlakyCacher{inner: inner, rt: r}
}

// Inner returns the wrapped cacher.
func (c *FlakyCacher) Inner() cache.Cacher { return c.inner }

// Down reports whether a CacherDown fault is active.
func (c *FlakyCacher) Down() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.down) > 0
}

// before applies the active faults to one operation.
func (c *FlakyCacher) before() error {
	c.mu.Lock()
	var wait time.Duration
	for _, f := range c.slow {
		wait += f.d
		f.c.matched.Add(1)
		f.c.fired.Add(1)
	}
	down := len(c.down) > 0
	for _, f := range c.down {
		f.c.matched.Add(1)
		f.c.fired.Add(1)
	}
	c.mu.Unlock()
	if wait > 0 {
		c.rt.Sleep(wait)
	}
	if down {
		return ErrCacherDown
	}
	return nil
}

func (c *FlakyCacher) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := c.before(); err != nil {
		return nil, false, err
	}
	return c.inner.Get(ctx, key)
}

func (c *FlakyCacher) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.before(); err != nil {
		return err
	}
	return c.inner.Set(ctx, key, value, ttl)
}

func (c *FlakyCacher) Del(ctx context.Context, keys ...string) error {
	if err := c.before(); err != nil {
		return err
	}
	return c.inner.Del(ctx, keys...)
}

func (c *FlakyCacher) Clean(ctx context.Context, patterns ...string) error {
	if err := c.before(); err != nil {
		return err
	}
	return c.inner.Clean(ctx, patterns...)
}

func (c *FlakyCacher) Keys(ctx context.Context) ([]string, error) {
	if err := c.before(); err != nil {
		return nil, err
	}
	return c.inner.Keys(ctx)
}

// Close closes the wrapped cacher; faults do not apply to it.
func (c *FlakyCacher) Close() error { return c.inner.Close() }

// CleanStarCrossesDot reports the wrapped cacher's clean semantics (see cache.StarCrossesDot).
func (c *FlakyCacher) CleanStarCrossesDot() bool { return cache.StarCrossesDot(c.inner) }

func (c *FlakyCacher) add(list *[]*depFault, f *depFault) func() {
	c.mu.Lock()
	*list = append(*list, f)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		*list = slices.DeleteFunc(*list, func(x *depFault) bool { return x == f })
		c.mu.Unlock()
	}
}

// cachers returns the named cacher, or every cacher (in name order) for "".
func cachers(env *Env, name string) ([]*FlakyCacher, error) {
	if name != "" {
		c := env.Targets.Cachers[name]
		if c == nil {
			return nil, errors.New("no cacher named " + name + " in Targets.Cachers")
		}
		return []*FlakyCacher{c}, nil
	}
	if len(env.Targets.Cachers) == 0 {
		return nil, errors.New("cacher fault without cachers (Targets.Cachers)")
	}
	names := make([]string, 0, len(env.Targets.Cachers))
	for n := range env.Targets.Cachers {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*FlakyCacher, len(names))
	for k, n := range names {
		out[k] = env.Targets.Cachers[n]
	}
	return out, nil
}

func applyDep(env *Env, name string, slow time.Duration) (func(), error) {
	cs, err := cachers(env, name)
	if err != nil {
		return nil, err
	}
	f := &depFault{c: env.counters(), d: slow}
	var heals []func()
	for _, c := range cs {
		list := &c.down
		if slow > 0 {
			list = &c.slow
		}
		heals = append(heals, c.add(list, f))
	}
	return func() {
		for _, h := range heals {
			h()
		}
	}, nil
}

// CacherDown makes a cacher fail every operation (Cacher names an entry of Targets.Cachers;
// empty: all of them). The broker logs, journals and counts each failure and falls through to
// the handler.
type CacherDown struct {
	Cacher string
}

func (f CacherDown) Kind() string { return "cacher.down" }
func (f CacherDown) Attrs() map[string]any {
	return map[string]any{"cacher": orAll(f.Cacher)}
}
func (f CacherDown) Validate(env *Env) error        { _, err := cachers(env, f.Cacher); return err }
func (f CacherDown) Apply(env *Env) (func(), error) { return applyDep(env, f.Cacher, 0) }

// CacherSlow makes every operation of a cacher take D longer, on the runtime's clock. It
// ignores call deadlines, as a slow backend does.
type CacherSlow struct {
	Cacher string
	D      time.Duration
}

func (f CacherSlow) Kind() string { return "cacher.slow" }
func (f CacherSlow) Attrs() map[string]any {
	return map[string]any{"cacher": orAll(f.Cacher), "delay": f.D}
}
func (f CacherSlow) Validate(env *Env) error {
	if f.D <= 0 {
		return errors.New("cacher slowness must be positive")
	}
	_, err := cachers(env, f.Cacher)
	return err
}
func (f CacherSlow) Apply(env *Env) (func(), error) { return applyDep(env, f.Cacher, f.D) }

func orAll(name string) string {
	if name == "" {
		return "all"
	}
	return name
}
