package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/cache/coherence"
	"github.com/faultline/faultline/broker/journal"
)

// CacheCoherence bounds the stale-read window of a service's cached reads: after each write
// (journaled as the "cache.clean.<service>" broadcast the writer emits), no node may serve a
// value stored before the write for longer than MaxStale, and no stale value may stay
// servable forever.
type CacheCoherence struct {
	// Action is a cached action ("product.get"); its service's keys are checked.
	Action string
	// MaxStale bounds each node's window, from the write to the instant the stale value
	// stopped being servable (0: no stale read allowed at all).
	MaxStale time.Duration
	// Shared says the nodes share one cacher (Redis).
	Shared bool
}

func (c CacheCoherence) Name() string { return "cache coherence " + c.Action }

func (c CacheCoherence) Check(entries []journal.Entry) Result {
	service, _, _ := strings.Cut(c.Action, ".")
	expected := fmt.Sprintf("stale reads of %s end within %s of each write", service, c.MaxStale)
	writes := 0
	worst := time.Duration(0)
	var worstDesc string
	for _, e := range entries {
		if e.Kind != journal.EventEmitted || e.Str("event") != "cache.clean."+service {
			continue
		}
		writes++
		rep := coherence.Check(entries, e.T, coherence.Options{Keys: service + ".**", Shared: c.Shared})
		for _, w := range rep.Windows {
			if w.Open {
				return fail(c.Name(), expected, fmt.Sprintf("%s still serves a value older than the write at +%s, with no TTL to end it", w.Node, e.T), w.First)
			}
			length := w.Until - e.T
			desc := fmt.Sprintf("%s served %d stale read(s) from +%s to +%s, servable until +%s (window %s after the write at +%s)",
				w.Node, w.Reads, w.First, w.Last, w.Until, length, e.T)
			if length > c.MaxStale {
				return fail(c.Name(), expected, desc, w.First)
			}
			if length > worst {
				worst, worstDesc = length, desc
			}
		}
	}
	if writes == 0 {
		return fail(c.Name(), expected, "no write of "+service+" in the journal", -1)
	}
	if worstDesc == "" {
		return pass(c.Name(), expected, fmt.Sprintf("%d writes, no stale read", writes))
	}
	return pass(c.Name(), expected, fmt.Sprintf("%d writes; longest window: %s", writes, worstDesc))
}
