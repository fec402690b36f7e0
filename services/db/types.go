package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Entity is one stored record keyed by field name. Adapters return fresh maps,
// so callers may modify them freely.
type Entity = map[string]any

// FieldType names the storage type of a field; it decides both the column type
// and the canonical Go type adapters return.
type FieldType string

// Field types and the Go type an adapter returns for each.
const (
	TypeString FieldType = "string" // string
	TypeInt    FieldType = "int"    // int64
	TypeFloat  FieldType = "float"  // float64
	TypeBool   FieldType = "bool"   // bool
	TypeJSON   FieldType = "json"   // any, as produced by encoding/json (map[string]any, []any, float64...)
	TypeTime   FieldType = "time"   // time.Time in UTC, truncated to microseconds (PostgreSQL's precision)
)

// IDField is the implicit int64 primary key every model has.
const IDField = "id"

// Model describes one table (or collection). The "id" field is implicit and
// must not be declared.
type Model struct {
	Name   string
	Fields []Field
	// Unique lists sets of fields whose values no two entities may share. The
	// storage enforces them (SQL adapters create a unique index per set on
	// Connect), so they hold for every process using the same database, with
	// no lock in between: of two racing inserts one wins and the other fails
	// with ErrDuplicate. As in SQL, an entity with nil in any field of a set
	// is not constrained by it. JSON fields cannot be part of a set.
	Unique [][]string
}

// Field is one declared column of a Model.
type Field struct {
	Name string
	Type FieldType
}

// Query selects entities. Each key is a field name; a plain value means
// equality (nil means "is null"), a nested map applies operators that are all
// ANDed: {"stock": {"$gte": 1, "$lt": 10}}. Supported operators are $eq, $ne,
// $gt, $gte, $lt, $lte and $in. Like MongoDB, $ne also matches nil values and
// comparisons never match nil values. JSON fields cannot be queried.
type Query = map[string]any

// FindParams are the parameters of [Adapter.Find]. Sort entries are field
// names, prefixed with "-" for descending. Limit 0 means no limit. Search is a
// case-insensitive substring match against any of SearchFields (default: all
// string fields), ANDed with Query.
type FindParams struct {
	Query        Query
	Sort         []string
	Limit        int
	Offset       int
	Search       string
	SearchFields []string
}

// Update changes one entity. Set assigns values, Inc adds to numeric fields
// (nil counts as 0) and Guard makes the whole update conditional. A field may
// appear in Set or Inc, not both.
type Update struct {
	Set   map[string]any
	Inc   map[string]float64
	Guard *Guard
}

// Guard makes an update conditional on its own outcome: the update is applied
// only if afterwards Field >= Min, atomically with the check, otherwise it
// fails with ErrGuard and nothing changes. This is how stock reservation
// stays race-free and never goes below zero without a read-modify-write.
type Guard struct {
	Field string
	Min   float64
}

// Errors reported by adapters; test them with errors.Is.
var (
	// ErrNotFound: no entity with that id, or none matching the query.
	// Ids that cannot be an id at all (e.g. "abc") also report it.
	ErrNotFound = errors.New("db: entity not found")
	// ErrGuard: the update's Guard would have been violated; nothing changed.
	ErrGuard = errors.New("db: update guard not satisfied")
	// ErrUnknownField: a name that is neither "id" nor a declared field.
	ErrUnknownField = errors.New("db: unknown field")
	// ErrInvalid: a value, operator, sort, model or update that cannot be used.
	ErrInvalid = errors.New("db: invalid argument")
	// ErrDuplicate: an insert or update would give two entities the same
	// values in one of the model's Unique sets; nothing changed. The error is
	// (or wraps) a *DuplicateError naming the set.
	ErrDuplicate = errors.New("db: duplicate key")
)

// DuplicateError reports a violated Unique set. errors.Is(err, ErrDuplicate)
// matches it.
type DuplicateError struct {
	Model string
	// Fields is the violated set, as declared; nil when the database reported
	// a unique index the model does not declare.
	Fields []string
}

func (e *DuplicateError) Error() string {
	if e.Fields == nil {
		return fmt.Sprintf("%v: model %q, a unique index the model does not declare", ErrDuplicate, e.Model)
	}
	return fmt.Sprintf("%v: model %q, unique (%s)", ErrDuplicate, e.Model, strings.Join(e.Fields, ", "))
}

// Is makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Adapter is the storage contract shared by all adapters. Every method is
// safe for concurrent use.
type Adapter interface {
	// Connect prepares the storage (for SQL: creates the table if missing).
	Connect(ctx context.Context) error
	// Disconnect releases the adapter; it never closes a caller-owned *sql.DB.
	Disconnect() error
	Find(ctx context.Context, p FindParams) ([]Entity, error)
	// FindOne returns the matching entity with the lowest id, or ErrNotFound.
	FindOne(ctx context.Context, q Query) (Entity, error)
	// FindByID accepts int, int64, float64 (decoded JSON) or numeric strings.
	FindByID(ctx context.Context, id any) (Entity, error)
	// FindByIDs returns one entity per requested id, in the order asked;
	// missing or invalid ids are skipped.
	FindByIDs(ctx context.Context, ids []any) ([]Entity, error)
	Count(ctx context.Context, q Query) (int, error)
	Insert(ctx context.Context, e Entity) (Entity, error)
	// InsertMany is all-or-nothing, also when one of its entities is a
	// duplicate of another or of a stored one.
	InsertMany(ctx context.Context, es []Entity) ([]Entity, error)
	// UpdateByID returns the updated entity; ErrNotFound wins over ErrGuard.
	UpdateByID(ctx context.Context, id any, u Update) (Entity, error)
	// RemoveByID returns the removed entity.
	RemoveByID(ctx context.Context, id any) (Entity, error)
	// Clear removes every entity and reports how many there were. Ids keep
	// counting from where they were.
	Clear(ctx context.Context) (int, error)
}
