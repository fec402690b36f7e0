package scenarios

import (
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/testutil"
)

const (
	ms  = time.Millisecond
	sec = time.Second
)

// The suite runs on the default, realistic network: a packet spends [oneWayMin, oneWayMax)
// on the wire, drawn from the seed (testutil.NetworkSpec). So the suite expects each instant
// exactly as far as the network lets anyone know it: what a timer sets at the caller (a
// timeout, a breaker's half-open) is exact, what waits for packets is expected within their
// trips — a breaker opened by a reply lands a round trip after the call, never sooner, never
// later — and nothing ties by accident.
const (
	oneWayMin = testutil.DefaultLatency
	oneWayMax = testutil.DefaultLatency + testutil.DefaultJitter
)

// span is an instant known to lie in [lo, hi]: the middle, give or take half the width.
func span(lo, hi time.Duration) (at, tolerance time.Duration) { return (lo + hi) / 2, (hi - lo) / 2 }

// within is a transition known to happen in [lo, hi].
func within(to string, lo, hi time.Duration) TransitionAt {
	at, tol := span(lo, hi)
	return TransitionAt{To: to, At: at, Tolerance: tol}
}

// roundTrip is a transition caused by the reply to a call made at call (or set by a timer
// started there): a round trip later.
func roundTrip(to string, call time.Duration) TransitionAt {
	return within(to, call+2*oneWayMin, call+2*oneWayMax)
}

// exactly is a transition a timer sets at the observer itself: no packet in the way.
func exactly(to string, at time.Duration) TransitionAt { return TransitionAt{To: to, At: at} }

func dur(d time.Duration) *time.Duration { return &d }
func intp(n int) *int                    { return &n }
func f64(f float64) *float64             { return &f }

// breaker is the breaker every suite scenario's callers use: Moleculer's options with a
// small minRequestCount so that a handful of calls trips it.
func breaker() *BreakerSpec {
	return &BreakerSpec{Enabled: true, Threshold: broker.Float(0.5), MinRequestCount: broker.Int(3), WindowTime: broker.Dur(60 * sec), HalfOpenTime: broker.Dur(5 * sec)}
}

var widget = []Product{{Name: "widget", Price: 10, Stock: 1000}}

// pairedReads is two open-loop clients reading product 1 at the same instants, once a
// second: with two product nodes, round robin then gives each node exactly one call per
// instant whichever node it starts with, so breaker timings do not depend on the seed.
// The calls are made on whole seconds; the replies land a round trip later.
func pairedReads(start time.Duration) WorkloadSpec {
	return WorkloadSpec{Name: "paired reads", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1},
		Clients: 2, Rate: 1, Start: start}
}

// twoProducts is a gateway in front of two product nodes.
func twoProducts(gateway, products NodeOptions) []NodeSpec {
	return []NodeSpec{
		{ID: "gateway", Options: gateway},
		{ID: "product-1", Services: []string{"product"}, Options: products},
		{ID: "product-2", Services: []string{"product"}, Options: products},
	}
}

// heartbeats is a node option set with fast heartbeats; retrying adds the gateway's retries.
func heartbeats(timeout time.Duration) NodeOptions {
	return NodeOptions{HeartbeatInterval: sec, HeartbeatTimeout: timeout}
}

func retrying(o NodeOptions, requestTimeout time.Duration) NodeOptions {
	o.RequestTimeout = requestTimeout
	o.Retry = &RetrySpec{Enabled: true, Retries: broker.Int(2), Delay: broker.Dur(100 * ms)}
	return o
}

// getWidget reads product 1 once a second from the gateway, on a fixed schedule (open loop):
// the calls are made on whole seconds whatever the network's latency, so what they cause has
// an exact instant to be measured from. (A client that waited a second after each reply
// would drift by a round trip per call.) With two product nodes, round robin (endpoints in
// node-ID order) sends the first call, and then every other one, to product-1.
func getWidget(start, duration time.Duration) WorkloadSpec {
	return WorkloadSpec{Name: "read widget", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1},
		Rate: 1, Start: start, Duration: duration}
}

// Suite is Faultline's scenario suite: twelve resilience promises, each checked in virtual
// time. scenarios/testdata holds the same scenarios as files.
func Suite() []Scenario {
	return []Scenario{
		BreakerCycle(), Failover(), HungDependency(), DistributedTimeout(), RetryBackoff(), CrashFailover(),
		NodePause(), AsymmetricPartition(), SymmetricPartition(), CacheUnderPartition(), BulkheadSaturation(), OrderFlow(),
	}
}

// BreakerCycle: a product node fails from +5s to +20s, read once a second. The failures of
// the +5..+8s calls are half of the eight calls: the breaker opens when the +8s reply comes
// back, a round trip after the call. It half-opens 5 s later, just after the +13s call failed
// fast, so the +14s call is the probe: it fails and the breaker opens again. The +20s call
// reaches the node after the fault ended: that probe succeeds and closes the breaker.
func BreakerCycle() Scenario {
	return Scenario{
		Name: "breaker-cycle", Seed: 1, Duration: 40 * sec,
		Description: "closed→open→half-open→open again while the node still fails, then →closed once it is fixed",
		Config:      ServiceConfig{Products: widget},
		Nodes: []NodeSpec{
			{ID: "gateway", Options: NodeOptions{CircuitBreaker: breaker()}},
			{ID: "product-1", Services: []string{"product"}},
		},
		Workload: []WorkloadSpec{getWidget(sec, 0)},
		Faults: []FaultSpec{{Name: "product-1 fails", Kind: "error", Action: "product.get", Node: "product-1", Start: 5 * sec, Duration: 15 * sec,
			Error: &ErrorSpec{Name: "MoleculerError", Message: "database down", Code: 500, Type: "DB_DOWN"}}},
		Checks: []CheckSpec{
			{Kind: "steady-state", Label: "before", To: 5 * sec, MinSuccessRate: 1},
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				roundTrip("open", 8*sec), roundTrip("half-open", 13*sec), roundTrip("open", 14*sec),
				roundTrip("half-open", 19*sec), roundTrip("closed", 20*sec),
			}},
			// The node's error reaches the caller for the four calls that open the breaker
			// and for the failed probe; the open breaker fails +9..+13s and +15..+19s fast.
			{Kind: "errors", Action: "product.get", Error: "MoleculerError", Min: 5, Max: f64(5)},
			{Kind: "errors", Action: "product.get", Error: "ServiceNotAvailableError", Min: 10, Max: f64(10)},
			{Kind: "steady-state", Label: "after", From: 20 * sec, MinSuccessRate: 1},
			// The same cycle as a Prometheus scrape of the gateway would see it.
			{Kind: "metric", Label: "opened twice (metrics)", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_total",
				Labels: map[string]string{"affectedNodeID": "product-1", "action": "product.get"}, Value: f64(2)},
			{Kind: "metric", Label: "half-opened twice (metrics)", Node: "gateway", Metric: "moleculer_circuit_breaker_half_opened_total",
				Labels: map[string]string{"affectedNodeID": "product-1", "action": "product.get"}, Value: f64(2)},
			{Kind: "metric", Label: "closed at the end (metrics)", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_active",
				Labels: map[string]string{"action": "product.get"}, Value: f64(0)},
		},
	}
}

// Failover: one of two product nodes breaks at +5s; its breaker opens and every later call is
// served by the healthy one — per endpoint, the healthy endpoint's breaker never moves. The
// broken endpoint half-opens 5 s after each opening, a round trip after a whole second, so
// the probe is one of the next second's calls: it fails and the breaker opens again, every
// 6 s (+14s, +20s, +26s).
func Failover() Scenario {
	return Scenario{
		Name: "failover", Seed: 2, Duration: 30 * sec,
		Description: "per-endpoint failover: product-1 breaks, its breaker opens, product-2 serves everything",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(NodeOptions{CircuitBreaker: breaker()}, NodeOptions{}),
		Workload:    []WorkloadSpec{pairedReads(sec)},
		Faults:      []FaultSpec{{Name: "product-1 fails", Kind: "error", Action: "product.get", Node: "product-1", Start: 5 * sec}},
		Checks: []CheckSpec{
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				roundTrip("open", 8*sec), roundTrip("half-open", 13*sec), roundTrip("open", 14*sec),
				roundTrip("half-open", 19*sec), roundTrip("open", 20*sec), roundTrip("half-open", 25*sec), roundTrip("open", 26*sec),
			}},
			{Kind: "breaker", Endpoint: "product-2:product.get", Node: "gateway"},
			// 4 failures open it (4 of product-1's 8 calls at +1..+8s); after that only the
			// 3 probes fail.
			{Kind: "errors", Action: "product.get", Error: "MoleculerError", Min: 7, Max: f64(7)},
			{Kind: "steady-state", Label: "after the breaker opened", From: 9 * sec, MinSuccessRate: 0.9},
		},
	}
}

// HungDependency: product-1 stops answering at +5s; with a 100 ms request timeout each call
// times out, the timeouts count as failures, the breaker opens, and calls then fail fast.
// Every instant here is a timer at the gateway, so exact: a call made on a whole second
// times out 100 ms later, the fourth timeout (+8.1s) opens the breaker, it half-opens at
// +13.1s, and the +14s call is the probe that times out and opens it again.
func HungDependency() Scenario {
	return Scenario{
		Name: "hung-dependency", Seed: 3, Duration: 20 * sec,
		Description: "a handler that never answers: 100 ms timeouts trip the breaker, then calls fail fast",
		Config:      ServiceConfig{Products: widget},
		Nodes: []NodeSpec{
			{ID: "gateway", Options: NodeOptions{RequestTimeout: 100 * ms, CircuitBreaker: breaker()}},
			{ID: "product-1", Services: []string{"product"}},
		},
		Workload: []WorkloadSpec{getWidget(sec, 0)},
		Faults:   []FaultSpec{{Name: "product-1 hangs", Kind: "hang", Action: "product.get", Node: "product-1", Start: 5 * sec}},
		Checks: []CheckSpec{
			// Four timeouts trip it (the successes before the fault count too); later, the
			// half-open probe times out and re-opens it.
			{Kind: "timeout", Action: "product.get", Budget: 100 * ms, Count: intp(5),
				At: []time.Duration{5*sec + 100*ms, 6*sec + 100*ms, 7*sec + 100*ms, 8*sec + 100*ms, 14*sec + 100*ms}},
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				exactly("open", 8*sec+100*ms), exactly("half-open", 13*sec+100*ms), exactly("open", 14*sec+100*ms),
				exactly("half-open", 19*sec+100*ms),
			}},
			// While open, calls fail at once (ServiceNotAvailableError), with no 100 ms wait:
			// +9..+13s and +15..+19s.
			{Kind: "steady-state", Label: "fail fast while open", From: 9 * sec, To: 14 * sec, MinSuccessRate: 0, MaxP99: ms, MinCalls: 5},
			{Kind: "errors", Action: "product.get", Error: "ServiceNotAvailableError", Min: 10, Max: f64(10)},
		},
	}
}

// DistributedTimeout: gateway → order.create (1 s budget) → product.get → product.reduceStock.
// order.create is slow to start (1.2 s): its nested calls find the budget spent and are
// skipped (514), while the gateway gets its 504 exactly at 1 s, by its own timer. The skip
// happens on order-1, 1.2 s after the call reached it: one network trip after +1s.
func DistributedTimeout() Scenario {
	skipAt, skipTolerance := span(2200*ms+oneWayMin, 2200*ms+oneWayMax)
	return Scenario{
		Name: "distributed-timeout", Seed: 4, Duration: 10 * sec,
		Description: "a 1 s budget runs out inside order.create: product.get is skipped (514), the gateway times out (504) at exactly 1 s",
		Config:      ServiceConfig{Products: widget, Users: []User{{Email: "ann@example.com", Password: "secret-1", Name: "Ann"}}},
		Nodes: []NodeSpec{
			{ID: "gateway", Options: NodeOptions{RequestTimeout: sec}},
			{ID: "order-1", Services: []string{"order", "user"}},
			{ID: "product-1", Services: []string{"product"}},
		},
		Workload: []WorkloadSpec{{Name: "place order", From: "gateway", Action: "order.create", Count: 1, Start: sec,
			Params: map[string]any{"productId": 1, "quantity": 1}, Meta: map[string]any{"token": "{{token}}"}}},
		Faults: []FaultSpec{{Name: "order.create is slow", Kind: "delay", Action: "order.create", Node: "order-1", Delay: 1200 * ms}},
		Checks: []CheckSpec{
			{Kind: "timeout", Action: "order.create", Budget: sec, Count: intp(1), At: []time.Duration{2 * sec}},
			{Kind: "skip", Action: "product.get", Count: intp(1), At: []time.Duration{skipAt}, Tolerance: skipTolerance},
			{Kind: "errors", Action: "order.create", Error: "RequestTimeoutError", Min: 1, Max: f64(1)},
		},
	}
}

// RetryBackoff: product.get fails twice with a retryable 503 and the third attempt succeeds,
// after 100 ms and 200 ms of backoff; then order.create under a timeout is retried 3 times
// and so executes 4 times: retry amplification, made visible. Each attempt times out 1 s
// after it started and the next waits 100, 200, 400 ms: timers at the gateway, exact.
func RetryBackoff() Scenario {
	return Scenario{
		Name: "retry-backoff", Seed: 5, Duration: 20 * sec,
		Description: "backoff of 100, 200 ms recovers a flaky read; retries under timeouts execute order.create 4 times",
		Config:      ServiceConfig{Products: widget, Users: []User{{Email: "ann@example.com", Password: "secret-1", Name: "Ann"}}},
		Nodes: []NodeSpec{
			{ID: "gateway", Options: NodeOptions{RequestTimeout: sec, Retry: &RetrySpec{Enabled: true, Retries: broker.Int(3), Delay: broker.Dur(100 * ms), Factor: broker.Float(2)}}},
			{ID: "order-1", Services: []string{"order", "user"}},
			{ID: "product-1", Services: []string{"product"}},
		},
		Workload: []WorkloadSpec{
			{Name: "flaky read", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1}, Count: 1, Start: sec},
			{Name: "slow order", From: "gateway", Action: "order.create", Count: 1, Start: 5 * sec,
				Params: map[string]any{"productId": 1, "quantity": 1}, Meta: map[string]any{"token": "{{token}}"}},
		},
		Faults: []FaultSpec{
			{Name: "503 twice", Kind: "error", Action: "product.get", Node: "product-1", FirstN: 2,
				Error: &ErrorSpec{Name: "MoleculerRetryableError", Message: "try again", Code: 503, Type: "UNAVAILABLE", Retryable: true}},
			{Name: "order.create is slow", Kind: "delay", Action: "order.create", Node: "order-1", Delay: 1500 * ms, Start: 4 * sec},
		},
		Checks: []CheckSpec{
			{Kind: "retries", Action: "product.get", Max: f64(2), Delays: []time.Duration{100 * ms, 200 * ms}},
			{Kind: "errors", Action: "product.get", Max: f64(0)},
			{Kind: "retries", Action: "order.create", Max: f64(3), Delays: []time.Duration{100 * ms, 200 * ms, 400 * ms}},
			{Kind: "timeout", Action: "order.create", Budget: sec, Count: intp(4),
				At: []time.Duration{6 * sec, 7*sec + 100*ms, 8*sec + 300*ms, 9*sec + 700*ms}},
			{Kind: "amplification", Action: "order.create", Max: f64(4)},
			// The retries as a tracer sees them: one trace, no more than four attempts.
			{Kind: "trace", Label: "order.create attempts (trace)", Action: "order.create", Max: f64(4), Min: 4},
		},
	}
}

// CrashFailover: product-1 crashes mid-request (no DISCONNECT). Its pending requests fail
// with RequestRejectedError when the heartbeat timeout expires, and the retry lands them on
// product-2: no call fails. The gateway loses product-1 3 s after the last packet it heard
// from it. product-1 takes every other call (+1.0s, +1.4s, ... +9.8s): the last reply it
// sends answers the +9.4s call 300 ms later, heard at +9.7s plus a round trip, and a
// heartbeat sent just before +10s is heard one trip later. So lost in [+12.7s + 2 trips,
// +13s + 1 trip], a trip being one packet's flight (0.5–2 ms).
func CrashFailover() Scenario {
	return Scenario{
		Name: "crash-failover", Seed: 6, Duration: 30 * sec,
		Description: "product-1 crashes with requests in flight; they are rejected at node loss and retried on product-2",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(retrying(heartbeats(3*sec), 0), heartbeats(3*sec)),
		Workload:    []WorkloadSpec{{Name: "reads", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1}, Rate: 5, Start: sec}},
		Faults: []FaultSpec{
			{Name: "slow reads", Kind: "delay", Action: "product.get", Delay: 300 * ms},
			{Name: "product-1 crashes", Kind: "crash", Node: "product-1", Start: 10 * sec},
		},
		Checks: []CheckSpec{
			{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
			{Kind: "errors", Action: "product.get", Max: f64(0)},
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{
				within("lost", 12700*ms+2*oneWayMin, 13*sec+oneWayMax),
			}},
		},
	}
}

// NodePause: product-1 is paused (no heartbeats, no processing, connection kept) for 15 s.
// The gateway loses it after the heartbeat timeout, routes everything to product-2, and
// takes product-1 back when it resumes. Until the loss, each call is tried on product-1
// first, times out after 500 ms and is retried on product-2: no call fails. Lost
// HeartbeatTimeout (5 s) after the last packet heard: product-1's reply to the +9s call, a
// round trip after it, or a heartbeat sent just before the pause at +10s, one trip after it:
// lost in [+14s + 2 trips, +15s + 1 trip]. At the resume its held heartbeat reaches the
// gateway, which asks for its INFO (DISCOVER, INFO): rejoined three trips after +25s.
func NodePause() Scenario {
	return Scenario{
		Name: "node-pause", Seed: 7, Duration: 40 * sec,
		Description: "product-1 pauses for 15 s: lost after the heartbeat timeout, back when it resumes",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(retrying(heartbeats(5*sec), 500*ms), heartbeats(5*sec)),
		Workload:    []WorkloadSpec{getWidget(sec, 0)},
		Faults:      []FaultSpec{{Name: "product-1 paused", Kind: "pause", Node: "product-1", Start: 10 * sec, Duration: 15 * sec}},
		Checks: []CheckSpec{
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{
				within("lost", 14*sec+2*oneWayMin, 15*sec+oneWayMax), within("joined", 25*sec+3*oneWayMin, 25*sec+3*oneWayMax),
			}},
			{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
		},
	}
}

// AsymmetricPartition: product-1's replies to the gateway are lost (requests still arrive,
// heartbeats still flow). The gateway's calls to it time out, the timeouts trip its breaker,
// and product-2 takes the load. The timeouts, the opening they cause and the half-open
// timers are the gateway's own, exact; each half-open comes 200 ms after a whole second's
// calls, so the next second carries the probe (+14s, +20s: timed out). After the heal, the
// +26s probe's reply closes the breaker a round trip later.
func AsymmetricPartition() Scenario {
	return Scenario{
		Name: "asymmetric-partition", Seed: 8, Duration: 30 * sec,
		Description: "RES from product-1 to the gateway is cut: timeouts, then the breaker opens, product-2 serves",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(NodeOptions{RequestTimeout: 200 * ms, CircuitBreaker: breaker()}, NodeOptions{}),
		Workload:    []WorkloadSpec{pairedReads(sec)},
		Faults: []FaultSpec{{Name: "replies lost", Kind: "asymmetric", From: []string{"product-1"}, To: []string{"gateway"},
			Types: []string{"RES"}, Start: 5 * sec, Duration: 20 * sec}},
		Checks: []CheckSpec{
			{Kind: "timeout", Action: "product.get", Budget: 200 * ms, Count: intp(6),
				At: []time.Duration{5*sec + 200*ms, 6*sec + 200*ms, 7*sec + 200*ms, 8*sec + 200*ms, 14*sec + 200*ms, 20*sec + 200*ms}},
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				exactly("open", 8*sec+200*ms), exactly("half-open", 13*sec+200*ms), exactly("open", 14*sec+200*ms),
				exactly("half-open", 19*sec+200*ms), exactly("open", 20*sec+200*ms), exactly("half-open", 25*sec+200*ms),
				roundTrip("closed", 26*sec),
			}},
			// Heartbeats still flow: the node is never lost, only its replies.
			{Kind: "membership", Node: "gateway", Peer: "product-1"},
			// Once open, only the probes fail.
			{Kind: "steady-state", Label: "after the breaker opened", From: 9 * sec, To: 25 * sec, MinSuccessRate: 0.9},
			{Kind: "steady-state", Label: "after the heal", From: 26 * sec, MinSuccessRate: 1},
		},
	}
}

// SymmetricPartition: the gateway and product-1 cannot reach each other for 20 s. The
// gateway loses product-1, serves from product-2, and rediscovers product-1 after the heal.
// Lost 4 s after the last packet heard before the split at +5s: a heartbeat sent after +3.5s
// (they are 0.5–1.5 s apart), one trip later: lost in [+7.5s + 1 trip, +9s + 1 trip].
// Rejoined when product-1's first heartbeat after the heal (sent in [+25s, +26.5s]) reaches
// the gateway, which asks for its INFO: three trips later.
func SymmetricPartition() Scenario {
	return Scenario{
		Name: "symmetric-partition", Seed: 9, Duration: 40 * sec,
		Description: "gateway ↮ product-1 for 20 s: lost, served by product-2, rediscovered after the heal",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(retrying(heartbeats(4*sec), 500*ms), heartbeats(4*sec)),
		Workload:    []WorkloadSpec{getWidget(sec, 0)},
		Faults: []FaultSpec{{Name: "split", Kind: "partition", A: []string{"gateway"}, B: []string{"product-1"},
			Start: 5 * sec, Duration: 20 * sec}},
		Checks: []CheckSpec{
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{
				within("lost", 7500*ms+oneWayMin, 9*sec+oneWayMax), within("joined", 25*sec+3*oneWayMin, 26500*ms+3*oneWayMax),
			}},
			{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
			{Kind: "steady-state", Label: "after the heal", From: 27 * sec, MinSuccessRate: 1, MaxP99: 10 * ms},
		},
	}
}

// CacheUnderPartition: two product nodes cache reads for 30 s. The price changes at +10s
// while EVENT packets to product-2 are lost, so product-2 misses the cache.clean.product
// broadcast and serves the old price until its entry expires: a stale window bounded by
// the TTL, measured to the nanosecond.
func CacheUnderPartition() Scenario {
	return Scenario{
		Name: "cache-under-partition", Seed: 10, Duration: 60 * sec,
		Description: "a lost cache.clean broadcast leaves product-2 stale until its 30 s TTL: the window is bounded",
		Config:      ServiceConfig{Products: widget, CacheTTL: 30 * sec},
		Nodes:       twoProducts(NodeOptions{}, NodeOptions{Cacher: "memory"}),
		Workload: []WorkloadSpec{
			getWidget(sec, 0),
			{Name: "price change", From: "gateway", Action: "product.update", NodeID: "product-1", Count: 1, Start: 10 * sec,
				Params: map[string]any{"id": 1, "price": 12}},
		},
		Faults: []FaultSpec{{Name: "events to product-2 lost", Kind: "loss", To: []string{"product-2"}, Types: []string{"EVENT"}, Rate: 1,
			Start: 5 * sec, Duration: 10 * sec}},
		Checks: []CheckSpec{
			{Kind: "cache-coherence", Action: "product.get", MaxStale: 30 * sec},
			{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
		},
	}
}

// BulkheadSaturation: product.get slows to 500 ms while 20 calls a second arrive; the
// bulkhead (2 running, 4 queued) sheds the excess with QueueIsFullError instead of piling
// up work, and recovers when the slowness ends.
func BulkheadSaturation() Scenario {
	return Scenario{
		Name: "bulkhead-saturation", Seed: 11, Duration: 20 * sec,
		Description: "a slow handler under 20 calls/s: 2 run, 4 queue, the rest get QueueIsFullError; recovery after",
		Config:      ServiceConfig{Products: widget},
		Nodes: []NodeSpec{
			{ID: "gateway"},
			{ID: "product-1", Services: []string{"product"}, Options: NodeOptions{Bulkhead: &BulkheadSpec{Enabled: true, Concurrency: broker.Int(2), MaxQueueSize: broker.Int(4)}}},
		},
		Workload: []WorkloadSpec{{Name: "reads", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1}, Rate: 20, Start: sec}},
		Faults:   []FaultSpec{{Name: "slow reads", Kind: "delay", Action: "product.get", Delay: 500 * ms, Start: 5 * sec, Duration: 5 * sec}},
		Checks: []CheckSpec{
			{Kind: "steady-state", Label: "before", To: 5 * sec, MinSuccessRate: 1},
			{Kind: "errors", Action: "product.get", Error: "QueueIsFullError", Min: 50},
			{Kind: "steady-state", Label: "during: only what fits is admitted", From: 5 * sec, To: 10 * sec, MinSuccessRate: 0.05, MaxP99: 3 * sec},
			{Kind: "steady-state", Label: "after", From: 12 * sec, MinSuccessRate: 1, MaxP99: 10 * ms},
		},
	}
}

// OrderFlow: the course's order flow under network latency, an order node crash (restarted
// 5 s later), a product node crash, and gateway retries. Every order has exactly one stock
// reduction, no idempotency key gives two orders, stock never goes negative, and every
// order.created reaches email and notification exactly once.
func OrderFlow() Scenario {
	hb := NodeOptions{HeartbeatInterval: sec, HeartbeatTimeout: 3 * sec}
	gw := hb
	gw.RequestTimeout = 2 * sec
	gw.Retry = &RetrySpec{Enabled: true, Retries: broker.Int(4), Delay: broker.Dur(200 * ms), MaxDelay: broker.Dur(2 * sec), Factor: broker.Float(2)}
	return Scenario{
		Name: "order-flow", Seed: 12, Duration: 40 * sec,
		Description: "orders under latency, an order-node crash and restart, a product-node crash and retries: every invariant holds",
		Config: ServiceConfig{Products: []Product{{Name: "widget", Price: 10, Stock: 150}},
			Users: []User{{Email: "ann@example.com", Password: "secret-1", Name: "Ann"}}},
		Network: NetworkSpec{Latency: 2 * ms},
		Nodes: []NodeSpec{
			{ID: "gateway", Options: gw},
			{ID: "users", Services: []string{"user"}, Options: hb},
			{ID: "order-1", Services: []string{"order"}, Options: hb},
			{ID: "order-2", Services: []string{"order"}, Options: hb},
			{ID: "product-1", Services: []string{"product"}, Options: hb},
			{ID: "product-2", Services: []string{"product"}, Options: hb},
			{ID: "mail", Services: []string{"email", "notification"}, Options: hb},
		},
		Workload: []WorkloadSpec{{Name: "orders", From: "gateway", Action: "order.create", Clients: 2, Rate: 2, Start: sec, Duration: 30 * sec,
			Params: map[string]any{"productId": 1, "quantity": 1, "idempotencyKey": "c{{client}}-{{i}}"}, Meta: map[string]any{"token": "{{token}}"}}},
		Faults: []FaultSpec{
			{Name: "latency", Kind: "latency", Delay: 5 * ms, Jitter: 5 * ms, Dist: "uniform"},
			{Name: "order-1 crashes", Kind: "crash", Node: "order-1", Start: 8 * sec, Duration: 5 * sec},
			{Name: "product-2 crashes", Kind: "crash", Node: "product-2", Start: 18 * sec},
			{Name: "slow reduce", Kind: "delay", Action: "product.reduceStock", Delay: 2500 * ms, Start: 22 * sec, Duration: 2 * sec},
		},
		Checks: []CheckSpec{
			{Kind: "stock-never-negative"},
			{Kind: "order-stock-reduction"},
			{Kind: "no-duplicate-orders"},
			{Kind: "handled-once-per-group", Event: "order.created", Groups: []string{"email", "notification"}},
			{Kind: "steady-state", Label: "after the faults", From: 26 * sec, MinSuccessRate: 1},
		},
	}
}
