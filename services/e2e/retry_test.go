package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/transport/memnet"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/testutil"
)

// afterRetrySafety checks the end state of one order of 2 from a stock of 50.
func (s *shop) afterRetrySafety(t *testing.T) {
	assert.Equal(t, 1, s.count(order.Model), "orders")
	assert.Equal(t, 1, s.count(product.OpsModel), "stock reductions")
	assert.Equal(t, int64(48), s.stock(1))
	assert.Equal(t, 1, s.Outbox(mailer.Email).Count("order.created"))
	assert.Equal(t, 1, s.Outbox(mailer.Notification).Count("order.created"))
}

// TestRetriedCreateWithOneKey: order.create sent 4 times with one idempotency key, from
// different nodes, returns the first order each time and leaves 1 order and 1 stock reduction.
func TestRetriedCreateWithOneKey(t *testing.T) {
	s := newShop(t, 7)
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		var first map[string]any
		for i, node := range []string{"gateway", "users", "products-1", "gateway"} {
			o := s.must(node, "order.create", map[string]any{"productId": p["id"], "quantity": 2, "idempotencyKey": "checkout-1"}, withToken(tok))
			if i == 0 {
				first = o
				continue
			}
			assert.Equal(t, first, o, "attempt %d returns the first order", i+1)
		}
		s.settle()
	})
	s.afterRetrySafety(t)
}

// TestConcurrentCreatesWithOneKey: 4 simultaneous creates with one key make one order.
func TestConcurrentCreatesWithOneKey(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newShop(t, seed)
			s.run(func() {
				p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
				tok := s.registerAndLogin("gateway", "ada@example.com")
				ids := make([]any, 4)
				errs := make([]error, 4)
				var done []interface{ Wait() }
				for i, node := range []string{"gateway", "users", "products-1", "products-2"} {
					done = append(done, s.Go("client "+node, func() {
						res, err := s.call(node, "order.create", map[string]any{"productId": p["id"], "quantity": 2, "idempotencyKey": "k"}, withToken(tok))
						errs[i] = err
						if err == nil {
							var m map[string]any
							_ = broker.Decode(res, &m)
							ids[i] = m["id"]
						}
					}))
				}
				for _, d := range done {
					d.Wait()
				}
				for i := range 4 {
					require.NoError(t, errs[i])
					assert.Equal(t, ids[0], ids[i])
				}
				s.settle()
			})
			s.afterRetrySafety(t)
		})
	}
}

// slowFirst delays the first response of an action on one node by d (the handler has run:
// its effect is done, the answer comes too late), as a hung network or GC pause would.
func slowFirst(action string, d time.Duration) broker.Middleware {
	n := 0
	return broker.Middleware{Name: "slow-first", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		if ep.Action != action {
			return next
		}
		return func(ctx *broker.Context) (any, error) {
			res, err := next(ctx)
			n++
			if n == 1 {
				ctx.Broker().Runtime().Sleep(d)
			}
			return res, err
		}
	}}
}

// TestRetryAfterStockReducedButOrderNotPersisted is the case the idempotency design is for:
// the first attempt reduces the stock, then its reduceStock answer comes too late, so the
// attempt fails before persisting its order; the gateway's retry policy re-sends
// order.create 4 times at most. The retry's reduction is a replay (no-op) and it persists
// the one order.
func TestRetryAfterStockReducedButOrderNotPersisted(t *testing.T) {
	s := newShop(t, 9, func(spec *testutil.Spec) {
		for i := range spec.Nodes {
			switch spec.Nodes[i].ID {
			case "gateway":
				spec.Nodes[i].Options = broker.Options{RequestTimeout: time.Second,
					Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(4), Delay: broker.Dur(100 * time.Millisecond), MaxDelay: broker.Dur(time.Second), Factor: broker.Float(2)}}
			case "products-1", "products-2":
				spec.Nodes[i].Options = broker.Options{Middlewares: []broker.Middleware{slowFirst("product.reduceStock", 5*time.Second)}}
			}
		}
	})
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		o := s.must("gateway", "order.create", map[string]any{"productId": p["id"], "quantity": 2, "idempotencyKey": "checkout-1"}, withToken(tok))
		assert.Equal(t, "checkout-1", o["idempotencyKey"])
		s.Sleep(10 * time.Second) // the late answers arrive and are dropped
	})
	var retries int
	for _, e := range s.Kinds(journal.RetryAttempt) {
		if e.Str("action") == "order.create" {
			retries++
		}
	}
	assert.Positive(t, retries, "the gateway retried order.create")
	reduces := 0
	for _, e := range s.Kinds(journal.ActionRun) {
		if e.Str("action") == "product.reduceStock" {
			reduces++
		}
	}
	assert.GreaterOrEqual(t, reduces, 2, "reduceStock ran again on the retry")
	s.afterRetrySafety(t)
}

// TestRetryPolicyResendsCreateFourTimes: a gateway whose first 4 order.create answers are
// too late (each attempt did create: the order is persisted, the answer lost) re-sends it;
// every attempt returns the same order.
func TestRetryPolicyResendsCreateFourTimes(t *testing.T) {
	late := 0
	lateAnswers := broker.Middleware{Name: "late-answers", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		if ep.Action != "order.create" {
			return next
		}
		return func(ctx *broker.Context) (any, error) {
			res, err := next(ctx)
			if late < 4 {
				late++
				ctx.Broker().Runtime().Sleep(3 * time.Second)
			}
			return res, err
		}
	}}
	s := newShop(t, 13, func(spec *testutil.Spec) {
		for i := range spec.Nodes {
			switch spec.Nodes[i].ID {
			case "gateway":
				spec.Nodes[i].Options = broker.Options{RequestTimeout: time.Second,
					Retry: retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(4), Delay: broker.Dur(100 * time.Millisecond), MaxDelay: broker.Dur(time.Second), Factor: broker.Float(2)}}
			case "orders":
				spec.Nodes[i].Options = broker.Options{Middlewares: []broker.Middleware{lateAnswers}}
			}
		}
	})
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		o := s.must("gateway", "order.create", map[string]any{"productId": p["id"], "quantity": 2, "idempotencyKey": "checkout-1"}, withToken(tok))
		assert.Equal(t, float64(1), o["id"])
		s.Sleep(10 * time.Second)
	})
	runs := 0
	for _, e := range s.Kinds(journal.ActionRun) {
		if e.Str("action") == "order.create" {
			runs++
		}
	}
	assert.Equal(t, 5, runs, "1 attempt + 4 retries, each served")
	s.afterRetrySafety(t)
}

// TestRedeliveredOrderCreated: order.created delivered again (re-emitted, and duplicated by
// the network) changes no stock and sends no second message.
func TestRedeliveredOrderCreated(t *testing.T) {
	dup := func(d *memnet.Delivery) []memnet.Route {
		if d.Type == packet.Event {
			return []memnet.Route{{}, {Delay: 50 * time.Millisecond}}
		}
		return []memnet.Route{{}}
	}
	s := newShop(t, 21)
	s.Net.SetInterceptor(dup)
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 9.99, "stock": 50})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		o := s.must("users", "order.create", map[string]any{"productId": p["id"], "quantity": 2}, withToken(tok))
		s.settle()
		require.NoError(t, s.Node("gateway").Emit("order.created", map[string]any{"order": o}))
		s.settle()
	})
	s.afterRetrySafety(t)
	assert.Positive(t, s.Outbox(mailer.Email).Duplicates())
	assert.Positive(t, s.Outbox(mailer.Notification).Duplicates())
}
