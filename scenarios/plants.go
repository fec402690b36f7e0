package scenarios

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/svc"
)

// Plants are the deliberate bugs a scenario can plant in the product service, to prove that
// the checks, the nemesis and shrinking find real bugs (a checker that never fails proves
// nothing):
//
//	stale-cache           product.update writes without cleaning any node's cache, so a
//	                      cached get serves the old price after the update is acknowledged
//	                      (the linearizable check catches it)
//	non-idempotent-stock  product.reduceStock ignores its opKey and applies every call, so a
//	                      retried order.create whose first attempt did reduce the stock
//	                      reduces it twice (invariant: one stock reduction per order)
var Plants = []string{"stale-cache", "non-idempotent-stock"}

func validatePlants(v *validator, s *Scenario) {
	for i, p := range s.Plants {
		if !slices.Contains(Plants, p) {
			v.add(fmt.Sprintf("plants[%d]", i), "unknown plant %q (%s)", p, strings.Join(Plants, ", "))
		}
	}
}

// withPlants returns the catalog with the scenario's plants in its product service.
func withPlants(cat map[string]ServiceFactory, s *Scenario) map[string]ServiceFactory {
	if len(s.Plants) == 0 {
		return cat
	}
	cat = maps.Clone(cat)
	stale, nonIdem := slices.Contains(s.Plants, "stale-cache"), slices.Contains(s.Plants, "non-idempotent-stock")
	cat[product.Name] = func(r *catalog.Resources) (*broker.Service, error) {
		p, err := r.Adapter(product.Model)
		if err != nil {
			return nil, err
		}
		ops, err := r.Adapter(product.OpsModel)
		if err != nil {
			return nil, err
		}
		ps, err := product.New(product.Config{Products: p, Ops: ops, CacheTTL: r.ProductCacheTTL})
		if err != nil {
			return nil, err
		}
		schema := ps.Schema()
		if stale {
			a := schema.Actions["update"]
			a.Handler = func(ctx *broker.Context) (any, error) {
				changes := maps.Clone(ctx.Params)
				delete(changes, db.IDField)
				return ps.Crud().UpdateEntity(ctx, nil, ctx.Params[db.IDField], changes) // nil caller: no clean
			}
			schema.Actions["update"] = a
		}
		if nonIdem {
			a := schema.Actions["reduceStock"]
			a.Handler = func(ctx *broker.Context) (any, error) {
				var in product.ReduceStockInput
				if err := svc.Decode(ctx.Params, &in); err != nil {
					return nil, errs.Validation(err.Error(), nil)
				}
				return reduceIgnoringKey(ctx, ps, in)
			}
			schema.Actions["reduceStock"] = a
		}
		return schema, nil
	}
	return cat
}

// reduceIgnoringKey is reduceStock without its at-most-once record: the guarded decrement
// alone, journaled with the key it was given.
func reduceIgnoringKey(ctx *broker.Context, ps *product.Service, in product.ReduceStockInput) (any, error) {
	m := ps.Crud()
	p, err := m.UpdateByID(ctx, in.ID, db.Update{Inc: map[string]float64{"stock": -float64(in.Quantity)}, Guard: &db.Guard{Field: "stock", Min: 0}})
	if errors.Is(err, db.ErrGuard) {
		cur, ferr := m.FindByID(ctx, in.ID)
		if ferr != nil {
			return nil, ferr
		}
		avail, _ := cur["stock"].(int64)
		return nil, product.InsufficientStock(avail, in.Quantity)
	}
	if err != nil {
		return nil, err
	}
	after, _ := p["stock"].(int64)
	svc.Record(ctx, journal.DomainStock, map[string]any{"product": in.ID, "before": after + in.Quantity,
		"after": after, "delta": -in.Quantity, "op": in.OpKey})
	_ = m.Changed(ctx)
	return m.Transform(p), nil
}
