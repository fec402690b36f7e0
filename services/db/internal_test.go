package db

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithParams(t *testing.T) {
	params := []string{"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)", "_txlock=immediate"}
	require.Equal(t, "x.db?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate",
		withParams("x.db", params))
	require.Equal(t, "file:x.db?mode=rw&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate",
		withParams("file:x.db?mode=rw", params))
	require.Equal(t, "file:x.db?_pragma=busy_timeout(50)&_txlock=deferred&_pragma=foreign_keys(1)",
		withParams("file:x.db?_pragma=busy_timeout(50)&_txlock=deferred", params), "explicit settings win")
}

func TestIsMemoryDSN(t *testing.T) {
	for dsn, want := range map[string]bool{
		"":                                true,
		":memory:":                        true,
		"file::memory:?cache=shared":      true,
		"file:x?mode=memory&cache=shared": true,
		"file:/tmp/x.db":                  false,
		"x.db":                            false,
	} {
		require.Equal(t, want, isMemoryDSN(dsn), dsn)
	}
}

func TestInvalidConstruction(t *testing.T) {
	ctx := context.Background()
	require.ErrorIs(t, NewMemory(Model{}).Connect(ctx), ErrInvalid)
	conn, err := OpenSQLite(":memory:")
	require.NoError(t, err)
	defer conn.Close()
	require.ErrorIs(t, NewSQL(conn, SQLite, Model{}).Connect(ctx), ErrInvalid)
	require.ErrorIs(t, NewSQL(conn, Dialect(9), Model{Name: "x"}).Connect(ctx), ErrInvalid)
	require.ErrorIs(t, NewSQL(nil, SQLite, Model{Name: "x"}).Connect(ctx), ErrInvalid)
	_, err = NewSQL(nil, SQLite, Model{Name: "x"}).FindByID(ctx, 1)
	require.ErrorIs(t, err, ErrInvalid)
}

// TestSQLiteReopen covers what the shared suite cannot: data outlives the
// process's connections, Connect tolerates an existing table and ids carry on.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	m := Model{Name: "users", Fields: []Field{{Name: "email", Type: TypeString}}}

	conn, err := OpenSQLite(path)
	require.NoError(t, err)
	a := NewSQL(conn, SQLite, m)
	require.NoError(t, a.Connect(ctx))
	require.NoError(t, a.Connect(ctx), "Connect is idempotent")
	_, err = a.Insert(ctx, Entity{"email": "a@x"})
	require.NoError(t, err)
	require.NoError(t, a.Disconnect())
	require.NoError(t, conn.Close())

	conn, err = OpenSQLite(path)
	require.NoError(t, err)
	defer conn.Close()
	a = NewSQL(conn, SQLite, m)
	require.NoError(t, a.Connect(ctx))
	e, err := a.FindByID(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, Entity{"id": int64(1), "email": "a@x"}, e)
	e, err = a.Insert(ctx, Entity{"email": "b@x"})
	require.NoError(t, err)
	require.Equal(t, int64(2), e["id"])

	var mode string
	require.NoError(t, conn.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
}

func TestEmptyModel(t *testing.T) {
	ctx := context.Background()
	conn, err := OpenSQLite(":memory:")
	require.NoError(t, err)
	defer conn.Close()
	for _, a := range []Adapter{NewMemory(Model{Name: "bare"}), NewSQL(conn, SQLite, Model{Name: "bare"})} {
		require.NoError(t, a.Connect(ctx))
		e, err := a.Insert(ctx, Entity{})
		require.NoError(t, err)
		require.Equal(t, Entity{"id": int64(1)}, e)
		es, err := a.Find(ctx, FindParams{Search: "x"})
		require.NoError(t, err)
		require.Empty(t, es, "no string fields: a search matches nothing")
	}
}
