package db_test

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/db/dbtest"
	"github.com/faultline/faultline/services/db/mongotest"
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
