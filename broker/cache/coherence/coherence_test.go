package coherence_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/cache/coherence"
	"github.com/faultline/faultline/broker/journal"
)

const s = time.Second

type entries []journal.Entry

func (es *entries) add(t time.Duration, node, kind string, attrs map[string]any) {
	*es = append(*es, journal.Entry{Seq: uint64(len(*es) + 1), T: t, Node: node, Kind: kind, Attrs: attrs})
}

func (es *entries) set(t time.Duration, node, key string, ttl time.Duration) {
	es.add(t, node, journal.CacheSet, map[string]any{"key": key, "ttl": ttl})
}

func (es *entries) hit(t time.Duration, node, key string) {
	es.add(t, node, journal.CacheHit, map[string]any{"key": key, "call": "c"})
}

func (es *entries) clean(t time.Duration, node string, patterns ...string) {
	es.add(t, node, journal.CacheClean, map[string]any{"patterns": patterns})
}

// roundTrip passes entries through the JSON-lines form, as a checker reading a saved
// journal sees them.
func roundTrip(t *testing.T, es entries) []journal.Entry {
	var buf bytes.Buffer
	require.NoError(t, journal.WriteJSONL(&buf, es))
	out, err := journal.ReadJSONL(&buf)
	require.NoError(t, err)
	return out
}

func TestPerNodeWindows(t *testing.T) {
	var es entries
	es.set(1*s, "a", "p.get:1", 30*s)
	es.set(1*s, "b", "p.get:1", 30*s)
	es.set(1*s, "b", "other.get:1", 0)
	es.hit(2*s, "a", "p.get:1") // before the write: fine
	// write at 3 s
	es.clean(3*s, "a", "p.**")
	es.hit(4*s, "b", "p.get:1")     // stale
	es.hit(4*s, "b", "other.get:1") // not a key the write touched
	es.set(5*s, "a", "p.get:1", 30*s)
	es.hit(6*s, "a", "p.get:1") // fresh
	es.hit(7*s, "b", "p.get:1") // stale
	es.clean(9*s, "b", "p.*")   // ends b's window at 9 s, before the 31 s expiry
	for name, in := range map[string][]journal.Entry{"live": es, "decoded": roundTrip(t, es)} {
		t.Run(name, func(t *testing.T) {
			rep := coherence.Check(in, 3*s, coherence.Options{Keys: "p.**"})
			assert.Equal(t, []coherence.Window{{Node: "b", First: 4 * s, Last: 7 * s, Reads: 2, Until: 9 * s}}, rep.Windows)
			require.Len(t, rep.Reads, 2)
			assert.Equal(t, coherence.StaleRead{Seq: 6, T: 4 * s, Node: "b", Key: "p.get:1", Call: "c", StoredAt: 1 * s, ExpiresAt: 31 * s}, rep.Reads[0])
			_, ok := rep.Window("a")
			assert.False(t, ok)
		})
	}
	// Without a key filter the other service's hit counts too, and nothing ever ends it.
	rep := coherence.Check(es, 3*s, coherence.Options{})
	assert.Equal(t, []coherence.Window{{Node: "b", First: 4 * s, Last: 7 * s, Reads: 3, Until: 9 * s, Open: true}}, rep.Windows)
	assert.Equal(t, "after the write at +3s: b served 3 stale read(s) from +4s to +7s, still stale with no TTL", rep.String())
}

func TestExpiryAndOverwriteEndTheWindow(t *testing.T) {
	var es entries
	es.set(1*s, "a", "p.get:1", 10*s)
	es.hit(5*s, "a", "p.get:1")
	es.set(20*s, "a", "p.get:1", 10*s) // after the 11 s expiry: the window ended at 11 s
	es.set(1*s, "a", "p.get:2", 10*s)
	es.hit(6*s, "a", "p.get:2")
	rep := coherence.Check(es, 2*s, coherence.Options{})
	assert.Equal(t, []coherence.Window{{Node: "a", First: 5 * s, Last: 6 * s, Reads: 2, Until: 11 * s}}, rep.Windows)

	// A value replaced before it expires ends when replaced.
	es = nil
	es.set(1*s, "a", "p.get:1", 10*s)
	es.hit(5*s, "a", "p.get:1")
	es.set(7*s, "a", "p.get:1", 10*s)
	es.hit(8*s, "a", "p.get:1")
	rep = coherence.Check(es, 2*s, coherence.Options{})
	assert.Equal(t, []coherence.Window{{Node: "a", First: 5 * s, Last: 5 * s, Reads: 1, Until: 7 * s}}, rep.Windows)
	assert.False(t, coherence.Check(es, 9*s, coherence.Options{}).Stale())
}

func TestSharedCacher(t *testing.T) {
	var es entries
	es.set(1*s, "a", "p.get:1|\"x.y\"", 0)
	es.hit(4*s, "b", "p.get:1|\"x.y\"") // stored by a, read by b: stale
	es.clean(5*s, "a", "p.*")           // Redis: `*` crosses dots, so this clears it
	rep := coherence.Check(es, 3*s, coherence.Options{Shared: true, StarCrossesDot: true})
	assert.Equal(t, []coherence.Window{{Node: "b", First: 4 * s, Last: 4 * s, Reads: 1, Until: 5 * s}}, rep.Windows)
	// With memory semantics `p.*` does not match a key whose params hold a dot.
	rep = coherence.Check(es, 3*s, coherence.Options{Shared: true})
	assert.True(t, rep.Windows[0].Open)
	// Per node, b never stored the value: its hit is of a value from before the journal.
	rep = coherence.Check(es[:2], 3*s, coherence.Options{})
	require.Len(t, rep.Reads, 1)
	assert.Equal(t, time.Duration(-1), rep.Reads[0].StoredAt)
}
