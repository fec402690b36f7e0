package broker_test

import (
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

// Cases from issue 17: where Faultline did not match Moleculer 0.15's middlewares. Each test
// expects Moleculer's behaviour.

// TestPartialBulkheadOverrideKeepsBrokerBulkhead: the broker's bulkhead is on (queue of 2);
// an action overrides only its concurrency. Moleculer merges the override over the broker's
// options, so the bulkhead stays on with concurrency 3 and the broker's queue of 2: of 8
// simultaneous calls 3 run, 2 queue, 3 are refused.
func TestPartialBulkheadOverrideKeepsBrokerBulkhead(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	running, maxRunning := 0, 0
	n := c.MustAddNode("svc", broker.Options{Bulkhead: broker.BulkheadOptions{Enabled: broker.Bool(true), MaxQueueSize: broker.Int(2)}},
		&broker.Service{Name: "work", Actions: map[string]broker.Action{
			"do": {Bulkhead: &broker.BulkheadOptions{Concurrency: broker.Int(3)}, Handler: func(ctx *broker.Context) (any, error) {
				running++
				maxRunning = max(maxRunning, running)
				ctx.Broker().Runtime().Sleep(100 * time.Millisecond)
				running--
				return nil, nil
			}},
		}})
	results := make([]string, 8)
	c.Run(t, func() {
		require.NoError(t, c.Start())
		done := c.Sim.NewSignal("all calls")
		left := len(results)
		for i := range results {
			c.Sim.Go(fmt.Sprintf("call %d", i), func() {
				c.Sim.Sleep(time.Duration(i) * time.Microsecond)
				_, err := n.Call("work.do", nil)
				results[i] = errs.NameOf(err)
				if left--; left == 0 {
					done.Fire()
				}
			})
		}
		done.Wait()
	})
	assert.Equal(t, 3, maxRunning)
	assert.Equal(t, []string{"", "", "", "", "", "QueueIsFullError", "QueueIsFullError", "QueueIsFullError"}, results)
	assert.Len(t, c.Kinds(journal.BulkheadQueue), 2)
}

// TestPartialEventBulkheadOverride: the same for an event handler overriding its concurrency
// only: the broker's bulkhead stays on, one handler runs at a time.
func TestPartialEventBulkheadOverride(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	var started []time.Duration
	n := c.MustAddNode("svc", broker.Options{Bulkhead: broker.BulkheadOptions{Enabled: broker.Bool(true)}},
		&broker.Service{Name: "audit", Events: map[string]broker.Event{
			"order.created": {Bulkhead: &broker.BulkheadOptions{Concurrency: broker.Int(1)}, Handler: func(ctx *broker.Context) error {
				started = append(started, c.Sim.Elapsed())
				ctx.Broker().Runtime().Sleep(100 * time.Millisecond)
				return nil
			}},
		}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range 3 {
			require.NoError(t, n.Emit("order.created", nil))
		}
		c.Sim.Sleep(time.Second)
	})
	require.Len(t, started, 3)
	assert.Equal(t, []time.Duration{started[0], started[0] + 100*time.Millisecond, started[0] + 200*time.Millisecond}, started)
}

// TestCallFallbackAnswersBeforeActionFallback: with both a call's fallbackResponse and the
// action's fallback, Moleculer's Fallback middleware answers with the call's. Over the wire a
// fallbackResponse does not travel, so on a remote call the serving node's action fallback
// answers and the caller sees a success. Faultline's wider call-fallback coverage (no
// endpoint, open circuit) stays.
func TestCallFallbackAnswersBeforeActionFallback(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	fail := func(*broker.Context) (any, error) { return nil, errs.New("down", 500, "DOWN", nil) }
	svc := func() *broker.Service {
		return &broker.Service{Name: "rec", Actions: map[string]broker.Action{
			"list": {Handler: fail, Fallback: func(ctx *broker.Context, err error) (any, error) { return "action fallback", nil }},
		}}
	}
	local := c.MustAddNode("local", broker.Options{}, svc())
	client := c.MustAddNode("client", broker.Options{})
	c.MustAddNode("remote", broker.Options{}, &broker.Service{Name: "far", Actions: map[string]broker.Action{
		"list": {Handler: fail, Fallback: func(ctx *broker.Context, err error) (any, error) { return "remote action fallback", nil }},
	}})
	callFallback := broker.WithFallback(func(ctx *broker.Context, err error) (any, error) { return "call fallback: " + errs.NameOf(err), nil })
	c.Run(t, func() {
		require.NoError(t, c.Start())
		res, err := local.Call("rec.list", nil, callFallback)
		require.NoError(t, err)
		assert.Equal(t, "call fallback: MoleculerError", res, "local: the call's fallback first")
		res, err = local.Call("rec.list", nil, broker.WithFallback("call value"))
		require.NoError(t, err)
		assert.Equal(t, "call value", res)
		res, err = local.Call("rec.list", nil)
		require.NoError(t, err)
		assert.Equal(t, "action fallback", res, "no call fallback: the action's")
		res, err = client.Call("far.list", nil, callFallback)
		require.NoError(t, err)
		assert.Equal(t, "remote action fallback", res, "remote: the serving node's action fallback answers")
		res, err = client.Call("ghost.list", nil, callFallback)
		require.NoError(t, err)
		assert.Equal(t, "call fallback: ServiceNotFoundError", res, "Faultline: no endpoint")
	})
	var fellBack []bool
	for _, e := range c.Kinds(journal.CallFinished) {
		fellBack = append(fellBack, e.Bool("fallback"))
	}
	assert.Equal(t, []bool{true, true, false, false, true}, fellBack)
}

// TestRetryRunsInNewContext: Moleculer re-sends a retried call in ctx.copy(): a new ID, the
// same request ID, retryAttempts incremented. Locally the handler sees each attempt's
// context; remotely each attempt is a request of its own ID. The journal's retry.attempt
// names the logical call and the retry's context.
func TestRetryRunsInNewContext(t *testing.T) {
	type seen struct {
		id, requestID string
		retries       int
	}
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "remote"}[remote], func(t *testing.T) {
			c := testutil.NewSim(1)
			defer c.Close()
			var handler, caller []seen
			// A user middleware sits inside Retry, so it sees every attempt's context.
			spy := broker.Middleware{Name: "spy", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
				return func(ctx *broker.Context) (any, error) {
					if !ctx.Served() {
						caller = append(caller, seen{ctx.ID, ctx.RequestID, ctx.RetryAttempts()})
					}
					return next(ctx)
				}
			}}
			spy.RemoteAction = spy.LocalAction
			svc := &broker.Service{Name: "inv", Actions: map[string]broker.Action{
				"get": {Handler: func(ctx *broker.Context) (any, error) {
					handler = append(handler, seen{ctx.ID, ctx.RequestID, ctx.RetryAttempts()})
					if len(handler) <= 2 {
						return nil, errs.Retryable("try again", 503, "UNAVAILABLE", nil)
					}
					return "ok", nil
				}},
			}}
			opts := broker.Options{Middlewares: []broker.Middleware{spy},
				Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(3), Delay: broker.Dur(100 * time.Millisecond)}}
			var client *broker.Broker
			if remote {
				client = c.MustAddNode("client", opts)
				c.MustAddNode("svc", broker.Options{}, svc)
			} else {
				client = c.MustAddNode("client", opts, svc)
			}
			c.Run(t, func() {
				require.NoError(t, c.Start())
				res, err := client.Call("inv.get", nil, broker.WithRequestID("req-1"))
				require.NoError(t, err)
				assert.Equal(t, "ok", res)
			})
			require.Len(t, caller, 3)
			require.Len(t, handler, 3)
			started := c.Kinds(journal.CallStarted)
			require.Len(t, started, 1)
			first := started[0].Str("id")
			assert.Equal(t, first, caller[0].id, "the first attempt runs in the call's context")
			ids := map[string]bool{}
			for i, s := range caller {
				ids[s.id] = true
				assert.Equal(t, "req-1", s.requestID, "attempt %d keeps the request ID", i)
				assert.Equal(t, i, s.retries, "attempt %d: RetryAttempts", i)
				assert.Equal(t, s.id, handler[i].id, "attempt %d: the handler's context ID is the attempt's", i)
				assert.Equal(t, "req-1", handler[i].requestID)
			}
			assert.Len(t, ids, 3, "every attempt has a context ID of its own")
			if remote {
				// RetryAttempts is the caller's count: a REQ packet does not carry it.
				assert.Equal(t, []int{0, 0, 0}, []int{handler[0].retries, handler[1].retries, handler[2].retries})
			} else {
				assert.Equal(t, []int{0, 1, 2}, []int{handler[0].retries, handler[1].retries, handler[2].retries})
			}
			retries := c.Kinds(journal.RetryAttempt)
			require.Len(t, retries, 2)
			for i, r := range retries {
				assert.Equal(t, first, r.Str("call"), "retry %d names the logical call", i+1)
				assert.Equal(t, caller[i+1].id, r.Str("ctx"), "retry %d names its context", i+1)
				assert.Equal(t, i+1, r.Int("retry"))
			}
			fin := c.Kinds(journal.CallFinished)
			require.Len(t, fin, 1)
			assert.Equal(t, first, fin[0].Str("id"))
			assert.Equal(t, 2, fin[0].Int("retries"))
		})
	}
}

// TestRetryCheckSeesEveryFailure: Moleculer's retry middleware calls check on every failure,
// the last one (which reaches the limit) included, so a call with 2 retries that always fails
// is checked 3 times; a non-retryable error is checked once and not retried.
func TestRetryCheckSeesEveryFailure(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	var checked []string
	check := func(err error) bool { checked = append(checked, errs.NameOf(err)); return errs.IsRetryable(err) }
	attempts := 0
	n := c.MustAddNode("svc", broker.Options{Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(2), Check: check}},
		&broker.Service{Name: "inv", Actions: map[string]broker.Action{
			"get": {Handler: func(ctx *broker.Context) (any, error) {
				attempts++
				return nil, errs.Retryable("try again", 503, "UNAVAILABLE", nil)
			}},
			"bad": {Handler: func(ctx *broker.Context) (any, error) {
				attempts++
				return nil, errs.Client("no", 400, "BAD", nil)
			}},
		}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		_, err := n.Call("inv.get", nil)
		assert.Equal(t, "MoleculerRetryableError", errs.NameOf(err))
		assert.Equal(t, 3, attempts)
		assert.Equal(t, []string{"MoleculerRetryableError", "MoleculerRetryableError", "MoleculerRetryableError"}, checked)
		attempts, checked = 0, nil
		_, err = n.Call("inv.bad", nil)
		assert.Equal(t, "MoleculerClientError", errs.NameOf(err))
		assert.Equal(t, 1, attempts)
		assert.Equal(t, []string{"MoleculerClientError"}, checked)
	})
}

// TestBreakerIgnoresErrorsTheCheckRejects: Moleculer's breaker counts a success, or a failure
// the check accepts; an error the check rejects (a 422 under the default code >= 500) is not
// counted at all, neither as a failure nor as a success. With minRequestCount 3 and threshold
// 0.5, failures 500, 422, 422, 500 leave the breaker closed (2 counted, both failures, below
// the minimum) and the next 500 opens it with failures=3 count=3.
func TestBreakerIgnoresErrorsTheCheckRejects(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	codes := []int{500, 422, 422, 500, 500}
	i := 0
	client := c.MustAddNode("client", broker.Options{CircuitBreaker: breakerOpts})
	c.MustAddNode("inv", broker.Options{}, &broker.Service{Name: "inv", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			code := codes[i]
			i++
			return nil, errs.New("fails", code, "", nil)
		}},
	}})
	var states []string
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range codes {
			_, err := client.Call("inv.get", nil)
			states = append(states, fmt.Sprintf("%d %s", errs.Code(err), client.BreakerState("inv", "inv.get")))
		}
	})
	assert.Equal(t, []string{"500 closed", "422 closed", "422 closed", "500 closed", "500 open"}, states)
	assert.Equal(t, []string{"+0s inv:inv.get closed→open failures=3 count=3"}, transitions(c, "client"))
}
