package cache

import (
	"context"
	"errors"
	"time"
)

// Cacher stores JSON-encoded action results under Moleculer cache keys.
type Cacher interface {
	// Get returns the value stored under key. ok is false on a miss (including an expired
	// entry); err is non-nil only when the backend failed.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key. ttl 0 means no expiry; a negative ttl is rejected with
	// ErrNegativeTTL. Setting a key again replaces both its value and its ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Del removes keys; missing keys are not an error.
	Del(ctx context.Context, keys ...string) error
	// Clean removes every key matching any of the glob patterns (see Match); with no
	// patterns it removes everything.
	Clean(ctx context.Context, patterns ...string) error
	// Keys lists the live keys, sorted, without any backend prefix.
	Keys(ctx context.Context) ([]string, error)
	Close() error
}

// ErrNegativeTTL is returned by Set for a negative ttl. Moleculer would either store an
// already-expired entry (memory) or fail (Redis SETEX); rejecting it keeps all cachers alike.
var ErrNegativeTTL = errors.New("cache: negative ttl")

// ErrClosed is returned by the memory cachers after Close.
var ErrClosed = errors.New("cache: cacher closed")

// StarCrossesDot reports whether c's Clean lets a single `*` match across a `.`.
//
// Moleculer's Redis cacher hands the pattern to Redis' MATCH after turning `**` into `*`, and a
// Redis `*` matches dots, so `svc.*` also removes keys whose params contain a `.`. The memory
// cachers use Match, where it does not. Faultline keeps that difference; this lets shared tests
// (and the broker's documentation) ask which behaviour a cacher has.
func StarCrossesDot(c Cacher) bool {
	x, ok := c.(interface{ CleanStarCrossesDot() bool })
	return ok && x.CleanStarCrossesDot()
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return ErrNegativeTTL
	}
	return nil
}

// cloneBytes copies b, keeping a non-nil empty slice for an empty value so that an empty value
// reads back as a (zero-length) hit on every cacher.
func cloneBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}
