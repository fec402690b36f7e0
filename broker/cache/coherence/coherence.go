// Package coherence judges cache coherence from a journal: after a write, which cache hits
// served a value stored before it, on which node, and until when such a stale value stayed
// servable (cleaned, replaced, or expired by its TTL).
//
// It reads only the broker's cache.set, cache.hit and cache.clean entries (with their node,
// key and virtual time), so it works on a live journal as well as on one read back from JSON
// lines, and scenario checkers can reuse it.
package coherence

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
)

// Options select what Check looks at.
type Options struct {
	// Keys is a clean pattern (see cache.Match) selecting the cache keys the write made
	// stale, e.g. "product.**"; empty means every key.
	Keys string
	// Shared says that every node uses one shared cacher (Redis): a set or a clean on any
	// node acts for all of them. Without it each node has a cacher of its own.
	Shared bool
	// StarCrossesDot matches clean patterns the way a Redis cacher does, where `*` also
	// crosses dots (see cache.StarCrossesDot).
	StarCrossesDot bool
}

// StaleRead is one cache hit, at or after the write, that served a value stored before it.
type StaleRead struct {
	Seq  uint64
	T    time.Duration // when the hit was served (journal time)
	Node string        // the node that served it
	Key  string
	Call string // the call (or attempt) ID the hit answered
	// StoredAt is when the served value was stored (its cache.set entry); -1 when it was
	// stored before the journal begins.
	StoredAt time.Duration
	// ExpiresAt is when the served value expires by its TTL; 0 for no TTL (or unknown).
	ExpiresAt time.Duration
}

// Window is the stale window of one node: the span during which its reads returned a value
// older than the write.
type Window struct {
	Node string
	// First and Last are the times of the first and the last stale read.
	First, Last time.Duration
	// Reads counts the stale reads.
	Reads int
	// Until is when the last of the stale values this node served stopped being servable:
	// removed by a clean, replaced by a set, or expired by its TTL, whichever came first. An
	// expiry is exact: at Until the value is gone, one nanosecond earlier it was served.
	Until time.Duration
	// Open reports that a stale value served by this node is still stored when the journal
	// ends and has no TTL: nothing will ever end the window.
	Open bool
}

func (w Window) String() string {
	s := fmt.Sprintf("%s served %d stale read(s) from +%s to +%s", w.Node, w.Reads, w.First, w.Last)
	if w.Open {
		return s + ", still stale with no TTL"
	}
	return s + fmt.Sprintf(", stale value servable until +%s", w.Until)
}

// Report is what Check found.
type Report struct {
	WriteAt time.Duration
	Reads   []StaleRead // in journal order
	Windows []Window    // one per node that served a stale read, by node ID
}

// Stale reports whether any read returned a value older than the write.
func (r Report) Stale() bool { return len(r.Reads) > 0 }

// Window returns the stale window of node.
func (r Report) Window(node string) (Window, bool) {
	for _, w := range r.Windows {
		if w.Node == node {
			return w, true
		}
	}
	return Window{}, false
}

func (r Report) String() string {
	if !r.Stale() {
		return fmt.Sprintf("no stale read after the write at +%s", r.WriteAt)
	}
	lines := make([]string, 0, len(r.Windows))
	for _, w := range r.Windows {
		lines = append(lines, w.String())
	}
	return fmt.Sprintf("after the write at +%s: %s", r.WriteAt, strings.Join(lines, "; "))
}

// value is one stored cache entry as the journal shows it.
type value struct {
	storedAt  time.Duration // -1: before the journal
	expiresAt time.Duration // 0: never
	staleFor  map[string]bool
}

// Check replays the journal's cache entries and reports every hit at or after writeAt (the
// instant the write committed) that served a value stored before writeAt.
//
// A value counts as "stored" when its cache.set entry was recorded, which is just after the
// handler that computed it returned: a handler that read the data before the write and
// stored its result after it is not flagged. Reads at exactly writeAt count as after the
// write.
func Check(entries []journal.Entry, writeAt time.Duration, opts Options) Report {
	norm := func(p string) string { return p }
	if opts.StarCrossesDot {
		norm = allStarsCrossDots
	}
	var keys func(string) bool
	if opts.Keys != "" {
		p := norm(opts.Keys)
		keys = func(k string) bool { return cache.Match(p, k) }
	}
	storeOf := func(node string) string {
		if opts.Shared {
			return ""
		}
		return node
	}
	stores := map[string]map[string]*value{}
	store := func(node string) map[string]*value {
		s := stores[storeOf(node)]
		if s == nil {
			s = map[string]*value{}
			stores[storeOf(node)] = s
		}
		return s
	}
	windows := map[string]*Window{}
	// end closes the life of v at t (or at its expiry, if that came first).
	end := func(v *value, t time.Duration) {
		if v.expiresAt != 0 && v.expiresAt < t {
			t = v.expiresAt
		}
		for n := range v.staleFor {
			if w := windows[n]; t > w.Until {
				w.Until = t
			}
		}
	}
	rep := Report{WriteAt: writeAt}
	for _, e := range entries {
		switch e.Kind {
		case journal.CacheSet:
			s, k := store(e.Node), e.Str("key")
			if old := s[k]; old != nil {
				end(old, e.T)
			}
			v := &value{storedAt: e.T}
			if ttl := e.Dur("ttl"); ttl > 0 {
				v.expiresAt = e.T + ttl
			}
			s[k] = v
		case journal.CacheClean:
			s := store(e.Node)
			pats := patterns(e.Attrs["patterns"])
			for k, v := range s {
				if matchAny(pats, k, norm) {
					end(v, e.T)
					delete(s, k)
				}
			}
		case journal.CacheHit:
			s, k := store(e.Node), e.Str("key")
			v := s[k]
			if v == nil { // stored before the journal began
				v = &value{storedAt: -1}
				s[k] = v
			}
			if e.T < writeAt || v.storedAt >= writeAt || (keys != nil && !keys(k)) {
				continue
			}
			rep.Reads = append(rep.Reads, StaleRead{Seq: e.Seq, T: e.T, Node: e.Node, Key: k, Call: e.Str("call"),
				StoredAt: v.storedAt, ExpiresAt: v.expiresAt})
			w := windows[e.Node]
			if w == nil {
				w = &Window{Node: e.Node, First: e.T}
				windows[e.Node] = w
			}
			w.Last = e.T
			w.Reads++
			if v.staleFor == nil {
				v.staleFor = map[string]bool{}
			}
			v.staleFor[e.Node] = true
		}
	}
	// Values still stored when the journal ends: their TTL ends them, or nothing does.
	for _, s := range stores {
		for _, v := range s {
			if len(v.staleFor) == 0 {
				continue
			}
			if v.expiresAt == 0 {
				for n := range v.staleFor {
					windows[n].Open = true
				}
				continue
			}
			end(v, v.expiresAt)
		}
	}
	for _, w := range windows {
		rep.Windows = append(rep.Windows, *w)
	}
	sort.Slice(rep.Windows, func(i, j int) bool { return rep.Windows[i].Node < rep.Windows[j].Node })
	return rep
}

// patterns reads a cache.clean entry's patterns, recorded as []string or, once decoded from
// JSON, []any. No patterns means everything.
func patterns(v any) []string {
	switch p := v.(type) {
	case []string:
		return p
	case []any:
		out := make([]string, 0, len(p))
		for _, x := range p {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func matchAny(pats []string, key string, norm func(string) string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if cache.Match(norm(p), key) {
			return true
		}
	}
	return false
}

// allStarsCrossDots turns every run of `*` into `**`, giving a memory-glob pattern the
// meaning Redis gives it.
func allStarsCrossDots(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '*' {
			b.WriteByte(p[i])
			continue
		}
		for i+1 < len(p) && p[i+1] == '*' {
			i++
		}
		b.WriteString("**")
	}
	return b.String()
}
