package catalog_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/product"
)

func TestZeroResourcesWork(t *testing.T) {
	var r catalog.Resources
	defer r.Close()
	for _, name := range []string{"user", "product", "order", "email", "notification"} {
		s, err := catalog.New(name, &r)
		require.NoError(t, err, name)
		assert.Equal(t, name, s.Name)
	}
	_, err := catalog.New("nope", &r)
	assert.ErrorContains(t, err, "nope")
}

func TestResourcesAreShared(t *testing.T) {
	r := catalog.SimResources()
	defer r.Close()
	a1, err := r.Adapter(product.Model)
	require.NoError(t, err)
	a2, err := r.Adapter(product.Model)
	require.NoError(t, err)
	assert.Same(t, a1, a2, "one store per model: nodes share it")
	assert.Same(t, r.Outbox("email"), r.Outbox("email"))
	assert.NotSame(t, r.Outbox("email"), r.Outbox("notification"))

	// Each constructor call builds a fresh service (per node state) over the shared store.
	s1, err := catalog.New("product", r)
	require.NoError(t, err)
	s2, err := catalog.New("product", r)
	require.NoError(t, err)
	assert.NotSame(t, s1, s2)
}

func TestRegister(t *testing.T) {
	catalog.Register("catalog-test-svc", func(*catalog.Resources) (*broker.Service, error) {
		return &broker.Service{Name: "catalog-test-svc"}, nil
	})
	assert.Contains(t, catalog.Names(), "catalog-test-svc")
	assert.Panics(t, func() { catalog.Register("user", nil) })
}

func TestSQLiteStores(t *testing.T) {
	stores, err := catalog.OpenSQLite(filepath.Join(t.TempDir(), "shop.db"))
	require.NoError(t, err)
	r := &catalog.Resources{Stores: stores}
	a, err := r.Adapter(product.Model)
	require.NoError(t, err)
	_, err = a.Insert(t.Context(), map[string]any{"name": "Widget", "price": 1, "stock": 2})
	require.NoError(t, err)
	require.NoError(t, r.Close())
}
