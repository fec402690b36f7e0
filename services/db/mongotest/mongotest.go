// Package mongotest gives tests real MongoDB wire-protocol servers: FerretDB
// embedded in the test process (SQLite backend in a temporary directory), which
// needs nothing installed, and the mongod at MONGO_URL when that is set. Only
// tests import it, so FerretDB is never linked into the faultline binary.
package mongotest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/faultline/faultline/services/db"
)

// Server is one running server and a client connected to it.
type Server struct {
	// Name is "ferretdb" or "mongod", for subtest names.
	Name string
	// URL is the server's mongodb:// URL, without a database.
	URL    string
	client *mongo.Client
}

// Servers returns FerretDB, plus the mongod at MONGO_URL when it is set. They stop
// (FerretDB) or are disconnected (mongod) when t ends.
func Servers(t testing.TB) []*Server {
	out := []*Server{FerretDB(t)}
	if url := os.Getenv("MONGO_URL"); url != "" {
		out = append(out, Mongod(t, url))
	}
	return out
}

// FerretDB starts an embedded FerretDB on a free local port, storing into
// t.TempDir(), and stops it when t ends.
func FerretDB(t testing.TB) *Server {
	t.Helper()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + t.TempDir() + "/",
		// Its info lines (one per connection) would drown the test output.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		t.Fatalf("mongotest: start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	s := &Server{Name: "ferretdb", URL: f.MongoDBURI()}
	s.connect(t)
	return s
}

// Mongod connects to a running server at url.
func Mongod(t testing.TB, url string) *Server {
	t.Helper()
	s := &Server{Name: "mongod", URL: url}
	s.connect(t)
	return s
}

// connect opens the server's client; it is disconnected before the server stops
// (cleanups run last-in first-out), so FerretDB need not wait for idle connections.
func (s *Server) connect(t testing.TB) {
	t.Helper()
	client, _, err := db.OpenMongo(context.Background(), s.URL)
	if err != nil {
		t.Fatalf("mongotest: connect to %s at %s: %v", s.Name, s.URL, err)
	}
	s.client = client
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
}

var seq atomic.Int64

// DBName returns a database name no other test of this run, and no other run
// against a shared mongod, uses.
func DBName() string {
	return fmt.Sprintf("ft%d_%d", os.Getpid(), seq.Add(1))
}

// Database returns a fresh database, dropped when t ends.
func (s *Server) Database(t testing.TB) *mongo.Database {
	d := s.client.Database(DBName())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Drop(ctx); err != nil {
			t.Errorf("mongotest: drop %s: %v", d.Name(), err)
		}
	})
	return d
}

// DatabaseURL is the URL of a fresh database (dropped when t ends), for code that
// opens its own client, as a process would.
func (s *Server) DatabaseURL(t testing.TB) string {
	d := s.Database(t)
	return urlWithDatabase(s.URL, d.Name())
}

// urlWithDatabase puts name as the URL's path, keeping any query.
func urlWithDatabase(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	if query != "" {
		query = "?" + query
	}
	scheme, rest, _ := strings.Cut(base, "://")
	hosts, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + hosts + "/" + name + query
}
