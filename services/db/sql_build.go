package db

import (
	"strings"
)

// builder accumulates SQL text and its arguments; values only ever travel as
// parameters, identifiers only ever through quote.
type builder struct {
	d    Dialect
	sb   strings.Builder
	args []any
}

func (b *builder) sql(parts ...string) *builder {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
	return b
}

// arg appends a placeholder for a raw driver value.
func (b *builder) arg(v any) *builder {
	b.args = append(b.args, v)
	b.sb.WriteString(b.d.placeholder(len(b.args)))
	return b
}

// val appends a placeholder for a canonical value of type t.
func (b *builder) val(t FieldType, v any) error {
	enc, err := b.d.encode(t, v)
	if err != nil {
		return err
	}
	b.arg(enc)
	return nil
}

func (b *builder) String() string { return b.sb.String() }

// where appends " WHERE ..." for conditions and search, if there are any.
func (b *builder) where(conds []cond, sr *search) error {
	if len(conds) == 0 && sr == nil {
		return nil
	}
	b.sql(" WHERE ")
	for i := range conds {
		if i > 0 {
			b.sql(" AND ")
		}
		if err := b.cond(&conds[i]); err != nil {
			return err
		}
	}
	if sr != nil {
		if len(conds) > 0 {
			b.sql(" AND ")
		}
		b.search(sr)
	}
	return nil
}

var sqlOps = [...]string{opEq: " = ", opNe: " <> ", opGt: " > ", opGte: " >= ", opLt: " < ", opLte: " <= "}

func (b *builder) cond(c *cond) error {
	col := quote(c.field)
	switch {
	case c.op == opEq && c.val == nil:
		b.sql(col, " IS NULL")
		return nil
	case c.op == opNe && c.val == nil:
		b.sql(col, " IS NOT NULL")
		return nil
	case c.op == opNe:
		// MongoDB semantics: "not equal" includes documents without a value.
		b.sql("(", col, " <> ")
		if err := b.val(c.typ, c.val); err != nil {
			return err
		}
		b.sql(" OR ", col, " IS NULL)")
		return nil
	case c.op == opIn:
		return b.in(c)
	}
	b.sql(col, sqlOps[c.op])
	return b.val(c.typ, c.val)
}

func (b *builder) in(c *cond) error {
	col := quote(c.field)
	if len(c.vals) == 0 && !c.inNull {
		b.sql("1 = 0")
		return nil
	}
	b.sql("(")
	if len(c.vals) > 0 {
		b.sql(col, " IN (")
		for i, v := range c.vals {
			if i > 0 {
				b.sql(", ")
			}
			if err := b.val(c.typ, v); err != nil {
				return err
			}
		}
		b.sql(")")
		if c.inNull {
			b.sql(" OR ")
		}
	}
	if c.inNull {
		b.sql(col, " IS NULL")
	}
	b.sql(")")
	return nil
}

// search matches the ASCII-lowercased term as a literal substring: LIKE
// wildcards in the term are escaped.
func (b *builder) search(sr *search) {
	if len(sr.fields) == 0 {
		b.sql("1 = 0")
		return
	}
	pattern := "%" + likeEscaper.Replace(sr.term) + "%"
	b.sql("(")
	for i, f := range sr.fields {
		if i > 0 {
			b.sql(" OR ")
		}
		b.sql("lower(", quote(f), ") LIKE ").arg(pattern).sql(` ESCAPE '\'`)
	}
	b.sql(")")
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// orderBy puts NULLs first ascending and last descending in both dialects
// (PostgreSQL's default is the opposite), matching memory.
func (b *builder) orderBy(keys []sortKey) {
	b.sql(" ORDER BY ")
	for i, k := range keys {
		if i > 0 {
			b.sql(", ")
		}
		b.sql(quote(k.field))
		switch {
		case k.field == IDField && !k.desc:
			b.sql(" ASC") // never NULL; keeps the primary key index usable
		case k.field == IDField:
			b.sql(" DESC")
		case k.desc:
			b.sql(" DESC NULLS LAST")
		default:
			b.sql(" ASC NULLS FIRST")
		}
	}
}

func (b *builder) limit(limit, offset int) {
	switch {
	case limit > 0:
		b.sql(" LIMIT ").arg(int64(limit))
	case offset > 0 && b.d == SQLite:
		b.sql(" LIMIT -1") // SQLite cannot OFFSET without LIMIT
	}
	if offset > 0 {
		b.sql(" OFFSET ").arg(int64(offset))
	}
}
