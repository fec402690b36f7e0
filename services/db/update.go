package db

import (
	"fmt"
	"math"
)

type assign struct {
	field string
	typ   FieldType
	val   any // canonical
}

type incr struct {
	field string
	typ   FieldType
	delta any // int64 for int fields, float64 for float fields
}

// guardPlan holds the threshold in the field's own type: for an int field
// x >= 0.5 is the same as x >= 1, which keeps SQL parameters integral.
type guardPlan struct {
	field string
	typ   FieldType
	min   any // int64 or float64
}

type updatePlan struct {
	set   []assign
	inc   []incr
	guard *guardPlan
}

func (s *schema) compileUpdate(u Update) (*updatePlan, error) {
	if s.err != nil {
		return nil, s.err
	}
	p := &updatePlan{}
	for _, f := range sortedKeys(u.Set) {
		typ, err := s.mutable(f)
		if err != nil {
			return nil, err
		}
		v, err := coerce(typ, u.Set[f])
		if err != nil {
			return nil, s.invalid(f, err)
		}
		p.set = append(p.set, assign{field: f, typ: typ, val: v})
	}
	for _, f := range sortedKeys(u.Inc) {
		typ, err := s.mutable(f)
		if err != nil {
			return nil, err
		}
		if _, both := u.Set[f]; both {
			return nil, s.invalid(f, fmt.Errorf("field is both set and incremented"))
		}
		if typ != TypeInt && typ != TypeFloat {
			return nil, s.invalid(f, fmt.Errorf("cannot increment a %s field", typ))
		}
		d, err := coerce(typ, u.Inc[f])
		if err != nil {
			return nil, s.invalid(f, err)
		}
		p.inc = append(p.inc, incr{field: f, typ: typ, delta: d})
	}
	if g := u.Guard; g != nil {
		typ, err := s.fieldType(g.Field)
		if err != nil {
			return nil, err
		}
		if typ != TypeInt && typ != TypeFloat {
			return nil, s.invalid(g.Field, fmt.Errorf("guard needs a numeric field, not %s", typ))
		}
		if math.IsNaN(g.Min) {
			return nil, s.invalid(g.Field, fmt.Errorf("guard minimum is NaN"))
		}
		p.guard = &guardPlan{field: g.Field, typ: typ, min: g.Min}
		if typ == TypeInt {
			p.guard.min = ceilInt(g.Min)
		}
	}
	return p, nil
}

// mutable resolves a field that an update may write: any declared one.
func (s *schema) mutable(f string) (FieldType, error) {
	if f == IDField {
		return "", fmt.Errorf("%w: model %q: %q cannot be updated", ErrInvalid, s.name, IDField)
	}
	return s.fieldType(f)
}

func ceilInt(f float64) int64 {
	switch c := math.Ceil(f); {
	case c <= math.MinInt64:
		return math.MinInt64
	case c >= math.MaxInt64:
		return math.MaxInt64
	default:
		return int64(c)
	}
}

// passes reports whether a post-update value satisfies the guard. nil never
// does, matching SQL where NULL >= x is not true.
func (g *guardPlan) passes(v any) bool {
	switch x := v.(type) {
	case int64:
		return x >= g.min.(int64)
	case float64:
		return x >= g.min.(float64)
	}
	return false
}

// setValue returns the value the plan assigns to field, if it does.
func (p *updatePlan) setValue(field string) (any, bool) {
	for _, a := range p.set {
		if a.field == field {
			return a.val, true
		}
	}
	return nil, false
}

func (p *updatePlan) incDelta(field string) (any, bool) {
	for _, i := range p.inc {
		if i.field == field {
			return i.delta, true
		}
	}
	return nil, false
}

// addNumber computes cur + delta with nil counting as zero, like the SQL
// adapters' COALESCE(col, 0) + delta.
func addNumber(cur, delta any) any {
	switch d := delta.(type) {
	case int64:
		c, _ := cur.(int64)
		return c + d
	case float64:
		c, _ := cur.(float64)
		return c + d
	}
	return cur
}
