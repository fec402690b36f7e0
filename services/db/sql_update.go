package db

import (
	"context"
	"database/sql"
	"errors"
)

// UpdateByID runs one UPDATE ... WHERE id = ? [AND guard] RETURNING, so the
// guard is checked against the row as the database locks it: concurrent
// decrements serialise on the row and none can overshoot.
func (a *SQL) UpdateByID(ctx context.Context, id any, u Update) (Entity, error) {
	if a.err != nil {
		return nil, a.err
	}
	plan, err := a.s.compileUpdate(u)
	if err != nil {
		return nil, err
	}
	n, ok := parseID(id)
	if !ok {
		return nil, invalidID(id)
	}
	b := &builder{d: a.d}
	b.sql("UPDATE ", a.table, " SET ")
	for i, s := range plan.set {
		if i > 0 {
			b.sql(", ")
		}
		b.sql(quote(s.field), " = ")
		if err := b.val(s.typ, s.val); err != nil {
			return nil, a.s.invalid(s.field, err)
		}
	}
	for i, inc := range plan.inc {
		if i > 0 || len(plan.set) > 0 {
			b.sql(", ")
		}
		col := quote(inc.field)
		b.sql(col, " = COALESCE(", col, ", 0) + ").arg(inc.delta)
	}
	if len(plan.set) == 0 && len(plan.inc) == 0 {
		b.sql(quote(IDField), " = ", quote(IDField)) // a guard-only check still needs a SET
	}
	b.sql(" WHERE ", quote(IDField), " = ").arg(n)
	if g := plan.guard; g != nil {
		col := quote(g.field)
		if v, ok := plan.setValue(g.field); ok {
			// The outcome is a constant: decide here, no SQL needed for it.
			if !g.passes(v) {
				return nil, a.guardOrMissing(ctx, n)
			}
		} else if d, ok := plan.incDelta(g.field); ok {
			b.sql(" AND COALESCE(", col, ", 0) + ").arg(d).sql(" >= ").arg(g.min)
		} else {
			b.sql(" AND ", col, " >= ").arg(g.min)
		}
	}
	b.sql(" RETURNING ", a.cols)
	e, err := a.one(a.query(ctx, "update", a.db, b.String(), b.args...))
	if errors.Is(err, ErrNotFound) && plan.guard != nil {
		return nil, a.guardOrMissing(ctx, n)
	}
	return e, err
}

// guardOrMissing explains why a guarded update touched nothing. ErrNotFound
// wins so that callers can tell "no such product" from "out of stock".
func (a *SQL) guardOrMissing(ctx context.Context, id int64) error {
	b := &builder{d: a.d}
	b.sql("SELECT 1 FROM ", a.table, " WHERE ", quote(IDField), " = ").arg(id)
	var one int
	switch err := a.db.QueryRowContext(ctx, b.String(), b.args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return a.wrap("update", err)
	}
	return ErrGuard
}
