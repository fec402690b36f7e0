package cache

import (
	"context"
	"encoding/json"
)

// ValueGetter is implemented by in-process cachers that keep each entry decoded next to its
// bytes, so a hit skips JSON decoding. GetValue returns what json.Unmarshal of the stored
// bytes into an `any` returns, with its maps and slices copied per call: callers own what
// they get, exactly as with Get and a decode of their own (strings and numbers are immutable
// and are shared). An entry that is not JSON is a hit with a *DecodeError.
type ValueGetter interface {
	GetValue(ctx context.Context, key string) (value any, ok bool, err error)
}

// DecodeError reports a stored entry that is not valid JSON.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return "cache: stored entry is not JSON: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// decoded is an entry's value as JSON decodes it, computed on first use.
type decoded struct {
	done  bool
	value any
	err   error
}

func (d *decoded) get(raw []byte) (any, error) {
	if !d.done {
		d.done = true
		if err := json.Unmarshal(raw, &d.value); err != nil {
			d.value, d.err = nil, &DecodeError{Err: err}
		}
	}
	return d.value, d.err
}

// copyJSON copies the containers of a decoded JSON value.
func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = copyJSON(e)
		}
		return s
	}
	return v
}
