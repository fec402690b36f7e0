package validator

// Schema compilation: shorthand parsing, option checking and building the
// rule tree. All schema mistakes surface here, as *SchemaError, so Validate
// never has to deal with a malformed rule.

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// checkFunc validates a present, non-null value. parent is the object that
// holds the value (needed by equal's "field" option), nil at the root.
type checkFunc func(s *state, r *rule, v any, parent map[string]any) (any, outcome)

// rule is a compiled rule: the generic required/default handling plus the
// type-specific check.
type rule struct {
	typ        string
	optional   bool
	nullable   bool
	hasDefault bool
	def        any
	label      string
	messages   map[string]string // per-rule overrides of defaultMessages
	check      checkFunc
}

// commonOptions are accepted by every type.
var commonOptions = map[string]bool{
	"type": true, "optional": true, "nullable": true, "default": true, "label": true, "messages": true,
}

// typeOptions lists the options each type understands. Anything else is
// reported by Compile instead of being silently ignored.
var typeOptions = map[string][]string{
	"any": nil,
	"string": {"empty", "min", "max", "length", "pattern", "patternFlags", "contains", "enum", "numeric",
		"alpha", "alphanum", "alphadash", "hex", "trim", "trimLeft", "trimRight", "lowercase", "uppercase", "convert"},
	"number":    {"min", "max", "equal", "notEqual", "integer", "positive", "negative", "convert"},
	"boolean":   {"convert"},
	"object":    {"props", "properties", "strict", "minProps", "maxProps"},
	"array":     {"items", "empty", "min", "max", "length", "contains", "unique", "enum", "convert"},
	"email":     {"empty", "mode", "normalize", "min", "max"},
	"url":       {"empty"},
	"uuid":      {"version"},
	"enum":      {"values"},
	"equal":     {"value", "field", "strict"},
	"date":      {"convert"},
	"forbidden": {"remove"},
	"multi":     {"rules"},
}

// compileRoot compiles the top-level schema as an object rule, the way
// fastest-validator wraps it: {type: "object", strict: $$strict, props: schema}.
func compileRoot(s Schema) (*rule, error) {
	props := make(map[string]any, len(s))
	obj := &objectRule{hasProps: true}
	for k, v := range s {
		if !strings.HasPrefix(k, "$$") {
			props[k] = v
			continue
		}
		switch k {
		case "$$strict":
			mode, err := parseStrict(v, &SchemaError{Field: k, Reason: "must be true, false or \"remove\""})
			if err != nil {
				return nil, err
			}
			obj.strict = mode
		case "$$async":
			// Async custom checkers do not exist here; the flag is harmless.
		default:
			return nil, &SchemaError{Field: k, Reason: "unsupported meta key"}
		}
	}
	if err := obj.setProps(props, ""); err != nil {
		return nil, err
	}
	return &rule{typ: "object", check: obj.check}, nil
}

// compileRule compiles any rule form: shorthand string, option map, $$type
// map, or list (multi).
func compileRule(raw any, path string) (*rule, error) {
	switch x := raw.(type) {
	case string:
		return compileMap(parseShorthand(x), path)
	case map[string]any:
		if _, ok := x["$$type"]; ok {
			m, err := expandDollarType(x, path)
			if err != nil {
				return nil, err
			}
			return compileMap(m, path)
		}
		return compileMap(x, path)
	case nil:
		return nil, &SchemaError{Field: path, Reason: "rule is nil"}
	}
	rv := reflect.ValueOf(raw)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return compileMultiList(sliceElems(rv), path)
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			return compileRule(stringKeyMap(rv), path)
		}
	}
	return nil, &SchemaError{Field: path, Reason: fmt.Sprintf("rule must be a string, a map or a list of rules, got %T", raw)}
}

// parseShorthand expands "type|opt|opt:value|no-opt" into an option map.
// Values are typed like fastest-validator types them: "true"/"false" are
// booleans, numeric text is a number, the rest stays a string.
// "type[]" is an array whose items are "type".
func parseShorthand(str string) map[string]any {
	parts := strings.Split(str, "|")
	typ := strings.TrimSpace(parts[0])
	m := make(map[string]any, len(parts)+1)
	if item, ok := strings.CutSuffix(typ, "[]"); ok {
		m["type"] = "array"
		m["items"] = item
	} else {
		m["type"] = typ
	}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if key, val, ok := strings.Cut(p, ":"); ok {
			m[strings.TrimSpace(key)] = shorthandValue(strings.TrimSpace(val))
		} else if name, ok := strings.CutPrefix(p, "no-"); ok {
			m[name] = false
		} else {
			m[p] = true
		}
	}
	return m
}

func shorthandValue(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if f := stringToNumber(s); !math.IsNaN(f) {
		return f
	}
	return s
}

// expandDollarType turns {"$$type": "object|optional", "a": ..., "b": ...}
// into {"type": "object", "optional": true, "props": {"a": ..., "b": ...}}.
// A "$$strict" key sets the object's strict option.
func expandDollarType(x map[string]any, path string) (map[string]any, error) {
	short, ok := x["$$type"].(string)
	if !ok {
		return nil, &SchemaError{Field: path, Reason: fmt.Sprintf("$$type must be a shorthand string, got %T", x["$$type"])}
	}
	m := parseShorthand(short)
	props := make(map[string]any, len(x))
	for k, v := range x {
		switch k {
		case "$$type":
		case "$$strict":
			m["strict"] = v
		default:
			props[k] = v
		}
	}
	m["props"] = props
	return m, nil
}

// compileMap compiles a rule given as an option map.
func compileMap(m map[string]any, path string) (*rule, error) {
	o := opts{m: m, path: path}
	rawType, ok := m["type"]
	if !ok {
		return nil, o.errf("missing \"type\"")
	}
	typ, ok := rawType.(string)
	if !ok {
		return nil, o.errf("\"type\" must be a string, got %T", rawType)
	}
	allowed, ok := typeOptions[typ]
	if !ok {
		return nil, o.errf("unknown type %q", typ)
	}
	if err := o.checkKeys(typ, allowed); err != nil {
		return nil, err
	}

	r := &rule{typ: typ}
	var err error
	if r.optional, err = o.flag("optional"); err != nil {
		return nil, err
	}
	if r.nullable, err = o.flag("nullable"); err != nil {
		return nil, err
	}
	if d, ok := o.get("default"); ok {
		if reflect.TypeOf(d).Kind() == reflect.Func {
			if _, ok := d.(func() any); !ok {
				return nil, o.errf("option \"default\" must be a value or a func() any, got %T", d)
			}
		}
		r.hasDefault, r.def = true, d
	}
	if r.label, _, err = o.str("label"); err != nil {
		return nil, err
	}
	if r.messages, err = o.messages(); err != nil {
		return nil, err
	}
	if r.check, err = compileCheck(typ, o); err != nil {
		return nil, err
	}
	return r, nil
}

// compileCheck builds the type-specific part of a rule.
func compileCheck(typ string, o opts) (checkFunc, error) {
	switch typ {
	case "any":
		return func(_ *state, _ *rule, v any, _ map[string]any) (any, outcome) { return v, keep }, nil
	case "string":
		return compileString(o)
	case "number":
		return compileNumber(o)
	case "boolean":
		c := &booleanRule{}
		var err error
		c.convert, err = o.flag("convert")
		return c.check, err
	case "object":
		return compileObject(o)
	case "array":
		return compileArray(o)
	case "email":
		return compileEmail(o)
	case "url":
		c := &urlRule{}
		var err error
		c.empty, err = o.flag("empty")
		return c.check, err
	case "uuid":
		return compileUUID(o)
	case "enum":
		values, ok, err := o.list("values")
		if err != nil {
			return nil, err
		}
		if !ok || len(values) == 0 {
			return nil, o.errf("enum needs a non-empty \"values\" list")
		}
		c := &enumRule{values: values, text: joinJS(values, ", ")}
		return c.check, nil
	case "equal":
		return compileEqual(o)
	case "date":
		c := &dateRule{}
		var err error
		c.convert, err = o.flag("convert")
		return c.check, err
	case "forbidden":
		c := &forbiddenRule{}
		var err error
		c.remove, err = o.flag("remove")
		return c.check, err
	case "multi":
		rules, ok, err := o.list("rules")
		if err != nil {
			return nil, err
		}
		if !ok || len(rules) == 0 {
			return nil, o.errf("multi needs a non-empty \"rules\" list")
		}
		c, err := compileMultiRules(rules, o.path)
		if err != nil {
			return nil, err
		}
		return c.check, nil
	}
	return nil, o.errf("unknown type %q", typ)
}

func compileString(o opts) (checkFunc, error) {
	c := &stringRule{}
	var err error
	for _, f := range []struct {
		key string
		dst *bool
	}{
		{"convert", &c.convert}, {"numeric", &c.numeric}, {"alpha", &c.alpha}, {"alphanum", &c.alphanum},
		{"alphadash", &c.alphadash}, {"hex", &c.hex}, {"trim", &c.trim}, {"trimLeft", &c.trimLeft},
		{"trimRight", &c.trimRight}, {"lowercase", &c.lowercase}, {"uppercase", &c.uppercase},
	} {
		if *f.dst, err = o.flag(f.key); err != nil {
			return nil, err
		}
	}
	if c.empty, err = o.tri("empty"); err != nil {
		return nil, err
	}
	if err = o.limits(map[string]*limit{"min": &c.min, "max": &c.max, "length": &c.length}); err != nil {
		return nil, err
	}
	if c.pattern, c.patternText, err = o.pattern(); err != nil {
		return nil, err
	}
	if c.contains, c.hasContains, err = o.text("contains"); err != nil {
		return nil, err
	}
	if c.enum, _, err = o.list("enum"); err != nil {
		return nil, err
	}
	c.enumText = joinJS(c.enum, ", ")
	c.plain = !c.min.set && !c.max.set && !c.length.set && c.pattern == nil && !c.hasContains && c.enum == nil &&
		!c.numeric && !c.alpha && !c.alphanum && !c.alphadash && !c.hex &&
		!c.trim && !c.trimLeft && !c.trimRight && !c.lowercase && !c.uppercase
	return c.check, nil
}

func compileNumber(o opts) (checkFunc, error) {
	c := &numberRule{}
	var err error
	for _, f := range []struct {
		key string
		dst *bool
	}{
		{"convert", &c.convert}, {"integer", &c.integer}, {"positive", &c.positive}, {"negative", &c.negative},
	} {
		if *f.dst, err = o.flag(f.key); err != nil {
			return nil, err
		}
	}
	err = o.limits(map[string]*limit{"min": &c.min, "max": &c.max, "equal": &c.equal, "notEqual": &c.notEqual})
	return c.check, err
}

func compileObject(o opts) (checkFunc, error) {
	c := &objectRule{}
	var err error
	if raw, ok := o.get("strict"); ok {
		if c.strict, err = parseStrict(raw, o.err("option \"strict\" must be true, false or \"remove\"")); err != nil {
			return nil, err
		}
	}
	if err = o.limits(map[string]*limit{"minProps": &c.minProps, "maxProps": &c.maxProps}); err != nil {
		return nil, err
	}
	key := "props"
	raw, ok := o.get("properties") // fastest-validator prefers "properties" over "props"
	if ok {
		key = "properties"
	} else {
		raw, ok = o.get("props")
	}
	if ok {
		props, isMap := toStringMap(raw)
		if !isMap {
			return nil, o.errf("option %q must be a map of rules, got %T", key, raw)
		}
		c.hasProps = true
		if err = c.setProps(props, o.path); err != nil {
			return nil, err
		}
	} else if c.strict != strictOff {
		return nil, o.errf("option \"strict\" needs \"props\"")
	}
	return c.check, nil
}

// setProps compiles an object's props in sorted order, which both fixes the
// validation order and makes the first reported schema error deterministic.
func (c *objectRule) setProps(props map[string]any, path string) error {
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	c.allowed = make(map[string]struct{}, len(names))
	c.props = make([]prop, 0, len(names))
	for _, name := range names {
		if strings.HasPrefix(name, "$$") {
			return &SchemaError{Field: joinPath(path, name), Reason: "unsupported meta key"}
		}
		r, err := compileRule(props[name], joinPath(path, name))
		if err != nil {
			return err
		}
		c.props = append(c.props, prop{name: name, rule: r})
		c.allowed[name] = struct{}{}
	}
	c.allowedText = strings.Join(names, ", ")
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func parseStrict(v any, bad error) (strictMode, error) {
	switch x := v.(type) {
	case nil:
		return strictOff, nil
	case bool:
		if x {
			return strictReject, nil
		}
		return strictOff, nil
	case string:
		if x == "remove" {
			return strictRemove, nil
		}
	}
	return strictOff, bad
}

func compileArray(o opts) (checkFunc, error) {
	c := &arrayRule{}
	var err error
	if c.convert, err = o.flag("convert"); err != nil {
		return nil, err
	}
	if c.unique, err = o.flag("unique"); err != nil {
		return nil, err
	}
	if c.empty, err = o.tri("empty"); err != nil {
		return nil, err
	}
	if err = o.limits(map[string]*limit{"min": &c.min, "max": &c.max, "length": &c.length}); err != nil {
		return nil, err
	}
	c.contains, c.hasContains = o.get("contains")
	if c.enum, _, err = o.list("enum"); err != nil {
		return nil, err
	}
	c.enumText = joinJS(c.enum, ", ")
	if raw, ok := o.get("items"); ok {
		if c.items, err = compileRule(raw, o.path+"[]"); err != nil {
			return nil, err
		}
	}
	return c.check, nil
}

func compileEmail(o opts) (checkFunc, error) {
	c := &emailRule{}
	var err error
	if c.empty, err = o.flag("empty"); err != nil {
		return nil, err
	}
	if c.normalize, err = o.flag("normalize"); err != nil {
		return nil, err
	}
	mode, _, err := o.str("mode")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "", "quick":
	case "precise":
		c.precise = true
	default:
		return nil, o.errf("option \"mode\" must be \"quick\" or \"precise\", got %q", mode)
	}
	err = o.limits(map[string]*limit{"min": &c.min, "max": &c.max})
	return c.check, err
}

func compileUUID(o opts) (checkFunc, error) {
	c := &uuidRule{version: -1}
	var v limit
	if err := o.limits(map[string]*limit{"version": &v}); err != nil {
		return nil, err
	}
	if v.set {
		if v.f != math.Trunc(v.f) || v.f < 0 || v.f > 8 {
			return nil, o.errf("option \"version\" must be an integer from 0 to 8")
		}
		c.version = int(v.f)
	}
	return c.check, nil
}

func compileEqual(o opts) (checkFunc, error) {
	c := &equalRule{}
	var err error
	if c.strict, err = o.flag("strict"); err != nil {
		return nil, err
	}
	if c.field, _, err = o.str("field"); err != nil {
		return nil, err
	}
	if c.field == "" {
		var ok bool
		if c.value, ok = o.m["value"]; !ok {
			return nil, o.errf("equal needs \"value\" or \"field\"")
		}
	}
	return c.check, nil
}

// compileMultiList compiles the list shorthand: optional (nullable) when
// every alternative is optional (nullable), as fastest-validator does.
func compileMultiList(items []any, path string) (*rule, error) {
	if len(items) == 0 {
		return nil, &SchemaError{Field: path, Reason: "empty list of rules"}
	}
	c, err := compileMultiRules(items, path)
	if err != nil {
		return nil, err
	}
	r := &rule{typ: "multi", optional: true, nullable: true, check: c.check}
	for _, sub := range c.rules {
		r.optional = r.optional && sub.optional
		r.nullable = r.nullable && sub.nullable
	}
	return r, nil
}

func compileMultiRules(items []any, path string) (*multiRule, error) {
	c := &multiRule{rules: make([]*rule, 0, len(items))}
	for _, it := range items {
		r, err := compileRule(it, path)
		if err != nil {
			return nil, err
		}
		c.rules = append(c.rules, r)
	}
	return c, nil
}

// opts reads and type-checks the options of one rule map.
type opts struct {
	m    map[string]any
	path string
}

func (o opts) err(reason string) error { return &SchemaError{Field: o.path, Reason: reason} }

func (o opts) errf(format string, args ...any) error {
	return o.err(fmt.Sprintf(format, args...))
}

// checkKeys rejects options the type does not know, reporting the first one
// in sorted order so the error is stable.
func (o opts) checkKeys(typ string, allowed []string) error {
	var unknown []string
	for k := range o.m {
		if !commonOptions[k] && !contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return o.errf("unknown option %q for type %q", unknown[0], typ)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// get returns an option; nil counts as absent, like `!= null` in the JS code.
func (o opts) get(key string) (any, bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (o opts) flag(key string) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, o.errf("option %q must be a boolean, got %T", key, v)
	}
	return b, nil
}

// triState distinguishes "empty: true", "empty: false" and no option, which
// fastest-validator treats differently for strings and arrays.
type triState uint8

const (
	triUnset triState = iota
	triTrue
	triFalse
)

func (o opts) tri(key string) (triState, error) {
	if _, ok := o.get(key); !ok {
		return triUnset, nil
	}
	b, err := o.flag(key)
	if err != nil {
		return triUnset, err
	}
	if b {
		return triTrue, nil
	}
	return triFalse, nil
}

func (o opts) str(key string) (string, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, o.errf("option %q must be a string, got %T", key, v)
	}
	return s, true, nil
}

// text reads an option used as text. Numbers and booleans are accepted and
// printed as JavaScript would, because the shorthand parser types "contains:1"
// as a number while fastest-validator interpolates it into a string anyway.
func (o opts) text(key string) (string, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return "", false, nil
	}
	switch v.(type) {
	case string, bool, float64:
		return jsString(v), true, nil
	}
	if _, isNum := toNumber(v); isNum {
		return jsString(v), true, nil
	}
	return "", false, o.errf("option %q must be a string, got %T", key, v)
}

func (o opts) list(key string) ([]any, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, false, nil
	}
	if l, isList := v.([]any); isList {
		return l, true, nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		return nil, false, o.errf("option %q must be a list, got %T", key, v)
	}
	return sliceElems(rv), true, nil
}

// limit is a numeric option. exp is the value reported as "expected":
// normalised to int when whole, so errors look the same whether the schema
// was written in Go (3), decoded from JSON (3.0) or parsed from a shorthand.
type limit struct {
	set bool
	f   float64
	exp any
}

func (o opts) limits(dst map[string]*limit) error {
	// Sorted for a deterministic first error.
	keys := make([]string, 0, len(dst))
	for k := range dst {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v, ok := o.get(key)
		if !ok {
			continue
		}
		f, isNum := toNumber(v)
		if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
			return o.errf("option %q must be a finite number, got %T", key, v)
		}
		*dst[key] = limit{set: true, f: f, exp: normalizeNumber(f)}
	}
	return nil
}

func normalizeNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	return f
}

// pattern compiles the string rule's pattern. JavaScript flags i, m and s
// map onto RE2 flags; u changes nothing for RE2; g and y make RegExp.test
// stateful in JavaScript and are refused rather than imitated.
func (o opts) pattern() (*regexp.Regexp, string, error) {
	raw, ok := o.get("pattern")
	flags, hasFlags, err := o.str("patternFlags")
	if err != nil {
		return nil, "", err
	}
	if !ok {
		if hasFlags {
			return nil, "", o.errf("option \"patternFlags\" needs \"pattern\"")
		}
		return nil, "", nil
	}
	if re, isRe := raw.(*regexp.Regexp); isRe {
		if hasFlags {
			return nil, "", o.errf("option \"patternFlags\" cannot be used with a compiled *regexp.Regexp")
		}
		return re, "/" + re.String() + "/", nil
	}
	src, _, err := o.text("pattern")
	if err != nil {
		return nil, "", o.errf("option \"pattern\" must be a string or *regexp.Regexp, got %T", raw)
	}
	goFlags := ""
	canonical := "" // RegExp#toString lists flags in this fixed order
	for _, f := range "imsu" {
		if strings.ContainsRune(flags, f) {
			canonical += string(f)
			if f != 'u' {
				goFlags += string(f)
			}
		}
	}
	if len(canonical) != len(flags) {
		return nil, "", o.errf("option \"patternFlags\" %q: only i, m, s and u are supported", flags)
	}
	expr := src
	if goFlags != "" {
		expr = "(?" + goFlags + ")" + src
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, "", o.errf("option \"pattern\" is not a valid regexp: %v", err)
	}
	return re, "/" + jsRegexpSource(src) + "/" + canonical, nil
}

// jsRegexpSource mirrors RegExp#source: "/" outside character classes is
// escaped, and an empty pattern reads "(?:)".
func jsRegexpSource(src string) string {
	if src == "" {
		return "(?:)"
	}
	var b strings.Builder
	inClass, escaped := false, false
	for _, r := range src {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '[':
			inClass = true
		case r == ']':
			inClass = false
		case r == '/' && !inClass:
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// messages reads the per-rule message overrides.
func (o opts) messages() (map[string]string, error) {
	raw, ok := o.get("messages")
	if !ok {
		return nil, nil
	}
	if m, isMap := raw.(map[string]string); isMap {
		return m, nil
	}
	m, isMap := toStringMap(raw)
	if !isMap {
		return nil, o.errf("option \"messages\" must be a map of error type to message, got %T", raw)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, isStr := v.(string)
		if !isStr {
			return nil, o.errf("option \"messages\": message for %q must be a string, got %T", k, v)
		}
		out[k] = s
	}
	return out, nil
}

// toStringMap accepts map[string]any (Schema) and any other map with string
// keys, such as map[string]string written by a Go caller.
func toStringMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	return stringKeyMap(rv), true
}

func stringKeyMap(rv reflect.Value) map[string]any {
	m := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		m[iter.Key().String()] = iter.Value().Interface()
	}
	return m
}
