// Package cachetest holds what other packages need to test against cache.Cacher: a manual
// clock and the conformance suite every cacher must pass.
package cachetest

import (
	"sync"
	"time"
)

// Epoch is where a NewClock starts: a fixed instant so test output is reproducible.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a manual rt.Clock: time stands still until Advance moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now implements rt.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
