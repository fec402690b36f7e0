package db

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// coerce converts an input value to the canonical Go value of a field type.
// It is deliberately lenient where inputs legitimately arrive in another shape
// (JSON numbers are float64, query strings are strings) and strict where a
// conversion would lose information (1.5 is not an int, 1 is not a string).
// nil stays nil: every field is nullable.
func coerce(t FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case TypeString:
		return toString(v)
	case TypeInt:
		return toInt(v)
	case TypeFloat:
		return toFloat(v)
	case TypeBool:
		return toBool(v)
	case TypeJSON:
		return toJSON(v)
	case TypeTime:
		return toTime(v)
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

func mismatch(want string, v any) error {
	return fmt.Errorf("expected %s, got %T %v", want, v, v)
}

func toString(v any) (any, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String(), nil
	}
	return nil, mismatch("string", v)
}

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		return floatToInt(x, v)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, mismatch("int", v)
		}
		return floatToInt(f, v)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, mismatch("int", v)
		}
		return n, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), nil
		}
	case reflect.Float32, reflect.Float64:
		return floatToInt(rv.Float(), v)
	}
	return nil, mismatch("int", v)
}

func floatToInt(f float64, orig any) (any, error) {
	// 2^63 is exactly representable, so the bounds are precise.
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return nil, mismatch("int", orig)
	}
	return int64(f), nil
}

func toFloat(v any) (any, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return nil, mismatch("float", v)
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return nil, mismatch("float", v)
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return nil, mismatch("float", v)
		}
	}
	// SQLite stores NaN as NULL and JSON cannot carry either, so neither is
	// storable consistently.
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, mismatch("finite float", v)
	}
	return f, nil
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return nil, mismatch("bool", v)
		}
		return b, nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Bool {
		return rv.Bool(), nil
	}
	return nil, mismatch("bool", v)
}

// toJSON normalises through an encode/decode round trip so memory holds
// exactly what a SQL adapter would read back: plain maps, slices, float64.
// A JSON null collapses to nil, like SQL NULL.
func toJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not JSON-encodable: %w", err)
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) (any, error) {
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return out, nil
}

// timeText is how SQLite stores times: fixed width so that text order is
// chronological order, and always UTC ("Z").
const timeText = "2006-01-02T15:04:05.000000Z07:00"

var errTimeRange = errors.New("time outside years 0001-9999")

func toTime(v any) (any, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		t = *x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return nil, mismatch("RFC 3339 time", v)
		}
	default:
		return nil, mismatch("time", v)
	}
	return canonicalTime(t)
}

// canonicalTime is UTC with microsecond precision (PostgreSQL's), without a
// monotonic reading, so values compare equal with == and reflect.DeepEqual
// whichever adapter produced them.
func canonicalTime(t time.Time) (time.Time, error) {
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, errTimeRange
	}
	return t, nil
}

// cloneValue deep-copies the shapes a JSON field can hold, so memory never
// hands out references to its stored state.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = cloneValue(e)
		}
		return s
	}
	return v
}

func cloneEntity(e Entity) Entity {
	c := make(Entity, len(e))
	for k, v := range e {
		c[k] = cloneValue(v)
	}
	return c
}

// parseID reads an id in any of the shapes callers have at hand.
func parseID(id any) (int64, bool) {
	if id == nil {
		return 0, false
	}
	v, err := toInt(id)
	if err != nil {
		return 0, false
	}
	return v.(int64), true
}

func invalidID(id any) error {
	return fmt.Errorf("%w: invalid id %v (%T)", ErrNotFound, id, id)
}
