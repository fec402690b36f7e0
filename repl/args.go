package repl

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// args scans a command line: bare words, and JSON values where a command takes one (a
// JSON object spans spaces, so it cannot be split on them first).
type args struct {
	s   string
	pos int
}

func (a *args) skipSpace() {
	for a.pos < len(a.s) && unicode.IsSpace(rune(a.s[a.pos])) {
		a.pos++
	}
}

// done reports whether nothing but space is left.
func (a *args) done() bool {
	a.skipSpace()
	return a.pos >= len(a.s)
}

// peekFlag reports whether the next word is a --flag.
func (a *args) peekFlag() bool {
	a.skipSpace()
	return strings.HasPrefix(a.s[a.pos:], "--")
}

// word returns the next space-delimited word ("" at the end).
func (a *args) word() string {
	a.skipSpace()
	start := a.pos
	for a.pos < len(a.s) && !unicode.IsSpace(rune(a.s[a.pos])) {
		a.pos++
	}
	return a.s[start:a.pos]
}

// need returns the next word, or an error naming what is missing.
func (a *args) need(what string) (string, error) {
	if a.done() || a.peekFlag() {
		return "", fmt.Errorf("missing %s", what)
	}
	return a.word(), nil
}

// object decodes the next JSON value, which must be an object; absent (end of line or a
// flag next) it is an empty object.
func (a *args) object(what string) (map[string]any, error) {
	if a.done() || a.peekFlag() {
		return map[string]any{}, nil
	}
	v, err := a.json(what)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a JSON object, not %s", what, jsonKind(v))
	}
	return m, nil
}

// json decodes exactly one JSON value at the current position.
func (a *args) json(what string) (any, error) {
	a.skipSpace()
	// Numbers decode as float64, as they reach a handler from any JSON packet.
	dec := json.NewDecoder(strings.NewReader(a.s[a.pos:]))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	a.pos += int(dec.InputOffset())
	if a.pos < len(a.s) && !unicode.IsSpace(rune(a.s[a.pos])) {
		return nil, fmt.Errorf("%s is not valid JSON: unexpected %q after the value", what, a.s[a.pos:])
	}
	return v, nil
}

// flags reads the --name value pairs left on the line; each name must be in allowed, whose
// value says how to read the flag's value ("json", "duration", "int", "string").
func (a *args) flags(allowed map[string]string) (map[string]any, error) {
	out := map[string]any{}
	for !a.done() {
		w := a.word()
		name, ok := strings.CutPrefix(w, "--")
		kind, known := allowed[name]
		if !ok || !known {
			if ok {
				return nil, fmt.Errorf("unknown flag %s", w)
			}
			return nil, fmt.Errorf("unexpected argument %q", w)
		}
		if a.done() {
			return nil, fmt.Errorf("flag %s needs a value", w)
		}
		switch kind {
		case "json":
			v, err := a.object(w)
			if err != nil {
				return nil, err
			}
			out[name] = v
		case "duration":
			d, err := time.ParseDuration(a.word())
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("flag %s needs a positive duration such as 5s", w)
			}
			out[name] = d
		case "int":
			var n int
			if _, err := fmt.Sscan(a.word(), &n); err != nil || n <= 0 {
				return nil, fmt.Errorf("flag %s needs a positive integer", w)
			}
			out[name] = n
		default:
			out[name] = a.word()
		}
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
