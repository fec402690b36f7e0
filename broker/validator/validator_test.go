package validator

import (
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fe builds an expected FieldError; nil actual/expected mean "not set".
func fe(typ, field, msg string, actual, expected any) FieldError {
	return FieldError{Type: typ, Message: msg, Field: field, Actual: actual, Expected: expected}
}

type validateCase struct {
	name   string
	schema Schema
	params map[string]any
	want   []FieldError   // nil: valid
	after  map[string]any // if set, params after Validate (defaults, conversions)
}

func runCases(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Compile(tc.schema)
			require.NoError(t, err)
			shared := deepCopy(tc.params)
			got := v.Validate(tc.params)
			assert.Equal(t, tc.want, got)
			if tc.after != nil {
				assert.Equal(t, tc.after, tc.params)
			}

			// ValidateShared finds the same errors and yields the params Validate leaves
			// behind, without touching the caller's top-level map.
			if shared == nil {
				return
			}
			before := maps.Clone(shared)
			out, gotShared := v.ValidateShared(shared)
			assert.Equal(t, tc.want, gotShared)
			assert.Equal(t, tc.params, out)
			assert.Equal(t, before, shared, "the caller's map is left alone")
		})
	}
}

// deepCopy copies the JSON containers of params, so that Validate and ValidateShared each
// get their own.
func deepCopy(params map[string]any) map[string]any {
	if params == nil {
		return nil
	}
	var cp func(v any) any
	cp = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if x == nil {
				return x // a typed nil is null, not an empty object
			}
			m := make(map[string]any, len(x))
			for k, e := range x {
				m[k] = cp(e)
			}
			return m
		case []any:
			if x == nil {
				return x
			}
			s := make([]any, len(x))
			for i, e := range x {
				s[i] = cp(e)
			}
			return s
		}
		return v
	}
	return cp(params).(map[string]any)
}

func TestValidateSharedCopiesOnlyToWrite(t *testing.T) {
	v := MustCompile(Schema{"a": "number", "b": map[string]any{"type": "number", "default": 7}})
	in := map[string]any{"a": 1.0, "b": 2.0}
	out, errs := v.ValidateShared(in)
	require.Nil(t, errs)
	out["probe"] = true
	assert.Equal(t, true, in["probe"], "nothing to write: the caller's map itself, no copy")

	in = map[string]any{"a": 1.0}
	out, errs = v.ValidateShared(in)
	require.Nil(t, errs)
	assert.Equal(t, map[string]any{"a": 1.0, "b": 7}, out)
	assert.Equal(t, map[string]any{"a": 1.0}, in, "the default went into a copy")

	strict := MustCompile(Schema{"$$strict": "remove", "a": "number"})
	in = map[string]any{"a": 1.0, "x": "extra"}
	out, errs = strict.ValidateShared(in)
	require.Nil(t, errs)
	assert.Equal(t, map[string]any{"a": 1.0}, out)
	assert.Equal(t, map[string]any{"a": 1.0, "x": "extra"}, in)
}

func TestWireSample(t *testing.T) {
	v := MustCompile(Schema{"name": "string"})
	errs := v.Validate(map[string]any{"name": 5})
	require.Len(t, errs, 1)
	b, err := json.Marshal(errs[0])
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"string","message":"The 'name' field must be a string.","field":"name","actual":5}`, string(b))

	// required carries no actual value.
	errs = v.Validate(map[string]any{})
	b, err = json.Marshal(errs)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"type":"required","message":"The 'name' field is required.","field":"name"}]`, string(b))
}

func TestRequiredOptionalNullable(t *testing.T) {
	runCases(t, []validateCase{
		{name: "missing", schema: Schema{"name": "string"}, params: map[string]any{},
			want: []FieldError{fe("required", "name", "The 'name' field is required.", nil, nil)}},
		{name: "null", schema: Schema{"name": "string"}, params: map[string]any{"name": nil},
			want: []FieldError{fe("required", "name", "The 'name' field is required.", nil, nil)}},
		{name: "typed nil map is null", schema: Schema{"o": "object"}, params: map[string]any{"o": map[string]any(nil)},
			want: []FieldError{fe("required", "o", "The 'o' field is required.", nil, nil)}},
		{name: "typed nil slice is null", schema: Schema{"a": "array"}, params: map[string]any{"a": []string(nil)},
			want: []FieldError{fe("required", "a", "The 'a' field is required.", nil, nil)}},
		{name: "optional missing", schema: Schema{"name": "string|optional"}, params: map[string]any{}},
		{name: "optional null", schema: Schema{"name": "string|optional"}, params: map[string]any{"name": nil}},
		{name: "optional present still checked", schema: Schema{"name": "string|optional"}, params: map[string]any{"name": 1},
			want: []FieldError{fe("string", "name", "The 'name' field must be a string.", 1, nil)}},
		{name: "optional map form", schema: Schema{"name": Schema{"type": "string", "optional": true}}, params: map[string]any{}},
		{name: "nullable accepts null", schema: Schema{"name": Schema{"type": "string", "nullable": true}},
			params: map[string]any{"name": nil}},
		{name: "nullable still requires the key", schema: Schema{"name": Schema{"type": "string", "nullable": true}},
			params: map[string]any{},
			want:   []FieldError{fe("required", "name", "The 'name' field is required.", nil, nil)}},
		{name: "any accepts anything present", schema: Schema{"x": "any"}, params: map[string]any{"x": []int{1}}},
		{name: "any still required", schema: Schema{"x": "any"}, params: map[string]any{},
			want: []FieldError{fe("required", "x", "The 'x' field is required.", nil, nil)}},
		{name: "nil params is an empty object", schema: Schema{"x": "any"}, params: nil,
			want: []FieldError{fe("required", "x", "The 'x' field is required.", nil, nil)}},
	})
}

func TestDefaults(t *testing.T) {
	runCases(t, []validateCase{
		{name: "missing gets default", schema: Schema{"n": Schema{"type": "number", "default": 10}},
			params: map[string]any{}, after: map[string]any{"n": 10}},
		{name: "null gets default", schema: Schema{"n": Schema{"type": "number", "default": 10}},
			params: map[string]any{"n": nil}, after: map[string]any{"n": 10}},
		{name: "nullable keeps null", schema: Schema{"n": Schema{"type": "number", "default": 10, "nullable": true}},
			params: map[string]any{"n": nil}, after: map[string]any{"n": nil}},
		{name: "optional with default fills", schema: Schema{"n": Schema{"type": "number", "optional": true, "default": 1}},
			params: map[string]any{}, after: map[string]any{"n": 1}},
		{name: "present value untouched", schema: Schema{"n": Schema{"type": "number", "default": 10}},
			params: map[string]any{"n": 3}, after: map[string]any{"n": 3}},
		{name: "shorthand default is a JSON number", schema: Schema{"n": "number|default:5"},
			params: map[string]any{}, after: map[string]any{"n": 5.0}},
		{name: "shorthand string default", schema: Schema{"s": "string|default:guest"},
			params: map[string]any{}, after: map[string]any{"s": "guest"}},
		{name: "default is not validated", schema: Schema{"n": Schema{"type": "number", "default": "x"}},
			params: map[string]any{}, after: map[string]any{"n": "x"}},
		{name: "default func", schema: Schema{"n": Schema{"type": "number", "default": func() any { return 42 }}},
			params: map[string]any{}, after: map[string]any{"n": 42}},
		{name: "nested default", schema: Schema{"opts": Schema{"type": "object", "props": Schema{
			"limit": Schema{"type": "number", "default": 20}}}},
			params: map[string]any{"opts": map[string]any{}},
			after:  map[string]any{"opts": map[string]any{"limit": 20}}},
		{name: "false default is a default", schema: Schema{"b": Schema{"type": "boolean", "default": false}},
			params: map[string]any{}, after: map[string]any{"b": false}},
	})
}

func TestDefaultIsCopied(t *testing.T) {
	v := MustCompile(Schema{"meta": Schema{"type": "object", "default": map[string]any{"tags": []any{"a"}}}})
	p1, p2 := map[string]any{}, map[string]any{}
	require.Nil(t, v.Validate(p1))
	p1["meta"].(map[string]any)["tags"].([]any)[0] = "changed"
	require.Nil(t, v.Validate(p2))
	assert.Equal(t, map[string]any{"tags": []any{"a"}}, p2["meta"])
}

func TestString(t *testing.T) {
	const f = "name"
	runCases(t, []validateCase{
		{name: "valid", schema: Schema{f: "string"}, params: map[string]any{f: "John"}},
		{name: "not a string", schema: Schema{f: "string"}, params: map[string]any{f: true},
			want: []FieldError{fe("string", f, "The 'name' field must be a string.", true, nil)}},
		{name: "empty allowed by default", schema: Schema{f: "string"}, params: map[string]any{f: ""}},
		{name: "min", schema: Schema{f: "string|min:3"}, params: map[string]any{f: "ab"},
			want: []FieldError{fe("stringMin", f, "The 'name' field length must be greater than or equal to 3 characters long.", 2, 3)}},
		{name: "max", schema: Schema{f: "string|min:3|max:10"}, params: map[string]any{f: "abcdefghijk"},
			want: []FieldError{fe("stringMax", f, "The 'name' field length must be less than or equal to 10 characters long.", 11, 10)}},
		{name: "length", schema: Schema{f: Schema{"type": "string", "length": 4}}, params: map[string]any{f: "abc"},
			want: []FieldError{fe("stringLength", f, "The 'name' field length must be 4 characters long.", 3, 4)}},
		{name: "length from JSON-decoded schema", schema: Schema{f: Schema{"type": "string", "length": 4.0}}, params: map[string]any{f: "abc"},
			want: []FieldError{fe("stringLength", f, "The 'name' field length must be 4 characters long.", 3, 4)}},
		{name: "empty false", schema: Schema{f: Schema{"type": "string", "empty": false}}, params: map[string]any{f: ""},
			want: []FieldError{fe("stringEmpty", f, "The 'name' field must not be empty.", "", nil)}},
		{name: "no-empty shorthand", schema: Schema{f: "string|no-empty"}, params: map[string]any{f: ""},
			want: []FieldError{fe("stringEmpty", f, "The 'name' field must not be empty.", "", nil)}},
		{name: "empty true skips other checks", schema: Schema{f: "string|empty|min:3"}, params: map[string]any{f: ""}},
		{name: "length counts UTF-16 units", schema: Schema{f: "string|max:1"}, params: map[string]any{f: "😀"},
			want: []FieldError{fe("stringMax", f, "The 'name' field length must be less than or equal to 1 characters long.", 2, 1)}},
		{name: "non-ASCII BMP counts one", schema: Schema{f: "string|max:5"}, params: map[string]any{f: "héllo"}},
		{name: "pattern", schema: Schema{f: Schema{"type": "string", "pattern": "^[a-z]+$"}}, params: map[string]any{f: "ab1"},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "ab1", "/^[a-z]+$/")}},
		{name: "numeric shorthand pattern", schema: Schema{f: "string|pattern:123"}, params: map[string]any{f: "x"},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "x", "/123/")}},
		{name: "pattern shorthand", schema: Schema{f: "string|pattern:^[0-9]+$"}, params: map[string]any{f: "12"}},
		{name: "pattern flags", schema: Schema{f: Schema{"type": "string", "pattern": "^abc$", "patternFlags": "mi"}}, params: map[string]any{f: "abd"},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "abd", "/^abc$/im")}},
		{name: "pattern flags match", schema: Schema{f: Schema{"type": "string", "pattern": "^abc$", "patternFlags": "i"}}, params: map[string]any{f: "ABC"}},
		{name: "pattern slash is escaped in expected", schema: Schema{f: Schema{"type": "string", "pattern": "^a/b$"}}, params: map[string]any{f: "x"},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "x", `/^a\/b$/`)}},
		{name: "compiled regexp", schema: Schema{f: Schema{"type": "string", "pattern": regexp.MustCompile(`^\d+$`)}}, params: map[string]any{f: "x"},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "x", `/^\d+$/`)}},
		{name: "contains", schema: Schema{f: "string|contains:foo"}, params: map[string]any{f: "bar"},
			want: []FieldError{fe("stringContains", f, "The 'name' field must contain the 'foo' text.", "bar", "foo")}},
		{name: "enum", schema: Schema{f: Schema{"type": "string", "enum": []string{"a", "b"}}}, params: map[string]any{f: "c"},
			want: []FieldError{fe("stringEnum", f, "The 'name' field does not match any of the allowed values.", "c", "a, b")}},
		{name: "enum match", schema: Schema{f: Schema{"type": "string", "enum": []any{"a", "b"}}}, params: map[string]any{f: "b"}},
		{name: "numeric", schema: Schema{f: "string|numeric"}, params: map[string]any{f: "12a"},
			want: []FieldError{fe("stringNumeric", f, "The 'name' field must be a numeric string.", "12a", nil)}},
		{name: "numeric ok", schema: Schema{f: "string|numeric"}, params: map[string]any{f: "-12.5"}},
		{name: "alpha", schema: Schema{f: "string|alpha"}, params: map[string]any{f: "ab1"},
			want: []FieldError{fe("stringAlpha", f, "The 'name' field must be an alphabetic string.", "ab1", nil)}},
		{name: "alphanum", schema: Schema{f: "string|alphanum"}, params: map[string]any{f: "a-1"},
			want: []FieldError{fe("stringAlphanum", f, "The 'name' field must be an alphanumeric string.", "a-1", nil)}},
		{name: "alphadash", schema: Schema{f: "string|alphadash"}, params: map[string]any{f: "a 1"},
			want: []FieldError{fe("stringAlphadash", f, "The 'name' field must be an alphadash string.", "a 1", nil)}},
		{name: "hex odd length", schema: Schema{f: "string|hex"}, params: map[string]any{f: "abc"},
			want: []FieldError{fe("stringHex", f, "The 'name' field must be a hex string.", "abc", nil)}},
		{name: "hex ok", schema: Schema{f: "string|hex"}, params: map[string]any{f: "0aFf"}},
		{name: "checks keep fastest-validator order", schema: Schema{f: "string|min:5|pattern:^[0-9]+$|contains:1"},
			params: map[string]any{f: "abc"},
			want: []FieldError{
				fe("stringMin", f, "The 'name' field length must be greater than or equal to 5 characters long.", 3, 5),
				fe("stringPattern", f, "The 'name' field fails to match the required pattern.", "abc", "/^[0-9]+$/"),
				fe("stringContains", f, "The 'name' field must contain the '1' text.", "abc", "1"),
			}},
		{name: "trim is stored and measured", schema: Schema{f: "string|trim|min:3"}, params: map[string]any{f: "  ab\u00a0"},
			want:  []FieldError{fe("stringMin", f, "The 'name' field length must be greater than or equal to 3 characters long.", 2, 3)},
			after: map[string]any{f: "ab"}},
		{name: "trimLeft trimRight", schema: Schema{"l": "string|trimLeft", "r": "string|trimRight"},
			params: map[string]any{"l": " a ", "r": " a "}, after: map[string]any{"l": "a ", "r": " a"}},
		{name: "lowercase uppercase", schema: Schema{"l": "string|lowercase", "u": "string|uppercase"},
			params: map[string]any{"l": "AbC", "u": "AbC"}, after: map[string]any{"l": "abc", "u": "ABC"}},
		{name: "pattern reports the untrimmed value", schema: Schema{f: "string|trim|pattern:^x$"}, params: map[string]any{f: " y "},
			want: []FieldError{fe("stringPattern", f, "The 'name' field fails to match the required pattern.", " y ", "/^x$/")}},
		{name: "convert number", schema: Schema{f: "string|convert"}, params: map[string]any{f: 12.5}, after: map[string]any{f: "12.5"}},
		{name: "convert int and bool", schema: Schema{"a": "string|convert", "b": "string|convert"},
			params: map[string]any{"a": int64(7), "b": false}, after: map[string]any{"a": "7", "b": "false"}},
		{name: "convert array", schema: Schema{f: "string|convert"}, params: map[string]any{f: []any{1, "a", nil}}, after: map[string]any{f: "1,a,"}},
	})
}

func TestNumber(t *testing.T) {
	const f = "qty"
	runCases(t, []validateCase{
		{name: "float64", schema: Schema{f: "number"}, params: map[string]any{f: 1.5}},
		{name: "every Go numeric type", schema: Schema{
			"a": "number|integer", "b": "number|integer", "c": "number|integer", "d": "number|integer",
			"e": "number|integer", "g": "number|integer", "h": "number|integer",
		}, params: map[string]any{
			"a": 1, "b": int8(2), "c": int64(3), "d": uint16(4), "e": float32(5), "g": json.Number("6"), "h": 7.0,
		}},
		{name: "string is not a number", schema: Schema{f: "number"}, params: map[string]any{f: "5"},
			want: []FieldError{fe("number", f, "The 'qty' field must be a number.", "5", nil)}},
		{name: "infinity is not a number", schema: Schema{f: "number"}, params: map[string]any{f: math.Inf(1)},
			want: []FieldError{fe("number", f, "The 'qty' field must be a number.", math.Inf(1), nil)}},
		{name: "min", schema: Schema{f: "number|min:1"}, params: map[string]any{f: 0},
			want: []FieldError{fe("numberMin", f, "The 'qty' field must be greater than or equal to 1.", 0, 1)}},
		{name: "min fractional", schema: Schema{f: Schema{"type": "number", "min": 0.5}}, params: map[string]any{f: 0.25},
			want: []FieldError{fe("numberMin", f, "The 'qty' field must be greater than or equal to 0.5.", 0.25, 0.5)}},
		{name: "max", schema: Schema{f: Schema{"type": "number", "max": 10}}, params: map[string]any{f: 11.5},
			want: []FieldError{fe("numberMax", f, "The 'qty' field must be less than or equal to 10.", 11.5, 10)}},
		{name: "equal", schema: Schema{f: Schema{"type": "number", "equal": 5}}, params: map[string]any{f: 4},
			want: []FieldError{fe("numberEqual", f, "The 'qty' field must be equal to 5.", 4, 5)}},
		{name: "notEqual", schema: Schema{f: Schema{"type": "number", "notEqual": 5}}, params: map[string]any{f: int64(5)},
			want: []FieldError{fe("numberNotEqual", f, "The 'qty' field can't be equal to 5.", int64(5), 5)}},
		{name: "integer", schema: Schema{f: "number|integer"}, params: map[string]any{f: 1.5},
			want: []FieldError{fe("numberInteger", f, "The 'qty' field must be an integer.", 1.5, nil)}},
		{name: "integer accepts whole float", schema: Schema{f: "number|integer"}, params: map[string]any{f: 2.0}},
		{name: "positive", schema: Schema{f: "number|positive"}, params: map[string]any{f: 0},
			want: []FieldError{fe("numberPositive", f, "The 'qty' field must be a positive number.", 0, nil)}},
		{name: "negative", schema: Schema{f: Schema{"type": "number", "negative": true}}, params: map[string]any{f: 0.0},
			want: []FieldError{fe("numberNegative", f, "The 'qty' field must be a negative number.", 0.0, nil)}},
		{name: "positive false is no check", schema: Schema{f: Schema{"type": "number", "positive": false}}, params: map[string]any{f: -1}},
		{name: "several checks in order", schema: Schema{f: "number|min:0|integer|positive"}, params: map[string]any{f: -1.5},
			want: []FieldError{
				fe("numberMin", f, "The 'qty' field must be greater than or equal to 0.", -1.5, 0),
				fe("numberInteger", f, "The 'qty' field must be an integer.", -1.5, nil),
				fe("numberPositive", f, "The 'qty' field must be a positive number.", -1.5, nil),
			}},
		{name: "convert string", schema: Schema{f: "number|convert"}, params: map[string]any{f: " 12 "}, after: map[string]any{f: 12.0}},
		{name: "convert hex and exponent", schema: Schema{"a": "number|convert", "b": "number|convert"},
			params: map[string]any{"a": "0x1F", "b": "1e3"}, after: map[string]any{"a": 31.0, "b": 1000.0}},
		{name: "convert bool", schema: Schema{f: "number|convert"}, params: map[string]any{f: true}, after: map[string]any{f: 1.0}},
		{name: "convert keeps Go numbers as they are", schema: Schema{f: "number|convert"}, params: map[string]any{f: 3}, after: map[string]any{f: 3}},
		{name: "convert failure reports the original", schema: Schema{f: "number|convert"}, params: map[string]any{f: "abc"},
			want:  []FieldError{fe("number", f, "The 'qty' field must be a number.", "abc", nil)},
			after: map[string]any{f: "abc"}},
		{name: "convert then min reports the original", schema: Schema{f: "number|convert|min:10"}, params: map[string]any{f: "5"},
			want:  []FieldError{fe("numberMin", f, "The 'qty' field must be greater than or equal to 10.", "5", 10)},
			after: map[string]any{f: 5.0}},
	})
}

func TestBoolean(t *testing.T) {
	const f = "ok"
	cases := []validateCase{
		{name: "true", schema: Schema{f: "boolean"}, params: map[string]any{f: true}},
		{name: "string without convert", schema: Schema{f: "boolean"}, params: map[string]any{f: "true"},
			want: []FieldError{fe("boolean", f, "The 'ok' field must be a boolean.", "true", nil)}},
		{name: "convert unknown", schema: Schema{f: "boolean|convert"}, params: map[string]any{f: "yes"},
			want: []FieldError{fe("boolean", f, "The 'ok' field must be a boolean.", "yes", nil)}},
		{name: "convert 2", schema: Schema{f: "boolean|convert"}, params: map[string]any{f: 2},
			want: []FieldError{fe("boolean", f, "The 'ok' field must be a boolean.", 2, nil)}},
	}
	for _, in := range []any{"true", "1", "on", 1, 1.0} {
		cases = append(cases, validateCase{name: "convert to true " + jsString(in), schema: Schema{f: "boolean|convert"},
			params: map[string]any{f: in}, after: map[string]any{f: true}})
	}
	for _, in := range []any{"false", "0", "off", 0, int64(0)} {
		cases = append(cases, validateCase{name: "convert to false " + jsString(in), schema: Schema{f: "boolean|convert"},
			params: map[string]any{f: in}, after: map[string]any{f: false}})
	}
	runCases(t, cases)
}

func TestObject(t *testing.T) {
	address := Schema{"type": "object", "props": Schema{"city": "string", "zip": "string|length:5"}}
	runCases(t, []validateCase{
		{name: "not an object", schema: Schema{"address": "object"}, params: map[string]any{"address": "x"},
			want: []FieldError{fe("object", "address", "The 'address' must be an Object.", "x", nil)}},
		{name: "array is not an object", schema: Schema{"address": "object"}, params: map[string]any{"address": []any{}},
			want: []FieldError{fe("object", "address", "The 'address' must be an Object.", []any{}, nil)}},
		{name: "any map without props", schema: Schema{"address": "object"}, params: map[string]any{"address": map[string]int{"a": 1}}},
		{name: "nested errors", schema: Schema{"address": address},
			params: map[string]any{"address": map[string]any{"city": 5, "zip": "123"}},
			want: []FieldError{
				fe("string", "address.city", "The 'address.city' field must be a string.", 5, nil),
				fe("stringLength", "address.zip", "The 'address.zip' field length must be 5 characters long.", 3, 5),
			}},
		{name: "nested required", schema: Schema{"address": address}, params: map[string]any{"address": map[string]any{}},
			want: []FieldError{
				fe("required", "address.city", "The 'address.city' field is required.", nil, nil),
				fe("required", "address.zip", "The 'address.zip' field is required.", nil, nil),
			}},
		{name: "deep nesting", schema: Schema{"a": Schema{"type": "object", "props": Schema{"b": Schema{"type": "object", "props": Schema{"c": "number"}}}}},
			params: map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}}},
			want:   []FieldError{fe("number", "a.b.c", "The 'a.b.c' field must be a number.", "x", nil)}},
		{name: "properties alias", schema: Schema{"o": Schema{"type": "object", "properties": Schema{"x": "number"}}},
			params: map[string]any{"o": map[string]any{}},
			want:   []FieldError{fe("required", "o.x", "The 'o.x' field is required.", nil, nil)}},
		{name: "non-identifier prop names", schema: Schema{"meta": Schema{"type": "object", "props": Schema{"x-id": "string", "1st": "string"}}},
			params: map[string]any{"meta": map[string]any{}},
			want: []FieldError{
				fe("required", "meta['1st']", "The 'meta['1st']' field is required.", nil, nil),
				fe("required", "meta['x-id']", "The 'meta['x-id']' field is required.", nil, nil),
			}},
		{name: "top-level names are used as is", schema: Schema{"x-id": "string"}, params: map[string]any{},
			want: []FieldError{fe("required", "x-id", "The 'x-id' field is required.", nil, nil)}},
		{name: "strict", schema: Schema{"o": Schema{"type": "object", "strict": true, "props": Schema{"a": "string|optional", "b": "string|optional"}}},
			params: map[string]any{"o": map[string]any{"z": 1, "c": 2, "a": "x"}},
			want:   []FieldError{fe("objectStrict", "o", "The object 'o' contains forbidden keys: 'c, z'.", "c, z", "a, b")}},
		{name: "strict remove", schema: Schema{"o": Schema{"type": "object", "strict": "remove", "props": Schema{"a": "string"}}},
			params: map[string]any{"o": map[string]any{"a": "x", "z": 1}},
			after:  map[string]any{"o": map[string]any{"a": "x"}}},
		{name: "strict remove keeps keys when invalid", schema: Schema{"o": Schema{"type": "object", "strict": "remove", "props": Schema{"a": "string"}}},
			params: map[string]any{"o": map[string]any{"a": 1, "z": 1}},
			want:   []FieldError{fe("string", "o.a", "The 'o.a' field must be a string.", 1, nil)},
			after:  map[string]any{"o": map[string]any{"a": 1, "z": 1}}},
		{name: "top-level $$strict", schema: Schema{"name": "string", "$$strict": true},
			params: map[string]any{"name": "x", "extra": 1, "another": 2},
			want:   []FieldError{fe("objectStrict", "", "The object '' contains forbidden keys: 'another, extra'.", "another, extra", "name")}},
		{name: "top-level $$strict remove", schema: Schema{"name": "string", "$$strict": "remove"},
			params: map[string]any{"name": "x", "extra": 1}, after: map[string]any{"name": "x"}},
		{name: "$$strict false", schema: Schema{"name": "string", "$$strict": false}, params: map[string]any{"name": "x", "extra": 1}},
		{name: "minProps", schema: Schema{"o": Schema{"type": "object", "minProps": 2}}, params: map[string]any{"o": map[string]any{"a": 1}},
			want: []FieldError{fe("objectMinProps", "o", "The object 'o' must contain at least 2 properties.", 1, 2)}},
		{name: "maxProps", schema: Schema{"o": Schema{"type": "object", "maxProps": 1}}, params: map[string]any{"o": map[string]any{"a": 1, "b": 2}},
			want: []FieldError{fe("objectMaxProps", "o", "The object 'o' must contain 1 properties at most.", 2, 1)}},
		{name: "$$type shorthand", schema: Schema{"addr": Schema{"$$type": "object|optional", "city": "string"}},
			params: map[string]any{"addr": map[string]any{"city": 1}},
			want:   []FieldError{fe("string", "addr.city", "The 'addr.city' field must be a string.", 1, nil)}},
		{name: "$$type optional", schema: Schema{"addr": Schema{"$$type": "object|optional", "city": "string"}}, params: map[string]any{}},
		{name: "$$type with $$strict", schema: Schema{"addr": Schema{"$$type": "object", "$$strict": true, "city": "string"}},
			params: map[string]any{"addr": map[string]any{"city": "x", "zip": 1}},
			want:   []FieldError{fe("objectStrict", "addr", "The object 'addr' contains forbidden keys: 'zip'.", "zip", "city")}},
		{name: "typed map is read and replaced only when written", schema: Schema{"o": Schema{"type": "object", "props": Schema{"n": "number|convert"}}},
			params: map[string]any{"o": map[string]string{"n": "5"}},
			after:  map[string]any{"o": map[string]any{"n": 5.0}}},
		{name: "typed map untouched when valid", schema: Schema{"o": Schema{"type": "object", "props": Schema{"n": "string"}}},
			params: map[string]any{"o": map[string]string{"n": "5"}},
			after:  map[string]any{"o": map[string]string{"n": "5"}}},
	})
}

func TestArray(t *testing.T) {
	const f = "tags"
	runCases(t, []validateCase{
		{name: "not an array", schema: Schema{f: "array"}, params: map[string]any{f: "x"},
			want: []FieldError{fe("array", f, "The 'tags' field must be an array.", "x", nil)}},
		{name: "typed slice is an array", schema: Schema{f: "array"}, params: map[string]any{f: []int{1}}},
		{name: "items shorthand", schema: Schema{f: "string[]"}, params: map[string]any{f: []any{"a", 5}},
			want: []FieldError{fe("string", "tags[1]", "The 'tags[1]' field must be a string.", 5, nil)}},
		{name: "items map", schema: Schema{f: Schema{"type": "array", "items": "number|positive"}}, params: map[string]any{f: []any{1, -2}},
			want: []FieldError{fe("numberPositive", "tags[1]", "The 'tags[1]' field must be a positive number.", -2, nil)}},
		{name: "item null is required", schema: Schema{f: "string[]"}, params: map[string]any{f: []any{"a", nil}},
			want: []FieldError{fe("required", "tags[1]", "The 'tags[1]' field is required.", nil, nil)}},
		{name: "indices sort numerically", schema: Schema{f: "number[]"},
			params: map[string]any{f: []any{0, 1, "x", 3, 4, 5, 6, 7, 8, 9, "y"}},
			want: []FieldError{
				fe("number", "tags[2]", "The 'tags[2]' field must be a number.", "x", nil),
				fe("number", "tags[10]", "The 'tags[10]' field must be a number.", "y", nil),
			}},
		{name: "typed slice items", schema: Schema{f: Schema{"type": "array", "items": "string|min:2"}}, params: map[string]any{f: []string{"a", "bb"}},
			want: []FieldError{fe("stringMin", "tags[0]", "The 'tags[0]' field length must be greater than or equal to 2 characters long.", 1, 2)}},
		{name: "items converted in place", schema: Schema{f: Schema{"type": "array", "items": "number|convert"}}, params: map[string]any{f: []any{"1", 2}},
			after: map[string]any{f: []any{1.0, 2}}},
		{name: "typed slice replaced when items convert", schema: Schema{f: Schema{"type": "array", "items": "number|convert"}}, params: map[string]any{f: []string{"1"}},
			after: map[string]any{f: []any{1.0}}},
		{name: "array of objects", schema: Schema{"list": Schema{"type": "array", "items": Schema{"type": "object", "props": Schema{"id": "number"}}}},
			params: map[string]any{"list": []any{map[string]any{"id": 1}, map[string]any{}}},
			want:   []FieldError{fe("required", "list[1].id", "The 'list[1].id' field is required.", nil, nil)}},
		{name: "array of arrays", schema: Schema{"m": Schema{"type": "array", "items": "number[]"}},
			params: map[string]any{"m": []any{[]any{1, 2}, []any{3, "x"}}},
			want:   []FieldError{fe("number", "m[1][1]", "The 'm[1][1]' field must be a number.", "x", nil)}},
		{name: "empty false", schema: Schema{f: Schema{"type": "array", "empty": false}}, params: map[string]any{f: []any{}},
			want: []FieldError{fe("arrayEmpty", f, "The 'tags' field must not be an empty array.", []any{}, nil)}},
		{name: "min", schema: Schema{f: "array|min:2"}, params: map[string]any{f: []any{"a"}},
			want: []FieldError{fe("arrayMin", f, "The 'tags' field must contain at least 2 items.", 1, 2)}},
		{name: "max", schema: Schema{f: "array|max:1"}, params: map[string]any{f: []any{"a", "b"}},
			want: []FieldError{fe("arrayMax", f, "The 'tags' field must contain less than or equal to 1 items.", 2, 1)}},
		{name: "length", schema: Schema{f: "array|length:3"}, params: map[string]any{f: []any{"a"}},
			want: []FieldError{fe("arrayLength", f, "The 'tags' field must contain 3 items.", 1, 3)}},
		{name: "contains", schema: Schema{f: Schema{"type": "array", "contains": "x"}}, params: map[string]any{f: []any{"a"}},
			want: []FieldError{fe("arrayContains", f, "The 'tags' field must contain the 'x' item.", []any{"a"}, "x")}},
		{name: "contains number across types", schema: Schema{f: Schema{"type": "array", "contains": 2}}, params: map[string]any{f: []any{1.0, 2.0}}},
		{name: "unique", schema: Schema{f: "array|unique"}, params: map[string]any{f: []any{1, 2, 2, 3, 3, 3}},
			want: []FieldError{fe("arrayUnique", f, "The '1,2,2,3,3,3' value in 'tags' field does not unique the '2,3' values.",
				[]any{1, 2, 2, 3, 3, 3}, []any{2, 3})}},
		{name: "enum", schema: Schema{f: Schema{"type": "array", "enum": []any{"a", "b"}}}, params: map[string]any{f: []any{"a", "z", "y"}},
			want: []FieldError{
				fe("arrayEnum", f, "The 'z' value in 'tags' field does not match any of the 'a, b' values.", "z", "a, b"),
				fe("arrayEnum", f, "The 'y' value in 'tags' field does not match any of the 'a, b' values.", "y", "a, b"),
			}},
		{name: "length checks and items both run", schema: Schema{f: Schema{"type": "array", "min": 3, "items": "string"}}, params: map[string]any{f: []any{1}},
			want: []FieldError{
				fe("arrayMin", f, "The 'tags' field must contain at least 3 items.", 1, 3),
				fe("string", "tags[0]", "The 'tags[0]' field must be a string.", 1, nil),
			}},
		{name: "convert wraps a single value", schema: Schema{f: Schema{"type": "array", "convert": true, "items": "string"}}, params: map[string]any{f: "a"},
			after: map[string]any{f: []any{"a"}}},
	})
}

func TestEmail(t *testing.T) {
	const f = "email"
	runCases(t, []validateCase{
		{name: "valid", schema: Schema{f: "email"}, params: map[string]any{f: "john@example.com"}},
		{name: "invalid", schema: Schema{f: "email"}, params: map[string]any{f: "john@example"},
			want: []FieldError{fe("email", f, "The 'email' field must be a valid e-mail.", "john@example", nil)}},
		{name: "not a string", schema: Schema{f: "email"}, params: map[string]any{f: 5},
			want: []FieldError{fe("string", f, "The 'email' field must be a string.", 5, nil)}},
		{name: "empty", schema: Schema{f: "email"}, params: map[string]any{f: ""},
			want: []FieldError{fe("emailEmpty", f, "The 'email' field must not be empty.", "", nil)}},
		{name: "empty allowed", schema: Schema{f: "email|empty"}, params: map[string]any{f: ""}},
		{name: "quick accepts what precise rejects", schema: Schema{f: "email"}, params: map[string]any{f: "a..b@example.com"}},
		{name: "precise", schema: Schema{f: Schema{"type": "email", "mode": "precise"}}, params: map[string]any{f: "a..b@example.com"},
			want: []FieldError{fe("email", f, "The 'email' field must be a valid e-mail.", "a..b@example.com", nil)}},
		{name: "precise valid", schema: Schema{f: Schema{"type": "email", "mode": "precise"}}, params: map[string]any{f: "a.b@example.com"}},
		{name: "normalize", schema: Schema{f: "email|normalize"}, params: map[string]any{f: " John@Example.COM "},
			after: map[string]any{f: "john@example.com"}},
		{name: "min max", schema: Schema{"a": "email|min:10", "b": "email|max:5"}, params: map[string]any{"a": "a@b.co", "b": "a@b.co"},
			want: []FieldError{
				fe("emailMin", "a", "The 'a' field length must be greater than or equal to 10 characters long.", 6, 10),
				fe("emailMax", "b", "The 'b' field length must be less than or equal to 5 characters long.", 6, 5),
			}},
	})
}

func TestURLUUIDDate(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	runCases(t, []validateCase{
		{name: "url valid", schema: Schema{"u": "url"}, params: map[string]any{"u": "https://moleculer.services/docs"}},
		{name: "url invalid", schema: Schema{"u": "url"}, params: map[string]any{"u": "ftp://x"},
			want: []FieldError{fe("url", "u", "The 'u' field must be a valid URL.", "ftp://x", nil)}},
		{name: "url empty", schema: Schema{"u": "url"}, params: map[string]any{"u": ""},
			want: []FieldError{fe("urlEmpty", "u", "The 'u' field must not be empty.", "", nil)}},
		{name: "url empty allowed", schema: Schema{"u": "url|empty"}, params: map[string]any{"u": ""}},
		{name: "url not a string", schema: Schema{"u": "url"}, params: map[string]any{"u": 1},
			want: []FieldError{fe("string", "u", "The 'u' field must be a string.", 1, nil)}},

		{name: "uuid v4", schema: Schema{"id": "uuid"}, params: map[string]any{"id": "10BA038E-48DA-487B-96E8-8D3B99B6D18A"}},
		{name: "uuid nil", schema: Schema{"id": "uuid"}, params: map[string]any{"id": "00000000-0000-0000-0000-000000000000"}},
		{name: "uuid invalid", schema: Schema{"id": "uuid"}, params: map[string]any{"id": "not-a-uuid"},
			want: []FieldError{fe("uuid", "id", "The 'id' field must be a valid UUID.", "not-a-uuid", nil)}},
		{name: "uuid bad variant", schema: Schema{"id": "uuid"}, params: map[string]any{"id": "10ba038e-48da-487b-c6e8-8d3b99b6d18a"},
			want: []FieldError{fe("uuid", "id", "The 'id' field must be a valid UUID.", "10ba038e-48da-487b-c6e8-8d3b99b6d18a", nil)}},
		{name: "uuid version", schema: Schema{"id": "uuid|version:1"}, params: map[string]any{"id": "10ba038e-48da-487b-96e8-8d3b99b6d18a"},
			want: []FieldError{fe("uuidVersion", "id", "The 'id' field must be a valid UUID version provided.", 4, 1)}},
		{name: "uuid not a string", schema: Schema{"id": "uuid"}, params: map[string]any{"id": 1},
			want: []FieldError{fe("string", "id", "The 'id' field must be a string.", 1, nil)}},

		{name: "date", schema: Schema{"at": "date"}, params: map[string]any{"at": at}},
		{name: "date string without convert", schema: Schema{"at": "date"}, params: map[string]any{"at": "2024-01-02T03:04:05Z"},
			want: []FieldError{fe("date", "at", "The 'at' field must be a Date.", "2024-01-02T03:04:05Z", nil)}},
		{name: "date convert RFC 3339", schema: Schema{"at": "date|convert"}, params: map[string]any{"at": "2024-01-02T05:04:05+02:00"},
			after: map[string]any{"at": time.Date(2024, 1, 2, 5, 4, 5, 0, time.FixedZone("", 2*3600))}},
		{name: "date convert date only", schema: Schema{"at": "date|convert"}, params: map[string]any{"at": "2024-01-02"},
			after: map[string]any{"at": time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}},
		{name: "date convert millis", schema: Schema{"a": "date|convert", "b": "date|convert"},
			params: map[string]any{"a": 1704164645000.0, "b": "1704164645000"},
			after:  map[string]any{"a": at, "b": at}},
		{name: "date convert garbage", schema: Schema{"at": "date|convert"}, params: map[string]any{"at": "yesterday"},
			want: []FieldError{fe("date", "at", "The 'at' field must be a Date.", "yesterday", nil)}},
	})
}

func TestEnumEqualForbidden(t *testing.T) {
	runCases(t, []validateCase{
		{name: "enum", schema: Schema{"role": Schema{"type": "enum", "values": []string{"admin", "user"}}}, params: map[string]any{"role": "root"},
			want: []FieldError{fe("enumValue", "role", "The 'role' field value 'admin, user' does not match any of the allowed values.", "root", "admin, user")}},
		{name: "enum numbers across Go types", schema: Schema{"n": Schema{"type": "enum", "values": []any{1, 2}}}, params: map[string]any{"n": 2.0}},
		{name: "enum is strict", schema: Schema{"n": Schema{"type": "enum", "values": []any{1, 2}}}, params: map[string]any{"n": "1"},
			want: []FieldError{fe("enumValue", "n", "The 'n' field value '1, 2' does not match any of the allowed values.", "1", "1, 2")}},

		{name: "equal value", schema: Schema{"agree": Schema{"type": "equal", "value": "yes"}}, params: map[string]any{"agree": "no"},
			want: []FieldError{fe("equalValue", "agree", "The 'agree' field value must be equal to 'yes'.", "no", "yes")}},
		{name: "equal is loose by default", schema: Schema{"n": Schema{"type": "equal", "value": 5}}, params: map[string]any{"n": "5"}},
		{name: "equal loose bool", schema: Schema{"b": Schema{"type": "equal", "value": true}}, params: map[string]any{"b": 1}},
		{name: "equal strict", schema: Schema{"n": Schema{"type": "equal", "value": 5, "strict": true}}, params: map[string]any{"n": "5"},
			want: []FieldError{fe("equalValue", "n", "The 'n' field value must be equal to '5'.", "5", 5)}},
		{name: "equal field", schema: Schema{"password": "string", "confirm": Schema{"type": "equal", "field": "password"}},
			params: map[string]any{"password": "secret", "confirm": "secrte"},
			want:   []FieldError{fe("equalField", "confirm", "The 'confirm' field value must be equal to 'password' field value.", "secrte", "password")}},
		{name: "equal field nested", schema: Schema{"o": Schema{"type": "object", "props": Schema{"a": "any", "b": Schema{"type": "equal", "field": "a"}}}},
			params: map[string]any{"o": map[string]any{"a": 1, "b": 1.0}}},

		{name: "forbidden", schema: Schema{"password": "forbidden"}, params: map[string]any{"password": "x"},
			want: []FieldError{fe("forbidden", "password", "The 'password' field is forbidden.", "x", nil)}},
		{name: "forbidden missing", schema: Schema{"password": "forbidden"}, params: map[string]any{}},
		{name: "forbidden null", schema: Schema{"password": "forbidden"}, params: map[string]any{"password": nil}},
		{name: "forbidden remove", schema: Schema{"password": "forbidden|remove", "name": "string"},
			params: map[string]any{"password": "x", "name": "n"}, after: map[string]any{"name": "n"}},
	})
}

func TestMulti(t *testing.T) {
	runCases(t, []validateCase{
		{name: "first passes", schema: Schema{"v": []any{"string", "number"}}, params: map[string]any{"v": "x"}},
		{name: "second passes", schema: Schema{"v": []any{"string", "number"}}, params: map[string]any{"v": 5}},
		{name: "none passes", schema: Schema{"v": []any{"string", "number"}}, params: map[string]any{"v": true},
			want: []FieldError{
				fe("string", "v", "The 'v' field must be a string.", true, nil),
				fe("number", "v", "The 'v' field must be a number.", true, nil),
			}},
		{name: "map form", schema: Schema{"v": Schema{"type": "multi", "rules": []any{"boolean", Schema{"type": "number", "min": 3}}}},
			params: map[string]any{"v": 1},
			want: []FieldError{
				fe("boolean", "v", "The 'v' field must be a boolean.", 1, nil),
				fe("numberMin", "v", "The 'v' field must be greater than or equal to 3.", 1, 3),
			}},
		{name: "winning conversion is kept", schema: Schema{"v": []any{"boolean", "number|convert"}}, params: map[string]any{"v": "5"},
			after: map[string]any{"v": 5.0}},
		{name: "required unless every alternative is optional", schema: Schema{"v": []any{"string", "number|optional"}}, params: map[string]any{},
			want: []FieldError{fe("required", "v", "The 'v' field is required.", nil, nil)}},
		{name: "optional when all alternatives are", schema: Schema{"v": []any{"string|optional", "number|optional"}}, params: map[string]any{}},
		{name: "typed list of rules", schema: Schema{"v": []string{"string", "number"}}, params: map[string]any{"v": 1}},
		{name: "multi of objects keeps sorted fields", schema: Schema{"v": []any{
			Schema{"type": "object", "props": Schema{"b": "string"}},
			Schema{"type": "object", "props": Schema{"a": "string"}},
		}}, params: map[string]any{"v": map[string]any{}},
			want: []FieldError{
				fe("required", "v.a", "The 'v.a' field is required.", nil, nil),
				fe("required", "v.b", "The 'v.b' field is required.", nil, nil),
			}},
	})
}

func TestLabelsAndMessages(t *testing.T) {
	v := MustCompile(Schema{
		"name":  Schema{"type": "string", "label": "Full name", "min": 3},
		"email": Schema{"type": "email", "messages": map[string]any{"email": "Bad address in {field}: {actual}"}},
		"tags":  Schema{"type": "array", "label": "Tags", "items": "string"},
	})
	got := v.Validate(map[string]any{"name": "Al", "email": "nope", "tags": []any{1}})
	assert.Equal(t, []FieldError{
		{Type: "email", Message: "Bad address in email: nope", Field: "email", Actual: "nope"},
		{Type: "stringMin", Message: "The 'Full name' field length must be greater than or equal to 3 characters long.",
			Field: "name", Actual: 2, Expected: 3, Label: "Full name"},
		// Array items are checked without the array's label, as in fastest-validator.
		{Type: "string", Message: "The 'tags[0]' field must be a string.", Field: "tags[0]", Actual: 1},
	}, got)
}

func TestErrorOrder(t *testing.T) {
	v := MustCompile(Schema{
		"b":    "string",
		"a":    "number",
		"a_b":  "string",
		"list": Schema{"type": "array", "min": 5, "items": Schema{"type": "object", "props": Schema{"y": "string", "x": "string"}}},
		"o": Schema{"type": "object", "strict": true, "props": Schema{
			"z": "string",
			"c": Schema{"type": "object", "props": Schema{"d": "string"}},
		}},
		"$$strict": true,
	})
	got := v.Validate(map[string]any{
		"list":  []any{map[string]any{}, map[string]any{"x": 1}},
		"o":     map[string]any{"c": map[string]any{}, "q": 1},
		"extra": true,
	})
	var fields []string
	for _, e := range got {
		fields = append(fields, e.Type+"@"+e.Field)
	}
	assert.Equal(t, []string{
		"objectStrict@",
		"required@a",
		"required@a_b",
		"required@b",
		"arrayMin@list",
		"required@list[0].x",
		"required@list[0].y",
		"string@list[1].x",
		"required@list[1].y",
		"objectStrict@o", // an object's own errors come before its children's
		"required@o.c.d",
		"required@o.z",
	}, fields)

	// Same input, same output, every time.
	for range 20 {
		assert.Equal(t, got, v.Validate(map[string]any{
			"list":  []any{map[string]any{}, map[string]any{"x": 1}},
			"o":     map[string]any{"c": map[string]any{}, "q": 1},
			"extra": true,
		}))
	}
}

func TestBadSchemas(t *testing.T) {
	cases := []struct {
		name   string
		schema Schema
		field  string
		reason string
	}{
		{"unknown type", Schema{"name": "strin"}, "name", `unknown type "strin"`},
		{"unknown type in map", Schema{"name": Schema{"type": "text"}}, "name", `unknown type "text"`},
		{"missing type", Schema{"name": Schema{"min": 3}}, "name", `missing "type"`},
		{"type not a string", Schema{"name": Schema{"type": 3}}, "name", `"type" must be a string, got int`},
		{"unknown option", Schema{"name": Schema{"type": "string", "optinal": true}}, "name", `unknown option "optinal" for type "string"`},
		{"option of another type", Schema{"name": "boolean|min:3"}, "name", `unknown option "min" for type "boolean"`},
		{"empty shorthand option", Schema{"name": "string|"}, "name", `unknown option "" for type "string"`},
		{"min not a number", Schema{"name": "string|min:abc"}, "name", `option "min" must be a finite number, got string`},
		{"optional not a bool", Schema{"name": Schema{"type": "string", "optional": "yes"}}, "name", `option "optional" must be a boolean, got string`},
		{"bad pattern", Schema{"name": Schema{"type": "string", "pattern": "("}}, "name",
			"option \"pattern\" is not a valid regexp: error parsing regexp: missing closing ): `(`"},
		{"pattern not text", Schema{"name": Schema{"type": "string", "pattern": []any{"a"}}}, "name",
			`option "pattern" must be a string or *regexp.Regexp, got []interface {}`},
		{"global flag", Schema{"name": Schema{"type": "string", "pattern": "a", "patternFlags": "g"}}, "name",
			`option "patternFlags" "g": only i, m, s and u are supported`},
		{"enum not a list", Schema{"name": Schema{"type": "string", "enum": "a,b"}}, "name", `option "enum" must be a list, got string`},
		{"enum type without values", Schema{"role": Schema{"type": "enum"}}, "role", `enum needs a non-empty "values" list`},
		{"nested prop", Schema{"address": Schema{"type": "object", "props": Schema{"city": "strng"}}}, "address.city", `unknown type "strng"`},
		{"props not a map", Schema{"address": Schema{"type": "object", "props": "city"}}, "address", `option "props" must be a map of rules, got string`},
		{"strict without props", Schema{"o": Schema{"type": "object", "strict": true}}, "o", `option "strict" needs "props"`},
		{"strict bad value", Schema{"o": Schema{"type": "object", "strict": "yes", "props": Schema{}}}, "o", `option "strict" must be true, false or "remove"`},
		{"items", Schema{"tags": Schema{"type": "array", "items": "strng"}}, "tags[]", `unknown type "strng"`},
		{"items shorthand", Schema{"tags": "strng[]"}, "tags[]", `unknown type "strng"`},
		{"empty multi", Schema{"v": []any{}}, "v", "empty list of rules"},
		{"multi without rules", Schema{"v": Schema{"type": "multi"}}, "v", `multi needs a non-empty "rules" list`},
		{"bad rule in multi", Schema{"v": []any{"string", 5}}, "v", "rule must be a string, a map or a list of rules, got int"},
		{"nil rule", Schema{"v": nil}, "v", "rule is nil"},
		{"$$strict bad", Schema{"$$strict": "yes"}, "$$strict", `must be true, false or "remove"`},
		{"unknown meta key", Schema{"$$root": true}, "$$root", "unsupported meta key"},
		{"uuid version", Schema{"id": "uuid|version:9"}, "id", `option "version" must be an integer from 0 to 8`},
		{"email mode", Schema{"e": Schema{"type": "email", "mode": "strict"}}, "e", `option "mode" must be "quick" or "precise", got "strict"`},
		{"equal without target", Schema{"e": Schema{"type": "equal"}}, "e", `equal needs "value" or "field"`},
		{"default func signature", Schema{"n": Schema{"type": "number", "default": func() int { return 1 }}}, "n",
			`option "default" must be a value or a func() any, got func() int`},
		{"messages not strings", Schema{"n": Schema{"type": "number", "messages": map[string]any{"number": 1}}}, "n",
			`option "messages": message for "number" must be a string, got int`},
		{"$$type not a string", Schema{"o": Schema{"$$type": 1}}, "o", "$$type must be a shorthand string, got int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Compile(tc.schema)
			require.Error(t, err)
			assert.Nil(t, v)
			var se *SchemaError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.field, se.Field)
			assert.Equal(t, tc.reason, se.Reason)
		})
	}

	_, err := Compile(Schema{"name": "strin"})
	assert.EqualError(t, err, `validator: invalid schema for field "name": unknown type "strin"`)
	assert.Panics(t, func() { MustCompile(Schema{"name": "strin"}) })
}

func TestEmptySchema(t *testing.T) {
	for _, s := range []Schema{nil, {}} {
		v, err := Compile(s)
		require.NoError(t, err)
		assert.Nil(t, v.Validate(map[string]any{"anything": 1}))
	}
	v := MustCompile(Schema{"$$strict": true, "$$async": true})
	assert.Equal(t, []FieldError{fe("objectStrict", "", "The object '' contains forbidden keys: 'x'.", "x", "")},
		v.Validate(map[string]any{"x": 1}))
}

func TestConcurrentUse(t *testing.T) {
	v := MustCompile(Schema{
		"name": "string|min:3",
		"qty":  "number|convert|positive",
		"tags": Schema{"type": "array", "items": "string"},
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				p := map[string]any{"name": "ab", "qty": "2", "tags": []any{"x", i}}
				errs := v.Validate(p)
				if assert.Len(t, errs, 2) {
					assert.Equal(t, "name", errs[0].Field)
					assert.Equal(t, "tags[1]", errs[1].Field)
				}
				assert.Equal(t, 2.0, p["qty"])
			}
		})
	}
	wg.Wait()
}

func TestJSHelpers(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 1: "1", -2.5: "-2.5", 1e21: "1e+21", 1.5e-7: "1.5e-7", 0.000001: "0.000001",
		123456789012: "123456789012", math.Inf(-1): "-Infinity",
	} {
		assert.Equal(t, want, jsNumber(in), "jsNumber(%v)", in)
	}
	assert.Equal(t, "NaN", jsNumber(math.NaN()))
	a, b := 0.1, 0.2 // variables: constants would be folded exactly
	assert.Equal(t, "0.30000000000000004", jsNumber(a+b))

	for in, want := range map[string]float64{
		"": 0, " 12 ": 12, "1e3": 1000, ".5": 0.5, "5.": 5, "-3": -3, "0x1F": 31, "0b101": 5, "0o17": 15, "Infinity": math.Inf(1),
	} {
		assert.Equal(t, want, stringToNumber(in), "stringToNumber(%q)", in)
	}
	for _, in := range []string{"abc", "1_000", "inf", "NaN", "1e", "0x", "--1", "0x1p4", "1.2.3"} {
		assert.True(t, math.IsNaN(stringToNumber(in)), "stringToNumber(%q) should be NaN", in)
	}

	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "null"}, {"s", "s"}, {true, "true"}, {3, "3"}, {int64(-4), "-4"}, {uint8(5), "5"},
		{float32(1.5), "1.5"}, {json.Number("12.50"), "12.50"}, {[]any{1, nil, "a"}, "1,,a"},
		{[]string{"x", "y"}, "x,y"}, {map[string]any{}, "[object Object]"}, {struct{}{}, "[object Object]"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z"},
	} {
		assert.Equal(t, tc.want, jsString(tc.in), "jsString(%#v)", tc.in)
	}
	for in, want := range map[string]string{
		"": "(?:)", "a/b": `a\/b`, `a\/b`: `a\/b`, "[/]": "[/]", `[\]/]x/`: `[\]/]x\/`,
	} {
		assert.Equal(t, want, jsRegexpSource(in), "jsRegexpSource(%q)", in)
	}

	assert.Equal(t, 5, utf16Len("héllo"))
	assert.Equal(t, 3, utf16Len("a😀"))
	assert.True(t, looseEqual("5", 5))
	assert.True(t, looseEqual(true, "1"))
	assert.False(t, looseEqual("a", 0))
	assert.True(t, strictEqual(int64(2), 2.0))
	assert.False(t, strictEqual(map[string]any{}, map[string]any{}))
}

func BenchmarkValidate(b *testing.B) {
	v := MustCompile(Schema{
		"name":  "string|min:3|max:50",
		"email": "email",
		"age":   "number|optional|integer|positive",
		"role":  Schema{"type": "enum", "values": []any{"admin", "user"}},
		"tags":  Schema{"type": "array", "max": 10, "items": "string"},
		"address": Schema{"type": "object", "strict": true, "props": Schema{
			"city": "string",
			"zip":  "string|length:5|numeric",
		}},
	})
	params := map[string]any{
		"name":    "John Doe",
		"email":   "john@example.com",
		"age":     42.0,
		"role":    "user",
		"tags":    []any{"a", "b", "c"},
		"address": map[string]any{"city": "Budapest", "zip": "10115"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs := v.Validate(params); errs != nil {
			b.Fatal(errs)
		}
	}
}
