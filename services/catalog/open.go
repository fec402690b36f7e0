package catalog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/services/db"
)

// OpenMongo connects to a MongoDB wire-protocol server (MongoDB, FerretDB) for the
// stores, one collection per model in the URL's database ("mongodb://host/shop";
// db.DefaultMongoDatabase without one); Close disconnects.
func OpenMongo(url string) (*Stores, error) {
	client, d, err := db.OpenMongo(context.Background(), url)
	if err != nil {
		return nil, err
	}
	return &Stores{
		newFn: func(m db.Model) db.Adapter { return db.NewMongo(d, m, db.MongoOptions{}) },
		closeFn: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return client.Disconnect(ctx)
		},
	}, nil
}

// OpenURL opens the stores a --db flag names, by its scheme:
//
//	memory (or empty)                    in-process memory (db.Memory)
//	mongodb://…, mongodb+srv://…         MongoDB or FerretDB (OpenMongo)
//	postgres://…, postgresql://…         PostgreSQL (OpenPostgres, no table prefix)
//	sqlite:PATH, file:…, or a plain path SQLite (OpenSQLite; "sqlite:" is stripped)
func OpenURL(url string) (*Stores, error) {
	switch {
	case url == "" || url == "memory":
		return MemoryStores(), nil
	case strings.HasPrefix(url, "mongodb://"), strings.HasPrefix(url, "mongodb+srv://"):
		return OpenMongo(url)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(url, "")
	case strings.HasPrefix(url, "sqlite:"):
		return OpenSQLite(strings.TrimPrefix(url, "sqlite:"))
	case strings.HasPrefix(url, "file:"), !strings.Contains(url, "://"):
		return OpenSQLite(url)
	}
	return nil, fmt.Errorf("catalog: database URL %q: unknown scheme (want memory, mongodb://, postgres://, sqlite: or a file path)", url)
}

// Wrap makes every adapter the stores create from now on pass through fn before it is
// connected and shared; adapters created earlier stay as they are. A later Wrap replaces
// an earlier one. Fault injection uses it to put a faults.FlakyAdapter around each model.
func (s *Stores) Wrap(fn func(m db.Model, a db.Adapter) db.Adapter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrap = fn
}

// WrapAdapters is Stores.Wrap on the resources' stores.
func (r *Resources) WrapAdapters(fn func(m db.Model, a db.Adapter) db.Adapter) {
	r.stores().Wrap(fn)
}
