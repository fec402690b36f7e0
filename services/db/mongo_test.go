package db_test

import (
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/db/dbtest"
	"github.com/faultline/faultline/services/db/mongotest"
	"github.com/stretchr/testify/require"
)

// TestMongoAdapter runs the conformance suite on FerretDB (embedded, always) and on
// the mongod at MONGO_URL (when set): one database per test.
func TestMongoAdapter(t *testing.T) {
	for _, srv := range mongotest.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			var dbs perTest[*mongo.Database]
			dbtest.RunAdapterSuite(t, func(t *testing.T, m db.Model) db.Adapter {
				return db.NewMongo(dbs.get(t, func() *mongo.Database { return srv.Database(t) }), m, db.MongoOptions{})
			})
		})
	}
}

// TestMongoConnectTogether: processes that start together create a collection's
// indexes at once; each must connect (FerretDB 1.x corrupts a collection whose first indexes two clients create at once,
// so Connect serializes it there).
func TestMongoConnectTogether(t *testing.T) {
	m := db.Model{Name: "ops", Fields: []db.Field{{Name: "key", Type: db.TypeString}}, Unique: [][]string{{"key"}}}
	for _, srv := range mongotest.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			for range 5 {
				d := srv.Database(t)
				var wg sync.WaitGroup
				errs := make([]error, 3)
				for i := range errs {
					wg.Go(func() { errs[i] = db.NewMongo(d, m, db.MongoOptions{}).Connect(t.Context()) })
				}
				wg.Wait()
				for i, err := range errs {
					require.NoError(t, err, "process %d", i)
				}
			}
		})
	}
}

// TestMongoReconnect: a process that restarts connects its adapters again, on
// collections whose indexes exist; its data and the id sequence carry on.
func TestMongoReconnect(t *testing.T) {
	m := db.Model{Name: "accounts", Fields: []db.Field{{Name: "email", Type: db.TypeString}, {Name: "key", Type: db.TypeString}},
		Unique: [][]string{{"email"}, {"key"}}}
	for _, srv := range mongotest.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			d := srv.Database(t)
			first := db.NewMongo(d, m, db.MongoOptions{})
			require.NoError(t, first.Connect(t.Context()))
			_, err := first.Insert(t.Context(), db.Entity{"email": "a@x"})
			require.NoError(t, err)
			again := db.NewMongo(d, m, db.MongoOptions{})
			require.NoError(t, again.Connect(t.Context()))
			_, err = again.Insert(t.Context(), db.Entity{"email": "a@x"})
			requireDuplicateOf(t, err, []string{"email"})
			e, err := again.Insert(t.Context(), db.Entity{"email": "b@x"})
			require.NoError(t, err)
			require.Equal(t, int64(3), e["id"], "ids carry on; the failed insert's claim is not handed back, as with a PostgreSQL sequence")
		})
	}
}

func requireDuplicateOf(t *testing.T, err error, fields []string) {
	t.Helper()
	var dup *db.DuplicateError
	require.ErrorAs(t, err, &dup)
	require.Equal(t, fields, dup.Fields)
}

// TestMongoObjectIDKey: with ObjectIDKey set, entities also carry the document's
// ObjectID in hex, as moleculer-db returns _id, and the by-id methods take it.
func TestMongoObjectIDKey(t *testing.T) {
	m := db.Model{Name: "things", Fields: []db.Field{{Name: "name", Type: db.TypeString}}}
	for _, srv := range mongotest.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			a := db.NewMongo(srv.Database(t), m, db.MongoOptions{ObjectIDKey: "_id"})
			require.NoError(t, a.Connect(t.Context()))
			es, err := a.InsertMany(t.Context(), []db.Entity{{"name": "a"}, {"name": "b"}})
			require.NoError(t, err)
			oid := es[1]["_id"].(string)
			require.Regexp(t, `^[0-9a-f]{24}$`, oid)
			require.NotEqual(t, es[0]["_id"], oid)

			got, err := a.FindByID(t.Context(), oid)
			require.NoError(t, err)
			require.Equal(t, db.Entity{"id": int64(2), "_id": oid, "name": "b"}, got)
			got, err = a.FindByID(t.Context(), 2)
			require.NoError(t, err)
			require.Equal(t, oid, got["_id"], "found by int64 id, the same document")
			list, err := a.FindByIDs(t.Context(), []any{oid, 1, "000000000000000000000000"})
			require.NoError(t, err)
			require.Equal(t, []any{oid, es[0]["_id"]}, []any{list[0]["_id"], list[1]["_id"]})
			require.Len(t, list, 2, "an unknown ObjectID is skipped")

			up, err := a.UpdateByID(t.Context(), oid, db.Update{Set: map[string]any{"name": "B"}})
			require.NoError(t, err)
			require.Equal(t, db.Entity{"id": int64(2), "_id": oid, "name": "B"}, up)
			gone, err := a.RemoveByID(t.Context(), oid)
			require.NoError(t, err)
			require.Equal(t, up, gone)
			_, err = a.FindByID(t.Context(), oid)
			require.ErrorIs(t, err, db.ErrNotFound)
		})
	}
}
