package check

import (
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/broker/journal"
)

// StockNeverNegative: no committed stock change leaves a product below zero.
type StockNeverNegative struct{}

func (StockNeverNegative) Name() string { return "invariant: stock never negative" }

func (c StockNeverNegative) Check(entries []journal.Entry) Result {
	changes := 0
	for _, e := range entries {
		if e.Kind != journal.DomainStock {
			continue
		}
		changes++
		if e.Num("after") < 0 {
			return fail(c.Name(), "stock ≥ 0 after every change",
				fmt.Sprintf("product %v at %v after %s", e.Attrs["product"], e.Attrs["after"], e.Str("op")), e.T)
		}
	}
	if changes == 0 {
		return fail(c.Name(), "stock ≥ 0 after every change", "no stock change journaled (nothing to check)", -1)
	}
	return pass(c.Name(), "stock ≥ 0 after every change", fmt.Sprintf("%d stock changes, none negative", changes))
}

// OrderHasStockReduction: every persisted order has exactly one stock reduction for its
// operation key (the order's idempotency key, or its id).
type OrderHasStockReduction struct{}

func (OrderHasStockReduction) Name() string { return "invariant: one stock reduction per order" }

func (c OrderHasStockReduction) Check(entries []journal.Entry) Result {
	reductions := map[string]int{}
	for _, e := range entries {
		if e.Kind == journal.DomainStock && e.Num("delta") < 0 {
			reductions[e.Str("op")]++
		}
	}
	orders := 0
	for _, e := range entries {
		if e.Kind != journal.DomainOrder {
			continue
		}
		orders++
		key := orderKey(e)
		if n := reductions[key]; n != 1 {
			return fail(c.Name(), "exactly 1 stock reduction per order",
				fmt.Sprintf("order %v (key %s) has %d", e.Attrs["id"], key, n), e.T)
		}
	}
	if orders == 0 {
		return fail(c.Name(), "exactly 1 stock reduction per order", "no order journaled (nothing to check)", -1)
	}
	return pass(c.Name(), "exactly 1 stock reduction per order", fmt.Sprintf("%d orders, each with one reduction", orders))
}

func orderKey(e journal.Entry) string {
	if k := e.Str("key"); k != "" {
		return k
	}
	return fmt.Sprint(e.Attrs["id"])
}

// NoDuplicateOrders: at most one order per idempotency key.
type NoDuplicateOrders struct{}

func (NoDuplicateOrders) Name() string { return "invariant: no duplicate orders per idempotency key" }

func (c NoDuplicateOrders) Check(entries []journal.Entry) Result {
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Kind != journal.DomainOrder || e.Str("key") == "" {
			continue
		}
		if seen[e.Str("key")] {
			return fail(c.Name(), "1 order per key", fmt.Sprintf("a second order for key %s", e.Str("key")), e.T)
		}
		seen[e.Str("key")] = true
	}
	if len(seen) == 0 {
		return fail(c.Name(), "1 order per key", "no order with an idempotency key journaled (nothing to check)", -1)
	}
	return pass(c.Name(), "1 order per key", fmt.Sprintf("%d keys, one order each", len(seen)))
}

// HandledOncePerGroup: every emitted event of a name was handled exactly once in each of
// the groups that handle it (a lost or doubled delivery fails).
type HandledOncePerGroup struct {
	Event  string
	Groups []string // the groups that must handle it, e.g. ["email", "notification"]
}

func (c HandledOncePerGroup) Name() string {
	return "invariant: " + c.Event + " handled once per group"
}

func (c HandledOncePerGroup) Check(entries []journal.Entry) Result {
	expected := fmt.Sprintf("each %s handled once by each of %v", c.Event, c.Groups)
	var ids []string
	emittedAt := map[string]time.Duration{}
	handled := map[string]map[string]int{}
	for _, e := range entries {
		switch {
		case e.Kind == journal.EventEmitted && e.Str("event") == c.Event && !e.Bool("broadcast"):
			ids = append(ids, e.Str("id"))
			emittedAt[e.Str("id")] = e.T
		case e.Kind == journal.EventHandled && e.Str("event") == c.Event:
			m := handled[e.Str("id")]
			if m == nil {
				m = map[string]int{}
				handled[e.Str("id")] = m
			}
			m[e.Str("group")]++
		}
	}
	for _, id := range ids {
		for _, g := range c.Groups {
			if n := handled[id][g]; n != 1 {
				groups := make([]string, 0, len(handled[id]))
				for k, v := range handled[id] {
					groups = append(groups, fmt.Sprintf("%s×%d", k, v))
				}
				sort.Strings(groups)
				return fail(c.Name(), expected, fmt.Sprintf("event %s handled %v", id, groups), emittedAt[id])
			}
		}
	}
	if len(ids) == 0 {
		return fail(c.Name(), expected, "no "+c.Event+" emitted (nothing to check)", -1)
	}
	return pass(c.Name(), expected, fmt.Sprintf("%d events, each handled once per group", len(ids)))
}
