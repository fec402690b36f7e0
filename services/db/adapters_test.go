package db_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/db/dbtest"
)

// TestAdapters runs the conformance suite on every adapter. PostgreSQL runs
// only when POSTGRES_DSN points at a server the tests may create tables in.
func TestAdapters(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		dbtest.RunAdapterSuite(t, func(t *testing.T, m db.Model) db.Adapter { return db.NewMemory(m) })
	})
	t.Run("sqlite", func(t *testing.T) {
		dbtest.RunAdapterSuite(t, sqliteFactory(func(t *testing.T) string {
			return fmt.Sprintf("file:faultline_test_%d?mode=memory&cache=shared", dbSeq.Add(1))
		}))
	})
	// A file database has a real connection pool, so this is where SQLite's
	// locking (busy timeout, WAL, immediate transactions) is exercised.
	t.Run("sqlite-file", func(t *testing.T) {
		dbtest.RunAdapterSuite(t, sqliteFactory(func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "test.db")
		}))
	})
	if dsn := os.Getenv("POSTGRES_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			dbtest.RunAdapterSuite(t, postgresFactory(t, dsn))
		})
	}
}

var dbSeq atomic.Int64

// perTest hands out one resource per *testing.T, as the suite requires that
// adapters created within one test share a database.
type perTest[V any] struct {
	mu sync.Mutex
	m  map[*testing.T]V
}

func (p *perTest[V]) get(t *testing.T, create func() V) V {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.m[t]; ok {
		return v
	}
	if p.m == nil {
		p.m = map[*testing.T]V{}
	}
	v := create()
	p.m[t] = v
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.m, t)
	})
	return v
}

func sqliteFactory(dsn func(t *testing.T) string) dbtest.NewAdapterFunc {
	var dbs perTest[*sql.DB]
	return func(t *testing.T, m db.Model) db.Adapter {
		conn := dbs.get(t, func() *sql.DB {
			conn, err := db.OpenSQLite(dsn(t))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, conn.Close()) })
			return conn
		})
		return db.NewSQL(conn, db.SQLite, m)
	}
}

// postgresFactory isolates tests by giving each its own table-name prefix
// and dropping its tables afterwards; the suite never looks at table names.
func postgresFactory(t *testing.T, dsn string) dbtest.NewAdapterFunc {
	conn, err := db.OpenPostgres(dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	var prefixes perTest[string]
	return func(t *testing.T, m db.Model) db.Adapter {
		prefix := prefixes.get(t, func() string {
			return fmt.Sprintf("ft%d_%d_", os.Getpid(), dbSeq.Add(1))
		})
		m.Name = prefix + m.Name
		t.Cleanup(func() {
			_, err := conn.Exec(`DROP TABLE IF EXISTS "` + strings.ReplaceAll(m.Name, `"`, `""`) + `"`)
			require.NoError(t, err)
		})
		return db.NewSQL(conn, db.Postgres, m)
	}
}

// TestConnectAddsUniqueIndex: a model that gains a Unique set gets its index on
// an existing table at Connect, and rows that already violate it make Connect
// fail with ErrDuplicate instead of leaving the set unenforced.
func TestConnectAddsUniqueIndex(t *testing.T) {
	conn, err := db.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	require.NoError(t, err)
	defer conn.Close()
	plain := db.Model{Name: "users", Fields: []db.Field{{Name: "email", Type: db.TypeString}}}
	unique := plain
	unique.Unique = [][]string{{"email"}}

	old := db.NewSQL(conn, db.SQLite, plain)
	require.NoError(t, old.Connect(t.Context()))
	_, err = old.InsertMany(t.Context(), []db.Entity{{"email": "a@x"}, {"email": "b@x"}})
	require.NoError(t, err)
	upgraded := db.NewSQL(conn, db.SQLite, unique)
	require.NoError(t, upgraded.Connect(t.Context()))
	_, err = upgraded.Insert(t.Context(), db.Entity{"email": "a@x"})
	require.ErrorIs(t, err, db.ErrDuplicate)

	dup := db.NewSQL(conn, db.SQLite, db.Model{Name: "dups", Fields: plain.Fields})
	require.NoError(t, dup.Connect(t.Context()))
	_, err = dup.InsertMany(t.Context(), []db.Entity{{"email": "a@x"}, {"email": "a@x"}})
	require.NoError(t, err)
	err = db.NewSQL(conn, db.SQLite, db.Model{Name: "dups", Fields: plain.Fields, Unique: unique.Unique}).Connect(t.Context())
	require.ErrorIs(t, err, db.ErrDuplicate)
	require.Contains(t, err.Error(), "unique index on existing rows")
}
