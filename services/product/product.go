// Package product is the product service: the CRUD actions of package crud over products,
// with get, list, find and count cached, and reduceStock.
//
// Actions:
//
//	find, count, list, get (cached), create, insert, update, remove   see package crud
//	reduceStock {id, quantity, opKey?}                                → the updated product
//
// reduceStock is one guarded storage update (stock -= quantity only if the result is ≥ 0),
// so concurrent reductions never oversell and stock never goes below zero. With an opKey the
// reduction is applied at most once: the key is recorded with the reduction in a table where
// it is unique (a unique index, so it holds across processes sharing the database, see
// ReduceStock), and a repeated call with that key changes nothing and returns the product as
// it is (its "replayed" field tells). order.create passes a key derived from the order, so a retried create or a retried
// reduceStock call reduces stock exactly once.
//
// Every write (create, insert, update, remove, an applied reduceStock) broadcasts
// "cache.clean.product", and every product node subscribes to it, so a write on one node
// invalidates the cached get and list results of every node.
//
// Errors (name, code, type):
//
//	unknown product (get, update, remove, reduceStock)  EntityNotFoundError   404  ENTITY_NOT_FOUND    data {id}
//	reduceStock: not enough stock                       MoleculerClientError  422  INSUFFICIENT_STOCK  data {available, requested}
//	reduceStock: opKey reused for another product/qty   MoleculerClientError  409  OPKEY_CONFLICT      data {opKey}
//	invalid product (name empty, negative price/stock)  ValidationError       422  VALIDATION_ERROR    data [{type, field, message, actual}]
//	missing or malformed params                         ValidationError       422  VALIDATION_ERROR
package product

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/svc"
)

// Name is the service name.
const Name = "product"

// Model is the products table.
var Model = db.Model{Name: "products", Fields: []db.Field{
	{Name: "name", Type: db.TypeString},
	{Name: "description", Type: db.TypeString},
	{Name: "price", Type: db.TypeFloat},
	{Name: "stock", Type: db.TypeInt},
}}

// OpsModel records applied stock operations by key; the key is unique, which is what makes
// a keyed reduction apply at most once across nodes and processes.
var OpsModel = db.Model{Name: "stock_ops", Fields: []db.Field{
	{Name: "key", Type: db.TypeString},
	{Name: "productId", Type: db.TypeInt},
	{Name: "quantity", Type: db.TypeInt},
	{Name: "appliedAt", Type: db.TypeTime},
}, Unique: [][]string{{"key"}}}

// PublicFields are the fields actions return.
var PublicFields = []string{"id", "name", "description", "price", "stock"}

// Config configures the service.
type Config struct {
	// Products stores Model and Ops stores OpsModel; nodes of a cluster share them.
	Products db.Adapter
	Ops      db.Adapter
	// CacheTTL bounds how long a cached result lives (0: until invalidated).
	CacheTTL time.Duration
}

// Service is the product service.
type Service struct {
	cfg  Config
	crud *crud.Mixin
	ops  *crud.Mixin
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Products == nil || cfg.Ops == nil {
		return nil, errors.New("product: Config.Products and Config.Ops are required")
	}
	return &Service{
		cfg: cfg,
		crud: crud.New(crud.Config{Name: Name, Adapter: cfg.Products, Fields: PublicFields, Validate: Validate,
			Cache: true, CacheTTL: cfg.CacheTTL}),
		ops: crud.New(crud.Config{Name: "product-ops", Adapter: cfg.Ops}),
	}, nil
}

// Crud returns the service's data mixin.
func (s *Service) Crud() *crud.Mixin { return s.crud }

// Validate is the entity validator: a non-empty name, a price ≥ 0 and a whole stock ≥ 0.
func Validate(e db.Entity) error {
	if name, _ := e["name"].(string); name == "" {
		return crud.Invalid("name", "The 'name' field is required.", e["name"])
	}
	price, ok := number(e["price"])
	if !ok || price < 0 {
		return crud.Invalid("price", "The 'price' field must be a number ≥ 0.", e["price"])
	}
	if v, present := e["stock"]; present && v != nil {
		st, ok := number(v)
		if !ok || st < 0 || st != math.Trunc(st) {
			return crud.Invalid("stock", "The 'stock' field must be a whole number ≥ 0.", v)
		}
	}
	return nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Schema returns the broker service.
func (s *Service) Schema() *broker.Service {
	return s.crud.Merge(&broker.Service{
		Name: Name,
		Actions: map[string]broker.Action{
			"create": {
				Params: map[string]any{
					"name":        "string|min:1",
					"description": "string|optional",
					"price":       "number|min:0",
					"stock":       map[string]any{"type": "number", "integer": true, "min": 0, "optional": true, "default": 0},
				},
				Handler: func(ctx *broker.Context) (any, error) {
					return s.crud.CreateEntity(ctx, ctx, ctx.Params)
				},
			},
			"reduceStock": {
				Params: map[string]any{
					"id":       map[string]any{"type": "number", "integer": true, "positive": true, "convert": true},
					"quantity": map[string]any{"type": "number", "integer": true, "positive": true, "convert": true},
					"opKey":    "string|optional",
				},
				Handler: func(ctx *broker.Context) (any, error) {
					var in ReduceStockInput
					if err := svc.Decode(ctx.Params, &in); err != nil {
						return nil, errs.Validation(err.Error(), nil)
					}
					return s.ReduceStock(ctx, ctx, ctx.Now(), in)
				},
			},
		},
	})
}

// ReduceStockInput are reduceStock's params.
type ReduceStockInput struct {
	ID       int64  `json:"id"`
	Quantity int64  `json:"quantity"`
	OpKey    string `json:"opKey,omitempty"`
}

// InsufficientStock is MoleculerClientError 422 INSUFFICIENT_STOCK with data {available, requested}.
func InsufficientStock(available, requested int64) *errs.Error {
	return errs.Client("Insufficient stock.", 422, "INSUFFICIENT_STOCK",
		map[string]any{"available": available, "requested": requested})
}

// OpKeyConflict is MoleculerClientError 409 OPKEY_CONFLICT.
func OpKeyConflict(key string) *errs.Error {
	return errs.Client("The operation key was already used for another stock operation.", 409, "OPKEY_CONFLICT",
		map[string]any{"opKey": key})
}

// ReduceStock takes quantity off the product's stock, atomically and never below zero,
// at most once per opKey, and invalidates the product cache when it changed something.
// The result is the product, with "replayed": true when the opKey had already been applied.
//
// At most once rests on the store, not on a lock: OpsModel's key is unique, so of two
// calls with one key racing from any nodes or processes, exactly one records the key. The
// reduction is applied first (one guarded update) and recorded second; the call that loses
// the race for the record undoes its own reduction and answers as a replay. Meanwhile the
// stock is briefly lower by that quantity, which can only make a concurrent reduction fail
// with INSUFFICIENT_STOCK, never oversell.
func (s *Service) ReduceStock(ctx context.Context, c svc.Caller, now time.Time, in ReduceStockInput) (db.Entity, error) {
	if in.Quantity <= 0 {
		return nil, crud.Invalid("quantity", "The 'quantity' field must be a positive number.", in.Quantity)
	}
	if in.OpKey != "" {
		if p, found, err := s.replay(ctx, in); found || err != nil {
			return p, err
		}
	}
	p, err := s.crud.UpdateByID(ctx, in.ID, db.Update{
		Inc:   map[string]float64{"stock": -float64(in.Quantity)},
		Guard: &db.Guard{Field: "stock", Min: 0},
	})
	if errors.Is(err, db.ErrGuard) {
		if in.OpKey != "" {
			// A call with this key may have taken the last stock since the check above.
			if p, found, err := s.replay(ctx, in); found || err != nil {
				return p, err
			}
		}
		cur, ferr := s.crud.FindByID(ctx, in.ID)
		if ferr != nil {
			return nil, ferr
		}
		avail, _ := cur["stock"].(int64)
		return nil, InsufficientStock(avail, in.Quantity)
	}
	if err != nil {
		return nil, err
	}
	if in.OpKey != "" {
		if _, err := s.ops.Insert(ctx, db.Entity{"key": in.OpKey, "productId": in.ID, "quantity": in.Quantity, "appliedAt": now}); err != nil {
			// Without its record the reduction could be applied again, and with a duplicate
			// record it was applied by the winner: either way, undo this one. The stock
			// moved and came back, so a read in between may be cached: invalidate.
			_, _ = s.crud.UpdateByID(ctx, in.ID, db.Update{Inc: map[string]float64{"stock": float64(in.Quantity)}})
			_ = s.crud.Changed(c)
			if errors.Is(err, crud.ErrDuplicateKey) {
				if p, found, err := s.replay(ctx, in); found || err != nil {
					return p, err
				}
			}
			return nil, err
		}
	}
	after, _ := p["stock"].(int64)
	svc.Record(ctx, journal.DomainStock, map[string]any{"product": in.ID, "before": after + in.Quantity,
		"after": after, "delta": -in.Quantity, "op": in.OpKey})
	_ = s.crud.Changed(c)
	return s.crud.Transform(p), nil
}

// replay answers a call whose opKey is already recorded: the product as it is, marked
// "replayed", or OPKEY_CONFLICT when the key was recorded for another product or quantity.
// found is false when the key is not recorded.
func (s *Service) replay(ctx context.Context, in ReduceStockInput) (out db.Entity, found bool, err error) {
	op, err := s.ops.FindOne(ctx, db.Query{"key": in.OpKey})
	if errors.Is(err, crud.ErrEntityNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if op["productId"] != in.ID || op["quantity"] != in.Quantity {
		return nil, true, OpKeyConflict(in.OpKey)
	}
	p, err := s.crud.FindByID(ctx, in.ID)
	if err != nil {
		return nil, true, err
	}
	out = s.crud.Transform(p)
	out["replayed"] = true
	return out, true, nil
}
