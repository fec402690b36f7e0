package scenarios_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
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
	assert.True(t, res.Pass)
	assert.Equal(t, "PASS linearizable: 103 operations on 1 products, linearizable", res.Checks[0].Message())

	res, err = scenarios.Run(priceRegister("stale-cache"), scenarios.Options{})
	require.NoError(t, err)
	assert.False(t, res.Pass)
	// The writer sets price 0 at +1.5s; the next read, served from the cache nobody
	// cleaned, still says 10.
	assert.Equal(t, "FAIL linearizable: expected a linearizable history of product operations (a register of price per product), "+
		"got product 1: 103 operations are not linearizable; no order explains get(1) → price 10, stock 100 by client 0, "+
		"invoked at +1.6s, completed at +1.602629804s (first deviation at +1.6s)", res.Checks[0].Message())
}

// TestCacherOutageStaysLinearizable: seed 19 of the price register's nemesis takes
// product-1's cacher down from +7.31s to +8.059s; the update at +7.505s cannot clean the
// cached price 3 then. The broker owes that clean: the reads during the outage retry it and
// bypass the cache, and the first read after the heal pays it at +8.20197s instead of being
// served the old price (which made this seed fail the check before the debt existed).
func TestCacherOutageStaysLinearizable(t *testing.T) {
	s, err := file.Load("testdata/nemesis/price-register.yaml")
	require.NoError(t, err)
	s.Seed = 19
	var outage []string
	for _, f := range s.Schedule() {
		if f.Kind == "cacher-down" {
			outage = append(outage, fmt.Sprintf("%s @%s for %s", f.Name, f.Start, f.Duration))
		}
	}
	require.Equal(t, []string{"nemesis 3: cacher-down product-1 @7.31s for 749ms"}, outage)
	res, err := scenarios.Run(*s, scenarios.Options{})
	require.NoError(t, err)
	require.Len(t, res.Checks, 2)
	assert.True(t, res.Pass)
	assert.Equal(t, "PASS linearizable: 248 operations on 1 products, linearizable", res.Checks[0].Message())

	var lines []string
	for _, e := range res.Journal {
		if (e.Kind == journal.CacheClean || e.Kind == journal.CacheError) && e.T >= 7500*time.Millisecond && e.T < 8300*time.Millisecond {
			lines = append(lines, fmt.Sprintf("+%s %s op=%s owed=%v", e.T, e.Kind, e.Str("op"), e.Bool("owed")))
		}
	}
	owedFails := "cache.error op=clean owed=true"
	assert.Equal(t, []string{
		"+7.505117137s cache.error op=clean owed=false", // the update's clean, lost
		"+7.601678875s " + owedFails, "+7.601678875s " + owedFails, "+7.601872201s " + owedFails,
		"+7.801723641s " + owedFails, "+7.801723641s " + owedFails, "+7.801723641s " + owedFails,
		"+8.001474302s " + owedFails, "+8.001474302s " + owedFails, "+8.001474302s " + owedFails,
		"+8.201970454s cache.clean op= owed=true", // paid by the first read after the heal
	}, lines)
}
