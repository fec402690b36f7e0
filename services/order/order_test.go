package order_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/svc/svcmock"
	"github.com/faultline/faultline/services/user"
)

var (
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ada = &user.Claims{UserID: 7, Email: "ada@example.com"}
)

func newService(t *testing.T) (*order.Service, db.Adapter) {
	t.Helper()
	a := db.NewMemory(order.Model)
	require.NoError(t, a.Connect(t.Context()))
	s, err := order.New(order.Config{Adapter: a, JWTSecret: []byte("s")})
	require.NoError(t, err)
	return s, a
}

func requireErr(t *testing.T, err error, name string, code int, typ string) *errs.Error {
	t.Helper()
	require.Error(t, err)
	e := errs.From(err)
	require.Equal(t, name, e.Name, "%v", err)
	require.Equal(t, code, e.Code, "%v", err)
	require.Equal(t, typ, e.Type, "%v", err)
	return e
}

// widget is product.get's answer as a remote caller decodes it.
var widget = map[string]any{"id": float64(1), "name": "Widget", "price": 9.99, "stock": float64(50)}

func count(t *testing.T, a db.Adapter) int {
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	return n
}

func TestCreateCallsProductPersistsAndEmits(t *testing.T) {
	s, a := newService(t)
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", map[string]any{"id": int64(1)}).Return(widget, nil).Once()
	c.EXPECT().Call("product.reduceStock", map[string]any{"id": int64(1), "quantity": int64(2), "opKey": "order:7:k1"}).
		Return(map[string]any{"id": float64(1), "stock": float64(48)}, nil).Once()
	var emitted map[string]any
	c.EXPECT().Emit("order.created", mock.Anything).Run(func(_ string, data any, _ ...broker.EmitOption) {
		emitted = data.(map[string]any)
	}).Return(nil).Once()

	o, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1"})
	require.NoError(t, err)
	want := db.Entity{"id": int64(1), "userId": int64(7), "userEmail": "ada@example.com", "productId": int64(1),
		"productName": "Widget", "quantity": int64(2), "unitPrice": 9.99, "totalPrice": 19.98, "status": "pending",
		"idempotencyKey": "k1", "createdAt": t0, "updatedAt": t0}
	assert.Equal(t, want, o)
	assert.Equal(t, map[string]any{"order": want}, emitted)
	assert.Equal(t, 1, count(t, a))
}

func TestCreateWithAKnownKeyReturnsTheOrderAndDoesNothing(t *testing.T) {
	s, a := newService(t)
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Once()
	c.EXPECT().Call("product.reduceStock", mock.Anything).Return(map[string]any{}, nil).Once()
	c.EXPECT().Emit("order.created", mock.Anything).Return(nil).Once()
	first, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1"})
	require.NoError(t, err)

	quiet := svcmock.NewCaller(t) // no call, no event
	for range 3 {
		again, err := s.Create(t.Context(), quiet, t0.Add(time.Minute), ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1"})
		require.NoError(t, err)
		assert.Equal(t, first, again)
	}
	assert.Equal(t, 1, count(t, a))

	// The key is the user's: another user's same key is another order.
	c.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Once()
	c.EXPECT().Call("product.reduceStock", map[string]any{"id": int64(1), "quantity": int64(2), "opKey": "order:8:k1"}).Return(map[string]any{}, nil).Once()
	c.EXPECT().Emit("order.created", mock.Anything).Return(nil).Once()
	other, err := s.Create(t.Context(), c, t0, &user.Claims{UserID: 8, Email: "bob@example.com"}, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.NotEqual(t, first["id"], other["id"])
}

// TestRetryAfterReductionTimedOut: attempt 1 reduced the stock but its answer timed out,
// so no order was persisted; the retry sends the same operation key (a replay for product)
// and persists the one order.
func TestRetryAfterReductionTimedOut(t *testing.T) {
	s, a := newService(t)
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Twice()
	reduce := map[string]any{"id": int64(1), "quantity": int64(2), "opKey": "order:7:k1"}
	c.EXPECT().Call("product.reduceStock", reduce).Return(nil, errs.RequestTimeout("product.reduceStock", "p1")).Once()
	_, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1", CallID: "call-1"})
	requireErr(t, err, "RequestTimeoutError", 504, "REQUEST_TIMEOUT")
	assert.Equal(t, 0, count(t, a))

	c.EXPECT().Call("product.reduceStock", reduce).Return(map[string]any{"replayed": true}, nil).Once()
	c.EXPECT().Emit("order.created", mock.Anything).Return(nil).Once()
	o, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1", CallID: "call-2"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), o["id"])
	assert.Equal(t, 1, count(t, a))
}

// TestConcurrentAttemptsPersistOneOrder: attempt B runs whole while attempt A waits for its
// reduceStock answer; A then finds B's order, returns it and emits nothing.
func TestConcurrentAttemptsPersistOneOrder(t *testing.T) {
	s, a := newService(t)
	in := order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k1"}
	var fromB db.Entity
	b := svcmock.NewCaller(t)
	b.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Once()
	b.EXPECT().Call("product.reduceStock", mock.Anything).Return(map[string]any{}, nil).Once()
	b.EXPECT().Emit("order.created", mock.Anything).Return(nil).Once()
	ca := svcmock.NewCaller(t)
	ca.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Once()
	ca.EXPECT().Call("product.reduceStock", mock.Anything).RunAndReturn(func(string, any, ...broker.CallOption) (any, error) {
		var err error
		fromB, err = s.Create(t.Context(), b, t0, ada, in)
		require.NoError(t, err)
		return map[string]any{"replayed": true}, nil
	}).Once()
	fromA, err := s.Create(t.Context(), ca, t0, ada, in)
	require.NoError(t, err)
	assert.Equal(t, fromB, fromA)
	assert.Equal(t, 1, count(t, a))
}

func TestCreateFailuresChangeNothing(t *testing.T) {
	s, a := newService(t)

	// Short stock without a key: product.get only.
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", mock.Anything).Return(map[string]any{"id": 1, "name": "Widget", "price": 1, "stock": 1}, nil).Once()
	_, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, CallID: "x"})
	e := requireErr(t, err, "MoleculerClientError", 422, "INSUFFICIENT_STOCK")
	assert.Equal(t, map[string]any{"available": int64(1), "requested": int64(2)}, e.Data)

	// Short stock with a key: product.reduceStock decides, its error is relayed.
	c = svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", mock.Anything).Return(map[string]any{"id": 1, "name": "Widget", "price": 1, "stock": 1}, nil).Once()
	c.EXPECT().Call("product.reduceStock", mock.Anything).Return(nil, product.InsufficientStock(1, 2)).Once()
	_, err = s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 2, IdempotencyKey: "k"})
	requireErr(t, err, "MoleculerClientError", 422, "INSUFFICIENT_STOCK")

	// Unknown product.
	c = svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", map[string]any{"id": int64(99)}).Return(nil, crud.EntityNotFound(99)).Once()
	_, err = s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 99, Quantity: 1})
	requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")

	// Bad quantity: nothing is called.
	_, err = s.Create(t.Context(), svcmock.NewCaller(t), t0, ada, order.CreateInput{ProductID: 1, Quantity: 0})
	requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")

	assert.Equal(t, 0, count(t, a))
}

func TestKeylessCreateUsesTheCallAsOperationKey(t *testing.T) {
	s, _ := newService(t)
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("product.get", mock.Anything).Return(widget, nil).Once()
	c.EXPECT().Call("product.reduceStock", map[string]any{"id": int64(1), "quantity": int64(1), "opKey": "order-call:ctx-1"}).Return(map[string]any{}, nil).Once()
	c.EXPECT().Emit("order.created", mock.Anything).Return(nil).Once()
	o, err := s.Create(t.Context(), c, t0, ada, order.CreateInput{ProductID: 1, Quantity: 1, CallID: "ctx-1"})
	require.NoError(t, err)
	assert.Nil(t, o["idempotencyKey"])
}

func seedOrder(t *testing.T, a db.Adapter, userID int64) db.Entity {
	o, err := a.Insert(t.Context(), db.Entity{"userId": userID, "productId": 1, "quantity": 1, "status": "pending", "createdAt": t0})
	require.NoError(t, err)
	return o
}

func TestUpdateStatus(t *testing.T) {
	s, a := newService(t)
	seedOrder(t, a, 7)
	c := svcmock.NewCaller(t)
	c.EXPECT().Emit("order.statusUpdated", mock.MatchedBy(func(d map[string]any) bool {
		return d["previousStatus"] == "pending" && d["status"] == "paid" && d["order"].(db.Entity)["status"] == "paid"
	})).Return(nil).Once()
	o, err := s.UpdateStatus(t.Context(), c, t0.Add(time.Hour), order.UpdateStatusInput{ID: 1, Status: "paid"})
	require.NoError(t, err)
	assert.Equal(t, "paid", o["status"])
	assert.Equal(t, t0.Add(time.Hour), o["updatedAt"])

	quiet := svcmock.NewCaller(t)
	_, err = s.UpdateStatus(t.Context(), quiet, t0, order.UpdateStatusInput{ID: 1, Status: "paid"})
	require.NoError(t, err, "same status: no change, no event")
	_, err = s.UpdateStatus(t.Context(), quiet, t0, order.UpdateStatusInput{ID: 1, Status: "lost"})
	e := requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
	assert.Equal(t, "status", e.Data.([]map[string]any)[0]["field"])
	_, err = s.UpdateStatus(t.Context(), quiet, t0, order.UpdateStatusInput{ID: 9, Status: "shipped"})
	requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
	cur, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, "paid", cur["status"])
}

func TestMyOrders(t *testing.T) {
	s, a := newService(t)
	seedOrder(t, a, 7)
	seedOrder(t, a, 8)
	seedOrder(t, a, 7)
	l, err := s.MyOrders(t.Context(), ada, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, l.Total)
	require.Len(t, l.Rows, 2)
	assert.Equal(t, int64(3), l.Rows[0]["id"], "newest first")
	assert.Equal(t, int64(1), l.Rows[1]["id"])
}
