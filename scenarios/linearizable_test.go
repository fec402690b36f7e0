package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
)

// priceRegister: readers get product 1 through a cached product node while a writer
// changes its price every second.
func priceRegister(plants ...string) scenarios.Scenario {
	return scenarios.Scenario{
		Name: "price-register", Seed: 3, Duration: 6 * time.Second, Plants: plants,
		Nodes: []scenarios.NodeSpec{
			{ID: "gateway"},
			{ID: "product-1", Services: []string{"product"}, Options: scenarios.NodeOptions{Cacher: "memory"}},
		},
		Workload: []scenarios.WorkloadSpec{
			{Name: "readers", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1}, Clients: 2, Rate: 10, Start: time.Second},
			{Name: "writer", From: "gateway", Action: "product.update", Params: map[string]any{"id": 1, "price": "{{i}}"},
				Think: time.Second, Start: 1500 * time.Millisecond, Count: 3},
		},
		Checks: []scenarios.CheckSpec{{Kind: "linearizable", Fields: []string{"price"}}},
		Config: scenarios.ServiceConfig{Products: []scenarios.Product{{Name: "widget", Price: 10, Stock: 100}}},
	}
}

func TestLinearizableCatchesStaleCache(t *testing.T) {
	res, err := scenarios.Run(priceRegister(), scenarios.Options{})
	require.NoError(t, err)
	require.Len(t, res.Checks, 1)
	t.Log(res.Checks[0].Message())
	assert.True(t, res.Pass)

	res, err = scenarios.Run(priceRegister("stale-cache"), scenarios.Options{})
	require.NoError(t, err)
	t.Log(res.Checks[0].Message())
	assert.False(t, res.Pass)
}
