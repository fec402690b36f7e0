package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/cache"
)

// Advance moves a cacher's notion of time forward by d: a manual clock for the memory
// cachers, miniredis.FastForward for miniredis.
//
// A nil Advance means the cacher runs on real time (a real Redis server). The suite then
// checks expiry with a short TTL and a bounded polling wait instead of exact instants.
type Advance func(d time.Duration)

// RunConformance runs the behaviour every cache.Cacher must share. newCacher is called once
// per subtest and must return an empty cacher; it should register its own cleanup with t.
func RunConformance(t *testing.T, newCacher func(t *testing.T) (cache.Cacher, Advance)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, adv := newCacher(t)
			tc.run(t, c, adv)
		})
	}
}

type conformanceCase struct {
	name string
	run  func(t *testing.T, c cache.Cacher, adv Advance)
}

var cases = []conformanceCase{
	{"GetMiss", testGetMiss},
	{"SetGet", testSetGet},
	{"Overwrite", testOverwrite},
	{"TTLExpiry", testTTLExpiry},
	{"ZeroTTLNeverExpires", testZeroTTL},
	{"OverwriteReplacesTTL", testOverwriteReplacesTTL},
	{"NegativeTTL", testNegativeTTL},
	{"Del", testDel},
	{"CleanStar", testCleanStar},
	{"CleanDoubleStar", testCleanDoubleStar},
	{"CleanQuestionMark", testCleanQuestionMark},
	{"CleanLiteralSpecialChars", testCleanLiteral},
	{"CleanSeveralPatterns", testCleanSeveral},
	{"CleanAll", testCleanAll},
	{"Keys", testKeys},
	{"NullIsHit", testNullIsHit},
	{"EmptyValueIsHit", testEmptyValue},
	{"BinarySafe", testBinarySafe},
	{"ValuesAreCopies", testValuesAreCopies},
	{"Concurrent", testConcurrent},
}

func get(t *testing.T, c cache.Cacher, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := c.Get(context.Background(), key)
	require.NoError(t, err, "Get(%q)", key)
	return v, ok
}

func set(t *testing.T, c cache.Cacher, key, value string, ttl time.Duration) {
	t.Helper()
	require.NoError(t, c.Set(context.Background(), key, []byte(value), ttl), "Set(%q)", key)
}

func keys(t *testing.T, c cache.Cacher) []string {
	t.Helper()
	ks, err := c.Keys(context.Background())
	require.NoError(t, err)
	if ks == nil {
		ks = []string{}
	}
	return ks
}

func testGetMiss(t *testing.T, c cache.Cacher, _ Advance) {
	v, ok := get(t, c, "posts.find:id|5")
	assert.False(t, ok)
	assert.Nil(t, v)
}

func testSetGet(t *testing.T, c cache.Cacher, _ Advance) {
	set(t, c, "posts.find:id|5", `{"id":5,"title":"x"}`, 0)
	v, ok := get(t, c, "posts.find:id|5")
	require.True(t, ok)
	assert.Equal(t, `{"id":5,"title":"x"}`, string(v))
	_, ok = get(t, c, "posts.find:id|6")
	assert.False(t, ok, "another key is still a miss")
}

func testOverwrite(t *testing.T, c cache.Cacher, _ Advance) {
	set(t, c, "k", `1`, 0)
	set(t, c, "k", `2`, 0)
	v, ok := get(t, c, "k")
	require.True(t, ok)
	assert.Equal(t, `2`, string(v))
	assert.Equal(t, []string{"k"}, keys(t, c))
}

// waitGone polls a real-time cacher until key disappears, failing after a 2 s cap.
func waitGone(t *testing.T, c cache.Cacher, key string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, ok := get(t, c, key); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still present 2s after its ttl", key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testTTLExpiry(t *testing.T, c cache.Cacher, adv Advance) {
	if adv == nil {
		// Real time: a short TTL, present right away, gone soon after.
		set(t, c, "short", `1`, 300*time.Millisecond)
		_, ok := get(t, c, "short")
		require.True(t, ok, "present before its ttl")
		waitGone(t, c, "short")
		assert.NotContains(t, keys(t, c), "short")
		return
	}
	set(t, c, "k", `1`, 10*time.Second)
	set(t, c, "long", `2`, 20*time.Second)
	adv(10*time.Second - time.Millisecond)
	_, ok := get(t, c, "k")
	require.True(t, ok, "present 1ms before its ttl")
	adv(time.Millisecond)
	_, ok = get(t, c, "k")
	assert.False(t, ok, "gone exactly at its ttl")
	assert.Equal(t, []string{"long"}, keys(t, c))
	_, ok = get(t, c, "long")
	assert.True(t, ok)
}

func testZeroTTL(t *testing.T, c cache.Cacher, adv Advance) {
	set(t, c, "forever", `1`, 0)
	if adv != nil {
		adv(1000 * time.Hour)
	}
	_, ok := get(t, c, "forever")
	assert.True(t, ok)
}

func testOverwriteReplacesTTL(t *testing.T, c cache.Cacher, adv Advance) {
	set(t, c, "k", `1`, 300*time.Millisecond)
	set(t, c, "k", `2`, 0)
	if adv != nil {
		adv(time.Hour)
	} else {
		time.Sleep(500 * time.Millisecond)
	}
	v, ok := get(t, c, "k")
	require.True(t, ok, "the second Set removed the ttl")
	assert.Equal(t, `2`, string(v))
}

func testNegativeTTL(t *testing.T, c cache.Cacher, _ Advance) {
	err := c.Set(context.Background(), "k", []byte(`1`), -time.Second)
	assert.True(t, errors.Is(err, cache.ErrNegativeTTL), "got %v", err)
	_, ok := get(t, c, "k")
	assert.False(t, ok)
}

func testDel(t *testing.T, c cache.Cacher, _ Advance) {
	ctx := context.Background()
	set(t, c, "a", `1`, 0)
	set(t, c, "b", `2`, 0)
	set(t, c, "c", `3`, 0)
	require.NoError(t, c.Del(ctx, "a"))
	require.NoError(t, c.Del(ctx, "b", "missing"))
	require.NoError(t, c.Del(ctx))
	_, ok := get(t, c, "a")
	assert.False(t, ok)
	assert.Equal(t, []string{"c"}, keys(t, c))
}

// seedClean stores the keys the clean tests work on: svc.* keys with and without a dot in the
// params, a nested name, and another service.
var cleanKeys = []string{
	`other.find:id|1`,
	`svc.find:id|5`,
	`svc.find:q|"a.b"`,
	`svc.get`,
	`svc.sub.x`,
	`svcx.find`,
}

func seedClean(t *testing.T, c cache.Cacher) {
	for _, k := range cleanKeys {
		set(t, c, k, `1`, 0)
	}
}

func testCleanStar(t *testing.T, c cache.Cacher, _ Advance) {
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background(), "svc.*"))
	if cache.StarCrossesDot(c) {
		// Redis semantics (Moleculer turns the pattern into a Redis MATCH, whose * crosses dots).
		assert.Equal(t, []string{`other.find:id|1`, `svcx.find`}, keys(t, c))
		return
	}
	assert.Equal(t, []string{`other.find:id|1`, `svc.find:q|"a.b"`, `svc.sub.x`, `svcx.find`}, keys(t, c),
		"* stays within one segment: keys with a dot after svc. survive")
}

func testCleanDoubleStar(t *testing.T, c cache.Cacher, _ Advance) {
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background(), "svc.**"))
	assert.Equal(t, []string{`other.find:id|1`, `svcx.find`}, keys(t, c))
}

func testCleanQuestionMark(t *testing.T, c cache.Cacher, _ Advance) {
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background(), "svc.ge?"))
	assert.NotContains(t, keys(t, c), `svc.get`)
	assert.Len(t, keys(t, c), len(cleanKeys)-1)
}

func testCleanLiteral(t *testing.T, c cache.Cacher, _ Advance) {
	// Cache keys hold [ ] | and quotes; a pattern naming such a key must match it literally.
	arr := `svc.find:tags|["a"|"b"]`
	set(t, c, arr, `1`, 0)
	set(t, c, `svc.find:tags|"a"`, `1`, 0)
	set(t, c, `svc.find:tags|"b"`, `1`, 0)
	require.NoError(t, c.Clean(context.Background(), arr))
	assert.Equal(t, []string{`svc.find:tags|"a"`, `svc.find:tags|"b"`}, keys(t, c))
	require.NoError(t, c.Clean(context.Background(), `svc.find:tags|"a*`))
	assert.Equal(t, []string{`svc.find:tags|"b"`}, keys(t, c))
}

func testCleanSeveral(t *testing.T, c cache.Cacher, _ Advance) {
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background(), "other.**", "svcx.**", "nomatch.*"))
	assert.Equal(t, []string{`svc.find:id|5`, `svc.find:q|"a.b"`, `svc.get`, `svc.sub.x`}, keys(t, c))
	require.NoError(t, c.Clean(context.Background(), "nothing.matches.**"))
	assert.Len(t, keys(t, c), 4)
}

func testCleanAll(t *testing.T, c cache.Cacher, _ Advance) {
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background()))
	assert.Empty(t, keys(t, c))
	seedClean(t, c)
	require.NoError(t, c.Clean(context.Background(), "**"))
	assert.Empty(t, keys(t, c))
}

func testKeys(t *testing.T, c cache.Cacher, _ Advance) {
	assert.Empty(t, keys(t, c))
	for _, k := range []string{"b", "a", "c.x", "B"} {
		set(t, c, k, `1`, 0)
	}
	assert.Equal(t, []string{"B", "a", "b", "c.x"}, keys(t, c), "sorted, without any prefix")
}

func testNullIsHit(t *testing.T, c cache.Cacher, _ Advance) {
	set(t, c, "k", `null`, 0)
	v, ok := get(t, c, "k")
	require.True(t, ok, "a cached null is a hit")
	assert.Equal(t, `null`, string(v))
}

func testEmptyValue(t *testing.T, c cache.Cacher, _ Advance) {
	set(t, c, "k", ``, 0)
	v, ok := get(t, c, "k")
	require.True(t, ok)
	assert.Empty(t, v)
}

func testBinarySafe(t *testing.T, c cache.Cacher, _ Advance) {
	val := make([]byte, 0, 512)
	for i := range 256 {
		val = append(val, byte(i))
	}
	val = append(val, "\r\n$-1\r\n\x00"...)
	require.NoError(t, c.Set(context.Background(), "bin", val, 0))
	v, ok := get(t, c, "bin")
	require.True(t, ok)
	assert.True(t, bytes.Equal(val, v), "value round-trips byte for byte")
}

func testValuesAreCopies(t *testing.T, c cache.Cacher, _ Advance) {
	val := []byte(`"abc"`)
	require.NoError(t, c.Set(context.Background(), "k", val, 0))
	val[1] = 'X'
	v, ok := get(t, c, "k")
	require.True(t, ok)
	assert.Equal(t, `"abc"`, string(v), "changing the slice after Set does not change the entry")
	v[1] = 'Y'
	v, _ = get(t, c, "k")
	assert.Equal(t, `"abc"`, string(v), "changing a returned slice does not change the entry")
}

func testConcurrent(t *testing.T, c cache.Cacher, _ Advance) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				k := fmt.Sprintf("w%d.k%d", w, i%5)
				if err := c.Set(ctx, k, []byte(`1`), 0); err != nil {
					errs <- err
					return
				}
				if _, _, err := c.Get(ctx, k); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := c.Clean(ctx, fmt.Sprintf("w%d.*", w)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, err := c.Keys(ctx)
	require.NoError(t, err)
}
