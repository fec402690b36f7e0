// Package validator validates action params against Moleculer params
// schemas with the semantics, error types and message texts of
// fastest-validator, Moleculer's default validator, so a Faultline node
// rejects exactly what a Node.js node would and says so in the same words.
//
// # Schemas
//
// A Schema maps field names to rules. A rule is one of:
//
//   - a shorthand string: "string", "number|optional|positive",
//     "string|min:3|max:10", "string[]" (array of strings), "no-empty"
//     sets an option to false;
//   - a map with "type" plus options (see the per-type list below);
//   - a map with "$$type" (a shorthand for the object itself) whose other
//     keys are the object's props: {"$$type": "object|optional", "city": "string"};
//   - a list of rules, meaning "multi": valid if any of them passes.
//
// Options common to every type: optional, nullable, default (a value, or a
// func() any called per use), label (used instead of the field path in
// messages), messages (map of error type to custom template).
//
//	any
//	string    empty min max length pattern patternFlags contains enum numeric
//	          alpha alphanum alphadash hex trim trimLeft trimRight lowercase
//	          uppercase convert
//	number    min max equal notEqual integer positive negative convert
//	boolean   convert
//	object    props (or properties) strict (true or "remove") minProps maxProps
//	array     items empty min max length contains unique enum convert
//	email     empty mode ("quick"|"precise") normalize min max
//	url       empty
//	uuid      version
//	enum      values
//	equal     value | field, strict
//	date      convert
//	forbidden remove
//	multi     rules
//
// The top-level "$$strict" key (true or "remove") makes the params object
// itself strict, and "$$async" is accepted and ignored. Compile rejects
// unknown types like fastest-validator does, and, unlike it, also unknown
// options and options of the wrong kind, naming the field: a silently
// ignored typo ("optinal") is a validation hole.
//
// # Values
//
// Params are JSON-shaped: any Go numeric type (and json.Number) is a number
// and "integer" means a whole value; objects are map[string]any (other maps
// with string keys are read through reflection); arrays are []any or any Go
// slice. A missing key is JavaScript's undefined; a nil value, or a nil
// map/slice/pointer, is null. String lengths are counted in UTF-16 code units
// as in JavaScript. Patterns are compiled with Go's regexp (RE2) syntax, which
// agrees with JavaScript for ordinary patterns but has no look-around or
// back-references.
//
// Validate writes sanitised values back into params: defaults for missing
// or null fields, converted values (convert, trim, lowercase, ...), removed
// forbidden fields and stripped unknown keys (strict "remove"). Converted
// numbers are stored as float64 and converted dates as time.Time.
//
// # Errors
//
// Errors carry fastest-validator's type, message, field, actual and
// expected. Field paths use dots for nested props ("address.city"),
// ['...'] for prop names that are not identifiers ("meta['x-id']") and
// brackets for array items ("tags[1]"). Because Go maps have no order, the
// errors are sorted by field path — prop names byte-wise, array indices
// numerically, an object's own errors before its children's — and errors of
// one field keep the order in which fastest-validator checks them. Lists
// built from keys (objectStrict's actual and expected) are sorted too.
package validator

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Schema is a Moleculer params schema: field name -> rule.
type Schema = map[string]any

// FieldError is one validation failure, shaped like fastest-validator's
// error objects (and so like the data of Moleculer's ValidationError).
type FieldError struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Field    string `json:"field"`
	Actual   any    `json:"actual,omitempty"`
	Expected any    `json:"expected,omitempty"`
	// Label is the rule's label option, when it has one.
	Label string `json:"label,omitempty"`
}

// Error makes a FieldError usable as an error on its own.
func (e FieldError) Error() string { return e.Message }

// SchemaError is returned by Compile for a schema it cannot use.
type SchemaError struct {
	Field  string // path of the offending rule, e.g. "address.city" or "tags[]"; "" for the schema itself
	Reason string
}

func (e *SchemaError) Error() string {
	if e.Field == "" {
		return "validator: invalid schema: " + e.Reason
	}
	return fmt.Sprintf("validator: invalid schema for field %q: %s", e.Field, e.Reason)
}

// Validator is a compiled schema. It is immutable and safe for concurrent
// use; compile once per action, validate per call.
type Validator struct {
	root *rule
}

// Compile checks and compiles a schema. The error is a *SchemaError naming
// the field whose rule is wrong.
func Compile(s Schema) (*Validator, error) {
	root, err := compileRoot(s)
	if err != nil {
		return nil, err
	}
	return &Validator{root: root}, nil
}

// MustCompile is Compile for schemas known at init time; it panics on error.
func MustCompile(s Schema) *Validator {
	v, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Validate checks params and returns nil when they are valid. It may modify
// params (defaults, conversions, removals — see the package doc), even when
// it returns errors. A nil params map is validated as an empty object; in
// that case defaults have nowhere to go and are dropped.
func (v *Validator) Validate(params map[string]any) []FieldError {
	if params == nil {
		params = map[string]any{}
	}
	s := statePool.Get().(*state)
	s.path = s.buf[:0]
	v.root.check(s, v.root, params, nil)
	errs := s.result()
	s.reset()
	statePool.Put(s)
	return errs
}

// ValidateShared is Validate for params the caller still owns (a local call's map, which
// may be shared between calls or goroutines): it never writes into params itself. When the
// schema writes a top-level field (a default, a conversion, a removal), the writes go into a
// copy of params, made at the first of them, and that copy is returned; otherwise params is
// returned as it is, and valid params that need no sanitising cost no allocation. Nested
// objects and arrays are sanitised in place, exactly as Validate does.
func (v *Validator) ValidateShared(params map[string]any) (map[string]any, []FieldError) {
	if params == nil {
		params = map[string]any{}
	}
	s := statePool.Get().(*state)
	s.path = s.buf[:0]
	s.shared, s.copy = true, nil
	v.root.check(s, v.root, params, nil)
	if s.copy != nil {
		params = s.copy
	}
	errs := s.result()
	s.reset()
	statePool.Put(s)
	return params, errs
}

// own returns the map the root object may write into: under ValidateShared, a copy of
// params made once per call.
func (s *state) own(m map[string]any) map[string]any {
	if s.copy == nil {
		s.copy = maps.Clone(m)
	}
	return s.copy
}

// statePool recycles the per-call scratch space: valid params then cost no allocation.
var statePool = sync.Pool{New: func() any { return new(state) }}

// reset drops what a call left behind, so a pooled state holds no params or errors alive.
func (s *state) reset() {
	clear(s.errs)
	s.errs = s.errs[:0]
	clear(s.buf[:])
	s.path = nil
	s.label = ""
	s.shared, s.copy = false, nil
}

// outcome tells the parent container what to do with a validated value.
type outcome uint8

const (
	keep    outcome = iota // leave the stored value alone
	replace                // store the returned value (default, conversion, copy)
	remove                 // delete the key (forbidden with remove)
)

// seg is one step of a field path: a prop name, or an array index when
// index >= 0.
type seg struct {
	name  string
	index int
}

// state is the per-call scratch space. The current path is kept as segments
// and only turned into a string when an error is reported, so valid params
// cost no string building.
type state struct {
	errs  []pendingError
	path  []seg
	label string
	buf   [8]seg // backing store for path: params rarely nest deeper
	// shared is set by ValidateShared: the root object is copied (into copy) before it is
	// written.
	shared bool
	copy   map[string]any
}

type pendingError struct {
	FieldError
	path []seg // sort key
}

func (s *state) pushName(name string) { s.path = append(s.path, seg{name: name, index: -1}) }
func (s *state) pushIndex(i int)      { s.path = append(s.path, seg{index: i}) }
func (s *state) pop()                 { s.path = s.path[:len(s.path)-1] }

// fail records an error of type typ for the current field. expected and
// actual are nil when fastest-validator leaves them undefined.
func (s *state) fail(r *rule, typ string, actual, expected any) {
	field := fieldString(s.path)
	name := field
	if s.label != "" {
		name = s.label
	}
	tmpl, ok := r.messages[typ]
	if !ok {
		tmpl = defaultMessages[typ]
	}
	s.errs = append(s.errs, pendingError{
		FieldError: FieldError{
			Type:     typ,
			Message:  renderMessage(tmpl, name, expected, actual),
			Field:    field,
			Actual:   actual,
			Expected: expected,
			Label:    s.label,
		},
		path: append([]seg(nil), s.path...),
	})
}

// result sorts the collected errors by field path (see the package doc).
func (s *state) result() []FieldError {
	if len(s.errs) == 0 {
		return nil
	}
	sort.SliceStable(s.errs, func(i, j int) bool {
		return comparePaths(s.errs[i].path, s.errs[j].path) < 0
	})
	out := make([]FieldError, len(s.errs))
	for i := range s.errs {
		out[i] = s.errs[i].FieldError
	}
	return out
}

// comparePaths orders paths segment by segment: names byte-wise, indices
// numerically (so tags[2] < tags[10]), a prefix before its extensions.
func comparePaths(a, b []seg) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		switch {
		case x.index >= 0 && y.index >= 0:
			if x.index != y.index {
				if x.index < y.index {
					return -1
				}
				return 1
			}
		case x.index >= 0:
			return 1 // names before indices; only mixed in odd schemas
		case y.index >= 0:
			return -1
		default:
			if c := strings.Compare(x.name, y.name); c != 0 {
				return c
			}
		}
	}
	return len(a) - len(b)
}

// fieldString renders a path the way fastest-validator's generated code
// builds field names: the first prop as is, later props as ".name" or
// "['name']" when not a JavaScript identifier, indices as "[i]".
func fieldString(path []seg) string {
	if len(path) == 1 && path[0].index < 0 {
		return path[0].name // the common case, no allocation
	}
	var b strings.Builder
	for i, sg := range path {
		switch {
		case sg.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(sg.index))
			b.WriteByte(']')
		case i == 0:
			b.WriteString(sg.name)
		case isIdentifier(sg.name):
			b.WriteByte('.')
			b.WriteString(sg.name)
		default:
			b.WriteString("['")
			b.WriteString(sg.name)
			b.WriteString("']")
		}
	}
	return b.String()
}

// isIdentifier matches fastest-validator's /^[_$a-zA-Z][_$a-zA-Z0-9]*$/.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validate applies r to a value: first the required/optional/default
// handling fastest-validator wraps around every rule, then the rule itself.
// present is false for a missing key (undefined).
func (s *state) validate(r *rule, v any, present bool, parent map[string]any) (any, outcome) {
	if present && !isNull(v) {
		return r.check(s, r, v, parent)
	}
	null := present // present but null
	skipUndefined := r.optional || r.typ == "forbidden"
	skipNull := r.optional || r.nullable || r.typ == "forbidden"
	if r.hasDefault {
		// A default wins over optional; only nullable keeps an explicit null.
		skipUndefined = false
		if !r.nullable {
			skipNull = false
		}
	}
	if (!null && skipUndefined) || (null && skipNull) {
		return v, keep
	}
	if r.hasDefault {
		// Like fastest-validator, the default is stored without being
		// validated against the rule.
		if fn, ok := r.def.(func() any); ok {
			return fn(), replace
		}
		return cloneValue(r.def), replace
	}
	s.fail(r, "required", nil, nil)
	return v, keep
}
