package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// OpenSQLite opens a SQLite database with the settings the adapters rely on,
// applied to every pooled connection through the DSN: a busy timeout (so
// concurrent writers wait instead of failing with SQLITE_BUSY) and foreign
// keys on. File databases also get WAL and immediate transactions, which
// avoids lock-upgrade deadlocks between writers. Settings already present in
// dsn are left alone.
//
// An in-memory database lives only as long as its connections, so it gets a
// single connection that is never recycled: every statement sees the same
// data, and concurrent callers queue on the pool instead of racing.
func OpenSQLite(dsn string) (*sql.DB, error) {
	mem := isMemoryDSN(dsn)
	params := []string{"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)"}
	if !mem {
		params = append(params, "_pragma=journal_mode(WAL)", "_txlock=immediate")
	}
	dsn = withParams(dsn, params)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	if mem {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	return db, nil
}

func isMemoryDSN(dsn string) bool {
	return dsn == "" || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// withParams appends each DSN query parameter whose setting is not already
// mentioned, so explicit caller choices win.
func withParams(dsn string, params []string) string {
	query := ""
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		query = strings.ToLower(dsn[i+1:])
	}
	for _, p := range params {
		key := p
		if name, ok := strings.CutPrefix(p, "_pragma="); ok {
			key, _, _ = strings.Cut(name, "(")
		} else {
			key, _, _ = strings.Cut(p, "=")
		}
		if strings.Contains(query, key) {
			continue
		}
		if strings.Contains(dsn, "?") {
			dsn += "&" + p
		} else {
			dsn += "?" + p
		}
	}
	return dsn
}

// OpenPostgres opens a PostgreSQL pool through pgx and checks that the
// server is reachable, so configuration errors surface at startup rather
// than on the first request.
func OpenPostgres(dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	return db, nil
}

// DefaultMongoDatabase is the database OpenMongo uses when the URL names none.
const DefaultMongoDatabase = "faultline"

// OpenMongo connects to a MongoDB wire-protocol server (mongodb:// or mongodb+srv://
// URL) and checks that it answers, so a wrong URL fails at startup. The database is
// the URL's path ("mongodb://host/shop"), DefaultMongoDatabase without one. The
// caller disconnects the client.
func OpenMongo(ctx context.Context, url string) (*mongo.Client, *mongo.Database, error) {
	cs, err := connstring.ParseAndValidate(url)
	if err != nil {
		return nil, nil, fmt.Errorf("db: open mongo: %w", err)
	}
	name := cs.Database
	if name == "" {
		name = DefaultMongoDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		return nil, nil, fmt.Errorf("db: open mongo: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, nil, fmt.Errorf("db: open mongo: %w", err)
	}
	return client, client.Database(name), nil
}
