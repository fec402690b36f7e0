package mailer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/services/svc/svcmock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeEnv is a runtime of its own: Sleep advances now, Float64 returns scripted values.
type fakeEnv struct {
	now    time.Time
	slept  []time.Duration
	floats []float64
	ints   []int64
}

func (f *fakeEnv) env() mailer.Env {
	return mailer.Env{
		Sleep: func(d time.Duration) error { f.slept = append(f.slept, d); f.now = f.now.Add(d); return nil },
		Now:   func() time.Time { return f.now },
		Rand:  f, Node: "n1",
	}
}

func (f *fakeEnv) Float64() float64 {
	if len(f.floats) == 0 {
		return 0.99
	}
	v := f.floats[0]
	f.floats = f.floats[1:]
	return v
}

func (f *fakeEnv) Int64N(n int64) int64 {
	if len(f.ints) == 0 {
		return 0
	}
	v := f.ints[0]
	f.ints = f.ints[1:]
	return v % n
}
func (f *fakeEnv) IntN(n int) int       { return int(f.Int64N(int64(n))) }
func (f *fakeEnv) NormFloat64() float64 { return 0 }
func (f *fakeEnv) Uint64() uint64       { return 0 }

func orderCreated() map[string]any {
	return map[string]any{"order": map[string]any{"id": float64(3), "userId": float64(7), "userEmail": "ada@example.com",
		"productName": "Widget", "quantity": float64(2), "totalPrice": 19.98, "status": "pending"}}
}

func newService(t *testing.T, name string, cfg mailer.Config) *mailer.Service {
	s, err := mailer.New(name, cfg, nil)
	require.NoError(t, err)
	return s
}

func TestEmailAndNotificationMessages(t *testing.T) {
	f := &fakeEnv{now: t0}
	c := svcmock.NewCaller(t) // the payload names the recipient: no call, no event
	email := newService(t, mailer.Email, mailer.Config{Latency: 200 * time.Millisecond})
	notif := newService(t, mailer.Notification, mailer.Config{})
	require.NoError(t, email.Handle(c, f.env(), "order.created", orderCreated()))
	require.NoError(t, notif.Handle(c, f.env(), "order.created", orderCreated()))
	require.NoError(t, email.Handle(c, f.env(), "order.statusUpdated", map[string]any{"order": orderCreated()["order"], "previousStatus": "pending", "status": "paid"}))
	require.NoError(t, email.Handle(c, f.env(), "user.registered", map[string]any{"user": map[string]any{"id": 7, "email": "ada@example.com", "name": "Ada"}}))
	require.NoError(t, notif.Handle(c, f.env(), "user.registered", map[string]any{"user": map[string]any{"id": 7, "email": "ada@example.com", "name": "Ada"}}))

	sent := email.Outbox().Sent()
	require.Len(t, sent, 3)
	assert.Equal(t, mailer.Message{Seq: 1, Service: "email", Event: "order.created", Key: "email:order.created:3",
		To: "ada@example.com", Subject: "Order #3 confirmed", Body: "2 × Widget, total 19.98", Node: "n1",
		At: t0.Add(200 * time.Millisecond), Attempts: 1}, sent[0])
	assert.Equal(t, "Order #3 is paid", sent[1].Subject)
	assert.Equal(t, "email:order.statusUpdated:3:paid", sent[1].Key)
	assert.Equal(t, "Welcome, Ada", sent[2].Subject)
	assert.Equal(t, []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}, f.slept, "notification has no latency")

	nsent := notif.Outbox().Sent()
	require.Len(t, nsent, 2)
	assert.Equal(t, "user:7", nsent[0].To)
	assert.Equal(t, "user:7", nsent[1].To)
}

func TestRedeliveryIsSentOnce(t *testing.T) {
	f := &fakeEnv{now: t0}
	c := svcmock.NewCaller(t)
	s := newService(t, mailer.Email, mailer.Config{})
	for range 3 {
		require.NoError(t, s.Handle(c, f.env(), "order.created", orderCreated()))
	}
	assert.Equal(t, 1, s.Outbox().Count("order.created"))
	assert.Equal(t, 2, s.Outbox().Duplicates())
}

func TestMissingEmailIsLookedUp(t *testing.T) {
	f := &fakeEnv{now: t0}
	c := svcmock.NewCaller(t)
	c.EXPECT().Call("user.get", map[string]any{"id": int64(7)}).Return(map[string]any{"id": 7, "email": "ada@example.com"}, nil).Once()
	s := newService(t, mailer.Email, mailer.Config{})
	p := orderCreated()
	delete(p["order"].(map[string]any), "userEmail")
	require.NoError(t, s.Handle(c, f.env(), "order.created", p))
	assert.Equal(t, "ada@example.com", s.Outbox().Sent()[0].To)
}

func TestFlakySends(t *testing.T) {
	// Attempt 1 fails (0.1 < 0.5), attempt 2 succeeds (0.9).
	f := &fakeEnv{now: t0, floats: []float64{0.1, 0.9}, ints: []int64{int64(30 * time.Millisecond)}}
	c := svcmock.NewCaller(t)
	s := newService(t, mailer.Email, mailer.Config{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond,
		FailureRate: 0.5, Attempts: 3, RetryDelay: time.Second})
	require.NoError(t, s.Handle(c, f.env(), "order.created", orderCreated()))
	assert.Equal(t, []time.Duration{130 * time.Millisecond, time.Second, 100 * time.Millisecond}, f.slept)
	assert.Equal(t, 2, s.Outbox().Sent()[0].Attempts)

	// Every attempt fails: recorded as failed; the key is free for a later redelivery.
	f = &fakeEnv{now: t0, floats: []float64{0, 0, 0}}
	s = newService(t, mailer.Notification, mailer.Config{FailureRate: 1, Attempts: 3})
	err := s.Handle(c, f.env(), "order.created", orderCreated())
	e := errs.From(err)
	assert.Equal(t, "MoleculerRetryableError", e.Name)
	assert.Equal(t, 503, e.Code)
	assert.Equal(t, "SEND_FAILED", e.Type)
	assert.True(t, e.Retryable)
	require.Len(t, s.Outbox().Failed(), 1)
	assert.Equal(t, 3, s.Outbox().Failed()[0].Attempts)
	assert.Empty(t, s.Outbox().Sent())

	f.floats = []float64{0.5}
	s2, err := mailer.New(mailer.Notification, mailer.Config{FailureRate: 0.4}, s.Outbox())
	require.NoError(t, err)
	require.NoError(t, s2.Handle(c, f.env(), "order.created", orderCreated()))
	assert.Equal(t, 1, s.Outbox().Count(""))
}

func TestBadPayloads(t *testing.T) {
	f := &fakeEnv{now: t0}
	c := svcmock.NewCaller(t)
	s := newService(t, mailer.Email, mailer.Config{})
	for _, tc := range []struct {
		event   string
		payload map[string]any
		typ     string
	}{
		{"order.created", map[string]any{}, "BAD_PAYLOAD"},
		{"user.registered", map[string]any{"user": "nope"}, "BAD_PAYLOAD"},
		{"something.else", map[string]any{}, "UNKNOWN_EVENT"},
	} {
		err := s.Handle(c, f.env(), tc.event, tc.payload)
		assert.Equal(t, tc.typ, errs.From(err).Type, tc.event)
	}
	assert.Empty(t, s.Outbox().Sent())
	_, err := mailer.New("sms", mailer.Config{}, nil)
	assert.Error(t, err)
}

func TestOutboxReset(t *testing.T) {
	f := &fakeEnv{now: t0}
	s := newService(t, mailer.Email, mailer.Config{})
	require.NoError(t, s.Handle(svcmock.NewCaller(t), f.env(), "order.created", orderCreated()))
	assert.Equal(t, []string{"email:order.created:3"}, s.Outbox().Keys())
	s.Outbox().Reset()
	assert.Empty(t, s.Outbox().Sent())
	require.NoError(t, s.Handle(svcmock.NewCaller(t), f.env(), "order.created", orderCreated()))
	assert.Equal(t, 1, s.Outbox().Count("order.created"))
}
