package cache

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// DefaultLRUMax is the capacity NewMemoryLRU uses when given max <= 0.
const DefaultLRUMax = 1000

// MemoryLRU is Moleculer's MemoryLRUCacher: like Memory, but holding at most max entries.
// Get and Set make an entry the most recently used; setting a new key when full evicts the
// least recently used one. Expiry is lazy against the clock, as in Memory.
type MemoryLRU struct {
	clock rt.Clock
	max   int

	// OnEvict, if set (before the cacher is used), is called with the key of every entry
	// evicted to make room. It is not called for Del, Clean or expiry, and runs after the
	// cacher's lock is released, so it may call back into the cacher.
	OnEvict func(key string)

	mu     sync.Mutex
	order  *list.List // front = most recently used; elements hold *lruEntry
	items  map[string]*list.Element
	closed bool
}

type lruEntry struct {
	key string
	entry
}

var _ Cacher = (*MemoryLRU)(nil)

// NewMemoryLRU returns an empty LRU cacher of capacity max (DefaultLRUMax if max <= 0).
func NewMemoryLRU(clock rt.Clock, max int) *MemoryLRU {
	if max <= 0 {
		max = DefaultLRUMax
	}
	return &MemoryLRU{clock: clock, max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// Get implements Cacher; a hit makes key the most recently used.
func (c *MemoryLRU) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false, ErrClosed
	}
	el, ok := c.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*lruEntry)
	if !e.live(c.clock.Now()) {
		c.remove(el)
		return nil, false, nil
	}
	c.order.MoveToFront(el)
	return cloneBytes(e.value), true, nil
}

// Set implements Cacher; key becomes the most recently used.
func (c *MemoryLRU) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	v := cloneBytes(value)
	evicted, err := c.set(key, v, ttl)
	if err != nil {
		return err
	}
	if c.OnEvict != nil {
		for _, k := range evicted {
			c.OnEvict(k)
		}
	}
	return nil
}

func (c *MemoryLRU) set(key string, v []byte, ttl time.Duration) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	now := c.clock.Now()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		e.value, e.expireAt = v, expiry(now, ttl)
		c.order.MoveToFront(el)
		return nil, nil
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, entry: entry{value: v, expireAt: expiry(now, ttl)}})
	var evicted []string
	for c.order.Len() > c.max {
		back := c.order.Back()
		evicted = append(evicted, back.Value.(*lruEntry).key)
		c.remove(back)
	}
	return evicted, nil
}

func (c *MemoryLRU) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.items, el.Value.(*lruEntry).key)
}

// Del implements Cacher.
func (c *MemoryLRU) Del(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for _, k := range keys {
		if el, ok := c.items[k]; ok {
			c.remove(el)
		}
	}
	return nil
}

// Clean implements Cacher, matching keys with Match.
func (c *MemoryLRU) Clean(_ context.Context, patterns ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(patterns) == 0 {
		c.order.Init()
		clear(c.items)
		return nil
	}
	gs := compileGlobs(patterns)
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if gs.match(el.Value.(*lruEntry).key) {
			c.remove(el)
		}
		el = next
	}
	return nil
}

// Keys implements Cacher. It does not change recency.
func (c *MemoryLRU) Keys(_ context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	keys := c.recency(c.clock.Now())
	slices.Sort(keys)
	return keys, nil
}

// Recency lists the live keys from most to least recently used: the reverse of the order in
// which they would be evicted.
func (c *MemoryLRU) Recency() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recency(c.clock.Now())
}

func (c *MemoryLRU) recency(now time.Time) []string {
	keys := make([]string, 0, c.order.Len())
	for el := c.order.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*lruEntry); e.live(now) {
			keys = append(keys, e.key)
		}
	}
	return keys
}

// Prune drops every expired entry and returns how many it dropped.
func (c *MemoryLRU) Prune() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	n := 0
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if !el.Value.(*lruEntry).live(now) {
			c.remove(el)
			n++
		}
		el = next
	}
	return n
}

// Len returns the number of stored entries, expired ones not yet pruned included.
func (c *MemoryLRU) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Close drops every entry; later calls fail with ErrClosed.
func (c *MemoryLRU) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.order.Init()
	clear(c.items)
	return nil
}
