package rt

import (
	"sync/atomic"
	"time"
)

// Skewed is a runtime whose clock reads off by an adjustable offset from its base runtime,
// as a node with a wrong wall clock does. Only Now is skewed: durations (timers, sleeps)
// still run at the base runtime's pace, as they do on a real machine whose clock is merely
// set wrong.
type Skewed struct {
	Runtime
	offset atomic.Int64 // nanoseconds; atomic because Now is on every hot path
}

// NewSkewed wraps base with an initial offset of zero.
func NewSkewed(base Runtime) *Skewed { return &Skewed{Runtime: base} }

// SetSkew sets the clock offset.
func (s *Skewed) SetSkew(d time.Duration) { s.offset.Store(int64(d)) }

// Skew returns the clock offset.
func (s *Skewed) Skew() time.Duration { return time.Duration(s.offset.Load()) }

// Now returns the base time plus the offset.
func (s *Skewed) Now() time.Time { return s.Runtime.Now().Add(s.Skew()) }

// GoFirst forwards to the wrapped runtime's GoFirst (see rt.GoFirst).
func (s *Skewed) GoFirst(name string, fn func()) { GoFirst(s.Runtime, name, fn) }
