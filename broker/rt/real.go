package rt

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Real is the production runtime: goroutines and the wall clock.
type Real struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewReal returns a wall-clock runtime.
func NewReal() *Real {
	return &Real{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (r *Real) Now() time.Time { return time.Now() }

func (r *Real) Go(_ string, fn func()) { go fn() }

func (r *Real) AfterFunc(d time.Duration, fn func()) Timer { return realTimer{time.AfterFunc(d, fn)} }

func (r *Real) Every(d time.Duration, fn func()) Timer {
	t := &realTicker{t: time.NewTicker(d), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-t.t.C:
				fn()
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (r *Real) Sleep(d time.Duration) { time.Sleep(d) }

func (r *Real) NewSignal(string) Signal { return &realSignal{ch: make(chan struct{})} }

func (r *Real) Rand() Rand { return lockedRand{r} }

type realTimer struct{ t *time.Timer }

func (t realTimer) Stop() bool { return t.t.Stop() }

type realTicker struct {
	t    *time.Ticker
	once sync.Once
	stop chan struct{}
}

func (t *realTicker) Stop() bool {
	stopped := false
	t.once.Do(func() { t.t.Stop(); close(t.stop); stopped = true })
	return stopped
}

type realSignal struct {
	mu     sync.Mutex
	fired  bool
	ch     chan struct{}
	onFire []func()
}

func (g *realSignal) Fire() {
	g.mu.Lock()
	if g.fired {
		g.mu.Unlock()
		return
	}
	g.fired = true
	close(g.ch)
	fns := g.onFire
	g.onFire = nil
	g.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (g *realSignal) Fired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fired
}

func (g *realSignal) Wait() { <-g.ch }

func (g *realSignal) OnFire(fn func()) {
	g.mu.Lock()
	if !g.fired {
		g.onFire = append(g.onFire, fn)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	fn()
}

func (g *realSignal) C() <-chan struct{} { return g.ch }

// lockedRand serialises access to the shared source: math/rand/v2's Rand is not safe for
// concurrent use.
type lockedRand struct{ r *Real }

func (l lockedRand) Float64() float64 {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.rng.Float64()
}
func (l lockedRand) IntN(n int) int {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.rng.IntN(n)
}
func (l lockedRand) Int64N(n int64) int64 {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.rng.Int64N(n)
}
func (l lockedRand) NormFloat64() float64 {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.rng.NormFloat64()
}
func (l lockedRand) Uint64() uint64 {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.rng.Uint64()
}

// Compile-time checks that both runtimes implement Runtime.
var (
	_ Runtime = (*Sim)(nil)
	_ Runtime = (*Real)(nil)
)
