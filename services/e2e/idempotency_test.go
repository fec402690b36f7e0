package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/user"
	"github.com/faultline/faultline/testutil"
)

// pairs holds every product.get call until a second one arrives, then lets both go. Two
// order.create calls with one key therefore both pass their "is there an order with this
// key yet?" check before either reduces stock or persists, so every round is the race the
// unique indexes must decide, not a lucky interleaving. It works on both runtimes: waiting
// is on a runtime signal, the mutex is never held across a wait.
type pairs struct {
	mu      sync.Mutex
	waiting rt.Signal
}

func (p *pairs) middleware() broker.Middleware {
	return broker.Middleware{Name: "pairs", LocalAction: func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		if ep.Action != "product.get" {
			return next
		}
		return func(ctx *broker.Context) (any, error) {
			p.mu.Lock()
			if first := p.waiting; first != nil {
				p.waiting = nil
				p.mu.Unlock()
				first.Fire()
			} else {
				sig := ctx.Broker().Runtime().NewSignal("the other create's product.get")
				p.waiting = sig
				p.mu.Unlock()
				sig.Wait()
			}
			return next(ctx)
		}
	}}
}

// raceNodes: two order nodes, each also running product, so each order node's reduceStock
// is local (prefer-local) and the two reductions race too; the clients call from gw.
func raceNodes(p *pairs, orderA, orderB, productB string) []testutil.NodeSpec {
	mw := broker.Options{Middlewares: []broker.Middleware{p.middleware()}, RequestTimeout: 30 * time.Second}
	return []testutil.NodeSpec{
		{ID: "gw", Options: broker.Options{RequestTimeout: 30 * time.Second}},
		{ID: "users", Services: []string{"user"}},
		{ID: "node-a", Services: []string{"product", orderA}, Options: mw},
		{ID: "node-b", Services: []string{productB, orderB}, Options: mw},
	}
}

// raceRounds runs rounds of two concurrent order.create calls with one key, one to each
// order node, and checks each round: no error, the same order for both callers. It returns
// the order ids by round.
func raceRounds(t *testing.T, c *testutil.Cluster, rounds int) []float64 {
	t.Helper()
	gw := c.Node("gw")
	_, err := gw.Call("product.create", map[string]any{"name": "Widget", "price": 2.5, "stock": 100})
	require.NoError(t, err)
	_, err = gw.Call("user.register", map[string]any{"email": "ada@example.com", "password": "pa55word", "name": "Ada"})
	require.NoError(t, err)
	res, err := gw.Call("user.login", map[string]any{"email": "ada@example.com", "password": "pa55word"})
	require.NoError(t, err)
	var login struct{ Token string }
	require.NoError(t, broker.Decode(res, &login))

	ids := make([]float64, rounds)
	for r := range rounds {
		nodes := []string{"node-a", "node-b"}
		got := make([]float64, 2)
		errs := make([]error, 2)
		var done []rt.Signal
		for i, node := range nodes {
			done = append(done, c.Go("create on "+node, func() {
				res, err := gw.Call("order.create", map[string]any{"productId": 1, "quantity": 2, "idempotencyKey": fmt.Sprint("checkout-", r)},
					withToken(login.Token), broker.WithNodeID(node))
				errs[i] = err
				var o struct{ ID float64 }
				if err == nil {
					errs[i] = broker.Decode(res, &o)
				}
				got[i] = o.ID
			}))
		}
		testutil.Wait(done...)
		require.NoError(t, errs[0], "round %d, node-a", r)
		require.NoError(t, errs[1], "round %d, node-b", r)
		require.Equal(t, got[0], got[1], "round %d: both callers get the one order", r)
		ids[r] = got[0]
	}
	return ids
}

// requireOnceEach checks the stores and the journal after rounds: one order per key, the
// stock reduced once per order, one stock operation per order, one order.created.
func requireOnceEach(t *testing.T, c *testutil.Cluster, orders, ops db.Adapter, products db.Adapter, ids []float64) {
	t.Helper()
	ctx := context.Background()
	stored, err := orders.Find(ctx, db.FindParams{Sort: []string{"id"}})
	require.NoError(t, err)
	require.Len(t, stored, len(ids), "one order per key")
	for r, o := range stored {
		assert.Equal(t, fmt.Sprint("checkout-", r), o["idempotencyKey"])
		assert.Equal(t, int64(ids[r]), o["id"], "round %d: the callers got the stored order", r)
	}
	n, err := ops.Count(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, len(ids), n, "one stock operation per order")
	p, err := products.FindByID(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(100-2*len(ids)), p["stock"], "stock reduced once per order")
	assert.Len(t, c.Kinds(journal.DomainOrder), len(ids), "orders persisted")
	assert.Len(t, c.Kinds(journal.DomainStock), len(ids), "stock changes committed")
}

// TestTwoProcessesOneDatabaseOneOrder: two order nodes as two processes would be: each has
// its own catalog.OpenSQLite of one database file (its own connection pool, its own
// adapters), so nothing in process memory is shared between them and only the database's
// unique indexes can decide. Real runtime, real goroutines, real SQLite locking; and the
// same on PostgreSQL when POSTGRES_DSN is set (a subtest that exists only then).
func TestTwoProcessesOneDatabaseOneOrder(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shop.db")
		twoProcesses(t, func() (*catalog.Stores, error) { return catalog.OpenSQLite(path) })
	})
	if dsn := os.Getenv("POSTGRES_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			prefix := fmt.Sprintf("e2e%d_race_", os.Getpid())
			t.Cleanup(func() {
				conn, err := db.OpenPostgres(dsn)
				require.NoError(t, err)
				defer conn.Close()
				for _, m := range []db.Model{user.Model, product.Model, product.OpsModel, order.Model} {
					_, err := conn.Exec(`DROP TABLE IF EXISTS "` + prefix + m.Name + `"`)
					assert.NoError(t, err)
				}
			})
			twoProcesses(t, func() (*catalog.Stores, error) { return catalog.OpenPostgres(dsn, prefix) })
		})
	}
}

func twoProcesses(t *testing.T, openStores func() (*catalog.Stores, error)) {
	open := func() *catalog.Resources {
		st, err := openStores()
		require.NoError(t, err)
		r := &catalog.Resources{BcryptCost: bcrypt.MinCost, Stores: st}
		t.Cleanup(func() { assert.NoError(t, r.Close()) })
		return r
	}
	procA, procB := open(), open()
	fromB := func(name string) catalog.Constructor {
		return func(*catalog.Resources) (*broker.Service, error) { return catalog.New(name, procB) }
	}
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Resources: procA,
		Services: map[string]catalog.Constructor{"order@b": fromB(order.Name), "product@b": fromB(product.Name)},
		Nodes:    raceNodes(&pairs{}, "order", "order@b", "product@b")})
	const rounds = 10
	var ids []float64
	c.Run(t, func() {
		require.NoError(t, c.Start())
		ids = raceRounds(t, c, rounds)
	})
	for name, r := range map[string]*catalog.Resources{"process A": procA, "process B": procB} {
		t.Run(name, func(t *testing.T) {
			orders, err := r.Adapter(order.Model)
			require.NoError(t, err)
			ops, err := r.Adapter(product.OpsModel)
			require.NoError(t, err)
			products, err := r.Adapter(product.Model)
			require.NoError(t, err)
			requireOnceEach(t, c, orders, ops, products, ids)
		})
	}
}

// TestTwoOrderNodesOneStoreOneOrderSim is the same race in the simulator, over memory
// stores shared by both nodes (the memory adapter enforces the same unique sets), across
// many seeds: whichever create the seed lets persist first, the other returns its order.
func TestTwoOrderNodesOneStoreOneOrderSim(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c := testutil.MustBuild(t, testutil.Spec{Seed: seed, Nodes: raceNodes(&pairs{}, "order", "order", "product")})
			const rounds = 3
			var ids []float64
			c.Run(t, func() {
				require.NoError(t, c.Start())
				ids = raceRounds(t, c, rounds)
			})
			requireOnceEach(t, c, c.Adapter(order.Model), c.Adapter(product.OpsModel), c.Adapter(product.Model), ids)
		})
	}
}
