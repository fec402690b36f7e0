package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/svc"
	"github.com/faultline/faultline/services/user"
	"github.com/faultline/faultline/testutil"
)

// shopNodes places the services so that every flow crosses nodes: two product nodes share
// one product store; email and notification sit on different nodes.
func shopNodes() []testutil.NodeSpec {
	return []testutil.NodeSpec{
		{ID: "gateway"},
		{ID: "users", Services: []string{"user", "email"}},
		{ID: "products-1", Services: []string{"product"}},
		{ID: "products-2", Services: []string{"product"}},
		{ID: "orders", Services: []string{"order", "notification"}},
	}
}

type shop struct {
	*testutil.Cluster
	t *testing.T
}

func newShop(t *testing.T, seed uint64, edit ...func(*testutil.Spec)) *shop {
	t.Helper()
	spec := testutil.Spec{Seed: seed, Cacher: testutil.CacherMemory, Nodes: shopNodes()}
	for _, e := range edit {
		e(&spec)
	}
	return &shop{Cluster: testutil.MustBuild(t, spec), t: t}
}

func (s *shop) run(fn func()) {
	s.t.Helper()
	s.Run(s.t, func() {
		require.NoError(s.t, s.Start())
		fn()
	})
}

func withToken(tok string) broker.CallOption {
	return broker.WithMeta(map[string]any{user.MetaToken: tok})
}

func (s *shop) call(node, action string, params map[string]any, opts ...broker.CallOption) (any, error) {
	return s.Node(node).Call(action, params, opts...)
}

// must calls and decodes the result into a map (numbers are float64, as over the wire).
func (s *shop) must(node, action string, params map[string]any, opts ...broker.CallOption) map[string]any {
	s.t.Helper()
	res, err := s.call(node, action, params, opts...)
	require.NoError(s.t, err, "%s from %s", action, node)
	var out map[string]any
	require.NoError(s.t, svc.Decode(res, &out))
	return out
}

// registerAndLogin registers a user and returns a token.
func (s *shop) registerAndLogin(node, email string) string {
	s.t.Helper()
	s.must(node, "user.register", map[string]any{"email": email, "password": "s3cret-pass", "name": "Ada"})
	res := s.must(node, "user.login", map[string]any{"email": email, "password": "s3cret-pass"})
	tok, _ := res["token"].(string)
	require.NotEmpty(s.t, tok)
	return tok
}

// requireErr asserts an error's exact Moleculer name, code and type.
func requireErr(t *testing.T, err error, name string, code int, typ string) *errs.Error {
	t.Helper()
	require.Error(t, err)
	e := errs.From(err)
	require.Equal(t, name, e.Name, "name of %v (data %v)", err, e.Data)
	require.Equal(t, code, e.Code, "code of %v", err)
	require.Equal(t, typ, e.Type, "type of %v", err)
	return e
}

// state is every table and both outboxes, for "nothing changed" checks.
type state struct {
	Tables                map[string][]db.Entity
	Email, Notification   []string
	EmailDup, NotifDup    int
	EmailFail, NotifFails int
}

func (s *shop) state() state {
	s.t.Helper()
	st := state{Tables: map[string][]db.Entity{}}
	for _, m := range []db.Model{user.Model, product.Model, product.OpsModel, order.Model} {
		es, err := s.Adapter(m).Find(context.Background(), db.FindParams{})
		require.NoError(s.t, err)
		st.Tables[m.Name] = es
	}
	em, no := s.Outbox(mailer.Email), s.Outbox(mailer.Notification)
	st.Email, st.Notification = em.Keys(), no.Keys()
	st.EmailDup, st.NotifDup = em.Duplicates(), no.Duplicates()
	st.EmailFail, st.NotifFails = len(em.Failed()), len(no.Failed())
	return st
}

func (s *shop) stock(id any) int64 {
	s.t.Helper()
	p, err := s.Adapter(product.Model).FindByID(context.Background(), id)
	require.NoError(s.t, err)
	return p["stock"].(int64)
}

func (s *shop) count(m db.Model) int {
	s.t.Helper()
	n, err := s.Adapter(m).Count(context.Background(), nil)
	require.NoError(s.t, err)
	return n
}

// settle lets events and cache cleans land.
func (s *shop) settle() { s.Sleep(time.Second) }

func assertUnchanged(t *testing.T, before, after state, what string) {
	t.Helper()
	assert.Equal(t, before, after, "%s changed the data", what)
}
