// Package order is the order service.
//
// Actions (create and myOrders need the caller's JWT in ctx.meta.token, see package user):
//
//	create       {productId, quantity, idempotencyKey?}  → the order; emits "order.created" {order}
//	myOrders     {page?, pageSize?}                      → {rows, total, page, pageSize, totalPages}, newest first
//	updateStatus {id, status}                            → the order; emits "order.statusUpdated" {order, previousStatus, status}
//	find, count, list, get                               → see package crud
//
// create calls product.get, checks the stock, computes totalPrice = price × quantity
// (rounded to cents), reduces the stock through product.reduceStock, persists the order
// (status "pending") and emits order.created.
//
// Idempotency: with an idempotencyKey (scoped to the user), a create whose key already has
// an order returns that order and does nothing else: no product calls, no stock change, no
// event. The stock reduction carries the operation key "order:<userId>:<key>", which
// product.reduceStock applies at most once; so when a first attempt reduced the stock but
// failed or timed out before persisting its order, the retry's reduction is a no-op and the
// retry persists the one order. Concurrent attempts with one key, on one node or several,
// even several processes sharing the database, persist one order because the store says
// so, not a lock: (userId, idempotencyKey) is a unique set of Model, so of the racing
// inserts exactly one wins, and each loser returns the winner's order (no event: the winner
// emitted it) after a reduceStock that was a replay of the winner's. Without a key, the
// operation key is the call's context ID, which protects the inner reduceStock call's own
// retries only.
//
// Stock is reduced by create itself, never by an order.created handler, so a redelivered
// order.created cannot reduce it twice.
//
// Errors (name, code, type):
//
//	no / bad token                           MoleculerClientError  401  NO_TOKEN / INVALID_TOKEN
//	create: unknown product                  EntityNotFoundError   404  ENTITY_NOT_FOUND    data {id} (from product.get)
//	create: stock below quantity             MoleculerClientError  422  INSUFFICIENT_STOCK  data {available, requested}
//	updateStatus: status not in Statuses     ValidationError       422  VALIDATION_ERROR    data [{type: "enumValue", field: "status", ...}]
//	updateStatus / get: unknown order        EntityNotFoundError   404  ENTITY_NOT_FOUND    data {id}
//	missing or malformed params              ValidationError       422  VALIDATION_ERROR
package order

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/svc"
	"github.com/faultline/faultline/services/user"
)

// Name is the service name.
const Name = "order"

// Statuses are the valid order statuses; new orders are "pending".
var Statuses = []string{"pending", "paid", "shipped", "delivered", "cancelled"}

// Model is the orders table.
var Model = db.Model{Name: "orders", Fields: []db.Field{
	{Name: "userId", Type: db.TypeInt},
	{Name: "userEmail", Type: db.TypeString},
	{Name: "productId", Type: db.TypeInt},
	{Name: "productName", Type: db.TypeString},
	{Name: "quantity", Type: db.TypeInt},
	{Name: "unitPrice", Type: db.TypeFloat},
	{Name: "totalPrice", Type: db.TypeFloat},
	{Name: "status", Type: db.TypeString},
	{Name: "idempotencyKey", Type: db.TypeString},
	{Name: "createdAt", Type: db.TypeTime},
	{Name: "updatedAt", Type: db.TypeTime},
}, Unique: [][]string{{"userId", "idempotencyKey"}}}

// Config configures the service.
type Config struct {
	// Adapter stores Model; nodes of a cluster share one.
	Adapter db.Adapter
	// JWTSecret verifies the caller's token (the user service's secret).
	JWTSecret []byte
}

// Service is the order service.
type Service struct {
	cfg  Config
	crud *crud.Mixin
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Adapter == nil {
		return nil, errors.New("order: Config.Adapter is required")
	}
	if len(cfg.JWTSecret) == 0 {
		return nil, errors.New("order: Config.JWTSecret is required")
	}
	return &Service{cfg: cfg, crud: crud.New(crud.Config{Name: Name, Adapter: cfg.Adapter})}, nil
}

// Crud returns the service's data mixin.
func (s *Service) Crud() *crud.Mixin { return s.crud }

var idRule = map[string]any{"type": "number", "integer": true, "positive": true, "convert": true}

// Schema returns the broker service.
func (s *Service) Schema() *broker.Service {
	statuses := make([]any, len(Statuses))
	for i, st := range Statuses {
		statuses[i] = st
	}
	return s.crud.Merge(&broker.Service{
		Name: Name,
		Actions: map[string]broker.Action{
			"create": {
				Params: map[string]any{
					"productId":      idRule,
					"quantity":       idRule,
					"idempotencyKey": "string|optional|min:1|max:200",
				},
				Handler: func(ctx *broker.Context) (any, error) {
					claims, err := user.Authenticate(s.cfg.JWTSecret, ctx.Meta, ctx.Now())
					if err != nil {
						return nil, err
					}
					var in CreateInput
					if err := svc.Decode(ctx.Params, &in); err != nil {
						return nil, errs.Validation(err.Error(), nil)
					}
					in.CallID = ctx.ID
					return s.Create(ctx, ctx, ctx.Now(), claims, in)
				},
			},
			"myOrders": {
				Params: map[string]any{
					"page":     map[string]any{"type": "number", "integer": true, "min": 1, "optional": true, "convert": true},
					"pageSize": map[string]any{"type": "number", "integer": true, "min": 0, "optional": true, "convert": true},
				},
				Handler: func(ctx *broker.Context) (any, error) {
					claims, err := user.Authenticate(s.cfg.JWTSecret, ctx.Meta, ctx.Now())
					if err != nil {
						return nil, err
					}
					p, err := crud.ParseList(ctx.Params)
					if err != nil {
						return nil, err
					}
					return s.MyOrders(ctx, claims, p.Page, p.PageSize)
				},
			},
			"updateStatus": {
				Params: map[string]any{
					"id":     idRule,
					"status": map[string]any{"type": "enum", "values": statuses},
				},
				Handler: func(ctx *broker.Context) (any, error) {
					var in UpdateStatusInput
					if err := svc.Decode(ctx.Params, &in); err != nil {
						return nil, errs.Validation(err.Error(), nil)
					}
					return s.UpdateStatus(ctx, ctx, ctx.Now(), in)
				},
			},
		},
	}, "find", "count", "list", "get")
}

// CreateInput are create's params.
type CreateInput struct {
	ProductID      int64  `json:"productId"`
	Quantity       int64  `json:"quantity"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// CallID names the call when there is no key (the handler sets the context ID).
	CallID string `json:"-"`
}

// Product is what create reads of product.get's result.
type Product struct {
	ID    int64   `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
	Stock int64   `json:"stock"`
}

// OpKey is the stock operation key of an order.
func OpKey(userID int64, idempotencyKey, callID string) string {
	if idempotencyKey != "" {
		return fmt.Sprintf("order:%d:%s", userID, idempotencyKey)
	}
	return "order-call:" + callID
}

// Create places an order (see the package doc).
func (s *Service) Create(ctx context.Context, c svc.Caller, now time.Time, u *user.Claims, in CreateInput) (db.Entity, error) {
	if in.Quantity <= 0 {
		return nil, crud.Invalid("quantity", "The 'quantity' field must be a positive number.", in.Quantity)
	}
	key := in.IdempotencyKey
	if key != "" {
		existing, err := s.crud.FindOne(ctx, db.Query{"userId": u.UserID, "idempotencyKey": key})
		if err == nil {
			return existing, nil
		}
		if !errors.Is(err, crud.ErrEntityNotFound) {
			return nil, err
		}
	}
	res, err := c.Call("product.get", map[string]any{"id": in.ProductID})
	if err != nil {
		return nil, err
	}
	var p Product
	if err = svc.Decode(res, &p); err != nil {
		return nil, errs.New("product.get returned an unreadable product: "+err.Error(), 500, "BAD_PRODUCT", nil)
	}
	// Without a key a short stock is final. With one, product.reduceStock decides: it may
	// be a retry whose reduction was already applied (the stock read here is after it).
	if p.Stock < in.Quantity && key == "" {
		return nil, product.InsufficientStock(p.Stock, in.Quantity)
	}
	if _, err := c.Call("product.reduceStock", map[string]any{
		"id": in.ProductID, "quantity": in.Quantity, "opKey": OpKey(u.UserID, key, in.CallID),
	}); err != nil {
		return nil, err
	}
	order := db.Entity{
		"userId": u.UserID, "userEmail": u.Email, "productId": in.ProductID, "productName": p.Name,
		"quantity": in.Quantity, "unitPrice": p.Price, "totalPrice": math.Round(p.Price*float64(in.Quantity)*100) / 100,
		"status": "pending", "createdAt": now, "updatedAt": now,
	}
	if key != "" {
		order["idempotencyKey"] = key
	}
	stored, err := s.crud.Insert(ctx, order)
	if key != "" && errors.Is(err, crud.ErrDuplicateKey) {
		// A concurrent create with this key, on any node, persisted first: its order is the
		// one order of the key, and this attempt's reduction was a replay of its reduction.
		return s.crud.FindOne(ctx, db.Query{"userId": u.UserID, "idempotencyKey": key})
	}
	if err != nil {
		return nil, err
	}
	order = stored
	svc.Record(ctx, journal.DomainOrder, map[string]any{"id": order["id"], "key": OpKey(u.UserID, key, in.CallID),
		"product": in.ProductID, "quantity": in.Quantity})
	if err := c.Emit("order.created", map[string]any{"order": order}); err != nil {
		return nil, err
	}
	return order, nil
}

// MyOrders lists the user's orders, newest first.
func (s *Service) MyOrders(ctx context.Context, u *user.Claims, page, pageSize int) (crud.ListResult, error) {
	return s.crud.ListEntities(ctx, crud.ListParams{Page: page, PageSize: pageSize, Sort: []string{"-id"},
		Query: db.Query{"userId": u.UserID}})
}

// UpdateStatusInput are updateStatus's params.
type UpdateStatusInput struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// UpdateStatus sets an order's status and emits "order.statusUpdated" {order, previousStatus,
// status}. Setting the status it already has changes nothing and emits nothing.
func (s *Service) UpdateStatus(ctx context.Context, c svc.Caller, now time.Time, in UpdateStatusInput) (db.Entity, error) {
	valid := false
	for _, st := range Statuses {
		valid = valid || st == in.Status
	}
	if !valid {
		return nil, errs.Validation("", []map[string]any{{"type": "enumValue", "field": "status", "actual": in.Status,
			"message": fmt.Sprintf("The 'status' field value '%v' does not match any of the allowed values.", Statuses)}})
	}
	cur, err := s.crud.FindByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	prev, _ := cur["status"].(string)
	if prev == in.Status {
		return cur, nil
	}
	o, err := s.crud.UpdateByID(ctx, in.ID, db.Update{Set: map[string]any{"status": in.Status, "updatedAt": now}})
	if err != nil {
		return nil, err
	}
	if err := c.Emit("order.statusUpdated", map[string]any{"order": o, "previousStatus": prev, "status": in.Status}); err != nil {
		return nil, err
	}
	return o, nil
}
