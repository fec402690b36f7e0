package db

import (
	"fmt"
	"slices"
	"strings"
)

// schema is a validated, immutable copy of a Model. Constructors cannot
// return errors (the signatures mirror moleculer-db), so a bad model is kept
// in err and reported by Connect and every operation instead of panicking
// inside a simulation.
type schema struct {
	name   string
	fields []Field              // declared order, "id" excluded
	types  map[string]FieldType // includes "id"
	index  map[string]int       // position in fields
	unique [][]string           // Model.Unique, validated
	err    error
}

func newSchema(m Model) *schema {
	s := &schema{
		name:   m.Name,
		fields: slices.Clone(m.Fields),
		types:  map[string]FieldType{IDField: TypeInt},
		index:  make(map[string]int, len(m.Fields)),
		unique: make([][]string, len(m.Unique)),
	}
	for i, set := range m.Unique {
		s.unique[i] = slices.Clone(set)
	}
	s.err = s.validate()
	return s
}

func (s *schema) validate() error {
	if s.name == "" || strings.ContainsRune(s.name, 0) {
		return fmt.Errorf("%w: model name %q", ErrInvalid, s.name)
	}
	for i, f := range s.fields {
		switch {
		case f.Name == "" || strings.ContainsRune(f.Name, 0):
			return fmt.Errorf("%w: model %q: field name %q", ErrInvalid, s.name, f.Name)
		case f.Name == IDField:
			return fmt.Errorf("%w: model %q: field %q is implicit and must not be declared", ErrInvalid, s.name, IDField)
		case !validType(f.Type):
			return fmt.Errorf("%w: model %q: field %q has unknown type %q", ErrInvalid, s.name, f.Name, f.Type)
		}
		if _, dup := s.types[f.Name]; dup {
			return fmt.Errorf("%w: model %q: field %q declared twice", ErrInvalid, s.name, f.Name)
		}
		s.types[f.Name] = f.Type
		s.index[f.Name] = i
	}
	for _, set := range s.unique {
		if len(set) == 0 {
			return fmt.Errorf("%w: model %q: empty unique set", ErrInvalid, s.name)
		}
		for i, f := range set {
			t, declared := s.types[f]
			switch {
			case f == IDField:
				return fmt.Errorf("%w: model %q: unique set %v: %q is unique already", ErrInvalid, s.name, set, IDField)
			case !declared:
				return fmt.Errorf("%w: model %q: unique set %v: %w %q", ErrInvalid, s.name, set, ErrUnknownField, f)
			case t == TypeJSON:
				return fmt.Errorf("%w: model %q: unique set %v: JSON field %q cannot be compared", ErrInvalid, s.name, set, f)
			case slices.Contains(set[:i], f):
				return fmt.Errorf("%w: model %q: unique set %v names %q twice", ErrInvalid, s.name, set, f)
			}
		}
	}
	return nil
}

func validType(t FieldType) bool {
	switch t {
	case TypeString, TypeInt, TypeFloat, TypeBool, TypeJSON, TypeTime:
		return true
	}
	return false
}

// fieldType resolves a field name (including "id") or reports ErrUnknownField.
func (s *schema) fieldType(name string) (FieldType, error) {
	if t, ok := s.types[name]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w %q in model %q", ErrUnknownField, name, s.name)
}

// invalid formats an ErrInvalid about one field.
func (s *schema) invalid(field string, err error) error {
	return fmt.Errorf("%w: model %q, field %q: %v", ErrInvalid, s.name, field, err)
}

// values validates an entity for insertion and returns its canonical values
// in declared field order (nil where absent).
func (s *schema) values(e Entity) ([]any, error) {
	vals := make([]any, len(s.fields))
	// Sorted so that, with several bad keys, the error is deterministic.
	for _, k := range sortedKeys(e) {
		if k == IDField {
			return nil, fmt.Errorf("%w: model %q: %q is assigned by the adapter", ErrInvalid, s.name, IDField)
		}
		i, ok := s.index[k]
		if !ok {
			return nil, fmt.Errorf("%w %q in model %q", ErrUnknownField, k, s.name)
		}
		v, err := coerce(s.fields[i].Type, e[k])
		if err != nil {
			return nil, s.invalid(k, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// entity assembles an Entity from an id and values in declared order.
func (s *schema) entity(id int64, vals []any) Entity {
	e := make(Entity, len(s.fields)+1)
	e[IDField] = id
	for i, f := range s.fields {
		e[f.Name] = vals[i]
	}
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
