package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/schema"
)

func load(t *testing.T) map[string]any {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal(schema.JSON, &s))
	return s
}

// TestSchemaMatchesGoTypes walks the Scenario type by reflection, over the yaml tags the
// files decode with, alongside the schema: every field must be in the schema with a matching
// type, and the schema must have no property the Go types lack. A field added to the engine
// without the schema (or the reverse) fails here.
func TestSchemaMatchesGoTypes(t *testing.T) {
	root := load(t)
	w := &walker{root: root}
	w.compare(reflect.TypeFor[scenarios.Scenario](), root, "$")
	for _, p := range w.problems {
		t.Error(p)
	}
	assert.GreaterOrEqual(t, w.fields, 100, "fields compared")
}

type walker struct {
	root     map[string]any
	problems []string
	fields   int
}

func (w *walker) fail(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *walker) resolve(s map[string]any) map[string]any {
	for i := 0; i < 8; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		def, ok := w.root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		if !ok {
			w.fail("dangling $ref %s", ref)
			return map[string]any{}
		}
		s = def
	}
	return s
}

func (w *walker) compare(t reflect.Type, s map[string]any, at string) {
	if t == reflect.TypeFor[time.Duration]() {
		if ref, _ := s["$ref"].(string); ref != "#/$defs/duration" {
			w.fail("%s is a duration; the schema must use $ref #/$defs/duration, has %v", at, s)
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		w.compare(t, s, at)
		return
	}
	s = w.resolve(s)
	typ, _ := s["type"].(string)
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer", reflect.Uint64: "integer",
		reflect.Float64: "number", reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array", reflect.Interface: ""}[t.Kind()]
	if typ != want {
		w.fail("%s: Go %s, schema type %q (want %q)", at, t, typ, want)
		return
	}
	switch t.Kind() {
	case reflect.Uint64:
		if m, ok := s["minimum"].(float64); !ok || m != 0 {
			w.fail("%s: unsigned, the schema needs minimum 0", at)
		}
	case reflect.Slice:
		items, ok := s["items"].(map[string]any)
		if !ok {
			w.fail("%s: array without items", at)
			return
		}
		w.compare(t.Elem(), items, at+"[]")
	case reflect.Struct:
		if s["additionalProperties"] != false {
			w.fail("%s: additionalProperties must be false (strict, as the decoder)", at)
		}
		props, _ := s["properties"].(map[string]any)
		goNames := file.FieldNames(t)
		for _, name := range goNames {
			ps, ok := props[name].(map[string]any)
			if !ok {
				w.fail("%s.%s: field of %s missing from the schema", at, name, t)
				continue
			}
			w.fields++
			f, _ := t.FieldByNameFunc(func(n string) bool {
				sf, _ := t.FieldByName(n)
				tagName, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
				return tagName == name
			})
			w.compare(f.Type, ps, at+"."+name)
		}
		for name := range props {
			if !slices.Contains(goNames, name) {
				w.fail("%s.%s: in the schema but not a field of %s", at, name, t)
			}
		}
		for _, r := range asStrings(s["required"]) {
			if !slices.Contains(goNames, r) {
				w.fail("%s: required %q is not a field", at, r)
			}
		}
	}
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestSchemaEnumsMatchEngine: the kinds offered for completion are exactly the engine's.
func TestSchemaEnumsMatchEngine(t *testing.T) {
	defs := load(t)["$defs"].(map[string]any)
	kinds := func(def string) []string {
		return asStrings(defs[def].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["enum"])
	}
	assert.Equal(t, scenarios.FaultKinds, kinds("fault"))
	assert.Equal(t, scenarios.CheckKinds, kinds("check"))
}

func yamlToData(t *testing.T, path string) any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

// TestTestdataConformsToSchema: every example file validates against the schema.
func TestTestdataConformsToSchema(t *testing.T) {
	root := load(t)
	files, err := filepath.Glob("../testdata/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		v := &validator{root: root}
		v.validate(yamlToData(t, f), root, "$")
		assert.Empty(t, v.errs, f)
	}
}

// TestSchemaRejectsMalformedFiles: the malformed files whose fault an editor can see
// without the service catalog are flagged by the schema too; the others (an unknown
// service, node or action) are only caught by the loader.
func TestSchemaRejectsMalformedFiles(t *testing.T) {
	root := load(t)
	schemaCatches := map[string]string{
		"bad-duration.yaml":           "$.workload[0].think",
		"duration-without-unit.yaml":  "$.duration",
		"negative-rate.yaml":          "$.workload[0].rate",
		"loss-rate-out-of-range.yaml": "$.faults[0].rate",
		"unknown-fault-kind.yaml":     "$.faults[0].kind",
		"unknown-check-kind.yaml":     "$.checks[0].kind",
		"unknown-field.yaml":          "$.nodes[0].option",
		"wrong-type.yaml":             "$.seed",
		"several-problems.yaml":       "$.checks[0].transitions[0].to",
	}
	files, err := filepath.Glob("../testdata/invalid/*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		name := filepath.Base(f)
		// A syntax error is no data at all, and text that is not clean UTF-8 cannot become
		// JSON for the schema to see: only the loader rejects those.
		if name == "syntax-error.yaml" || name == "invalid-utf8.yaml" || name == "control-character.yaml" {
			continue
		}
		v := &validator{root: root}
		v.validate(yamlToData(t, f), root, "$")
		if at, ok := schemaCatches[name]; ok {
			require.NotEmpty(t, v.errs, name)
			assert.Contains(t, strings.Join(v.errs, "\n"), at+":", name)
		} else {
			assert.Empty(t, v.errs, "%s: the schema should accept it (only the catalog-aware loader can reject it)", name)
		}
	}
}

// validator implements the subset of JSON Schema 2020-12 the scenario schema uses, and
// fails on any other keyword so the subset cannot silently grow.
type validator struct {
	root map[string]any
	errs []string
}

var known = []string{"$schema", "title", "description", "examples", "$defs", "$ref", "type", "properties", "additionalProperties",
	"required", "items", "enum", "const", "pattern", "minimum", "maximum", "minLength", "minItems", "anyOf"}

func (v *validator) errf(at, format string, args ...any) {
	v.errs = append(v.errs, at+": "+fmt.Sprintf(format, args...))
}

func (v *validator) validate(data any, s map[string]any, at string) {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			v.errf(at, "schema keyword %q not supported by the test validator", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		def := v.root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		v.validate(data, def, at)
	}
	if typ, ok := s["type"].(string); ok && !hasType(data, typ) {
		v.errf(at, "expected %s, got %T %v", typ, data, data)
		return
	}
	if enum, ok := s["enum"]; ok && !slices.ContainsFunc(asSlice(enum), func(e any) bool { return equal(e, data) }) {
		v.errf(at, "%v is not one of %v", data, enum)
	}
	if c, ok := s["const"]; ok && !equal(c, data) {
		v.errf(at, "%v is not %v", data, c)
	}
	if alts, ok := s["anyOf"]; ok {
		matched := false
		for _, alt := range asSlice(alts) {
			sub := &validator{root: v.root}
			sub.validate(data, alt.(map[string]any), at)
			if len(sub.errs) == 0 {
				matched = true
				break
			}
		}
		if !matched {
			v.errf(at, "%v matches none of the alternatives", data)
		}
	}
	if str, ok := data.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			v.errf(at, "%q does not match %s", str, p)
		}
		if m, ok := s["minLength"].(float64); ok && float64(len([]rune(str))) < m {
			v.errf(at, "shorter than %v", m)
		}
	}
	if n, ok := data.(json.Number); ok {
		f, _ := n.Float64()
		if m, ok := s["minimum"].(float64); ok && f < m {
			v.errf(at, "%v is below the minimum %v", n, m)
		}
		if m, ok := s["maximum"].(float64); ok && f > m {
			v.errf(at, "%v is above the maximum %v", n, m)
		}
	}
	if arr, ok := data.([]any); ok {
		if m, ok := s["minItems"].(float64); ok && float64(len(arr)) < m {
			v.errf(at, "fewer than %v items", m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				v.validate(x, items, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	if obj, ok := data.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := obj[r]; !ok {
				v.errf(at, "required property %q missing", r)
			}
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					v.errf(at+"."+k, "property not allowed")
				}
				continue
			}
			v.validate(obj[k], ps, at+"."+k)
		}
	}
}

func hasType(data any, typ string) bool {
	switch typ {
	case "string":
		_, ok := data.(string)
		return ok
	case "boolean":
		_, ok := data.(bool)
		return ok
	case "object":
		_, ok := data.(map[string]any)
		return ok
	case "array":
		_, ok := data.([]any)
		return ok
	case "number":
		_, ok := data.(json.Number)
		return ok
	case "integer":
		n, ok := data.(json.Number)
		return ok && !strings.ContainsAny(n.String(), ".eE")
	case "null":
		return data == nil
	}
	return false
}

func equal(schemaValue, data any) bool {
	if n, ok := data.(json.Number); ok {
		f, err := n.Float64()
		sv, isNum := schemaValue.(float64)
		return err == nil && isNum && f == sv
	}
	return reflect.DeepEqual(schemaValue, data)
}
