package db

import (
	"cmp"
	"strings"
	"time"
)

// matches evaluates a compiled query and search against a stored entity with
// SQL's semantics: comparisons never match NULL, $ne does.
func matches(e Entity, p *findPlan) bool {
	for i := range p.conds {
		if !matchCond(e[p.conds[i].field], &p.conds[i]) {
			return false
		}
	}
	if p.search == nil {
		return true
	}
	for _, f := range p.search.fields {
		if s, ok := e[f].(string); ok && strings.Contains(asciiLower(s), p.search.term) {
			return true
		}
	}
	return false
}

func matchCond(v any, c *cond) bool {
	switch c.op {
	case opEq:
		return equal(v, c.val, c.typ)
	case opNe:
		return !equal(v, c.val, c.typ)
	case opIn:
		if v == nil {
			return c.inNull
		}
		for _, w := range c.vals {
			if compareValues(v, w, c.typ) == 0 {
				return true
			}
		}
		return false
	}
	if v == nil {
		return false
	}
	r := compareValues(v, c.val, c.typ)
	switch c.op {
	case opGt:
		return r > 0
	case opGte:
		return r >= 0
	case opLt:
		return r < 0
	case opLte:
		return r <= 0
	}
	return false
}

func equal(a, b any, t FieldType) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return compareValues(a, b, t) == 0
}

// compareValues orders canonical values of one type; nil sorts first, as in
// the SQL adapters' NULLS FIRST.
func compareValues(a, b any, t FieldType) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch t {
	case TypeString:
		return strings.Compare(a.(string), b.(string))
	case TypeInt:
		return cmp.Compare(a.(int64), b.(int64))
	case TypeFloat:
		return cmp.Compare(a.(float64), b.(float64))
	case TypeBool:
		return cmp.Compare(boolInt(a.(bool)), boolInt(b.(bool)))
	case TypeTime:
		return a.(time.Time).Compare(b.(time.Time))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compareEntities(x, y Entity, keys []sortKey) int {
	for _, k := range keys {
		r := compareValues(x[k.field], y[k.field], k.typ)
		if k.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}
