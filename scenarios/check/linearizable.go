package check

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/broker/journal"
)

// ClientOp is the journal kind of one client operation of a run's history: attributes
// client, action, invoke and complete (virtual nanoseconds), in.<param> (id, price, stock,
// quantity), then ok with out.price / out.stock, or unknown (the caller cannot tell whether
// it took effect) with the error's name.
const ClientOp = "client.op"

// MaxHistoryOps caps the operations one linearizable check judges: checking is NP-complete
// in general and porcupine's search, though fast on real histories, is exponential at worst.
const MaxHistoryOps = 20_000

// The modelled actions: a product is a register of its price and stock. get reads both,
// update writes the fields it gives, reduceStock is a conditional decrement of the stock.
const (
	actionGet    = "product.get"
	actionUpdate = "product.update"
	actionReduce = "product.reduceStock"
)

// ModelledAction tells whether an action's calls belong in the history.
func ModelledAction(a string) bool { return a == actionGet || a == actionUpdate || a == actionReduce }

// Linearizable checks a run's history of product operations for linearizability with
// porcupine, against a model where each product is one register of {price, stock}: a get
// returns the latest acknowledged price and stock, an update sets what it gives, a
// reduceStock takes quantity off the stock if there is that much and fails otherwise. An
// operation whose outcome is unknown may take effect at any instant after its invocation, or
// never. A stale cached read after an acknowledged update is a violation.
type Linearizable struct {
	// Fields are the modelled fields: "price", "stock" or both (empty: both). Leave stock
	// out when something other than the client operations changes it (order.create).
	Fields []string
	// Initial are the known starting values by product id (the seeded products); a product
	// not listed starts unknown, and its first read sets it.
	Initial map[int64]Register
}

// Register is the modelled state of one product. A field not Known takes the first value an
// operation observes.
type Register struct {
	Price      float64
	Stock      int64
	PriceKnown bool
	StockKnown bool
}

func (Linearizable) Name() string { return "linearizable" }

// op is one operation's input and output for the model.
type op struct {
	action    string
	id        int64
	setPrice  *float64
	setStock  *int64
	quantity  int64
	unknown   bool
	ok        bool
	replayed  bool
	outPrice  *float64
	outStock  *int64
	client    int
	invokeNS  int64
	completNS int64
}

func ptrF(e journal.Entry, k string) *float64 {
	if _, ok := e.Attrs[k]; !ok {
		return nil
	}
	v := e.Num(k)
	return &v
}

func ptrI(e journal.Entry, k string) *int64 {
	if _, ok := e.Attrs[k]; !ok {
		return nil
	}
	v := int64(e.Num(k))
	return &v
}

// History reads the client operations of a journal.
func History(entries []journal.Entry) []porcupine.Operation {
	var out []porcupine.Operation
	for _, e := range entries {
		if e.Kind != ClientOp {
			continue
		}
		o := op{action: e.Str("action"), id: int64(e.Num("in.id")), setPrice: ptrF(e, "in.price"), setStock: ptrI(e, "in.stock"),
			quantity: int64(e.Num("in.quantity")), unknown: e.Bool("unknown"), ok: e.Bool("ok"), replayed: e.Bool("replayed"),
			outPrice: ptrF(e, "out.price"), outStock: ptrI(e, "out.stock"), client: e.Int("client"),
			invokeNS: int64(e.Num("invoke")), completNS: int64(e.Num("complete"))}
		if o.unknown && o.action == actionGet {
			continue // a read with no answer constrains nothing
		}
		ret := o.completNS
		if o.unknown {
			ret = math.MaxInt64 // it may take effect at any instant after its invocation
		}
		out = append(out, porcupine.Operation{ClientId: o.client, Input: o, Output: o, Call: o.invokeNS, Return: ret})
	}
	return out
}

// Model is the porcupine model of the product registers, over the given fields.
func (c Linearizable) Model() porcupine.Model {
	price := len(c.Fields) == 0 || slices.Contains(c.Fields, "price")
	stock := len(c.Fields) == 0 || slices.Contains(c.Fields, "stock")
	return porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := map[int64][]porcupine.Operation{}
			var ids []int64
			for _, o := range h {
				id := o.Input.(op).id
				if _, seen := by[id]; !seen {
					ids = append(ids, id)
				}
				by[id] = append(by[id], o)
			}
			slices.Sort(ids)
			out := make([][]porcupine.Operation, len(ids))
			for i, id := range ids {
				out[i] = by[id]
			}
			return out
		},
		Init: func() any { return (*Register)(nil) },
		Step: func(state, input, _ any) (bool, any) {
			o := input.(op)
			var r Register
			if s := state.(*Register); s != nil {
				r = *s
			} else if init, ok := c.Initial[o.id]; ok {
				r = init
			}
			if !price {
				r.PriceKnown, r.Price = true, 0
			}
			if !stock {
				r.StockKnown, r.Stock = true, 0
			}
			observe := func() bool {
				if price && o.outPrice != nil {
					if r.PriceKnown && r.Price != *o.outPrice {
						return false
					}
					r.Price, r.PriceKnown = *o.outPrice, true
				}
				if stock && o.outStock != nil {
					if r.StockKnown && r.Stock != *o.outStock {
						return false
					}
					r.Stock, r.StockKnown = *o.outStock, true
				}
				return true
			}
			switch o.action {
			case actionGet:
				if !observe() {
					return false, state
				}
			case actionUpdate:
				if price && o.setPrice != nil {
					r.Price, r.PriceKnown = *o.setPrice, true
				}
				if stock && o.setStock != nil {
					r.Stock, r.StockKnown = *o.setStock, true
				}
				if !o.unknown && !observe() {
					return false, state
				}
			case actionReduce:
				if !stock {
					break
				}
				switch {
				case o.unknown:
					if r.StockKnown && r.Stock >= o.quantity {
						r.Stock -= o.quantity
					}
				case o.replayed:
					// A keyed reduction already applied: nothing taken, the stock read.
					if !observe() {
						return false, state
					}
				case o.ok:
					if r.StockKnown {
						if r.Stock < o.quantity {
							return false, state
						}
						r.Stock -= o.quantity
					}
					if !observe() {
						return false, state
					}
				default: // INSUFFICIENT_STOCK
					if r.StockKnown && r.Stock >= o.quantity {
						return false, state
					}
					if !observe() {
						return false, state
					}
				}
			}
			return true, &r
		},
		Equal: func(a, b any) bool {
			x, y := a.(*Register), b.(*Register)
			if x == nil || y == nil {
				return x == y
			}
			return *x == *y
		},
		DescribeOperation: func(input, _ any) string { return input.(op).String() },
		DescribeState: func(state any) string {
			r := state.(*Register)
			if r == nil {
				return "initial"
			}
			return r.String()
		},
	}
}

func (r Register) String() string {
	p, s := "?", "?"
	if r.PriceKnown {
		p = fmt.Sprint(r.Price)
	}
	if r.StockKnown {
		s = fmt.Sprint(r.Stock)
	}
	return fmt.Sprintf("{price %s, stock %s}", p, s)
}

func (o op) String() string {
	var in string
	switch o.action {
	case actionGet:
		in = fmt.Sprintf("get(%d)", o.id)
	case actionUpdate:
		in = fmt.Sprintf("update(%d", o.id)
		if o.setPrice != nil {
			in += fmt.Sprintf(", price %v", *o.setPrice)
		}
		if o.setStock != nil {
			in += fmt.Sprintf(", stock %v", *o.setStock)
		}
		in += ")"
	case actionReduce:
		in = fmt.Sprintf("reduceStock(%d, %d)", o.id, o.quantity)
	}
	switch {
	case o.unknown:
		return in + " → unknown"
	case o.action == actionReduce && !o.ok:
		return in + " → insufficient"
	}
	out := ""
	if o.outPrice != nil {
		out += fmt.Sprintf("price %v", *o.outPrice)
	}
	if o.outStock != nil {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("stock %v", *o.outStock)
	}
	return in + " → " + out
}

// Check judges the run's history; a failing result carries porcupine's visualization, with
// the run's fault windows drawn in a "faults" row above the clients.
func (c Linearizable) Check(entries []journal.Entry) Result {
	r, page := c.checkHistory(History(entries), faultAnnotations(entries))
	r.Visualization = page
	return r
}

// faultAnnotations are the journal's fault windows as porcupine annotations, on the history's
// clock (virtual nanoseconds); a fault never healed lasts until the last entry.
func faultAnnotations(entries []journal.Entry) []porcupine.Annotation {
	if len(entries) == 0 {
		return nil
	}
	end := int64(entries[len(entries)-1].T)
	var out []porcupine.Annotation
	open := map[string]int{} // fault name#occurrence → index in out
	for _, e := range entries {
		key := fmt.Sprintf("%s#%d", e.Str("fault"), e.Int("occurrence"))
		switch e.Kind {
		case journal.FaultApplied:
			open[key] = len(out)
			out = append(out, porcupine.Annotation{Tag: "faults", Start: int64(e.T), End: end,
				Description: e.Str("fault"), Details: e.Str("kind"), BackgroundColor: "#f4a261"})
		case journal.FaultHealed:
			if i, ok := open[key]; ok {
				out[i].End = int64(e.T)
				delete(open, key)
			}
		}
	}
	return out
}

// CheckHistory judges a history; on a violation it also returns porcupine's visualization
// of it (a self-contained HTML page).
func (c Linearizable) CheckHistory(h []porcupine.Operation) (Result, []byte) {
	return c.checkHistory(h, nil)
}

func (c Linearizable) checkHistory(h []porcupine.Operation, annotations []porcupine.Annotation) (Result, []byte) {
	fields := "price and stock"
	if len(c.Fields) == 1 {
		fields = c.Fields[0]
	}
	expected := "a linearizable history of product operations (a register of " + fields + " per product)"
	name := c.Name()
	if len(h) == 0 {
		return fail(name, expected, "no operation on product.get, product.update or product.reduceStock recorded (nothing to check)", -1), nil
	}
	if len(h) > MaxHistoryOps {
		return fail(name, expected, fmt.Sprintf("%d operations exceed the cap of %d a history is checked with", len(h), MaxHistoryOps), -1), nil
	}
	model := c.Model()
	// Each partition alone, in id order, so the verdict names the first bad product.
	for _, part := range model.Partition(h) {
		res, info := porcupine.CheckOperationsVerbose(model, part, 0)
		if res == porcupine.Ok {
			continue
		}
		first := firstUnlinearizable(part, info)
		o := first.Input.(op)
		info.AddAnnotations(annotations)
		var page bytes.Buffer
		if err := porcupine.Visualize(model, info, &page); err != nil {
			page.Reset() // a report without the picture beats a broken one
		}
		return fail(name, expected, fmt.Sprintf("product %d: %d operations are not linearizable; no order explains %s by client %d, invoked at +%s, completed at +%s",
			o.id, len(part), o, o.client, durNS(o.invokeNS), durNS(o.completNS)), durNS(o.invokeNS)), page.Bytes()
	}
	return pass(name, expected, fmt.Sprintf("%d operations on %d products, linearizable", len(h), len(model.Partition(h)))), nil
}

// firstUnlinearizable is the earliest-invoked operation outside porcupine's longest partial
// linearization: where every explanation of the history gets stuck.
func firstUnlinearizable(part []porcupine.Operation, info porcupine.LinearizationInfo) porcupine.Operation {
	var longest []int
	for _, p := range info.PartialLinearizations() {
		for _, l := range p {
			if len(l) > len(longest) {
				longest = l
			}
		}
	}
	in := map[int]bool{}
	for _, i := range longest {
		in[i] = true
	}
	idx := make([]int, 0, len(part))
	for i := range part {
		if !in[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return part[0]
	}
	sort.SliceStable(idx, func(a, b int) bool { return part[idx[a]].Call < part[idx[b]].Call })
	return part[idx[0]]
}

func durNS(n int64) time.Duration { return time.Duration(n) }
