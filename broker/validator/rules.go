package validator

// The type-specific checks. Each one mirrors the corresponding
// fastest-validator rule (lib/rules/*.js): same checks, same order, same
// error types and the same choice of actual/expected values, since those end
// up on the wire.

import (
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

var (
	numericPattern   = regexp.MustCompile(`^-?[0-9]\d*(\.\d+)?$`)
	alphaPattern     = regexp.MustCompile(`^[a-zA-Z]+$`)
	alphanumPattern  = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
	alphadashPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	hexPattern       = regexp.MustCompile(`^[0-9a-fA-F]+$`)

	// /^\S+@\S+\.\S+$/ with JavaScript's idea of \S.
	emailQuickPattern = regexp.MustCompile(`^[^` + jsSpaceClass + `]+@[^` + jsSpaceClass + `]+\.[^` + jsSpaceClass + `]+$`)
	// fastest-validator's "precise" e-mail pattern, \s widened the same way.
	emailPrecisePattern = regexp.MustCompile(`^(([^<>()\[\]\\.,;:@"` + jsSpaceClass + `]+(\.[^<>()\[\]\\.,;:@"` + jsSpaceClass +
		`]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$`)
	// /^https?:\/\/\S+/ — a prefix check, not a full URL parse.
	urlPattern  = regexp.MustCompile(`^https?://[^` + jsSpaceClass + `]`)
	uuidPattern = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}|0{8}-0{4}-0{4}-0{4}-0{12})$`)
)

// ---- string ----

type stringRule struct {
	convert                                         bool
	empty                                           triState
	min, max, length                                limit
	pattern                                         *regexp.Regexp
	patternText                                     string
	contains                                        string
	hasContains                                     bool
	enum                                            []any
	enumText                                        string
	numeric, alpha, alphanum, alphadash, hex        bool
	trim, trimLeft, trimRight, lowercase, uppercase bool
	// plain is set when the rule has none of the options above besides convert and empty:
	// the common "string" / "string|optional" rule, checked without counting its length.
	plain bool
}

func (c *stringRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	str, ok := v.(string)
	changed := false
	if !ok {
		if !c.convert {
			s.fail(r, "string", v, nil)
			return v, keep
		}
		str, changed = jsString(v), true
	}
	orig := str // after convert, before sanitising: what the errors report
	if c.plain {
		// No sanitiser, no length option, no text check (see compileString): only the
		// empty-string rule can still apply, and it needs no length count.
		if str == "" && c.empty == triFalse {
			s.fail(r, "stringEmpty", str, nil)
		}
		if changed {
			return str, replace
		}
		return v, keep
	}

	if c.trim {
		str = strings.TrimFunc(str, isJSSpace)
	}
	if c.trimLeft {
		str = strings.TrimLeftFunc(str, isJSSpace)
	}
	if c.trimRight {
		str = strings.TrimRightFunc(str, isJSSpace)
	}
	if c.lowercase {
		str = strings.ToLower(str)
	}
	if c.uppercase {
		str = strings.ToUpper(str)
	}
	out, oc := v, keep
	if changed || str != orig {
		out, oc = str, replace
	}

	n := utf16Len(str)
	if n == 0 {
		switch c.empty {
		case triFalse:
			s.fail(r, "stringEmpty", str, nil)
		case triTrue:
			return out, oc // an allowed empty string skips every other check
		}
	}
	if c.min.set && float64(n) < c.min.f {
		s.fail(r, "stringMin", n, c.min.exp)
	}
	if c.max.set && float64(n) > c.max.f {
		s.fail(r, "stringMax", n, c.max.exp)
	}
	if c.length.set && float64(n) != c.length.f {
		s.fail(r, "stringLength", n, c.length.exp)
	}
	if c.pattern != nil && !c.pattern.MatchString(str) {
		s.fail(r, "stringPattern", orig, c.patternText)
	}
	if c.hasContains && !strings.Contains(str, c.contains) {
		s.fail(r, "stringContains", orig, c.contains)
	}
	if c.enum != nil && !inList(c.enum, str) {
		s.fail(r, "stringEnum", orig, c.enumText)
	}
	if c.numeric && !numericPattern.MatchString(str) {
		s.fail(r, "stringNumeric", orig, nil)
	}
	if c.alpha && !alphaPattern.MatchString(str) {
		s.fail(r, "stringAlpha", orig, nil)
	}
	if c.alphanum && !alphanumPattern.MatchString(str) {
		s.fail(r, "stringAlphanum", orig, nil)
	}
	if c.alphadash && !alphadashPattern.MatchString(str) {
		s.fail(r, "stringAlphadash", orig, nil)
	}
	if c.hex && (len(str)%2 != 0 || !hexPattern.MatchString(str)) {
		s.fail(r, "stringHex", orig, nil)
	}
	return out, oc
}

func inList(list []any, v any) bool {
	for _, x := range list {
		if strictEqual(x, v) {
			return true
		}
	}
	return false
}

// ---- number ----

type numberRule struct {
	convert                     bool
	min, max, equal, notEqual   limit
	integer, positive, negative bool
}

func (c *numberRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	f, ok := toNumber(v)
	out, oc := v, keep
	if !ok && c.convert {
		f = jsToNumber(v)
		ok = true
		out, oc = f, replace // converted numbers are stored as float64, as JSON decoding would
	}
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		s.fail(r, "number", v, nil)
		return v, keep
	}
	// Errors report the value as received (origValue), not the converted one.
	if c.min.set && f < c.min.f {
		s.fail(r, "numberMin", v, c.min.exp)
	}
	if c.max.set && f > c.max.f {
		s.fail(r, "numberMax", v, c.max.exp)
	}
	if c.equal.set && f != c.equal.f {
		s.fail(r, "numberEqual", v, c.equal.exp)
	}
	if c.notEqual.set && f == c.notEqual.f {
		s.fail(r, "numberNotEqual", v, c.notEqual.exp)
	}
	if c.integer && f != math.Trunc(f) {
		s.fail(r, "numberInteger", v, nil)
	}
	if c.positive && f <= 0 {
		s.fail(r, "numberPositive", v, nil)
	}
	if c.negative && f >= 0 {
		s.fail(r, "numberNegative", v, nil)
	}
	return out, oc
}

// ---- boolean ----

type booleanRule struct{ convert bool }

func (c *booleanRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	if _, ok := v.(bool); ok {
		return v, keep
	}
	if c.convert {
		if f, ok := toNumber(v); ok {
			switch f {
			case 1:
				return true, replace
			case 0:
				return false, replace
			}
		}
		switch v {
		case "true", "1", "on":
			return true, replace
		case "false", "0", "off":
			return false, replace
		}
	}
	s.fail(r, "boolean", v, nil)
	return v, keep
}

// ---- object ----

type strictMode uint8

const (
	strictOff    strictMode = iota
	strictReject            // strict: true — unknown keys are an error
	strictRemove            // strict: "remove" — unknown keys are deleted
)

type prop struct {
	name string
	rule *rule
}

type objectRule struct {
	hasProps           bool
	props              []prop // sorted by name
	allowed            map[string]struct{}
	allowedText        string
	strict             strictMode
	minProps, maxProps limit
}

func (c *objectRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	m, isMap := v.(map[string]any)
	copied := false
	var size int
	if isMap {
		size = len(m)
	} else {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			s.fail(r, "object", v, nil)
			return v, keep
		}
		size = rv.Len()
		if c.hasProps {
			// Other map types are validated through a map[string]any copy,
			// which replaces the original only if something was written.
			m, copied = stringKeyMap(rv), true
		}
	}
	if !c.hasProps {
		c.checkProps(s, r, size)
		return v, keep
	}

	// The params object of ValidateShared belongs to the caller: copied before its first
	// write (see state.own). Nested objects are written in place, as by Validate.
	root := len(s.path) == 0 && s.shared
	changed := false
	for _, p := range c.props {
		s.pushName(p.name)
		savedLabel := s.label
		s.label = p.rule.label
		val, present := m[p.name]
		out, oc := s.validate(p.rule, val, present, m)
		switch oc {
		case replace:
			if root {
				m = s.own(m)
			}
			m[p.name] = out
			changed = true
		case remove:
			if root {
				m = s.own(m)
			}
			delete(m, p.name)
			changed = true
		}
		s.label = savedLabel
		s.pop()
	}

	if c.strict != strictOff {
		var extra []string
		for k := range m {
			if _, ok := c.allowed[k]; !ok {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			if c.strict == strictRemove {
				// fastest-validator only strips keys from params that are
				// otherwise valid so far.
				if len(s.errs) == 0 {
					if root {
						m = s.own(m)
					}
					for _, k := range extra {
						delete(m, k)
					}
					changed = true
				}
			} else {
				s.fail(r, "objectStrict", strings.Join(extra, ", "), c.allowedText)
			}
		}
	}
	c.checkProps(s, r, len(m))
	if copied && changed {
		return m, replace
	}
	return v, keep
}

func (c *objectRule) checkProps(s *state, r *rule, n int) {
	if c.minProps.set && float64(n) < c.minProps.f {
		s.fail(r, "objectMinProps", n, c.minProps.exp)
	}
	if c.maxProps.set && float64(n) > c.maxProps.f {
		s.fail(r, "objectMaxProps", n, c.maxProps.exp)
	}
}

// ---- array ----

type arrayRule struct {
	convert          bool
	empty            triState
	min, max, length limit
	contains         any
	hasContains      bool
	unique           bool
	enum             []any
	enumText         string
	items            *rule
}

func (c *arrayRule) check(s *state, r *rule, v any, parent map[string]any) (any, outcome) {
	arr, ok := v.([]any)
	copied, converted := false, false
	if !ok {
		rv := reflect.ValueOf(v)
		switch {
		case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array:
			// Typed slices ([]string, []int, ...) are read through a copy that
			// replaces the original only if an item was rewritten.
			arr, copied = sliceElems(rv), true
		case c.convert:
			arr, converted = []any{v}, true
		default:
			s.fail(r, "array", v, nil)
			return v, keep
		}
	}
	value := v // what errors report as the array
	if converted {
		value = arr
	}

	n := len(arr)
	if c.empty == triFalse && n == 0 {
		s.fail(r, "arrayEmpty", value, nil)
	}
	if c.min.set && float64(n) < c.min.f {
		s.fail(r, "arrayMin", n, c.min.exp)
	}
	if c.max.set && float64(n) > c.max.f {
		s.fail(r, "arrayMax", n, c.max.exp)
	}
	if c.length.set && float64(n) != c.length.f {
		s.fail(r, "arrayLength", n, c.length.exp)
	}
	if c.hasContains && !inList(arr, c.contains) {
		s.fail(r, "arrayContains", value, c.contains)
	}
	if c.unique {
		if dups := duplicates(arr); len(dups) > 0 {
			s.fail(r, "arrayUnique", value, dups)
		}
	}
	if c.enum != nil {
		for _, it := range arr {
			if !inList(c.enum, it) {
				s.fail(r, "arrayEnum", it, c.enumText)
			}
		}
	}

	changed := false
	if c.items != nil {
		// Items get no label, as in fastest-validator, and share the array's
		// parent for equal's "field" option.
		savedLabel := s.label
		s.label = ""
		for i := range arr {
			s.pushIndex(i)
			out, oc := s.validate(c.items, arr[i], true, parent)
			switch oc {
			case replace:
				arr[i] = out
				changed = true
			case remove:
				arr[i] = nil
				changed = true
			}
			s.pop()
		}
		s.label = savedLabel
	}
	if converted || (copied && changed) {
		return arr, replace
	}
	return v, keep
}

// duplicates lists the values that occur more than once, each once, in
// order of their first repetition (fastest-validator's "expected").
func duplicates(arr []any) []any {
	var dups []any
	for i, it := range arr {
		first := true
		for j := 0; j < i; j++ {
			if strictEqual(arr[j], it) {
				first = false
				break
			}
		}
		if !first && !inList(dups, it) {
			dups = append(dups, it)
		}
	}
	return dups
}

// ---- email ----

type emailRule struct {
	empty, normalize, precise bool
	min, max                  limit
}

func (c *emailRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	str, ok := v.(string)
	if !ok {
		s.fail(r, "string", v, nil)
		return v, keep
	}
	if str == "" {
		if !c.empty {
			s.fail(r, "emailEmpty", str, nil)
		}
		return v, keep
	}
	out, oc := v, keep
	if c.normalize {
		if n := strings.ToLower(strings.TrimFunc(str, isJSSpace)); n != str {
			str, out, oc = n, n, replace
		}
	}
	n := utf16Len(str)
	if c.min.set && float64(n) < c.min.f {
		s.fail(r, "emailMin", n, c.min.exp)
	}
	if c.max.set && float64(n) > c.max.f {
		s.fail(r, "emailMax", n, c.max.exp)
	}
	pattern := emailQuickPattern
	if c.precise {
		pattern = emailPrecisePattern
	}
	if !pattern.MatchString(str) {
		s.fail(r, "email", str, nil)
	}
	return out, oc
}

// ---- url ----

type urlRule struct{ empty bool }

func (c *urlRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	str, ok := v.(string)
	switch {
	case !ok:
		s.fail(r, "string", v, nil)
	case str == "":
		if !c.empty {
			s.fail(r, "urlEmpty", str, nil)
		}
	case !urlPattern.MatchString(str):
		s.fail(r, "url", str, nil)
	}
	return v, keep
}

// ---- uuid ----

type uuidRule struct{ version int } // -1: any version

func (c *uuidRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	str, ok := v.(string)
	if !ok {
		s.fail(r, "string", v, nil)
		return v, keep
	}
	lower := strings.ToLower(str)
	if !uuidPattern.MatchString(lower) {
		s.fail(r, "uuid", str, nil)
		return v, keep
	}
	version := int(lower[14] - '0') // the pattern guarantees a digit here
	if c.version >= 0 && c.version != version {
		s.fail(r, "uuidVersion", version, c.version)
		return v, keep
	}
	switch version {
	case 3, 4, 5, 7, 8:
		// RFC 4122 variant: the first hex digit of the 4th group is 8, 9, a or b.
		if !strings.ContainsRune("89ab", rune(lower[19])) {
			s.fail(r, "uuid", str, nil)
		}
	}
	return v, keep
}

// ---- enum ----

type enumRule struct {
	values []any
	text   string
}

func (c *enumRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	if !inList(c.values, v) {
		s.fail(r, "enumValue", v, c.text)
	}
	return v, keep
}

// ---- equal ----

type equalRule struct {
	value  any
	field  string
	strict bool
}

func (c *equalRule) check(s *state, r *rule, v any, parent map[string]any) (any, outcome) {
	target, typ, expected := c.value, "equalValue", c.value
	if c.field != "" {
		target, typ, expected = parent[c.field], "equalField", any(c.field)
	}
	equal := looseEqual(v, target)
	if c.strict {
		equal = strictEqual(v, target)
	}
	if !equal {
		s.fail(r, typ, v, expected)
	}
	return v, keep
}

// ---- date ----

type dateRule struct{ convert bool }

func (c *dateRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	switch v.(type) {
	case time.Time, *time.Time:
		return v, keep
	}
	if c.convert {
		if t, ok := toDate(v); ok {
			return t, replace
		}
	}
	s.fail(r, "date", v, nil)
	return v, keep
}

// toDate is the convert path of the date rule: numbers and numeric strings
// are milliseconds since the epoch (new Date(+value)); other strings must be
// RFC 3339 or a bare date, which JavaScript reads as UTC midnight.
func toDate(v any) (time.Time, bool) {
	var ms float64
	switch x := v.(type) {
	case string:
		if x == "" {
			return time.Time{}, false // new Date("") is an Invalid Date
		}
		if f := stringToNumber(x); !math.IsNaN(f) {
			ms = f
			break
		}
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	default:
		ms = jsToNumber(v)
	}
	// ECMAScript's time range is ±8.64e15 ms; beyond it is an Invalid Date.
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Trunc(ms))).UTC(), true
}

// ---- forbidden ----

type forbiddenRule struct{ remove bool }

func (c *forbiddenRule) check(s *state, r *rule, v any, _ map[string]any) (any, outcome) {
	if c.remove {
		return nil, remove
	}
	s.fail(r, "forbidden", v, nil)
	return v, keep
}

// ---- multi ----

type multiRule struct{ rules []*rule }

// check tries the alternatives in order; the first one without errors wins
// and its (possibly converted) value is kept. If none passes, the errors of
// all of them are reported.
func (c *multiRule) check(s *state, r *rule, v any, parent map[string]any) (any, outcome) {
	base := len(s.errs)
	savedLabel := s.label
	s.label = "" // fastest-validator calls the alternatives without the label
	defer func() { s.label = savedLabel }()
	for _, sub := range c.rules {
		start := len(s.errs)
		out, oc := s.validate(sub, v, true, parent)
		if len(s.errs) == start {
			s.errs = s.errs[:base]
			return out, oc
		}
	}
	return v, keep
}
