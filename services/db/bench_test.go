package db_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/services/db"
)

var benchModel = db.Model{Name: "bench", Fields: []db.Field{
	{Name: "name", Type: db.TypeString},
	{Name: "price", Type: db.TypeFloat},
	{Name: "stock", Type: db.TypeInt},
	{Name: "tags", Type: db.TypeJSON},
}}

func benchAdapters(b *testing.B) map[string]func(b *testing.B) db.Adapter {
	return map[string]func(b *testing.B) db.Adapter{
		"memory": func(b *testing.B) db.Adapter { return db.NewMemory(benchModel) },
		"sqlite": func(b *testing.B) db.Adapter {
			conn, err := db.OpenSQLite(":memory:")
			require.NoError(b, err)
			b.Cleanup(func() { conn.Close() })
			return db.NewSQL(conn, db.SQLite, benchModel)
		},
	}
}

func benchEntity() db.Entity {
	return db.Entity{"name": "Widget", "price": 9.5, "stock": 12, "tags": []any{"a", "b"}}
}

func BenchmarkInsert(b *testing.B) {
	for name, open := range benchAdapters(b) {
		b.Run(name, func(b *testing.B) {
			a := open(b)
			require.NoError(b, a.Connect(b.Context()))
			e := benchEntity()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Insert(b.Context(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFindByID(b *testing.B) {
	for name, open := range benchAdapters(b) {
		b.Run(name, func(b *testing.B) {
			a := open(b)
			require.NoError(b, a.Connect(b.Context()))
			const n = 1000
			es := make([]db.Entity, n)
			for i := range es {
				es[i] = benchEntity()
			}
			_, err := a.InsertMany(b.Context(), es)
			require.NoError(b, err)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := a.FindByID(b.Context(), int64(i%n+1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInsertUnique inserts (and removes again, so the size stays put) one entity into a
// table of 1000 with a two-field unique set: the cost of the duplicate check.
func BenchmarkInsertUnique(b *testing.B) {
	m := db.Model{Name: "keyed", Fields: []db.Field{{Name: "userId", Type: db.TypeInt}, {Name: "key", Type: db.TypeString}},
		Unique: [][]string{{"userId", "key"}}}
	for name, open := range map[string]func(b *testing.B) db.Adapter{
		"memory": func(b *testing.B) db.Adapter { return db.NewMemory(m) },
		"sqlite": func(b *testing.B) db.Adapter {
			conn, err := db.OpenSQLite(":memory:")
			require.NoError(b, err)
			b.Cleanup(func() { conn.Close() })
			return db.NewSQL(conn, db.SQLite, m)
		},
	} {
		b.Run(name, func(b *testing.B) {
			a := open(b)
			require.NoError(b, a.Connect(b.Context()))
			const n = 1000
			es := make([]db.Entity, n)
			for i := range es {
				es[i] = db.Entity{"userId": i % 10, "key": fmt.Sprint("k", i)}
			}
			_, err := a.InsertMany(b.Context(), es)
			require.NoError(b, err)
			e := db.Entity{"userId": 3, "key": "fresh"}
			b.ReportAllocs()
			for b.Loop() {
				got, err := a.Insert(b.Context(), e)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.RemoveByID(b.Context(), got["id"]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
