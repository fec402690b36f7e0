package check

import (
	"math"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
)

func f(v float64) *float64 { return &v }
func i(v int64) *int64     { return &v }

func opAt(o op, call, ret int64) porcupine.Operation {
	o.invokeNS, o.completNS = call, ret
	if o.unknown {
		ret = math.MaxInt64
	}
	return porcupine.Operation{Input: o, Output: o, Call: call, Return: ret}
}

func TestLinearizableModel(t *testing.T) {
	c := Linearizable{Initial: map[int64]Register{1: {Price: 10, Stock: 5, PriceKnown: true, StockKnown: true}}}
	get := func(p float64, s int64) op {
		return op{action: actionGet, id: 1, ok: true, outPrice: f(p), outStock: i(s)}
	}
	upd := op{action: actionUpdate, id: 1, setPrice: f(12), ok: true, outPrice: f(12), outStock: i(5)}
	cases := []struct {
		name string
		h    []porcupine.Operation
		pass bool
	}{
		{"read, write, read", []porcupine.Operation{opAt(get(10, 5), 0, 1), opAt(upd, 2, 3), opAt(get(12, 5), 4, 5)}, true},
		{"stale read after the acknowledged write", []porcupine.Operation{opAt(upd, 2, 3), opAt(get(10, 5), 4, 5)}, false},
		{"old value while the write is in flight", []porcupine.Operation{opAt(upd, 2, 6), opAt(get(10, 5), 3, 4), opAt(get(12, 5), 5, 7)}, true},
		{"new then old while the write is in flight", []porcupine.Operation{opAt(upd, 2, 9), opAt(get(12, 5), 3, 4), opAt(get(10, 5), 5, 7)}, false},
		{"unknown write may apply late", []porcupine.Operation{opAt(op{action: actionUpdate, id: 1, setPrice: f(12), unknown: true}, 1, 2),
			opAt(get(10, 5), 3, 4), opAt(get(12, 5), 5, 6)}, true},
		{"decrement below zero is refused", []porcupine.Operation{opAt(op{action: actionReduce, id: 1, quantity: 6, ok: true, outStock: i(-1)}, 1, 2)}, false},
		{"insufficient when there was enough", []porcupine.Operation{opAt(op{action: actionReduce, id: 1, quantity: 3}, 1, 2)}, false},
		{"two decrements", []porcupine.Operation{opAt(op{action: actionReduce, id: 1, quantity: 3, ok: true, outStock: i(2)}, 1, 2),
			opAt(op{action: actionReduce, id: 1, quantity: 3, outStock: i(2)}, 3, 4), opAt(get(10, 2), 5, 6)}, true},
	}
	for _, tc := range cases {
		r, page := c.CheckHistory(tc.h)
		assert.Equal(t, tc.pass, r.Pass, "%s: %s", tc.name, r.Message())
		if !tc.pass {
			assert.Contains(t, string(page), "<html", "%s: the violation comes with porcupine's visualization", tc.name)
		}
	}
	r, _ := c.CheckHistory(nil)
	assert.Equal(t, "FAIL linearizable: expected a linearizable history of product operations (a register of price and stock per product), got no operation on product.get, product.update or product.reduceStock recorded (nothing to check)", r.Message())
}
