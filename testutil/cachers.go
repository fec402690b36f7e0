package testutil

import (
	"fmt"
	"sync"

	"github.com/alicebob/miniredis/v2"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/rt"
)

// Cacher kinds for Spec.Cacher and NodeSpec.Cacher.
const (
	// CacherNone: the node caches nothing (unless its Options.Cacher says otherwise).
	CacherNone = ""
	// CacherMemory: a memory cacher of the node's own, as Moleculer's default "Memory" cacher;
	// a restarted node starts with an empty one. TTLs follow the node's (skewable) clock.
	CacherMemory = "memory"
	// CacherMemoryLRU: a memory cacher of the node's own bounded to NodeSpec.CacherMaxEntries.
	CacherMemoryLRU = "memory-lru"
	// CacherShared: one memory cacher shared by every node that asks for it, standing for a
	// shared cache server; it survives node restarts.
	CacherShared = "shared"
	// CacherRedis: one Redis-protocol server shared by every node that asks for it (embedded
	// miniredis whose TTLs follow the cluster's clock), each node with a client of its own;
	// it survives node restarts.
	CacherRedis = "redis"
)

// CacherKinds lists the cacher kinds, for error messages and validation.
var CacherKinds = []string{CacherMemory, CacherMemoryLRU, CacherShared, CacherRedis}

// cachers makes nodes' cachers and owns the shared ones.
type cachers struct {
	clock rt.Clock

	mu     sync.Mutex
	shared broker.Cacher
	mr     *miniredis.Miniredis
	redis  []*SimRedis
}

func (cs *cachers) check(kind string) error {
	switch kind {
	case CacherNone, CacherMemory, CacherMemoryLRU, CacherShared, CacherRedis:
		return nil
	}
	return fmt.Errorf("testutil: unknown cacher %q (want one of %v, or none)", kind, CacherKinds)
}

// forNode returns a cacher of the given kind for one incarnation of a node.
func (cs *cachers) forNode(kind string, maxEntries int, nodeClock rt.Clock) (broker.Cacher, error) {
	if err := cs.check(kind); err != nil {
		return nil, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch kind {
	case CacherMemory:
		return cache.NewMemory(nodeClock), nil
	case CacherMemoryLRU:
		return cache.NewMemoryLRU(nodeClock, maxEntries), nil
	case CacherShared:
		if cs.shared == nil {
			cs.shared = cache.NewMemory(cs.clock)
		}
		return cs.shared, nil
	case CacherRedis:
		if cs.mr == nil {
			mr, err := NewSimMiniredis(cs.clock)
			if err != nil {
				return nil, err
			}
			cs.mr = mr
		}
		r, err := NewSimRedis(cs.mr, cs.clock)
		if err != nil {
			return nil, err
		}
		cs.redis = append(cs.redis, r)
		return r, nil
	}
	return nil, nil
}

func (cs *cachers) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.shared != nil {
		_ = cs.shared.Close()
	}
	for _, r := range cs.redis {
		_ = r.Close()
	}
	if cs.mr != nil {
		cs.mr.Close()
	}
}
