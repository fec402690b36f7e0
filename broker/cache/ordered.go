package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Field is one member of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object that remembers the order its fields arrived in. Moleculer builds a
// key from params in field order (JavaScript objects keep insertion order), so a Go map, which
// has none, cannot reproduce a key for params received as JSON; an Object can.
//
// Keys are expected to be unique; ParseOrdered guarantees it.
type Object []Field

// Get returns the value of the field named key.
func (o Object) Get(key string) (any, bool) {
	for i := range o {
		if o[i].Key == key {
			return o[i].Value, true
		}
	}
	return nil, false
}

// MarshalJSON encodes o with its fields in order, so that forwarding an Object (for instance
// as the params of a remote call) keeps the key the receiver computes identical.
func (o Object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON decodes a JSON object into o, nested objects as Objects too.
func (o *Object) UnmarshalJSON(raw []byte) error {
	v, err := ParseOrdered(raw)
	if err != nil {
		return err
	}
	obj, ok := v.(Object)
	if !ok {
		return fmt.Errorf("cache: JSON value is %T, not an object", v)
	}
	*o = obj
	return nil
}

// ParseOrdered decodes JSON the way JSON.parse does for key generation: objects become
// Object (field order kept; a repeated key keeps its first position and its last value, as in
// JavaScript), arrays []any, numbers float64 (JavaScript numbers are doubles, so a large
// integer loses precision exactly as it does in Node), strings, bools and nil.
func ParseOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("cache: trailing data after JSON value")
	}
	return v, nil
}

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			var index map[string]int // built lazily: most params objects are small
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string) // the decoder only yields string tokens in key position
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				obj, index = setField(obj, index, key, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("cache: unexpected JSON delimiter %q", t)
	case json.Number:
		return parseJSNumber(string(t)), nil
	default: // string, bool, nil
		return t, nil
	}
}

// setField appends key or, if it is already present, replaces its value in place (JSON.parse
// semantics for duplicate keys).
func setField(obj Object, index map[string]int, key string, v any) (Object, map[string]int) {
	const linear = 16
	if index == nil && len(obj) < linear {
		for i := range obj {
			if obj[i].Key == key {
				obj[i].Value = v
				return obj, nil
			}
		}
		return append(obj, Field{key, v}), nil
	}
	if index == nil {
		index = make(map[string]int, len(obj)*2)
		for i := range obj {
			index[obj[i].Key] = i
		}
	}
	if i, ok := index[key]; ok {
		obj[i].Value = v
		return obj, index
	}
	index[key] = len(obj)
	return append(obj, Field{key, v}), index
}

// parseJSNumber converts a JSON number literal to a double; out-of-range literals become
// ±Infinity (or 0) as in JavaScript rather than failing.
func parseJSNumber(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) && f != 0 {
		return math.NaN() // unreachable for literals the JSON decoder accepted
	}
	return f
}
