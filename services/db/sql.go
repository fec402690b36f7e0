package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQL is an Adapter over database/sql for SQLite and PostgreSQL. All values
// travel as parameters; conditional updates are single statements, so they
// are atomic without explicit transactions or locks.
type SQL struct {
	db  *sql.DB
	d   Dialect
	s   *schema
	err error // invalid model or dialect, reported by every operation

	table     string // quoted
	cols      string // quoted column list, id first, for SELECT and RETURNING
	insertSQL string
}

var _ Adapter = (*SQL)(nil)

// NewSQL returns an adapter storing m in db. The *sql.DB is owned by the
// caller and may be shared by adapters of several models.
func NewSQL(db *sql.DB, dialect Dialect, m Model) *SQL {
	a := &SQL{db: db, d: dialect, s: newSchema(m)}
	a.err = a.s.err
	switch {
	case a.err != nil:
		return a
	case !dialect.valid():
		a.err = fmt.Errorf("%w: unknown dialect %v", ErrInvalid, dialect)
		return a
	case db == nil:
		a.err = fmt.Errorf("%w: nil *sql.DB", ErrInvalid)
		return a
	}
	a.table = quote(a.s.name)
	names := []string{quote(IDField)}
	for _, f := range a.s.fields {
		names = append(names, quote(f.Name))
	}
	a.cols = strings.Join(names, ", ")
	if len(a.s.fields) == 0 {
		a.insertSQL = "INSERT INTO " + a.table + " DEFAULT VALUES RETURNING " + a.cols
	} else {
		b := &builder{d: dialect}
		b.sql("INSERT INTO ", a.table, " (", strings.Join(names[1:], ", "), ") VALUES (")
		for i := range a.s.fields {
			if i > 0 {
				b.sql(", ")
			}
			b.sql(dialect.placeholder(i + 1))
		}
		a.insertSQL = b.sql(") RETURNING ", a.cols).String()
	}
	return a
}

// Connect creates the table and the unique index of each Model.Unique set if
// they do not exist. An existing table is used as is: its columns are not
// checked or migrated, but a missing index is added, which fails with
// ErrDuplicate if stored rows already violate it.
func (a *SQL) Connect(ctx context.Context) error {
	if a.err != nil {
		return a.err
	}
	defs := []string{a.d.idColumn()}
	for _, f := range a.s.fields {
		defs = append(defs, quote(f.Name)+" "+a.d.columnType(f.Type))
	}
	stmt := "CREATE TABLE IF NOT EXISTS " + a.table + " (" + strings.Join(defs, ", ") + ")"
	if _, err := a.db.ExecContext(ctx, stmt); err != nil {
		return a.wrap("connect", err)
	}
	for _, set := range a.s.unique {
		cols := make([]string, len(set))
		for i, f := range set {
			cols[i] = quote(f)
		}
		stmt := "CREATE UNIQUE INDEX IF NOT EXISTS " + quote(a.indexName(set)) + " ON " + a.table + " (" + strings.Join(cols, ", ") + ")"
		if _, err := a.db.ExecContext(ctx, stmt); err != nil {
			return a.wrap("connect: unique index on existing rows", err)
		}
	}
	return nil
}

// maxIdent is PostgreSQL's identifier length; longer names would be truncated
// silently and could collide.
const maxIdent = 63

// indexName names a Unique set's index after the table, because PostgreSQL
// index names share one namespace per schema.
func (a *SQL) indexName(set []string) string {
	name := a.s.name + "_" + strings.Join(set, "_") + "_key"
	if len(name) <= maxIdent {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%08x", name[:maxIdent-9], h.Sum32())
}

// duplicateFields finds which Unique set the database says was violated.
func (a *SQL) duplicateFields(err error) []string {
	if a.d == Postgres {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			for _, set := range a.s.unique {
				if a.indexName(set) == pe.ConstraintName {
					return set
				}
			}
		}
		return nil
	}
	// SQLite names the columns: "UNIQUE constraint failed: orders.userId, orders.idempotencyKey".
	msg := err.Error()
	for _, set := range a.s.unique {
		cols := make([]string, len(set))
		for i, f := range set {
			cols[i] = a.s.name + "." + f
		}
		if strings.HasSuffix(strings.TrimSuffix(msg, " (2067)"), ": "+strings.Join(cols, ", ")) {
			return set
		}
	}
	return nil
}

// Disconnect does nothing: the *sql.DB belongs to the caller, who closes it.
func (a *SQL) Disconnect() error { return nil }

// wrap names the model and operation; a unique violation becomes a
// *DuplicateError, whatever the dialect.
func (a *SQL) wrap(op string, err error) error {
	if a.d.isUniqueViolation(err) {
		err = &DuplicateError{Model: a.s.name, Fields: a.duplicateFields(err)}
	}
	return fmt.Errorf("db: %s %s: %w", a.s.name, op, err)
}

func (a *SQL) Find(ctx context.Context, p FindParams) ([]Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	plan, err := a.s.compileFind(p)
	if err != nil {
		return nil, err
	}
	b := &builder{d: a.d}
	b.sql("SELECT ", a.cols, " FROM ", a.table)
	if err := b.where(plan.conds, plan.search); err != nil {
		return nil, err
	}
	b.orderBy(plan.sort)
	b.limit(plan.limit, plan.offset)
	return a.query(ctx, "find", a.db, b.String(), b.args...)
}

func (a *SQL) FindOne(ctx context.Context, q Query) (Entity, error) {
	es, err := a.Find(ctx, FindParams{Query: q, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return es[0], nil
}

func (a *SQL) FindByID(ctx context.Context, id any) (Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	b := &builder{d: a.d}
	b.sql("SELECT ", a.cols, " FROM ", a.table, " WHERE ", quote(IDField), " = ").arg(n)
	return a.one(a.query(ctx, "find by id", a.db, b.String(), b.args...))
}

// idChunk keeps IN lists far below every driver's parameter limit.
const idChunk = 500

func (a *SQL) FindByIDs(ctx context.Context, ids []any) ([]Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	var nums []int64
	for _, id := range ids {
		if n, ok := parseID(id); ok {
			nums = append(nums, n)
		}
	}
	byID := make(map[int64]Entity, len(nums))
	for start := 0; start < len(nums); start += idChunk {
		b := &builder{d: a.d}
		b.sql("SELECT ", a.cols, " FROM ", a.table, " WHERE ", quote(IDField), " IN (")
		for i, n := range nums[start:min(start+idChunk, len(nums))] {
			if i > 0 {
				b.sql(", ")
			}
			b.arg(n)
		}
		es, err := a.query(ctx, "find by ids", a.db, b.sql(")").String(), b.args...)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			byID[e[IDField].(int64)] = e
		}
	}
	out := make([]Entity, 0, len(nums))
	used := make(map[int64]bool, len(byID))
	for _, n := range nums {
		if e, ok := byID[n]; ok {
			if used[n] {
				e = cloneEntity(e) // a repeated id must not alias an earlier result
			}
			used[n] = true
			out = append(out, e)
		}
	}
	return out, nil
}

func (a *SQL) Count(ctx context.Context, q Query) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	plan, err := a.s.compileFind(FindParams{Query: q})
	if err != nil {
		return 0, err
	}
	b := &builder{d: a.d}
	b.sql("SELECT COUNT(*) FROM ", a.table)
	if err := b.where(plan.conds, nil); err != nil {
		return 0, err
	}
	var n int64
	if err := a.db.QueryRowContext(ctx, b.String(), b.args...).Scan(&n); err != nil {
		return 0, a.wrap("count", err)
	}
	return int(n), nil
}

func (a *SQL) Insert(ctx context.Context, e Entity) (Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	args, err := a.insertArgs(e)
	if err != nil {
		return nil, err
	}
	return a.one(a.query(ctx, "insert", a.db, a.insertSQL, args...))
}

// InsertMany validates everything first and inserts in one transaction, so
// it is all-or-nothing.
func (a *SQL) InsertMany(ctx context.Context, es []Entity) ([]Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	all := make([][]any, len(es))
	for i, e := range es {
		args, err := a.insertArgs(e)
		if err != nil {
			return nil, err
		}
		all[i] = args
	}
	out := make([]Entity, 0, len(es))
	if len(es) == 0 {
		return out, nil
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, a.wrap("insert many", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, args := range all {
		e, err := a.one(a.query(ctx, "insert many", tx, a.insertSQL, args...))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := tx.Commit(); err != nil {
		return nil, a.wrap("insert many", err)
	}
	return out, nil
}

func (a *SQL) insertArgs(e Entity) ([]any, error) {
	vals, err := a.s.values(e)
	if err != nil {
		return nil, err
	}
	for i, f := range a.s.fields {
		if vals[i], err = a.d.encode(f.Type, vals[i]); err != nil {
			return nil, a.s.invalid(f.Name, err)
		}
	}
	return vals, nil
}

func (a *SQL) RemoveByID(ctx context.Context, id any) (Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	b := &builder{d: a.d}
	b.sql("DELETE FROM ", a.table, " WHERE ", quote(IDField), " = ").arg(n).sql(" RETURNING ", a.cols)
	return a.one(a.query(ctx, "remove", a.db, b.String(), b.args...))
}

func (a *SQL) Clear(ctx context.Context) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	res, err := a.db.ExecContext(ctx, "DELETE FROM "+a.table)
	if err != nil {
		return 0, a.wrap("clear", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, a.wrap("clear", err)
	}
	return int(n), nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// query runs a statement returning full rows (SELECT or RETURNING) and
// decodes them into canonical entities.
func (a *SQL) query(ctx context.Context, op string, q querier, text string, args ...any) ([]Entity, error) {
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, a.wrap(op, err)
	}
	defer rows.Close()
	out := []Entity{}
	raw := make([]any, len(a.s.fields)+1)
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, a.wrap(op, err)
		}
		e, err := a.decodeRow(raw)
		if err != nil {
			return nil, a.wrap(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, a.wrap(op, err)
	}
	return out, nil
}

func (a *SQL) decodeRow(raw []any) (Entity, error) {
	id, err := decode(TypeInt, raw[0])
	if err != nil || id == nil {
		return nil, fmt.Errorf("bad id %v: %v", raw[0], err)
	}
	vals := make([]any, len(a.s.fields))
	for i, f := range a.s.fields {
		if vals[i], err = decode(f.Type, raw[i+1]); err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
	}
	return a.s.entity(id.(int64), vals), nil
}

// one turns a result expected to hold at most one row into an entity.
func (a *SQL) one(es []Entity, err error) (Entity, error) {
	switch {
	case err != nil:
		return nil, err
	case len(es) == 0:
		return nil, ErrNotFound
	}
	return es[0], nil
}
