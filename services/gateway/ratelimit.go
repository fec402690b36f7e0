package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/rt"
)

// RateLimit limits requests per client in fixed windows, as moleculer-web's rateLimit.
type RateLimit struct {
	// Window is the counting period (default 60 s), on the gateway broker's clock: virtual
	// time in a simulation.
	Window time.Duration
	// Limit is the number of requests a client may make per window (default 30).
	Limit int
	// Headers sends X-Rate-Limit-Limit, -Remaining and -Reset (the end of the window, in
	// Unix milliseconds, as moleculer-web's memory store reports it).
	Headers bool
	// Key names the client of a request; empty means the request is not limited. The
	// default is the client IP (see Settings.TrustedProxies).
	Key func(r *http.Request, clientIP string) string
	// NewStore creates the counter store at start; the default keeps counts in memory, per
	// gateway node. A shared store (Redis) makes several gateway nodes share one limit.
	NewStore func(window time.Duration, clock rt.Clock) RateStore
}

// RateStore counts requests per key in the current window.
type RateStore interface {
	// Inc counts one request of key and returns the key's count in the current window and
	// when that window ends.
	Inc(key string) (count int, reset time.Time, err error)
}

// MemoryStore is the in-memory RateStore: fixed windows aligned on the clock, each starting
// with zero counts.
type MemoryStore struct {
	window time.Duration
	clock  rt.Clock

	mu     sync.Mutex
	reset  time.Time
	counts map[string]int
}

// NewMemoryStore returns a memory store with windows of the given length on clock.
func NewMemoryStore(window time.Duration, clock rt.Clock) RateStore {
	return &MemoryStore{window: window, clock: clock, counts: map[string]int{}}
}

// Inc counts a request.
func (m *MemoryStore) Inc(key string) (int, time.Time, error) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.reset) {
		// Windows are aligned on the clock (whole multiples of the window), so every gateway
		// node, and every run of a simulation, cuts them at the same instants.
		m.reset = now.Truncate(m.window).Add(m.window)
		clear(m.counts)
	}
	m.counts[key]++
	return m.counts[key], m.reset, nil
}

// proxies is the set of trusted proxy addresses (Settings.TrustedProxies).
type proxies []netip.Prefix

func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (p proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the request's peer address; when the peer is a trusted proxy, X-Forwarded-For
// is read from the right, skipping trusted proxies, and the first address that is not one is
// the client. X-Forwarded-For from anyone else is ignored: a client cannot pick its own key.
func (p proxies) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(p) == 0 || !p.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := host
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		client = a.Unmap().String()
		if !p.trusted(a) {
			break
		}
	}
	return client
}
