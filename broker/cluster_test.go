package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/testutil"
)

// chainCluster is gateway → order → product, with order emitting events handled by two
// services on two nodes each.
func chainCluster(seed uint64) (*testutil.Cluster, map[string]int) {
	c := testutil.NewSim(seed)
	handled := map[string]int{}
	listener := func(name string) *broker.Service {
		return &broker.Service{Name: name, Events: map[string]broker.Event{
			"order.created": {Handler: func(ctx *broker.Context) error {
				handled[name+"@"+ctx.Broker().NodeID()]++
				return nil
			}},
		}}
	}
	c.MustAddNode("gateway", broker.Options{})
	c.MustAddNode("order", broker.Options{}, &broker.Service{Name: "order", Actions: map[string]broker.Action{
		"create": {Handler: func(ctx *broker.Context) (any, error) {
			p, err := ctx.Call("product.get", map[string]any{"id": ctx.Params["productID"]})
			if err != nil {
				return nil, err
			}
			ctx.Meta["orderedBy"] = "order-service"
			if err := ctx.Emit("order.created", map[string]any{"product": p}); err != nil {
				return nil, err
			}
			return map[string]any{"product": p, "qty": ctx.Params["qty"]}, nil
		}},
	}}, listener("email"))
	c.MustAddNode("product", broker.Options{}, &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			if err := ctx.Sleep(5 * time.Millisecond); err != nil {
				return nil, err
			}
			return map[string]any{"id": ctx.Params["id"], "price": 10}, nil
		}},
	}}, listener("email"), listener("notification"))
	c.MustAddNode("notify", broker.Options{}, listener("notification"))
	return c, handled
}

func runChain(t *testing.T, seed uint64) (*testutil.Cluster, map[string]int) {
	c, handled := chainCluster(seed)
	c.Run(t, func() {
		require.NoError(t, c.Start())
		gw := c.Node("gateway")
		done := make([]bool, 4)
		sigs := make([]interface{ Wait() }, 4)
		for i := range 4 {
			sig := c.Sim.NewSignal(fmt.Sprintf("client %d", i))
			sigs[i] = sig
			c.Sim.Go(fmt.Sprintf("client %d", i), func() {
				res, err := gw.Call("order.create", map[string]any{"productID": i, "qty": 2}, broker.WithMeta(map[string]any{"user": i}))
				require.NoError(t, err)
				m := res.(map[string]any)
				assert.Equal(t, float64(2), m["qty"])
				assert.Equal(t, float64(i), m["product"].(map[string]any)["id"])
				done[i] = true
				sig.Fire()
			})
		}
		for _, s := range sigs {
			s.Wait()
		}
		c.Sim.Sleep(time.Second) // let the events land
		assert.Equal(t, []bool{true, true, true, true}, done)
	})
	return c, handled
}

func TestNestedCallChainAndEventsAreDeterministic(t *testing.T) {
	c1, h1 := runChain(t, 7)
	defer c1.Close()
	c2, h2 := runChain(t, 7)
	defer c2.Close()
	j1, j2 := c1.Journal.Bytes(), c2.Journal.Bytes()
	require.NotEmpty(t, j1)
	assert.True(t, bytes.Equal(j1, j2), "same seed must give byte-identical journals")
	assert.Equal(t, h1, h2)
}

func TestChainBehaviourAcrossSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c, handled := runChain(t, seed)
			defer c.Close()
			// Each of 4 order.created events reaches each group exactly once.
			email, notification := 0, 0
			for k, n := range handled {
				switch k[:5] {
				case "email":
					email += n
				case "notif":
					notification += n
				}
			}
			assert.Equal(t, 4, email)
			assert.Equal(t, 4, notification)
			finished := c.Kinds(journal.CallFinished)
			require.Len(t, finished, 8) // 4 order.create + 4 product.get
			for _, e := range finished {
				assert.True(t, e.Bool("ok"), "call %v", e.Attrs)
			}
		})
	}
}
