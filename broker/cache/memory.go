package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// entry is a stored value and the instant it stops being visible (zero: never).
type entry struct {
	value    []byte
	expireAt time.Time
	dec      decoded // value decoded, for GetValue; entries are replaced, never rewritten
}

// live reports whether e is visible at now: an entry expires at exactly expireAt.
func (e *entry) live(now time.Time) bool {
	return e.expireAt.IsZero() || now.Before(e.expireAt)
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// Memory is Moleculer's MemoryCacher: an unbounded map whose entries expire against a
// rt.Clock. Expired entries are dropped when touched or by Prune; nothing runs in the
// background (Moleculer's 30 s checkTTL interval would be a timer the simulator has to
// schedule, and lazy expiry is observably the same).
//
// Values are copied on Set and on Get, so callers may reuse or modify their slices.
type Memory struct {
	clock rt.Clock

	mu     sync.Mutex // short critical sections only: safe under the simulator
	data   map[string]*entry
	closed bool
}

var (
	_ Cacher      = (*Memory)(nil)
	_ ValueGetter = (*Memory)(nil)
)

// NewMemory returns an empty memory cacher reading time from clock.
func NewMemory(clock rt.Clock) *Memory {
	return &Memory{clock: clock, data: make(map[string]*entry)}
}

// Get implements Cacher.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	e, ok := m.data[key]
	if !ok {
		return nil, false, nil
	}
	if !e.live(m.clock.Now()) {
		delete(m.data, key)
		return nil, false, nil
	}
	return cloneBytes(e.value), true, nil
}

// GetValue implements ValueGetter: an entry is decoded on its first hit, and each hit gets
// its own copy of the decoded maps and slices.
func (m *Memory) GetValue(_ context.Context, key string) (any, bool, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, false, ErrClosed
	}
	e, ok := m.data[key]
	if !ok {
		m.mu.Unlock()
		return nil, false, nil
	}
	if !e.live(m.clock.Now()) {
		delete(m.data, key)
		m.mu.Unlock()
		return nil, false, nil
	}
	v, err := e.dec.get(e.value)
	m.mu.Unlock()
	if err != nil {
		return nil, true, err
	}
	return copyJSON(v), true, nil
}

// Set implements Cacher.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	v := cloneBytes(value)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.data[key] = &entry{value: v, expireAt: expiry(m.clock.Now(), ttl)}
	return nil
}

// Del implements Cacher.
func (m *Memory) Del(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, k := range keys {
		delete(m.data, k)
	}
	return nil
}

// Clean implements Cacher, matching keys with Match.
func (m *Memory) Clean(_ context.Context, patterns ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if len(patterns) == 0 {
		clear(m.data)
		return nil
	}
	gs := compileGlobs(patterns)
	for k := range m.data {
		if gs.match(k) {
			delete(m.data, k)
		}
	}
	return nil
}

// Keys implements Cacher.
func (m *Memory) Keys(_ context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	now := m.clock.Now()
	keys := make([]string, 0, len(m.data))
	for k, e := range m.data {
		if e.live(now) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Prune drops every expired entry and returns how many it dropped. Only memory use depends on
// calling it: expired entries are never visible anyway.
func (m *Memory) Prune() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	n := 0
	for k, e := range m.data {
		if !e.live(now) {
			delete(m.data, k)
			n++
		}
	}
	return n
}

// Len returns the number of stored entries, expired ones not yet pruned included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}

// Close drops every entry; later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.data = nil
	return nil
}
