package check_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios/check"
)

const ms = time.Millisecond

func e(t time.Duration, node, kind string, attrs map[string]any) journal.Entry {
	return journal.Entry{T: t, Node: node, Kind: kind, Attrs: attrs}
}

func finished(t time.Duration, action string, ok bool, dur time.Duration) journal.Entry {
	a := map[string]any{"action": action, "level": 1, "ok": ok, "duration": dur}
	if !ok {
		a["error"] = "RequestTimeoutError"
	}
	return e(t, "gateway", journal.CallFinished, a)
}

func TestSteadyState(t *testing.T) {
	var j []journal.Entry
	for i := range 100 {
		start := time.Duration(i) * 100 * ms
		j = append(j, finished(start+10*ms, "order.create", i != 42, 10*ms))
	}
	j = append(j, finished(10*time.Second+900*ms, "order.create", true, 900*ms))
	c := check.SteadyState{Label: "before", Window: check.Window{To: 10 * time.Second}, MinSuccessRate: 0.995, MaxP99: 50 * ms}
	r := c.Check(j)
	assert.False(t, r.Pass)
	assert.Equal(t, "FAIL steady-state before: expected success rate ≥ 99.50% and p99 ≤ 50ms in [+0s, +10s), got success rate 99.00% (99/100), p99 10ms (first deviation at +4.21s)", r.Message())

	c.MinSuccessRate = 0.99
	assert.True(t, c.Check(j).Pass, c.Check(j).Message())

	after := check.SteadyState{Label: "after", Window: check.Window{From: 10 * time.Second}, MinSuccessRate: 0.99, MaxP99: 50 * ms}
	assert.Equal(t, "FAIL steady-state after: expected success rate ≥ 99.00% and p99 ≤ 50ms in [+10s, end), got success rate 100.00% (1/1), p99 900ms (first deviation at +10.9s)", after.Check(j).Message())

	// Off the simulator the run's tolerance widens the bound: 900ms ≤ 50ms + 850ms, not + 849ms.
	after.Tolerance = 850 * ms
	assert.Equal(t, "PASS steady-state after: success rate 100.00% (1/1), p99 900ms", after.Check(j).Message())
	after.Tolerance = 849 * ms
	assert.Equal(t, "FAIL steady-state after: expected success rate ≥ 99.00% and p99 ≤ 50ms (+849ms tolerance) in [+10s, end), got success rate 100.00% (1/1), p99 900ms (first deviation at +10.9s)", after.Check(j).Message())

	empty := check.SteadyState{Label: "during", Window: check.Window{From: time.Hour}, MinSuccessRate: 0.5}
	assert.Equal(t, "FAIL steady-state during: expected success rate ≥ 50.00% in [+1h0m0s, end) over at least 1 calls, got 0 calls (first deviation at +1h0m0s)", empty.Check(j).Message())
}

func transition(t time.Duration, endpoint, from, to string) journal.Entry {
	return e(t, "client", journal.BreakerChange, map[string]any{"endpoint": endpoint, "from": from, "to": to})
}

func TestBreakerSequence(t *testing.T) {
	j := []journal.Entry{
		transition(4*time.Second, "b:inv.get", "closed", "open"),
		transition(9*time.Second, "b:inv.get", "open", "half-open"),
		transition(10*time.Second, "b:inv.get", "half-open", "half-open-wait"),
		transition(10*time.Second, "b:inv.get", "half-open-wait", "closed"),
		transition(11*time.Second, "other:inv.get", "closed", "open"),
	}
	c := check.BreakerSequence{Endpoint: "b:inv.get", Expected: []check.Transition{
		{To: "open", At: 4 * time.Second}, {To: "half-open", At: 9 * time.Second}, {To: "closed", At: 10 * time.Second},
	}}
	assert.True(t, c.Check(j).Pass)
	assert.Equal(t, "PASS breaker b:inv.get: closed→open@+4s→half-open@+9s→closed@+10s", c.Check(j).Message())

	c.Expected[1].At = 8 * time.Second
	c.Tolerance = 500 * ms
	assert.Equal(t, "FAIL breaker b:inv.get: expected closed→open@+4s±500ms→half-open@+8s±500ms→closed@+10s±500ms, got closed→open@+4s→half-open@+9s→closed@+10s (first deviation at +8s)", c.Check(j).Message())

	missing := check.BreakerSequence{Endpoint: "b:inv.get", Expected: []check.Transition{
		{To: "open", At: 4 * time.Second}, {To: "half-open", At: 9 * time.Second}, {To: "closed", At: 10 * time.Second}, {To: "open", At: 20 * time.Second},
	}}
	assert.Equal(t, "FAIL breaker b:inv.get: expected closed→open@+4s→half-open@+9s→closed@+10s→open@+20s, got closed→open@+4s→half-open@+9s→closed@+10s (first deviation at +20s)", missing.Check(j).Message())

	never := check.BreakerSequence{Endpoint: "c:inv.get", Expected: []check.Transition{{To: "open", At: time.Second}}}
	assert.Equal(t, "FAIL breaker c:inv.get: expected closed→open@+1s, got no transitions (first deviation at +1s)", never.Check(j).Message())
}

func TestTimeouts(t *testing.T) {
	j := []journal.Entry{
		e(time.Second, "gateway", journal.ReqTimeout, map[string]any{"action": "order.create", "timeout": time.Second, "served": false}),
		e(time.Second, "order", journal.ReqTimeout, map[string]any{"action": "order.create", "timeout": time.Second, "served": true}),
		e(1200*ms, "order", journal.ReqSkipped, map[string]any{"action": "product.reserve"}),
	}
	assert.True(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1, At: []time.Duration{time.Second}}.Check(j).Pass)
	assert.True(t, check.Timeouts{Action: "product.reserve", Kind: "skip", Count: 1, At: []time.Duration{1200 * ms}}.Check(j).Pass)
	assert.Equal(t, "FAIL timeout order.create: expected 1, each after a 500ms budget, got 1 at [+1s]; one after 1s (first deviation at +1s)",
		check.Timeouts{Action: "order.create", Kind: "timeout", Budget: 500 * ms, Count: 1}.Check(j).Message())
	assert.Equal(t, "FAIL skip product.get: expected at least 1, got 0 at []",
		check.Timeouts{Action: "product.get", Kind: "skip", Count: -1}.Check(j).Message())
	assert.Equal(t, "FAIL skip product.reserve: expected 1, at [+1s], got 1 at [+1.2s] (first deviation at +1s)",
		check.Timeouts{Action: "product.reserve", Kind: "skip", Count: 1, At: []time.Duration{time.Second}}.Check(j).Message())
}

// TestTimeoutsPairsBothSidesOfARequest: on a loaded real machine the serving node's timer
// may fire before the caller's, answer 504, and leave the caller no timeout of its own; a
// request is still one timeout, whichever side recorded it, and two requests are two.
func TestTimeoutsPairsBothSidesOfARequest(t *testing.T) {
	served := func(at time.Duration, id string) journal.Entry {
		return e(at, "order", journal.ReqTimeout, map[string]any{"id": id, "action": "order.create", "timeout": time.Second, "served": true})
	}
	caller := func(at time.Duration, id string) journal.Entry {
		return e(at, "gateway", journal.ReqTimeout, map[string]any{"id": id, "action": "order.create", "timeout": time.Second, "served": false})
	}
	servedOnly := []journal.Entry{served(1010*ms, "r1")}
	assert.True(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1, At: []time.Duration{1010 * ms}}.Check(servedOnly).Pass)
	// What the serving node had left is a hop short of the caller's budget: within the
	// tolerance it stands in; the caller's own entry, when there is one, is exact.
	short := e(1010*ms, "order", journal.ReqTimeout, map[string]any{"id": "r1", "action": "order.create", "timeout": 990 * ms, "served": true})
	assert.True(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1, Tolerance: 20 * ms}.Check([]journal.Entry{short}).Pass)
	assert.False(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1, Tolerance: 5 * ms}.Check([]journal.Entry{short}).Pass)
	assert.True(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1}.Check([]journal.Entry{short, caller(1020*ms, "r1")}).Pass)
	wrongCaller := e(1020*ms, "gateway", journal.ReqTimeout, map[string]any{"id": "r1", "action": "order.create", "timeout": 2 * time.Second, "served": false})
	assert.False(t, check.Timeouts{Action: "order.create", Kind: "timeout", Budget: time.Second, Count: 1, Tolerance: 20 * ms}.Check([]journal.Entry{short, wrongCaller}).Pass)
	servedFirst := []journal.Entry{served(1010*ms, "r1"), caller(1020*ms, "r1")}
	assert.Equal(t, "PASS timeout order.create: 1 at [+1.01s]",
		check.Timeouts{Action: "order.create", Kind: "timeout", Count: 1}.Check(servedFirst).Message())
	two := []journal.Entry{caller(time.Second, "r1"), served(time.Second, "r1"), caller(3*time.Second, "r2"), served(3*time.Second, "r2")}
	assert.Equal(t, "FAIL timeout order.create: expected 1, got 2 at [+1s +3s] (first deviation at +3s)",
		check.Timeouts{Action: "order.create", Kind: "timeout", Count: 1}.Check(two).Message())
}

func retryEntry(t time.Duration, call string, delay time.Duration) journal.Entry {
	return e(t, "gateway", journal.RetryAttempt, map[string]any{"action": "inv.get", "call": call, "delay": delay})
}

func TestRetries(t *testing.T) {
	j := []journal.Entry{
		retryEntry(0, "c1", 100*ms), retryEntry(100*ms, "c1", 200*ms), retryEntry(300*ms, "c1", 400*ms),
		retryEntry(time.Second, "c2", 100*ms),
	}
	ok := check.Retries{Action: "inv.get", Max: 3, Delays: []time.Duration{100 * ms, 200 * ms, 400 * ms}}
	assert.Equal(t, "PASS retries inv.get: 4 retries over 2 retried calls", ok.Check(j).Message())
	assert.Equal(t, "FAIL retries inv.get: expected at most 2 retries per call, got a call with 3 retries (first deviation at +300ms)",
		check.Retries{Action: "inv.get", Max: 2}.Check(j).Message())
	assert.Equal(t, "FAIL retries inv.get: expected at most 3 retries per call, backoff [100ms 100ms 100ms], got backoff [100ms 200ms 400ms] (first deviation at +100ms)",
		check.Retries{Action: "inv.get", Max: 3, Delays: []time.Duration{100 * ms, 100 * ms, 100 * ms}}.Check(j).Message())
}

func TestAmplification(t *testing.T) {
	j := []journal.Entry{e(0, "gateway", journal.CallStarted, map[string]any{"action": "order.create"})}
	for i := range 4 {
		j = append(j, e(time.Duration(i)*time.Second, "order", journal.ActionRun, map[string]any{"action": "order.create"}))
	}
	assert.Equal(t, "FAIL amplification order.create: expected ≤ 1.00 executions per call, got 4.00 (4 executions / 1 calls) (first deviation at +1s)",
		check.Amplification{Action: "order.create", Max: 1}.Check(j).Message())
	assert.True(t, check.Amplification{Action: "order.create", Max: 4}.Check(j).Pass)
}

func TestInvariants(t *testing.T) {
	stock := func(t time.Duration, after, delta float64, op string) journal.Entry {
		return e(t, "product-1", journal.DomainStock, map[string]any{"product": 1, "before": after - delta, "after": after, "delta": delta, "op": op})
	}
	order := func(t time.Duration, id int, key string) journal.Entry {
		return e(t, "order-1", journal.DomainOrder, map[string]any{"id": id, "key": key, "product": 1, "quantity": 2})
	}
	good := []journal.Entry{stock(time.Second, 48, -2, "k1"), order(time.Second, 1, "k1")}
	for _, c := range []check.Checker{check.StockNeverNegative{}, check.OrderHasStockReduction{}, check.NoDuplicateOrders{}} {
		assert.True(t, c.Check(good).Pass, c.Check(good).Message())
	}
	assert.Equal(t, "FAIL invariant: stock never negative: expected stock ≥ 0 after every change, got product 1 at -1 after k9 (first deviation at +3s)",
		check.StockNeverNegative{}.Check(append(good, stock(3*time.Second, -1, -49, "k9"))).Message())
	assert.Equal(t, "FAIL invariant: one stock reduction per order: expected exactly 1 stock reduction per order, got order 2 (key k2) has 0 (first deviation at +2s)",
		check.OrderHasStockReduction{}.Check(append(good, order(2*time.Second, 2, "k2"))).Message())
	assert.Equal(t, "FAIL invariant: one stock reduction per order: expected exactly 1 stock reduction per order, got order 1 (key k1) has 2 (first deviation at +1s)",
		check.OrderHasStockReduction{}.Check(append(good, stock(2*time.Second, 46, -2, "k1"))).Message())
	assert.Equal(t, "FAIL invariant: no duplicate orders per idempotency key: expected 1 order per key, got a second order for key k1 (first deviation at +4s)",
		check.NoDuplicateOrders{}.Check(append(good, order(4*time.Second, 2, "k1"))).Message())

	assert.Equal(t, "FAIL invariant: stock never negative: expected stock ≥ 0 after every change, got no stock change journaled (nothing to check)",
		check.StockNeverNegative{}.Check(nil).Message())
	ev := []journal.Entry{
		e(time.Second, "order-1", journal.EventEmitted, map[string]any{"id": "ev1", "event": "order.created", "broadcast": false}),
		e(time.Second, "mail-1", journal.EventHandled, map[string]any{"id": "ev1", "event": "order.created", "group": "email"}),
		e(time.Second, "mail-1", journal.EventHandled, map[string]any{"id": "ev1", "event": "order.created", "group": "notification"}),
	}
	once := check.HandledOncePerGroup{Event: "order.created", Groups: []string{"email", "notification"}}
	assert.True(t, once.Check(ev).Pass)
	assert.Equal(t, "FAIL invariant: order.created handled once per group: expected each order.created handled once by each of [email notification], got event ev1 handled [email×1] (first deviation at +1s)",
		once.Check(ev[:2]).Message())
	assert.Equal(t, "FAIL invariant: order.created handled once per group: expected each order.created handled once by each of [email notification], got event ev1 handled [email×2 notification×1] (first deviation at +1s)",
		once.Check(append(ev, ev[1])).Message())
}

func TestCacheCoherence(t *testing.T) {
	set := func(t time.Duration, node string) journal.Entry {
		return e(t, node, journal.CacheSet, map[string]any{"key": "product.get:1", "ttl": 30 * time.Second})
	}
	hit := func(t time.Duration, node string) journal.Entry {
		return e(t, node, journal.CacheHit, map[string]any{"key": "product.get:1", "call": "c"})
	}
	j := []journal.Entry{
		set(time.Second, "p1"), set(time.Second, "p2"),
		e(2*time.Second, "p1", journal.EventEmitted, map[string]any{"event": "cache.clean.product", "broadcast": true}),
		e(2*time.Second, "p1", journal.CacheClean, map[string]any{"patterns": []any{"product.**"}}),
		hit(3*time.Second, "p2"), hit(20*time.Second, "p2"),
	}
	c := check.CacheCoherence{Action: "product.get", MaxStale: 10 * time.Second}
	assert.Equal(t, "FAIL cache coherence product.get: expected stale reads of product end within 10s of each write, got p2 served 2 stale read(s) from +3s to +20s, servable until +31s (window 29s after the write at +2s) (first deviation at +3s)", c.Check(j).Message())
	c.MaxStale = 30 * time.Second
	assert.True(t, c.Check(j).Pass)
	assert.Equal(t, "FAIL cache coherence order.get: expected stale reads of order end within 0s of each write, got no write of order in the journal",
		check.CacheCoherence{Action: "order.get"}.Check(j).Message())
}

func TestMembership(t *testing.T) {
	j := []journal.Entry{
		e(0, "gateway", journal.NodeJoined, map[string]any{"peer": "p1", "reconnected": false}),
		e(15*time.Second, "gateway", journal.NodeLost, map[string]any{"peer": "p1", "unexpected": true}),
		e(31*time.Second, "gateway", journal.NodeJoined, map[string]any{"peer": "p1", "reconnected": true}),
	}
	m := check.Membership{Observer: "gateway", Peer: "p1", Expected: []check.Transition{{To: "lost", At: 15 * time.Second}, {To: "joined", At: 30 * time.Second}}}
	assert.Equal(t, "FAIL membership p1 seen by gateway: expected lost@+15s→joined@+30s, got lost@+15s→joined@+31s (first deviation at +30s)", m.Check(j).Message())
	m.Tolerance = time.Second
	assert.True(t, m.Check(j).Pass)
}

func TestErrors(t *testing.T) {
	j := []journal.Entry{finished(time.Second, "product.get", false, ms), finished(2*time.Second, "product.get", false, ms), finished(3*time.Second, "product.get", true, ms)}
	assert.Equal(t, "FAIL RequestTimeoutError of product.get: expected between 0 and 1, got 2 (first deviation at +2s)",
		check.Errors{Action: "product.get", Error: "RequestTimeoutError", Max: 1}.Check(j).Message())
	assert.Equal(t, "FAIL QueueIsFullError of product.get: expected at least 1, got 0",
		check.Errors{Action: "product.get", Error: "QueueIsFullError", Min: 1, Max: -1}.Check(j).Message())
}
