package file

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// Marshal writes a scenario in the file format: fields in the order of the Go types, empty
// optional fields left out, durations as Go duration strings, short lists and free-form maps
// in flow style. Go-only parts (ExtraServices, ExtraChecks, Setup, ParamsFunc: code) cannot
// be written and make it fail. Parse(Marshal(s)) gives s back.
func Marshal(s *scenarios.Scenario) ([]byte, error) {
	if len(s.ExtraServices) > 0 || len(s.ExtraChecks) > 0 || s.Setup != nil {
		return nil, fmt.Errorf("scenario %q uses Go-only extensions (ExtraServices, ExtraChecks or Setup) that a file cannot carry", s.Name)
	}
	for i, w := range s.Workload {
		if w.ParamsFunc != nil {
			return nil, fmt.Errorf("scenario %q: workload[%d] uses ParamsFunc, which a file cannot carry", s.Name, i)
		}
	}
	var b bytes.Buffer
	e := &encoder{b: &b}
	e.structFields(reflect.ValueOf(s).Elem(), 0, false)
	return b.Bytes(), e.err
}

type encoder struct {
	b   *bytes.Buffer
	err error
}

func (e *encoder) indent(n int) { e.b.WriteString(strings.Repeat("  ", n)) }

// structFields writes a struct's fields as mapping entries at depth; firstInline means the
// first entry continues a "- " list item line.
func (e *encoder) structFields(v reflect.Value, depth int, firstInline bool) {
	t := v.Type()
	first := true
	for _, f := range fieldsOf(t) {
		fv := v.Field(f.index)
		tag := t.Field(f.index).Tag.Get("yaml")
		if strings.Contains(tag, ",omitempty") && isEmpty(fv) {
			continue
		}
		if !(first && firstInline) {
			e.indent(depth)
		}
		first = false
		e.b.WriteString(f.name + ":")
		e.value(fv, depth)
	}
	if first && firstInline {
		e.b.WriteString("{}\n")
	}
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// value writes the value of a mapping entry whose "key:" is already written.
func (e *encoder) value(v reflect.Value, depth int) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			e.b.WriteString(" null\n")
			return
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		e.b.WriteString(" " + FormatDuration(time.Duration(v.Int())) + "\n")
	case v.Kind() == reflect.Struct:
		e.b.WriteString("\n")
		e.structFields(v, depth+1, false)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		e.b.WriteString("\n")
		for i := range v.Len() {
			e.indent(depth + 1)
			e.b.WriteString("- ")
			if f, ok := e.flowStruct(v.Index(i)); ok && len(f)+2*depth < 90 {
				e.b.WriteString(f + "\n")
				continue
			}
			e.structFields(v.Index(i), depth+2, true)
		}
	case v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Struct:
		e.b.WriteString("\n")
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			e.indent(depth + 1)
			e.b.WriteString(quote(k) + ":")
			e.value(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), depth+1)
		}
	default:
		e.b.WriteString(" " + e.flow(v) + "\n")
	}
}

// flowStruct renders a small struct of scalars on one line: {to: open, at: 8s}.
func (e *encoder) flowStruct(v reflect.Value) (string, bool) {
	t := v.Type()
	var parts []string
	for _, f := range fieldsOf(t) {
		fv := v.Field(f.index)
		ft := fv.Type()
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map || ft.Kind() == reflect.Interface {
			return "", false
		}
		if strings.Contains(t.Field(f.index).Tag.Get("yaml"), ",omitempty") && isEmpty(fv) {
			continue
		}
		parts = append(parts, f.name+": "+e.flow(fv))
	}
	return "{" + strings.Join(parts, ", ") + "}", true
}

// flow renders a scalar, a list or a map on one line.
func (e *encoder) flow(v reflect.Value) string {
	if !v.IsValid() {
		return "null"
	}
	if v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "null"
		}
		return e.flow(v.Elem())
	}
	if v.Type() == durationType {
		return FormatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = e.flow(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = quote(k) + ": " + e.flow(v.MapIndex(reflect.ValueOf(k)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if e.err == nil {
		e.err = fmt.Errorf("cannot write a %s in a scenario file", v.Type())
	}
	return "null"
}

// FormatDuration writes a duration the way a person would: "40s", "1m", "1m30s", "1.2s",
// "250ms".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var plain = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_.\-/@$*:]*( [A-Za-z0-9_.\-/@$*()]+)*$`)

// quote leaves a string plain when YAML reads it back as that same string, and double-quotes
// it otherwise (JSON escaping is valid YAML).
func quote(s string) string {
	switch strings.ToLower(s) {
	case "", "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return strconv.Quote(s)
	}
	if plain.MatchString(s) && !strings.HasSuffix(s, ":") && !strings.Contains(s, ": ") {
		return s
	}
	return strconv.Quote(s)
}
