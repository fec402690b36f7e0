package catalog_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/db/mongotest"
	"github.com/faultline/faultline/services/product"
)

// TestOpenURL: a --db value picks its adapter by scheme, and the stores it opens
// keep data across a reopen (memory excepted, which has nothing to reopen).
func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	for name, url := range map[string]string{
		"sqlite path":   filepath.Join(dir, "a.db"),
		"sqlite scheme": "sqlite:" + filepath.Join(dir, "b.db"),
		"mongodb":       mongotest.FerretDB(t).DatabaseURL(t),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := catalog.OpenURL(url)
			require.NoError(t, err)
			a, err := st.Adapter(product.Model)
			require.NoError(t, err)
			_, err = a.Insert(t.Context(), db.Entity{"name": "Widget", "price": 2.5, "stock": 3})
			require.NoError(t, err)
			require.NoError(t, st.Close())

			st, err = catalog.OpenURL(url)
			require.NoError(t, err)
			defer st.Close()
			a, err = st.Adapter(product.Model)
			require.NoError(t, err)
			n, err := a.Count(t.Context(), nil)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	}
	for _, url := range []string{"", "memory"} {
		st, err := catalog.OpenURL(url)
		require.NoError(t, err)
		_, isMemory := must(st.Adapter(product.Model)).(*db.Memory)
		require.True(t, isMemory, "%q", url)
	}
	_, err := catalog.OpenURL("redis://localhost")
	require.ErrorContains(t, err, `database URL "redis://localhost": unknown scheme`)
	_, err = catalog.OpenURL("mongodb://")
	require.ErrorContains(t, err, "db: open mongo")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
