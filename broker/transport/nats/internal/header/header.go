// Package header reads the two fields of a Moleculer packet the NATS transport checks before
// the broker decodes the packet: "ver" and "sender". It is its own package so that its fuzz
// target builds without the NATS server the transport's tests link.
package header

import (
	"encoding/json"
	"errors"
)

// Header is the part of every packet the transport checks before the broker decodes it.
type Header struct {
	Ver    string
	Sender string
}

var errNotObject = errors.New("not a JSON object")

// Read checks that body is one valid JSON object and reads its top-level "ver" and
// "sender" strings. It replaces a json.Unmarshal into a struct, which walked the whole body
// by reflection and allocated on every message (a seventh of a remote call's CPU time in
// BenchmarkRemoteCallNATS100): json.Valid does not allocate, and on valid input the walk
// below only has to find where each top-level value ends.
func Read(body []byte) (Header, error) {
	var h Header
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v) // the precise syntax error, on the rare bad packet
		return h, err
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return h, errNotObject
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		keyStart := i
		i = skipString(body, i)
		key := body[keyStart:i]
		i = skipSpace(body, i)
		i = skipSpace(body, i+1) // ':'
		valStart := i
		i = skipValue(body, i)
		if body[valStart] == '"' {
			switch string(key) {
			case `"ver"`:
				h.Ver = stringValue(body[valStart:i])
			case `"sender"`:
				h.Sender = stringValue(body[valStart:i])
			}
		}
		i = skipSpace(body, i)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return h, nil
}

// stringValue decodes a JSON string token; one without escapes is its bytes between quotes.
func stringValue(tok []byte) string {
	for _, c := range tok[1 : len(tok)-1] {
		// An escape, or a byte outside ASCII (which may be invalid UTF-8, that encoding/json
		// replaces with U+FFFD): decode as encoding/json does.
		if c == '\\' || c >= 0x80 {
			var s string
			_ = json.Unmarshal(tok, &s) // valid: checked by json.Valid
			return s
		}
	}
	return string(tok[1 : len(tok)-1])
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a quote).
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index just past the (valid) value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
