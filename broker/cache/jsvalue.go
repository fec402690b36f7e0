package cache

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// undefined stands for JavaScript's undefined (a missing param or meta path), which Moleculer
// writes into keys as "undefined", unlike null.
type undefined struct{}

// jsValue reduces a Go value to one of the shapes a JavaScript value can have after the params
// crossed the wire: nil, bool, float64, string, Object, map[string]any, []any, time.Time (a
// JS Date, only possible for local callers) or undefined.
//
// Anything else (structs, typed slices and maps, pointers) goes through encoding/json and
// ParseOrdered: that is exactly what a remote caller's params look like to the receiver, so a
// local and a remote call of the same action get the same key.
func jsValue(v any) any {
	switch x := v.(type) {
	case nil, bool, float64, string, Object, map[string]any, []any, time.Time, undefined:
		return x
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case uintptr:
		return float64(x)
	case float32:
		// encoding/json writes a float32 with float32's shortest digits (1.1, not
		// 1.100000023841858); a remote receiver parses those.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f
	case json.Number:
		return parseJSNumber(string(x))
	case json.RawMessage:
		if p, err := ParseOrdered(x); err == nil {
			return p
		}
		return string(x)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v) // not JSON-encodable, so it could never reach a remote node anyway
	}
	p, err := ParseOrdered(raw)
	if err != nil {
		return string(raw)
	}
	return p
}

// appendJSNumber appends f formatted like JavaScript's Number.prototype.toString().
func appendJSNumber(dst []byte, f float64) []byte {
	switch {
	case f == 0: // also -0, which JS prints as "0"
		return append(dst, '0')
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	// Whole numbers below 2^53 print as their plain digits in JavaScript: the usual id,
	// count or page, written without float formatting.
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Both Go and ECMAScript pick the shortest digit string that round-trips; only the layout
	// differs. 'e' gives d[.ddd]e±XX: the digits and the decimal exponent.
	var scratch [32]byte
	e := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)
	ePos := slices.Index(e, 'e')
	mant, expPart := e[:ePos], e[ePos+1:]
	exp, _ := strconv.Atoi(string(expPart))
	var dbuf [24]byte
	digits := append(dbuf[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, "0."...)
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// isArrayIndex reports whether JavaScript treats s as an array-index property name
// (canonical decimal integer below 2^32-1). Object.keys lists such keys first, ascending,
// whatever order they were inserted in.
func isArrayIndex(s string) bool {
	if len(s) == 0 || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n < math.MaxUint32
}

// compareIndexKeys orders two array-index keys numerically.
func compareIndexKeys(a, b string) int {
	if len(a) != len(b) { // canonical: no leading zeros, so shorter is smaller
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// objectKeyOrder returns o's field indexes in JavaScript's Object.keys order: array-index
// keys ascending first, then the rest in insertion order. nil means "as stored" (the usual
// case, no array-index keys).
func objectKeyOrder(o Object) []int {
	has := false
	for i := range o {
		if isArrayIndex(o[i].Key) {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	order := make([]int, len(o))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ia, ib := isArrayIndex(o[a].Key), isArrayIndex(o[b].Key)
		switch {
		case ia && ib:
			return compareIndexKeys(o[a].Key, o[b].Key)
		case ia:
			return -1
		case ib:
			return 1
		}
		return 0
	})
	return order
}

// sortedMapKeys returns m's keys in the order a remote Moleculer node would see them after the
// map was JSON-encoded: encoding/json writes map keys sorted bytewise, then JavaScript moves
// array-index keys to the front in numeric order. Go maps have no order of their own, so this
// is the only choice that gives a local caller the same key as a remote one.
//
// The keys are appended to dst, so a caller can pass a stack array for small maps.
func sortedMapKeys(m map[string]any, dst []string) []string {
	keys := dst[:0]
	indexKeys := false
	for k := range m {
		keys = append(keys, k)
		indexKeys = indexKeys || isArrayIndex(k)
	}
	if !indexKeys {
		slices.Sort(keys)
		return keys
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := isArrayIndex(a), isArrayIndex(b)
		switch {
		case ia && ib:
			return compareIndexKeys(a, b)
		case ia:
			return -1
		case ib:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// utf16Len is JavaScript's String.prototype.length for s.
func utf16Len(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			n := i
			for _, r := range s[i:] {
				n += runeUnits(r)
			}
			return n
		}
	}
	return len(s)
}

// runeUnits is the number of UTF-16 code units of r. Ranging over a string never yields a
// surrogate (invalid UTF-8 decodes as U+FFFD), so RuneLen's -1 cannot really happen.
func runeUnits(r rune) int {
	if w := utf16.RuneLen(r); w > 0 {
		return w
	}
	return 1
}

// utf16LenBytes is utf16Len for a byte slice.
func utf16LenBytes(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		n += runeUnits(r)
		i += size
	}
	return n
}

// utf16PrefixBytes is utf16Prefix for a byte slice: the prefix is b[:cut], followed by
// U+FFFD when half is set.
func utf16PrefixBytes(b []byte, n int) (cut int, half bool) {
	units := 0
	for i := 0; i < len(b); {
		if units >= n {
			return i, false
		}
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(b[i:])
		}
		w := runeUnits(r)
		if units+w > n {
			return i, true
		}
		units += w
		i += size
	}
	return len(b), false
}

// utf16Prefix is JavaScript's s.substring(0, n). A surrogate pair cut in half leaves a lone
// surrogate, which Node encodes as U+FFFD when the key is written out; so do we.
func utf16Prefix(s string, n int) string {
	units := 0
	for i, r := range s {
		if units >= n {
			return s[:i]
		}
		w := runeUnits(r)
		if units+w > n {
			return s[:i] + "\uFFFD"
		}
		units += w
	}
	return s
}

// prop reads one property of a JavaScript value, as v[name] would.
func prop(v any, name string) (any, bool) {
	switch x := jsValue(v).(type) {
	case Object:
		for i := len(x) - 1; i >= 0; i-- {
			if x[i].Key == name {
				return x[i].Value, true
			}
		}
	case map[string]any:
		val, ok := x[name]
		return val, ok
	case []any:
		if name == "length" {
			return float64(len(x)), true
		}
		if isArrayIndex(name) {
			if i, err := strconv.Atoi(name); err == nil && i < len(x) {
				return x[i], true
			}
		}
	case string:
		if name == "length" {
			return float64(utf16Len(x)), true
		}
	}
	return nil, false
}

// dotGet is lodash's _.get(root, path), which Moleculer uses for `keys` entries: a path that
// names a property verbatim wins; otherwise it is split on dots and [index] / ["name"]
// brackets. A missing property gives undefined; a null reached at the end gives null.
func dotGet(root any, path string) any {
	if v, ok := prop(root, path); ok {
		return v
	}
	dots, brackets := false, false
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '.':
			dots = true
		case '[':
			brackets = true
		}
	}
	if !dots && !brackets {
		return undefined{}
	}
	cur := root
	if !brackets {
		// Without brackets lodash's path is the dot-separated segments, empty ones included:
		// walked in place, with no segment slice.
		for rest := path; ; {
			seg, tail, more := strings.Cut(rest, ".")
			if cur == nil {
				return undefined{}
			}
			v, ok := prop(cur, seg)
			if !ok {
				return undefined{}
			}
			cur = v
			if !more {
				return cur
			}
			rest = tail
		}
	}
	for _, seg := range splitPath(path) {
		if cur == nil {
			return undefined{}
		}
		v, ok := prop(cur, seg)
		if !ok {
			return undefined{}
		}
		cur = v
	}
	return cur
}

// splitPath is a compact version of lodash's stringToPath: "a.b[0]['c.d']" → a, b, 0, c.d.
func splitPath(path string) []string {
	var segs []string
	var cur strings.Builder
	pending := true // a segment is open (lodash yields "" for "a..b" and a leading ".")
	flush := func() {
		segs = append(segs, cur.String())
		cur.Reset()
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '.':
			if pending {
				flush()
			}
			pending = true
		case '[':
			if cur.Len() > 0 {
				flush()
			}
			end := i + 1
			if end < len(path) && (path[end] == '"' || path[end] == '\'') {
				q := path[end]
				j := end + 1
				for j < len(path) && path[j] != q {
					if path[j] == '\\' && j+1 < len(path) {
						j++
					}
					cur.WriteByte(path[j])
					j++
				}
				end = j + 1 // past the quote
			} else {
				for end < len(path) && path[end] != ']' {
					cur.WriteByte(path[end])
					end++
				}
			}
			for end < len(path) && path[end] != ']' {
				end++
			}
			flush()
			i = end
			pending = false
		default:
			cur.WriteByte(c)
			pending = true
		}
	}
	if pending {
		flush()
	}
	return segs
}
