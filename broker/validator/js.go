package validator

// JavaScript value semantics that fastest-validator relies on implicitly:
// what counts as a number, how values print in messages, how "5" becomes 5,
// how strings are measured and compared. Keeping them in one place makes the
// intentional deviations from plain Go behaviour easy to audit.

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// toNumber reports whether v is a number in the JavaScript sense and returns
// it as float64. Every Go numeric type counts, since params can come from
// JSON (float64), from Go callers (int, int64, ...) or from a decoder using
// UseNumber (json.Number).
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uintptr:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	return 0, false
}

// jsToNumber is JavaScript's Number(v) for the non-number values convert
// can meet. NaN signals "not convertible".
func jsToNumber(v any) float64 {
	if f, ok := toNumber(v); ok {
		return f
	}
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return stringToNumber(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case time.Time:
		return float64(x.UnixMilli())
	case []any:
		// Number([]) is 0 and Number([7]) is 7: arrays go through String().
		return stringToNumber(jsString(x))
	}
	return math.NaN()
}

// stringToNumber follows the StringToNumber algorithm: surrounding
// whitespace is ignored, "" is 0, 0x/0o/0b prefixes are integers, and
// anything else must be a plain decimal literal ("1e3", ".5", "-2").
func stringToNumber(s string) float64 {
	s = strings.TrimFunc(s, isJSSpace)
	if s == "" {
		return 0
	}
	switch s {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			digits := s[2:]
			if strings.ContainsRune(digits, '_') {
				return math.NaN()
			}
			n, err := strconv.ParseUint(digits, base, 64)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}
	}
	if !isDecimalLiteral(s) {
		return math.NaN()
	}
	// Out-of-range literals fail with ErrRange but still return ±Inf or 0,
	// which is what JavaScript yields too.
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// isDecimalLiteral matches [+-]? (digits [. digits?] | . digits) ([eE][+-]?digits)?
// It exists because strconv.ParseFloat also accepts "inf", "nan", hex
// floats and underscores, none of which Number() does.
func isDecimalLiteral(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(s)
}

// isJSSpace is the WhiteSpace + LineTerminator set of ECMAScript, used by
// trim() and by \s. It differs from unicode.IsSpace (no U+0085, adds U+FEFF).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// jsSpaceClass is isJSSpace as the body of a regexp character class, so the
// built-in e-mail and URL patterns treat whitespace like JavaScript's \s.
const jsSpaceClass = `\t\n\v\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

// jsNumber formats a float64 like Number.prototype.toString: shortest
// round-trip digits, plain notation for 1e-6 <= |f| < 1e21, otherwise
// exponent notation without leading zeros ("1e+21", "1.5e-7").
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0" // also for -0, as in JavaScript
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		return mant + "e" + exp[:1] + strings.TrimLeft(exp[1:], "0")
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsString is JavaScript's String(v): used by string convert and to render
// {expected}/{actual} in messages. Go integers print exactly (no float64
// round trip) so large IDs are not mangled.
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return jsNumber(x)
	case json.Number:
		return string(x)
	case time.Time:
		// JavaScript would print its locale-dependent Date string; RFC 3339
		// is the stable, documented substitute.
		return x.Format(time.RFC3339Nano)
	case map[string]any:
		return "[object Object]"
	case []any:
		return joinJS(x, ",")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return jsNumber(rv.Float())
	case reflect.String:
		return rv.String()
	case reflect.Slice, reflect.Array:
		return joinJS(sliceElems(rv), ",")
	case reflect.Map, reflect.Struct:
		return "[object Object]"
	}
	return "[object Object]"
}

// joinJS is Array.prototype.join: null and undefined elements print as "".
func joinJS(items []any, sep string) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		if !isNull(it) {
			b.WriteString(jsString(it))
		}
	}
	return b.String()
}

// utf16Len is String.prototype.length: UTF-16 code units, so "😀" counts
// as 2 exactly like on a Node.js node. Invalid UTF-8 bytes count as one each.
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// isNull reports whether v is what a Node.js node would see as null: a nil
// interface, or a nil map/slice/pointer (encoding/json marshals those as
// null, so treating them as values here would disagree with the wire).
func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string, bool, float64, int, int64, json.Number, time.Time:
		return false
	case map[string]any:
		return x == nil
	case []any:
		return x == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// strictEqual is JavaScript's ===, used by enum, contains and unique:
// numbers compare by value across Go numeric types, strings and booleans by
// value, maps and slices by identity, everything else is never equal.
func strictEqual(a, b any) bool {
	// Strings first: enum lists are mostly strings, and a string equals only a string.
	if x, ok := a.(string); ok {
		y, ok := b.(string)
		return ok && x == y
	}
	if _, ok := b.(string); ok {
		return false
	}
	fa, aNum := toNumber(a)
	fb, bNum := toNumber(b)
	if aNum || bNum {
		return aNum && bNum && fa == fb
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Type() != rb.Type() {
		return false
	}
	switch ra.Kind() {
	case reflect.Map, reflect.Pointer:
		return ra.Pointer() == rb.Pointer()
	case reflect.Slice:
		return ra.Pointer() == rb.Pointer() && ra.Len() == rb.Len()
	}
	return false
}

// looseEqual is JavaScript's == for the primitive cases the equal rule
// meets: null equals only null, numbers and numeric strings compare as
// numbers, booleans compare as 0/1.
func looseEqual(a, b any) bool {
	an, bn := isNull(a), isNull(b)
	if an || bn {
		return an && bn
	}
	if strictEqual(a, b) {
		return true
	}
	if x, ok := a.(bool); ok {
		return looseEqual(boolNumber(x), b)
	}
	if y, ok := b.(bool); ok {
		return looseEqual(a, boolNumber(y))
	}
	fa, aNum := toNumber(a)
	fb, bNum := toNumber(b)
	if sa, ok := a.(string); ok && bNum {
		return stringToNumber(sa) == fb
	}
	if sb, ok := b.(string); ok && aNum {
		return fa == stringToNumber(sb)
	}
	return false
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sliceElems copies a non-[]any slice or array into []any so the rule code
// only has to deal with one shape.
func sliceElems(rv reflect.Value) []any {
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

// cloneValue deep-copies JSON-shaped containers so a default value taken
// from the schema is never shared between two validated params objects.
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
	case []string:
		return append([]string(nil), x...)
	}
	return v
}
