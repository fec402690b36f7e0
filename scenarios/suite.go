package scenarios

import (
	"time"

	"github.com/faultline/faultline/broker"
)

const (
	ms  = time.Millisecond
	sec = time.Second
)

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

// getWidget reads product 1 once a second from the gateway.
func getWidget(start, duration time.Duration) WorkloadSpec {
	return WorkloadSpec{Name: "read widget", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1},
		Think: sec, Start: start, Duration: duration}
}

// Suite is Faultline's scenario suite: twelve resilience promises, each checked in virtual
// time. scenarios/testdata holds the same scenarios as files.
func Suite() []Scenario {
	return []Scenario{
		BreakerCycle(), Failover(), HungDependency(), DistributedTimeout(), RetryBackoff(), CrashFailover(),
		NodePause(), AsymmetricPartition(), SymmetricPartition(), CacheUnderPartition(), BulkheadSaturation(), OrderFlow(),
	}
}

// BreakerCycle: a product node fails from +5s to +20s. Its breaker opens, half-opens after
// 5 s, the probe fails and it opens again, and once the node is fixed a probe closes it.
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
				{To: "open", At: 8 * sec}, {To: "half-open", At: 13 * sec}, {To: "open", At: 13 * sec},
				{To: "half-open", At: 18 * sec}, {To: "open", At: 18 * sec}, {To: "half-open", At: 23 * sec}, {To: "closed", At: 23 * sec},
			}},
			{Kind: "errors", Action: "product.get", Error: "ServiceNotAvailableError", Min: 1},
			{Kind: "steady-state", Label: "after", From: 25 * sec, MinSuccessRate: 1},
		},
	}
}

// Failover: one of two product nodes breaks; its breaker opens and every later call is
// served by the healthy one — per endpoint, the healthy endpoint's breaker never moves.
func Failover() Scenario {
	return Scenario{
		Name: "failover", Seed: 2, Duration: 30 * sec,
		Description: "per-endpoint failover: product-1 breaks, its breaker opens, product-2 serves everything",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(NodeOptions{CircuitBreaker: breaker()}, NodeOptions{}),
		Workload:    []WorkloadSpec{pairedReads(sec)},
		Faults:      []FaultSpec{{Name: "product-1 fails", Kind: "error", Action: "product.get", Node: "product-1", Start: 5 * sec}},
		Checks: []CheckSpec{
			// The broken endpoint keeps being probed every halfOpenTime; each probe fails.
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				{To: "open", At: 8 * sec}, {To: "half-open", At: 13 * sec}, {To: "open", At: 13 * sec},
				{To: "half-open", At: 18 * sec}, {To: "open", At: 18 * sec}, {To: "half-open", At: 23 * sec}, {To: "open", At: 23 * sec},
				{To: "half-open", At: 28 * sec}, {To: "open", At: 28 * sec},
			}},
			{Kind: "breaker", Endpoint: "product-2:product.get", Node: "gateway"},
			// 4 failures open it (4 of 8 calls at +5..+8s); after that only the probes fail.
			{Kind: "errors", Action: "product.get", Error: "MoleculerError", Min: 8, Max: f64(8)},
			{Kind: "steady-state", Label: "after the breaker opened", From: 8*sec + ms, MinSuccessRate: 0.9},
		},
	}
}

// HungDependency: product-1 stops answering; with a 100 ms request timeout each call times
// out, the timeouts count as failures, the breaker opens, and calls then fail fast.
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
			// Four timeouts trip it (the successes before the fault count too); later, each
			// half-open probe times out and re-opens it.
			{Kind: "timeout", Action: "product.get", Budget: 100 * ms, Count: intp(6),
				At: []time.Duration{5*sec + 100*ms, 6*sec + 200*ms, 7*sec + 300*ms, 8*sec + 400*ms, 13*sec + 500*ms, 18*sec + 600*ms}},
			{Kind: "breaker", Endpoint: "product-1:product.get", Node: "gateway", Transitions: []TransitionAt{
				{To: "open", At: 8*sec + 400*ms}, {To: "half-open", At: 13*sec + 400*ms}, {To: "open", At: 13*sec + 500*ms},
				{To: "half-open", At: 18*sec + 500*ms}, {To: "open", At: 18*sec + 600*ms},
			}},
			// While open, calls fail at once (ServiceNotAvailableError), with no 100 ms wait.
			{Kind: "steady-state", Label: "fail fast while open", From: 8*sec + 500*ms, To: 13 * sec, MinSuccessRate: 0, MaxP99: ms, MinCalls: 4},
			{Kind: "errors", Action: "product.get", Error: "ServiceNotAvailableError", Min: 8},
		},
	}
}

// DistributedTimeout: gateway → order.create (1 s budget) → product.get → product.reduceStock.
// order.create is slow to start (1.2 s): its nested calls find the budget spent and are
// skipped (514), while the gateway gets its 504 exactly at 1 s.
func DistributedTimeout() Scenario {
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
			{Kind: "skip", Action: "product.get", Count: intp(1), At: []time.Duration{2*sec + 200*ms}},
			{Kind: "errors", Action: "order.create", Error: "RequestTimeoutError", Min: 1, Max: f64(1)},
		},
	}
}

// RetryBackoff: product.get fails twice with a retryable 503 and the third attempt succeeds,
// after 100 ms and 200 ms of backoff; then order.create under a timeout is retried 3 times
// and so executes 4 times: retry amplification, made visible.
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
			{Kind: "timeout", Action: "order.create", Budget: sec, Count: intp(4)},
			{Kind: "amplification", Action: "order.create", Max: f64(4)},
		},
	}
}

// CrashFailover: product-1 crashes mid-request (no DISCONNECT). Its pending requests fail
// with RequestRejectedError when the heartbeat timeout expires, and the retry lands them on
// product-2: no call fails.
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
			// Lost 3 s after its last heartbeat before the crash: in [+11.5s, +13s].
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{{To: "lost", At: 12*sec + 250*ms}}, Tolerance: 750 * ms},
		},
	}
}

// NodePause: product-1 is paused (no heartbeats, no processing, connection kept) for 15 s.
// The gateway loses it after the heartbeat timeout, routes everything to product-2, and
// takes product-1 back when it resumes.
func NodePause() Scenario {
	return Scenario{
		Name: "node-pause", Seed: 7, Duration: 40 * sec,
		Description: "product-1 pauses for 15 s: lost after the heartbeat timeout, back when it resumes",
		Config:      ServiceConfig{Products: widget},
		Nodes:       twoProducts(retrying(heartbeats(5*sec), 500*ms), heartbeats(5*sec)),
		Workload:    []WorkloadSpec{getWidget(sec, 0)},
		Faults:      []FaultSpec{{Name: "product-1 paused", Kind: "pause", Node: "product-1", Start: 10 * sec, Duration: 15 * sec}},
		Checks: []CheckSpec{
			// Lost HeartbeatTimeout (5 s) after the last packet heard, which the ±0.5 s heartbeat
			// jitter puts somewhere in the last 1.5 s before the pause: lost in [+13.5s, +15s].
			// Held packets are delivered at the resume: rejoined at +25s.
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{{To: "lost", At: 14*sec + 250*ms}, {To: "joined", At: 25 * sec}}, Tolerance: 750 * ms},
			{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
		},
	}
}

// AsymmetricPartition: product-1's replies to the gateway are lost (requests still arrive,
// heartbeats still flow). The gateway's calls to it time out, the timeouts trip its breaker,
// and product-2 takes the load.
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
				{To: "open", At: 8*sec + 200*ms}, {To: "half-open", At: 13*sec + 200*ms}, {To: "open", At: 14*sec + 200*ms},
				{To: "half-open", At: 19*sec + 200*ms}, {To: "open", At: 20*sec + 200*ms}, {To: "half-open", At: 25*sec + 200*ms},
				{To: "closed", At: 26 * sec},
			}},
			// Heartbeats still flow: the node is never lost, only its replies.
			{Kind: "membership", Node: "gateway", Peer: "product-1"},
			// Once open, only the probes fail.
			{Kind: "steady-state", Label: "after the breaker opened", From: 8*sec + 300*ms, To: 25 * sec, MinSuccessRate: 0.9},
			{Kind: "steady-state", Label: "after the heal", From: 26 * sec, MinSuccessRate: 1},
		},
	}
}

// SymmetricPartition: the gateway and product-1 cannot reach each other for 20 s. The
// gateway loses product-1, serves from product-2, and rediscovers product-1 after the heal.
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
			// Lost 4 s after the last packet before the split: in [+7.5s, +9s]. Rejoined at
			// product-1's first heartbeat after the heal: in [+25s, +26.5s].
			{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []TransitionAt{{To: "lost", At: 8*sec + 250*ms}, {To: "joined", At: 25*sec + 750*ms}}, Tolerance: 750 * ms},
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
