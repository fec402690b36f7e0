// Package catalog is the registry of Faultline's services: a service name ("user",
// "product", "order", "email", "notification") → a constructor that builds its
// *broker.Service from shared [Resources]. Cluster builders (package testutil) and the
// scenario engine place services on nodes by name; users add their own with [Register].
//
// Resources are what the nodes of one cluster share: the JWT secret, the storage (one
// adapter per model, shared by every node running the service, like one database — a
// crashed node loses its broker's memory but not the data), the email and notification
// outboxes (the external providers) and their send behaviour. Everything else a service
// keeps is per node and built afresh by each constructor call.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/mailer"
	"github.com/faultline/faultline/services/order"
	"github.com/faultline/faultline/services/product"
	"github.com/faultline/faultline/services/user"
)

// DefaultJWTSecret is the secret used when Resources.JWTSecret is empty. It is for tests
// and simulations only.
const DefaultJWTSecret = "faultline-insecure-dev-secret"

// Resources are shared by every node of a cluster. The zero value works: memory storage,
// DefaultJWTSecret, bcrypt.DefaultCost, instant and reliable sends.
type Resources struct {
	// JWTSecret signs and verifies tokens (user, order).
	JWTSecret []byte
	// TokenTTL is the tokens' lifetime (default 24 h).
	TokenTTL time.Duration
	// BcryptCost is the password hashing cost (default bcrypt.DefaultCost).
	BcryptCost int
	// Passwords, when set, hashes and checks the user service's passwords instead of bcrypt
	// at BcryptCost.
	Passwords user.Passwords
	// Stores hold the data (default: memory).
	Stores *Stores
	// Email and Notification shape the two messaging services' sends.
	Email, Notification mailer.Config
	// ProductCacheTTL bounds cached product results (0: until invalidated).
	ProductCacheTTL time.Duration

	mu       sync.Mutex
	outboxes map[string]*mailer.Outbox
}

// SimResources returns resources for simulations and tests: memory storage and the
// cheapest bcrypt cost, remembered across runs (simPasswords), so registering and logging in
// cost next to nothing.
func SimResources() *Resources {
	return &Resources{BcryptCost: bcrypt.MinCost, Passwords: simPasswords, Stores: MemoryStores()}
}

// simPasswords is shared by every SimResources of the process: a suite's scenarios register
// and log in the same users, each run.
var simPasswords = user.RememberingBcrypt(bcrypt.MinCost)

func (r *Resources) secret() []byte {
	if len(r.JWTSecret) == 0 {
		return []byte(DefaultJWTSecret)
	}
	return r.JWTSecret
}

func (r *Resources) stores() *Stores {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Stores == nil {
		r.Stores = MemoryStores()
	}
	return r.Stores
}

// Adapter returns the shared adapter of a model (connected).
func (r *Resources) Adapter(m db.Model) (db.Adapter, error) { return r.stores().Adapter(m) }

// Outbox returns the shared outbox of a messaging service.
func (r *Resources) Outbox(service string) *mailer.Outbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outboxes == nil {
		r.outboxes = map[string]*mailer.Outbox{}
	}
	o := r.outboxes[service]
	if o == nil {
		o = mailer.NewOutbox()
		r.outboxes[service] = o
	}
	return o
}

// Close releases the stores.
func (r *Resources) Close() error {
	r.mu.Lock()
	s := r.Stores
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

// Stores creates and keeps one adapter per model.
type Stores struct {
	mu      sync.Mutex
	newFn   func(m db.Model) db.Adapter
	wrap    func(m db.Model, a db.Adapter) db.Adapter // see Wrap
	closeFn func() error
	byName  map[string]db.Adapter
}

// MemoryStores keeps data in memory (db.Memory): the storage of simulations.
func MemoryStores() *Stores {
	return &Stores{newFn: func(m db.Model) db.Adapter { return db.NewMemory(m) }}
}

// SQLStores keeps data in a database the caller opened (and closes). prefix is prepended to
// table names, so several clusters can share one database.
func SQLStores(conn *sql.DB, dialect db.Dialect, prefix string) *Stores {
	return &Stores{newFn: func(m db.Model) db.Adapter {
		m.Name = prefix + m.Name
		return db.NewSQL(conn, dialect, m)
	}}
}

// OpenSQLite opens a SQLite database (db.OpenSQLite's DSN, e.g. "file:shop.db" or
// "file:shop?mode=memory&cache=shared") for the stores; Close closes it.
func OpenSQLite(dsn string) (*Stores, error) {
	conn, err := db.OpenSQLite(dsn)
	if err != nil {
		return nil, err
	}
	s := SQLStores(conn, db.SQLite, "")
	s.closeFn = conn.Close
	return s, nil
}

// OpenPostgres opens a PostgreSQL database (a pgx DSN, e.g. the POSTGRES_DSN environment
// variable) for the stores, with table names prefixed by prefix; Close closes it.
func OpenPostgres(dsn, prefix string) (*Stores, error) {
	conn, err := db.OpenPostgres(dsn)
	if err != nil {
		return nil, err
	}
	s := SQLStores(conn, db.Postgres, prefix)
	s.closeFn = conn.Close
	return s, nil
}

// Adapter returns the model's adapter, creating and connecting it on first use.
func (s *Stores) Adapter(m db.Model) (db.Adapter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.byName[m.Name]; ok {
		return a, nil
	}
	a := s.newFn(m)
	if s.wrap != nil {
		a = s.wrap(m, a)
	}
	if err := a.Connect(context.Background()); err != nil {
		return nil, fmt.Errorf("catalog: connect %s: %w", m.Name, err)
	}
	if s.byName == nil {
		s.byName = map[string]db.Adapter{}
	}
	s.byName[m.Name] = a
	return a, nil
}

// Close disconnects the adapters and closes a database the stores opened.
func (s *Stores) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errsOut []error
	for _, a := range s.byName {
		errsOut = append(errsOut, a.Disconnect())
	}
	s.byName = nil
	if s.closeFn != nil {
		errsOut = append(errsOut, s.closeFn())
		s.closeFn = nil
	}
	return errors.Join(errsOut...)
}

// Constructor builds a service from the cluster's resources. It is called once per node
// (and again when a node restarts), so per-node state belongs inside it.
type Constructor func(r *Resources) (*broker.Service, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Constructor{}
)

// Register adds a constructor under a name; it panics if the name is taken.
func Register(name string, c Constructor) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, taken := registry[name]; taken {
		panic("catalog: service " + name + " is already registered")
	}
	registry[name] = c
}

// Lookup returns the constructor of a name.
func Lookup(name string) (Constructor, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[name]
	return c, ok
}

// Names returns the registered names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// New builds the named service.
func New(name string, r *Resources) (*broker.Service, error) {
	c, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("catalog: no service %q (have %v)", name, Names())
	}
	return c(r)
}

func init() {
	Register(user.Name, func(r *Resources) (*broker.Service, error) {
		a, err := r.Adapter(user.Model)
		if err != nil {
			return nil, err
		}
		s, err := user.New(user.Config{Adapter: a, JWTSecret: r.secret(), TokenTTL: r.TokenTTL, BcryptCost: r.BcryptCost, Passwords: r.Passwords})
		if err != nil {
			return nil, err
		}
		return s.Schema(), nil
	})
	Register(product.Name, func(r *Resources) (*broker.Service, error) {
		p, err := r.Adapter(product.Model)
		if err != nil {
			return nil, err
		}
		ops, err := r.Adapter(product.OpsModel)
		if err != nil {
			return nil, err
		}
		s, err := product.New(product.Config{Products: p, Ops: ops, CacheTTL: r.ProductCacheTTL})
		if err != nil {
			return nil, err
		}
		return s.Schema(), nil
	})
	Register(order.Name, func(r *Resources) (*broker.Service, error) {
		a, err := r.Adapter(order.Model)
		if err != nil {
			return nil, err
		}
		s, err := order.New(order.Config{Adapter: a, JWTSecret: r.secret()})
		if err != nil {
			return nil, err
		}
		return s.Schema(), nil
	})
	for _, name := range []string{mailer.Email, mailer.Notification} {
		Register(name, func(r *Resources) (*broker.Service, error) {
			cfg := r.Email
			if name == mailer.Notification {
				cfg = r.Notification
			}
			s, err := mailer.New(name, cfg, r.Outbox(name))
			if err != nil {
				return nil, err
			}
			return s.Schema(), nil
		})
	}
}
