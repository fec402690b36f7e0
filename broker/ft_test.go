package broker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/testutil"
)

var breakerOpts = broker.CircuitBreakerOptions{Enabled: broker.Bool(true), Threshold: broker.Float(0.5), MinRequestCount: broker.Int(3), WindowTime: broker.Dur(60 * time.Second), HalfOpenTime: broker.Dur(5 * time.Second)}

// invService serves inv.get; while *broken it fails with a 500.
func invService(broken *bool) *broker.Service {
	return &broker.Service{Name: "inv", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			if broken != nil && *broken {
				return nil, errs.New("inventory broken", 500, "BROKEN", nil)
			}
			return ctx.Broker().NodeID(), nil
		}},
	}}
}

// cbEvents records $circuit-breaker.* events seen by a node, with their virtual time.
func cbEvents(c *testutil.Cluster, b *broker.Broker) *[]string {
	var seen []string
	record := func(ctx *broker.Context) error {
		p := ctx.Params
		s := fmt.Sprintf("+%s %s %v %v", c.Sim.Elapsed(), ctx.Event, p["nodeID"], p["action"])
		if ctx.Event == "$circuit-breaker.opened" {
			s += fmt.Sprintf(" failures=%v count=%v rate=%v", p["failures"], p["count"], p["rate"])
		}
		seen = append(seen, s)
		return nil
	}
	b.MustAddService(&broker.Service{Name: "cbwatch", Events: map[string]broker.Event{"$circuit-breaker.*": {Handler: record}}})
	return &seen
}

func transitions(c *testutil.Cluster, node string) []string {
	var out []string
	for _, e := range c.Kinds(journal.BreakerChange) {
		if e.Node == node {
			out = append(out, fmt.Sprintf("+%s %s %s→%s failures=%d count=%d", e.T, e.Str("endpoint"), e.Str("from"), e.Str("to"), e.Int("failures"), e.Int("count")))
		}
	}
	return out
}

func TestBreakerWithHealthyPeer(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	broken := true
	opts := broker.Options{CircuitBreaker: breakerOpts}
	client := c.MustAddNode("client", opts)
	c.MustAddNode("broken-node", opts, invService(&broken))
	healthy := c.MustAddNode("healthy-node", opts, invService(nil))
	clientSeen := cbEvents(c, client)
	peerSeen := cbEvents(c, healthy)

	var served []string
	call := func() {
		res, err := client.Call("inv.get", nil)
		if err != nil {
			served = append(served, fmt.Sprintf("+%s error %s", c.Sim.Elapsed(), errs.NameOf(err)))
			return
		}
		served = append(served, fmt.Sprintf("+%s %s", c.Sim.Elapsed(), res))
	}
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range 12 { // 12 sequential calls, one a second
			call()
			c.Sim.Sleep(time.Second)
		}
		call() // +12s

		c.Sim.Sleep(time.Second)
		broken = false
		c.Sim.Sleep(5 * time.Second) // half-open again at +17s
		call()                       // +18s
		c.Sim.Sleep(time.Second)
		call()
		c.Sim.Sleep(time.Second)
	})
	// Endpoints are in node ID order (broken-node before healthy-node) whatever the seed, so
	// RoundRobin starts on broken-node.
	assert.Equal(t, []string{
		"+0s error MoleculerError", "+1s healthy-node", "+2s error MoleculerError", "+3s healthy-node",
		"+4s error MoleculerError", // the broken endpoint's third failure opens it
		"+5s healthy-node", "+6s healthy-node", "+7s healthy-node", "+8s healthy-node", "+9s healthy-node",
		"+10s error MoleculerError", // half-open since +9s: this call is the probe, and fails
		"+11s healthy-node", "+12s healthy-node",
		"+18s healthy-node", // fixed, half-open since +15s: RoundRobin's turn is healthy-node's
		"+19s broken-node",  // the probe closes it
	}, served)
	assert.Equal(t, []string{
		"+4s broken-node:inv.get closed→open failures=3 count=3",
		"+9s broken-node:inv.get open→half-open failures=3 count=3",
		"+10s broken-node:inv.get half-open→half-open-wait failures=3 count=3",
		"+10s broken-node:inv.get half-open-wait→open failures=4 count=4",
		"+15s broken-node:inv.get open→half-open failures=4 count=4",
		"+19s broken-node:inv.get half-open→half-open-wait failures=4 count=4",
		"+19s broken-node:inv.get half-open-wait→closed failures=4 count=5",
	}, transitions(c, "client"))
	want := []string{
		"+4s $circuit-breaker.opened broken-node inv.get failures=3 count=3 rate=1",
		"+9s $circuit-breaker.half-opened broken-node inv.get",
		"+10s $circuit-breaker.opened broken-node inv.get failures=4 count=4 rate=1",
		"+15s $circuit-breaker.half-opened broken-node inv.get",
		"+19s $circuit-breaker.closed broken-node inv.get",
	}
	assert.Equal(t, want, *clientSeen)
	assert.Equal(t, want, *peerSeen, "breaker events are broadcast to every node")
}

func TestBreakerAlone(t *testing.T) {
	t.Run("calls 4+ fail with ServiceNotAvailableError", func(t *testing.T) {
		c := testutil.NewSim(1)
		defer c.Close()
		broken := true
		client := c.MustAddNode("client", broker.Options{CircuitBreaker: breakerOpts})
		c.MustAddNode("broken-node", broker.Options{}, invService(&broken))
		var got []string
		c.Run(t, func() {
			require.NoError(t, c.Start())
			for range 6 {
				_, err := client.Call("inv.get", nil)
				e := errs.From(err)
				got = append(got, fmt.Sprintf("%s %d %s", e.Name, e.Code, e.Type))
			}
		})
		assert.Equal(t, []string{
			"MoleculerError 500 BROKEN", "MoleculerError 500 BROKEN", "MoleculerError 500 BROKEN",
			"ServiceNotAvailableError 404 SERVICE_NOT_AVAILABLE", "ServiceNotAvailableError 404 SERVICE_NOT_AVAILABLE",
			"ServiceNotAvailableError 404 SERVICE_NOT_AVAILABLE",
		}, got)
	})
	t.Run("an error without a code never opens it", func(t *testing.T) {
		c := testutil.NewSim(1)
		defer c.Close()
		client := c.MustAddNode("client", broker.Options{CircuitBreaker: breakerOpts})
		c.MustAddNode("plain-node", broker.Options{}, &broker.Service{Name: "inv", Actions: map[string]broker.Action{
			"get": {Handler: func(*broker.Context) (any, error) { return nil, errors.New("no code") }},
		}})
		c.Run(t, func() {
			require.NoError(t, c.Start())
			for range 20 {
				_, err := client.Call("inv.get", nil)
				assert.Equal(t, "Error", errs.NameOf(err))
			}
		})
		assert.Empty(t, c.Kinds(journal.BreakerChange))
	})
	t.Run("counts reset at each window boundary", func(t *testing.T) {
		c := testutil.NewSim(1)
		defer c.Close()
		broken := true
		client := c.MustAddNode("client", broker.Options{CircuitBreaker: breakerOpts})
		c.MustAddNode("broken-node", broker.Options{}, invService(&broken))
		c.Run(t, func() {
			require.NoError(t, c.Start())
			c.Sim.Sleep(58 * time.Second)
			_, _ = client.Call("inv.get", nil) // +58s
			c.Sim.Sleep(time.Second)
			_, _ = client.Call("inv.get", nil) // +59s: 2 of 3
			c.Sim.Sleep(2 * time.Second)       // the window closes at +60s: counts reset
			_, _ = client.Call("inv.get", nil) // +61s: 1 of 3
			_, _ = client.Call("inv.get", nil) // 2 of 3
			assert.Empty(t, c.Kinds(journal.BreakerChange))
			_, _ = client.Call("inv.get", nil) // 3 of 3: opens
		})
		assert.Equal(t, []string{"+1m1s broken-node:inv.get closed→open failures=3 count=3"}, transitions(c, "client"))
	})
}

func TestHungDependencyTripsBreaker(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	opts := broker.Options{RequestTimeout: 100 * time.Millisecond, CircuitBreaker: breakerOpts}
	client := c.MustAddNode("client", opts)
	c.MustAddNode("hung-node", opts, &broker.Service{Name: "inv", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) { ctx.Broker().Runtime().Sleep(time.Hour); return nil, nil }},
	}})
	var got []string
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range 5 {
			start := c.Sim.Elapsed()
			_, err := client.Call("inv.get", nil)
			got = append(got, fmt.Sprintf("+%s..+%s %s", start, c.Sim.Elapsed(), errs.NameOf(err)))
		}
		c.Sim.Sleep(time.Millisecond)
	})
	assert.Equal(t, []string{
		"+0s..+100ms RequestTimeoutError",
		"+100ms..+200ms RequestTimeoutError",
		"+200ms..+300ms RequestTimeoutError",
		"+300ms..+300ms ServiceNotAvailableError", // fails fast: no 100 ms wait
		"+300ms..+300ms ServiceNotAvailableError",
	}, got)
	assert.Equal(t, []string{"+300ms hung-node:inv.get closed→open failures=3 count=3"}, transitions(c, "client"))
	timeouts := c.Kinds(journal.ReqTimeout)
	require.Len(t, timeouts, 6) // 3 on the caller, 3 on the serving node (nobody waits for those)
}

// orderChain is the distributed-timeout setup: gateway → order.create, which sleeps, calls
// product.get, sleeps, calls product.reserve. The handler ignores its context while sleeping,
// as Moleculer handlers do.
func orderChain(c *testutil.Cluster, sleep time.Duration, gatewayOpts broker.Options) (*broker.Broker, *[]string) {
	var log []string
	note := func(ctx *broker.Context, what string) {
		dl, _ := ctx.Deadline()
		log = append(log, fmt.Sprintf("+%s %s budget=%s", c.Sim.Elapsed(), what, dl.Sub(ctx.Now())))
	}
	gw := c.MustAddNode("gateway", gatewayOpts)
	c.MustAddNode("order", broker.Options{}, &broker.Service{Name: "order", Actions: map[string]broker.Action{
		"create": {Handler: func(ctx *broker.Context) (any, error) {
			note(ctx, "order.create")
			ctx.Broker().Runtime().Sleep(sleep)
			if _, err := ctx.Call("product.get", nil); err != nil {
				return nil, err
			}
			ctx.Broker().Runtime().Sleep(sleep)
			if _, err := ctx.Call("product.reserve", nil); err != nil {
				log = append(log, fmt.Sprintf("+%s product.reserve %s %d", c.Sim.Elapsed(), errs.NameOf(err), errs.CodeOf(err)))
				return nil, err
			}
			return "ok", nil
		}},
	}})
	c.MustAddNode("product", broker.Options{}, &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get":     {Handler: func(ctx *broker.Context) (any, error) { note(ctx, "product.get"); return 1, nil }},
		"reserve": {Handler: func(ctx *broker.Context) (any, error) { note(ctx, "product.reserve"); return 1, nil }},
	}})
	return gw, &log
}

func TestDistributedTimeout(t *testing.T) {
	t.Run("nested calls get the remaining budget", func(t *testing.T) {
		c := testutil.NewSim(1)
		defer c.Close()
		gw, log := orderChain(c, 400*time.Millisecond, broker.Options{RequestTimeout: time.Second})
		c.Run(t, func() {
			require.NoError(t, c.Start())
			res, err := gw.Call("order.create", nil)
			require.NoError(t, err)
			assert.Equal(t, "ok", res)
		})
		assert.Equal(t, []string{
			"+0s order.create budget=1s",
			"+400ms product.get budget=600ms",
			"+800ms product.reserve budget=200ms",
		}, *log)
	})
	t.Run("a spent budget skips the call (514) and the caller times out at 1000 ms (504)", func(t *testing.T) {
		c := testutil.NewSim(1)
		defer c.Close()
		gw, log := orderChain(c, 600*time.Millisecond, broker.Options{RequestTimeout: time.Second})
		var err error
		var at time.Duration
		c.Run(t, func() {
			require.NoError(t, c.Start())
			_, err = gw.Call("order.create", nil)
			at = c.Sim.Elapsed()
			c.Sim.Sleep(time.Second) // let order.create finish its doomed work
		})
		var e *errs.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "RequestTimeoutError", e.Name)
		assert.Equal(t, 504, e.Code)
		assert.Equal(t, map[string]any{"action": "order.create", "nodeID": "order"}, e.Data)
		assert.Equal(t, time.Second, at, "the caller gets 504 exactly at its deadline")
		assert.Equal(t, []string{
			"+0s order.create budget=1s",
			"+600ms product.get budget=400ms",
			"+1.2s product.reserve RequestSkippedError 514",
		}, *log)
		skipped := c.Kinds(journal.ReqSkipped)
		require.Len(t, skipped, 1)
		assert.Equal(t, 1200*time.Millisecond, skipped[0].T)
		assert.Equal(t, "product.reserve", skipped[0].Str("action"))
		// The serving node enforces the same budget: at 1000 ms it answers with its own timeout,
		// which nobody waits for any more; at 1200 ms the handler's late result is dropped too.
		orphans := c.Kinds(journal.ResOrphan)
		require.Len(t, orphans, 2)
		assert.Equal(t, "gateway", orphans[0].Node)
		assert.Equal(t, time.Second, orphans[0].T)
		assert.Equal(t, "order", orphans[1].Node)
		assert.Equal(t, 1200*time.Millisecond, orphans[1].T)
		assert.Equal(t, 200*time.Millisecond, orphans[1].Dur("late"))
	})
}

func TestRetryBackoff(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	client := c.MustAddNode("client", broker.Options{Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(3), Delay: broker.Dur(100 * time.Millisecond), Factor: broker.Float(2)}})
	var attempts []time.Duration
	c.MustAddNode("flaky", broker.Options{}, &broker.Service{Name: "inv", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			attempts = append(attempts, c.Sim.Elapsed())
			if len(attempts) <= 2 {
				return nil, errs.Retryable("try again", 503, "UNAVAILABLE", nil)
			}
			return "ok", nil
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := client.Call("inv.get", nil)
		require.NoError(t, err)
		assert.Equal(t, "ok", res)
	})
	assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}, attempts)
	var delays []time.Duration
	for _, e := range c.Kinds(journal.RetryAttempt) {
		delays = append(delays, e.Dur("delay"))
	}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, delays)
	fin := c.Kinds(journal.CallFinished)
	require.Len(t, fin, 1)
	assert.Equal(t, 2, fin[0].Int("retries"))
}

func TestRetryAmplificationUnderTimeouts(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	gw, _ := orderChain(c, 600*time.Millisecond, broker.Options{RequestTimeout: time.Second,
		Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(3), Delay: broker.Dur(100 * time.Millisecond), Factor: broker.Float(2)}})
	var err error
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err = gw.Call("order.create", nil)
		c.Sim.Sleep(2 * time.Second)
	})
	assert.Equal(t, "RequestTimeoutError", errs.NameOf(err))
	var runs []time.Duration
	for _, e := range c.Kinds(journal.ActionRun) {
		if e.Str("action") == "order.create" {
			runs = append(runs, e.T)
		}
	}
	// One logical call, four executions of a non-idempotent action: attempts at 0, then each
	// 1000 ms timeout plus the backoff (100, 200, 400 ms).
	assert.Equal(t, []time.Duration{0, 1100 * time.Millisecond, 2300 * time.Millisecond, 3700 * time.Millisecond}, runs)
	assert.Len(t, c.Kinds(journal.RetryAttempt), 3)
}

func TestRetryFailoverAfterNodeLoss(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	hb := broker.Options{HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second}
	clientOpts := hb
	clientOpts.Retry = retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(2), Delay: broker.Dur(100 * time.Millisecond)}
	client := c.MustAddNode("client", clientOpts)
	hang := func(ctx *broker.Context) (any, error) { ctx.Broker().Runtime().Sleep(time.Hour); return "never", nil }
	c.MustAddNode("doomed", hb, &broker.Service{Name: "inv", Actions: map[string]broker.Action{"get": {Handler: hang}}})
	c.MustAddNode("survivor", hb, invService(nil))
	var res any
	var err error
	c.Run(t, func() {
		require.NoError(t, c.Start())
		// Endpoints are in node ID order, so RoundRobin's first attempt lands on "doomed",
		// whatever the seed.
		c.Sim.Go("crash", func() { c.Sim.Sleep(500 * time.Millisecond); c.Node("doomed").Crash() })
		res, err = client.Call("inv.get", nil)
	})
	require.NoError(t, err)
	assert.Equal(t, "survivor", res)
	retries := c.Kinds(journal.RetryAttempt)
	require.Len(t, retries, 1)
	assert.Equal(t, "RequestRejectedError", retries[0].Str("error"))
	assert.Equal(t, "doomed", retries[0].Str("failedOn"))
}

func TestBulkheadSaturation(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	var order []int
	running, maxRunning := 0, 0
	n := c.MustAddNode("svc", broker.Options{Bulkhead: broker.BulkheadOptions{Enabled: broker.Bool(true), Concurrency: broker.Int(3), MaxQueueSize: broker.Int(10)}},
		&broker.Service{Name: "work", Actions: map[string]broker.Action{
			"do": {Handler: func(ctx *broker.Context) (any, error) {
				running++
				maxRunning = max(maxRunning, running)
				order = append(order, int(ctx.Params["i"].(int)))
				ctx.Broker().Runtime().Sleep(100 * time.Millisecond)
				running--
				return nil, nil
			}},
		}})
	results := make([]string, 20)
	c.Run(t, func() {
		require.NoError(t, c.Start())
		done := c.Sim.NewSignal("all calls")
		left := 20
		for i := range 20 {
			c.Sim.Go(fmt.Sprintf("call %d", i), func() {
				c.Sim.Sleep(time.Duration(i) * time.Microsecond) // arrive in order
				_, err := n.Call("work.do", map[string]any{"i": i})
				results[i] = errs.NameOf(err)
				if left--; left == 0 {
					done.Fire()
				}
			})
		}
		done.Wait()
	})
	full := 0
	for _, r := range results {
		if r == "QueueIsFullError" {
			full++
		}
	}
	assert.Equal(t, 7, full)
	assert.Equal(t, 3, maxRunning)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, order, "queued calls run in FIFO order")
	assert.Len(t, c.Kinds(journal.BulkheadQueue), 10)
	assert.Len(t, c.Kinds(journal.BulkheadFull), 7)
	for _, r := range results[13:] {
		assert.Equal(t, "QueueIsFullError", r)
	}
}

func TestFallbacks(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	fail := func(*broker.Context) (any, error) { return nil, errs.New("down", 500, "DOWN", nil) }
	client := c.MustAddNode("client", broker.Options{})
	c.MustAddNode("svc", broker.Options{}, &broker.Service{Name: "rec",
		Methods: map[string]func(*broker.Context, error) (any, error){
			"cachedList": func(ctx *broker.Context, err error) (any, error) { return "from method: " + errs.NameOf(err), nil },
		},
		Actions: map[string]broker.Action{
			"plain":      {Handler: fail},
			"withFunc":   {Handler: fail, Fallback: func(ctx *broker.Context, err error) (any, error) { return "from func", nil }},
			"withMethod": {Handler: fail, Fallback: "cachedList"},
		}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := client.Call("rec.plain", nil, broker.WithFallback("default value"))
		require.NoError(t, err)
		assert.Equal(t, "default value", res)
		res, err = client.Call("rec.plain", nil, broker.WithFallback(func(ctx *broker.Context, err error) (any, error) {
			return "call func saw " + errs.NameOf(err), nil
		}))
		require.NoError(t, err)
		assert.Equal(t, "call func saw MoleculerError", res)
		res, err = client.Call("rec.withFunc", nil)
		require.NoError(t, err)
		assert.Equal(t, "from func", res)
		res, err = client.Call("rec.withMethod", nil)
		require.NoError(t, err)
		assert.Equal(t, "from method: MoleculerError", res)
		_, err = client.Call("rec.plain", nil)
		assert.Equal(t, "MoleculerError", errs.NameOf(err), "no fallback when none is set")
		// Faultline: a call's fallbackResponse also answers "no endpoint".
		res, err = client.Call("ghost.action", nil, broker.WithFallback("no such service"))
		require.NoError(t, err)
		assert.Equal(t, "no such service", res)
	})
	var fellBack int
	for _, e := range c.Kinds(journal.CallFinished) {
		if e.Bool("fallback") {
			fellBack++
		}
	}
	assert.Equal(t, 3, fellBack)
}

func TestUserMiddlewareWrapsInsideBuiltins(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	var trace []string
	mw := broker.Middleware{Name: "trace", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		return func(ctx *broker.Context) (any, error) {
			trace = append(trace, "before "+ep.Action)
			res, err := next(ctx)
			trace = append(trace, "after "+ep.Action)
			return res, err
		}
	}}
	n := c.MustAddNode("a", broker.Options{Middlewares: []broker.Middleware{mw}}, &broker.Service{Name: "s", Actions: map[string]broker.Action{
		"v": {Params: map[string]any{"x": "number"}, Handler: func(*broker.Context) (any, error) { trace = append(trace, "handler"); return 1, nil }},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := n.Call("s.v", map[string]any{"x": 1})
		require.NoError(t, err)
		_, err = n.Call("s.v", map[string]any{"x": "no"})
		assert.ErrorIs(t, err, errs.ErrValidation)
	})
	// The second call never reached the user middleware: the validator sits outside it.
	assert.Equal(t, []string{"before s.v", "handler", "after s.v"}, trace)
}
