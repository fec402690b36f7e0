package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/testutil"
)

// TestSlowAndFlakyMessaging: a slow email service and a notification service that always
// fails do not slow or fail order.create (events are fire and forget); the outboxes and the
// journal show what happened, at the virtual instants the latency implies.
func TestSlowAndFlakyMessaging(t *testing.T) {
	res := catalog.SimResources()
	res.Email = mailer.Config{Latency: 3 * time.Second}
	res.Notification = mailer.Config{Latency: 100 * time.Millisecond, FailureRate: 1, Attempts: 2, RetryDelay: time.Second}
	s := newShop(t, 4, func(spec *testutil.Spec) { spec.Resources = res })
	var placedAt time.Time
	s.run(func() {
		p := s.must("gateway", "product.create", map[string]any{"name": "Widget", "price": 1, "stock": 5})
		tok := s.registerAndLogin("gateway", "ada@example.com")
		start := s.Runtime.Now()
		s.must("gateway", "order.create", map[string]any{"productId": p["id"], "quantity": 1}, withToken(tok))
		placedAt = s.Runtime.Now()
		assert.Less(t, placedAt.Sub(start), time.Second, "the order does not wait for its messages")
		s.Sleep(10 * time.Second)
	})
	sent := s.Outbox(mailer.Email).Sent()
	require.Len(t, sent, 2) // welcome, order confirmation
	assert.Equal(t, "order.created", sent[1].Event)
	assert.GreaterOrEqual(t, sent[1].At.Sub(placedAt), 3*time.Second-10*time.Millisecond)

	failed := s.Outbox(mailer.Notification).Failed()
	require.Len(t, failed, 2) // user.registered and order.created, 2 attempts each
	assert.Equal(t, 2, failed[1].Attempts)
	assert.Empty(t, s.Outbox(mailer.Notification).Sent())
	bad := 0
	for _, e := range s.Kinds(journal.EventHandled) {
		if e.Str("service") == "notification" {
			assert.False(t, e.Bool("ok"))
			assert.Equal(t, "MoleculerRetryableError", e.Str("error"))
			bad++
		}
	}
	assert.Equal(t, 2, bad)
}
