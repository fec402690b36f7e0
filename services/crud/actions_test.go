package crud_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/testutil"
)

// TestActionsThroughABroker wires the mixin into a service on a lone simulated broker: the
// actions' params schemas, their results and their caching.
func TestActionsThroughABroker(t *testing.T) {
	sim := rt.NewSim(1)
	defer sim.Close()
	j := journal.New(sim)
	a := db.NewMemory(things)
	require.NoError(t, a.Connect(t.Context()))
	m := crud.New(crud.Config{Name: "things", Adapter: a, Fields: []string{"id", "name", "qty"}, Cache: true})
	b := broker.MustNew(broker.Options{NodeID: "n1", Runtime: sim, Journal: j, Cacher: cache.NewMemory(sim)})
	b.MustAddService(m.Merge(&broker.Service{Name: "things"}))
	decode := func(res any) any {
		var out any
		require.NoError(t, broker.Decode(res, &out))
		return out
	}
	testutil.RunSim(t, sim, func() {
		require.NoError(t, b.Start())
		_, err := b.Call("things.insert", map[string]any{"entities": []any{
			map[string]any{"name": "a", "qty": 1}, map[string]any{"name": "b", "qty": 2}, map[string]any{"name": "c", "qty": 3},
		}})
		require.NoError(t, err)
		res, err := b.Call("things.list", map[string]any{"page": "2", "pageSize": "2", "sort": "name"})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"rows": []any{map[string]any{"id": float64(3), "name": "c", "qty": float64(3)}},
			"total": float64(3), "page": float64(2), "pageSize": float64(2), "totalPages": float64(2)}, decode(res))

		// get is cached; a write through the broker cleans the cache.
		for range 2 {
			res, err = b.Call("things.get", map[string]any{"id": 1})
			require.NoError(t, err)
		}
		assert.Len(t, journal.Filter(j.Entries(), journal.CacheHit), 1)
		_, err = b.Call("things.update", map[string]any{"id": 1, "qty": 10})
		require.NoError(t, err)
		// No wait: the writer's own cache is clean when the write returns.
		res, err = b.Call("things.get", map[string]any{"id": 1})
		require.NoError(t, err)
		assert.Equal(t, float64(10), decode(res).(map[string]any)["qty"])

		res, err = b.Call("things.count", map[string]any{"query": map[string]any{"qty": map[string]any{"$gt": 2}}})
		require.NoError(t, err)
		assert.Equal(t, float64(2), decode(res))

		_, err = b.Call("things.find", map[string]any{"limit": "lots"})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = b.Call("things.get", map[string]any{})
		requireErr(t, err, "ValidationError", 422, "VALIDATION_ERROR")
		_, err = b.Call("things.remove", map[string]any{"id": 77})
		requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
		res, err = b.Call("things.remove", map[string]any{"id": 2})
		require.NoError(t, err)
		assert.Equal(t, "b", decode(res).(map[string]any)["name"])
	})
}
