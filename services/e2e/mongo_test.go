package e2e_test

import (
	"testing"

	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db/mongotest"
)

// TestTwoProcessesOneMongoOneOrder is TestTwoProcessesOneDatabaseOneOrder on MongoDB's
// wire protocol: each "process" has its own client (catalog.OpenMongo of one database
// URL), so only the server's unique indexes decide the idempotency race, and the stock
// decrement's guard must hold across clients. It runs on embedded FerretDB always and
// on the mongod at MONGO_URL when set.
func TestTwoProcessesOneMongoOneOrder(t *testing.T) {
	for _, srv := range mongotest.Servers(t) {
		t.Run(srv.Name, func(t *testing.T) {
			url := srv.DatabaseURL(t)
			twoProcesses(t, func() (*catalog.Stores, error) { return catalog.OpenMongo(url) })
		})
	}
}
