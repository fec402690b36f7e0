package db

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// op is a comparison operator of a compiled query.
type op uint8

const (
	opEq op = iota
	opNe
	opGt
	opGte
	opLt
	opLte
	opIn
)

var operators = map[string]op{
	"$eq": opEq, "$ne": opNe, "$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte, "$in": opIn,
}

// cond is one validated condition; values are already canonical so both
// adapters compare the same things.
type cond struct {
	field  string
	typ    FieldType
	op     op
	val    any   // nil means NULL (only for opEq/opNe)
	vals   []any // opIn, without nil
	inNull bool  // opIn also matches NULL
}

// compileQuery validates a Query. Conditions come out sorted by field and
// operator, so generated SQL is stable regardless of map iteration order.
func (s *schema) compileQuery(q Query) ([]cond, error) {
	var out []cond
	for _, field := range sortedKeys(q) {
		typ, err := s.fieldType(field)
		if err != nil {
			if strings.HasPrefix(field, "$") {
				return nil, fmt.Errorf("%w: model %q: unsupported top-level operator %q", ErrInvalid, s.name, field)
			}
			return nil, err
		}
		if typ == TypeJSON {
			return nil, s.invalid(field, fmt.Errorf("json fields cannot be queried"))
		}
		ops, isOps := q[field].(map[string]any)
		if !isOps {
			c, err := s.compileCond(field, typ, opEq, q[field])
			if err != nil {
				return nil, err
			}
			out = append(out, c)
			continue
		}
		if len(ops) == 0 {
			return nil, s.invalid(field, fmt.Errorf("empty operator object"))
		}
		var conds []cond
		for name, arg := range ops {
			o, ok := operators[name]
			if !ok {
				return nil, s.invalid(field, fmt.Errorf("unsupported operator %q", name))
			}
			c, err := s.compileCond(field, typ, o, arg)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
		slices.SortFunc(conds, func(a, b cond) int { return int(a.op) - int(b.op) })
		out = append(out, conds...)
	}
	return out, nil
}

func (s *schema) compileCond(field string, typ FieldType, o op, arg any) (cond, error) {
	c := cond{field: field, typ: typ, op: o}
	if o == opIn {
		rv := reflect.ValueOf(arg)
		if arg == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
			return c, s.invalid(field, fmt.Errorf("$in needs a list, got %T", arg))
		}
		for i := range rv.Len() {
			v, err := coerce(typ, rv.Index(i).Interface())
			if err != nil {
				return c, s.invalid(field, err)
			}
			if v == nil {
				c.inNull = true
				continue
			}
			c.vals = append(c.vals, v)
		}
		return c, nil
	}
	v, err := coerce(typ, arg)
	if err != nil {
		return c, s.invalid(field, err)
	}
	if v == nil && o != opEq && o != opNe {
		return c, s.invalid(field, fmt.Errorf("cannot compare with null"))
	}
	c.val = v
	return c, nil
}

// sortKey is one ORDER BY term.
type sortKey struct {
	field string
	typ   FieldType
	desc  bool
}

// compileSort validates sort terms ("name", "-price", also "name,-price")
// and always ends with id ascending so that ties are broken deterministically.
func (s *schema) compileSort(terms []string) ([]sortKey, error) {
	var keys []sortKey
	seen := map[string]bool{}
	for _, term := range terms {
		for _, t := range strings.FieldsFunc(term, func(r rune) bool { return r == ',' || r == ' ' }) {
			k := sortKey{field: t}
			switch t[0] {
			case '-':
				k.field, k.desc = t[1:], true
			case '+':
				k.field = t[1:]
			}
			typ, err := s.fieldType(k.field)
			if err != nil {
				return nil, err
			}
			if typ == TypeJSON {
				return nil, s.invalid(k.field, fmt.Errorf("json fields cannot be sorted"))
			}
			if seen[k.field] {
				continue // a repeated key can never change the order
			}
			seen[k.field] = true
			k.typ = typ
			keys = append(keys, k)
		}
	}
	if !seen[IDField] {
		keys = append(keys, sortKey{field: IDField, typ: TypeInt})
	}
	return keys, nil
}

// search is a compiled FindParams.Search: term is ASCII-lowercased.
type search struct {
	term   string
	fields []string
}

func (s *schema) compileSearch(p FindParams) (*search, error) {
	if p.Search == "" {
		return nil, nil
	}
	sr := &search{term: asciiLower(p.Search)}
	if len(p.SearchFields) == 0 {
		for _, f := range s.fields {
			if f.Type == TypeString {
				sr.fields = append(sr.fields, f.Name)
			}
		}
		return sr, nil
	}
	for _, f := range p.SearchFields {
		typ, err := s.fieldType(f)
		if err != nil {
			return nil, err
		}
		if typ != TypeString {
			return nil, s.invalid(f, fmt.Errorf("only string fields can be searched"))
		}
		if !slices.Contains(sr.fields, f) {
			sr.fields = append(sr.fields, f)
		}
	}
	return sr, nil
}

// asciiLower folds only A-Z: SQLite's lower() and PostgreSQL's lower() under
// COLLATE "C" do exactly that, so memory must not fold more.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// findPlan is a fully validated FindParams.
type findPlan struct {
	conds  []cond
	search *search
	sort   []sortKey
	limit  int
	offset int
}

func (s *schema) compileFind(p FindParams) (*findPlan, error) {
	if s.err != nil {
		return nil, s.err
	}
	if p.Limit < 0 || p.Offset < 0 {
		return nil, fmt.Errorf("%w: model %q: negative limit or offset", ErrInvalid, s.name)
	}
	conds, err := s.compileQuery(p.Query)
	if err != nil {
		return nil, err
	}
	sr, err := s.compileSearch(p)
	if err != nil {
		return nil, err
	}
	keys, err := s.compileSort(p.Sort)
	if err != nil {
		return nil, err
	}
	return &findPlan{conds: conds, search: sr, sort: keys, limit: p.Limit, offset: p.Offset}, nil
}
