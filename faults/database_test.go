package faults_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/testutil"
)

// productStore is the gateway and a node running the catalog's product service, whose
// storage (the "products" model) the cluster wraps in a FlakyAdapter.
func productStore(t *testing.T) *simNodes {
	s := newSimNodes(t, 1)
	s.add("gateway", broker.Options{}, nil)
	_, err := s.c.AddNode(testutil.NodeSpec{ID: "store", Services: []string{product.Name}})
	require.NoError(t, err)
	return s
}

func TestDatabaseSlowDelaysEveryOperation(t *testing.T) {
	s := productStore(t)
	s.run(func() {
		s.startAll()
		require.NoError(t, s.goCall("gateway", "product.create", map[string]any{"name": "Widget", "price": 2.5, "stock": 3}).wait().err)
		healthy := s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait()
		require.NoError(t, healthy.err)

		s.inj.MustAdd(faults.Spec{Name: "db-slow", Start: s.now(), Duration: 10 * time.Second,
			Fault: faults.DatabaseSlow{Model: product.Model.Name, D: 2 * time.Second}})
		slow := s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait()
		require.NoError(t, slow.err)
		assert.Equal(t, 2*time.Second, (slow.end-slow.start)-(healthy.end-healthy.start), "one storage read, 2 s late")

		r := s.goCall("gateway", "product.get", map[string]any{"id": 1}, broker.WithTimeout(time.Second)).wait()
		assert.True(t, errors.Is(r.err, errs.ErrRequestTimeout), "%v", r.err)
		assert.Equal(t, time.Second, r.end-r.start)

		s.c.Sim.Sleep(10 * time.Second) // healed
		again := s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait()
		require.NoError(t, again.err)
		assert.Equal(t, healthy.end-healthy.start, again.end-again.start)
	})
	assert.Equal(t, int64(2), s.inj.Stats()["db-slow"].Fired, "two reads while slow")
}

func TestDatabaseDownFailsEveryOperation(t *testing.T) {
	s := productStore(t)
	s.run(func() {
		s.startAll()
		require.NoError(t, s.goCall("gateway", "product.create", map[string]any{"name": "Widget", "price": 2.5, "stock": 3}).wait().err)
		s.inj.MustAdd(faults.Spec{Name: "db-down", Start: s.now(), Duration: time.Second, Fault: faults.DatabaseDown{Model: product.Model.Name}})
		for _, call := range []struct {
			action string
			params map[string]any
		}{
			{"product.get", map[string]any{"id": 1}},
			{"product.create", map[string]any{"name": "Gadget", "price": 1, "stock": 1}},
		} {
			err := s.goCall("gateway", call.action, call.params).wait().err
			var e *errs.Error
			require.True(t, errors.As(err, &e), "%s: %v", call.action, err)
			assert.Equal(t, errs.NameMoleculerError, e.Name, call.action)
			assert.Equal(t, 500, e.Code, call.action)
			assert.Equal(t, "DB_ERROR", e.Type, call.action)
			assert.Contains(t, e.Message, faults.ErrDatabaseDown.Error(), call.action)
		}
		s.c.Sim.Sleep(time.Second) // healed
		require.NoError(t, s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait().err)
	})
	assert.Equal(t, int64(2), s.inj.Stats()["db-down"].Fired)
}

func TestDatabaseFaultNeedsItsModel(t *testing.T) {
	s := productStore(t)
	s.run(func() {
		s.startAll()
		err := s.inj.Add(faults.Spec{Name: "x", Fault: faults.DatabaseDown{Model: "nope"}})
		require.ErrorContains(t, err, "no database for model nope in Targets.Databases")
		err = s.inj.Add(faults.Spec{Name: "y", Fault: faults.DatabaseSlow{Model: product.Model.Name}})
		require.ErrorContains(t, err, "database slowness must be positive")
	})
}
