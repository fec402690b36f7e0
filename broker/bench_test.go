package broker_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/testutil"
)

var addService = &broker.Service{Name: "math", Actions: map[string]broker.Action{
	"add": {Params: map[string]any{"a": "number", "b": "number"},
		Handler: func(ctx *broker.Context) (any, error) {
			return ctx.Params["a"].(float64) + ctx.Params["b"].(float64), nil
		}},
}}

func benchCalls(b *testing.B, c *testutil.Cluster, from *broker.Broker) {
	params := map[string]any{"a": 1.0, "b": 2.0}
	b.ReportAllocs()
	c.Run(b, func() {
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := from.Call("math.add", params); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLocalCall: a bare local call (validator on, nothing else) in the simulator.
func BenchmarkLocalCall(b *testing.B) {
	c := testutil.NewSim(1)
	defer c.Close()
	n := c.MustAddNode("a", broker.Options{}, addService)
	benchCalls(b, c, n)
}

// BenchmarkLocalCallRealRuntime: the same call on goroutines and the wall clock.
func BenchmarkLocalCallRealRuntime(b *testing.B) {
	n := broker.MustNew(broker.Options{Runtime: rt.NewReal(), NodeID: "a"})
	n.MustAddService(addService)
	if err := n.Start(); err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	params := map[string]any{"a": 1.0, "b": 2.0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Call("math.add", params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoteCallInMemory: a call to another node over the simulated network (JSON both
// ways, journal on).
func BenchmarkRemoteCallInMemory(b *testing.B) {
	c := testutil.NewSim(1)
	defer c.Close()
	caller := c.MustAddNode("caller", broker.Options{})
	c.MustAddNode("server", broker.Options{}, addService)
	benchCalls(b, c, caller)
}

// BenchmarkLocalCallFullStack: a local call through every middleware enabled — timeout,
// retry, circuit breaker, bulkhead, cacher (a miss-free hit path is not measured: keys vary),
// validator — next to BenchmarkLocalCall.
func BenchmarkLocalCallFullStack(b *testing.B) {
	c := testutil.NewSim(1)
	defer c.Close()
	n := c.MustAddNode("a", broker.Options{
		RequestTimeout: 5 * time.Second,
		Retry:          retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(3)},
		CircuitBreaker: broker.CircuitBreakerOptions{Enabled: broker.Bool(true)},
		Bulkhead:       broker.BulkheadOptions{Enabled: broker.Bool(true)},
		Cacher:         cache.NewMemory(c.Sim),
	}, &broker.Service{Name: "math", Actions: map[string]broker.Action{
		"add": {Params: addService.Actions["add"].Params, Handler: addService.Actions["add"].Handler,
			Cache: &broker.CacheOptions{Keys: []string{"a", "b"}, TTL: broker.Dur(time.Nanosecond)}},
	}})
	benchCalls(b, c, n)
}
