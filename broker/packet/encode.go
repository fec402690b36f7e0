package packet

import (
	"encoding/json"
	"math"
	"strconv"
)

// The hand-written codec. encoding/json was ~35% of the CPU of a remote call (reflection on
// every field of every packet, twice per hop); the packets of a call (REQ, RES, EVENT,
// HEARTBEAT) are written and read here field by field instead. The contract is exactness:
// Marshal returns the bytes json.Marshal returns, and Decode the value json.Unmarshal
// gives, for every input. Whatever the fast path does not handle exactly — an escaped or
// HTML-sensitive string, an unusual number, a type outside JSON's own, an unknown or
// duplicated key — is handed to encoding/json, for that value or for the whole packet. The
// tests and FuzzCodec compare both paths byte for byte and value for value.

// maxFastDepth bounds the recursion of the fast paths; deeper values go to encoding/json,
// which has its own limits (cycle detection when encoding, a nesting limit when decoding).
const maxFastDepth = 64

// Marshal serializes a payload exactly as json.Marshal does.
func Marshal(p any) ([]byte, error) {
	b, err := AppendMarshal(make([]byte, 0, 512), p) // a REQ of a small call fits
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendMarshal appends the bytes Marshal returns for p to b (a buffer to reuse).
func AppendMarshal(b []byte, p any) ([]byte, error) {
	start := len(b)
	var ok bool
	switch v := p.(type) {
	case *RequestPayload:
		b, ok = appendRequest(b, v)
	case *ResponsePayload:
		b, ok = appendResponse(b, v)
	case *EventPayload:
		b, ok = appendEvent(b, v)
	case *HeartbeatPayload:
		b = append(b, `{"cpu":`...)
		if b, ok = appendFloat(b, v.CPU); ok {
			b, ok = appendHeader(b, &v.Header), true
		}
	}
	if ok {
		return b, nil
	}
	out, err := json.Marshal(p)
	if err != nil {
		return b[:start], err
	}
	return append(b[:start], out...), nil
}

// AppendValue appends v's JSON, exactly as json.Marshal(v) writes it, to b.
func AppendValue(b []byte, v any) ([]byte, error) {
	if out, ok := appendValue(b, v, 0); ok {
		return out, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, raw...), nil
}

func appendHeader(b []byte, h *Header) []byte {
	b = append(b, `,"ver":`...)
	b = appendString(b, h.Ver)
	b = append(b, `,"sender":`...)
	b = appendString(b, h.Sender)
	return append(b, '}')
}

func appendRequest(b []byte, p *RequestPayload) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"action":`...)
	b = appendString(b, p.Action)
	b = append(b, `,"params":`...)
	b, ok = appendRaw(b, p.Params)
	if !ok {
		return b, false
	}
	b = append(b, `,"meta":`...)
	if b, ok = appendMap(b, p.Meta, 0); !ok {
		return b, false
	}
	b = append(b, `,"headers":`...)
	if b, ok = appendMap(b, p.Headers, 0); !ok {
		return b, false
	}
	b = append(b, `,"timeout":`...)
	if b, ok = appendFloat(b, p.Timeout); !ok {
		return b, false
	}
	b = append(b, `,"level":`...)
	b = strconv.AppendInt(b, int64(p.Level), 10)
	b = append(b, `,"tracing":`...)
	if b, ok = appendValue(b, p.Tracing, 0); !ok {
		return b, false
	}
	b = append(b, `,"parentID":`...)
	b = appendStringPtr(b, p.ParentID)
	b = append(b, `,"requestID":`...)
	b = appendString(b, p.RequestID)
	b = append(b, `,"caller":`...)
	b = appendStringPtr(b, p.Caller)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, p.Stream)
	return appendHeader(b, &p.Header), true
}

func appendResponse(b []byte, p *ResponsePayload) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"meta":`...)
	if b, ok = appendMap(b, p.Meta, 0); !ok {
		return b, false
	}
	b = append(b, `,"headers":`...)
	if b, ok = appendMap(b, p.Headers, 0); !ok {
		return b, false
	}
	b = append(b, `,"success":`...)
	b = strconv.AppendBool(b, p.Success)
	b = append(b, `,"data":`...)
	if b, ok = appendRaw(b, p.Data); !ok {
		return b, false
	}
	if p.Error != nil {
		// Errors are the rare answer; their encoding stays encoding/json's.
		raw, err := json.Marshal(p.Error)
		if err != nil {
			return b, false
		}
		b = append(b, `,"error":`...)
		b = append(b, raw...)
	}
	return appendHeader(b, &p.Header), true
}

func appendEvent(b []byte, p *EventPayload) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"event":`...)
	b = appendString(b, p.Event)
	b = append(b, `,"data":`...)
	if b, ok = appendRaw(b, p.Data); !ok {
		return b, false
	}
	if len(p.Groups) > 0 {
		b = append(b, `,"groups":[`...)
		for i, g := range p.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, g)
		}
		b = append(b, ']')
	}
	b = append(b, `,"broadcast":`...)
	b = strconv.AppendBool(b, p.Broadcast)
	b = append(b, `,"meta":`...)
	if b, ok = appendMap(b, p.Meta, 0); !ok {
		return b, false
	}
	b = append(b, `,"headers":`...)
	if b, ok = appendMap(b, p.Headers, 0); !ok {
		return b, false
	}
	b = append(b, `,"level":`...)
	b = strconv.AppendInt(b, int64(p.Level), 10)
	b = append(b, `,"tracing":`...)
	if b, ok = appendValue(b, p.Tracing, 0); !ok {
		return b, false
	}
	b = append(b, `,"parentID":`...)
	b = appendStringPtr(b, p.ParentID)
	b = append(b, `,"requestID":`...)
	b = appendString(b, p.RequestID)
	b = append(b, `,"caller":`...)
	b = appendStringPtr(b, p.Caller)
	b = append(b, `,"needAck":`...)
	if p.NeedAck == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *p.NeedAck)
	}
	return appendHeader(b, &p.Header), true
}

// appendValue writes the JSON types (and int) itself; anything else, or a value it cannot
// write exactly, is encoded by json.Marshal and appended (JSON's encoding of a value does not
// depend on where the value sits). It fails only where json.Marshal fails.
func appendValue(b []byte, v any, depth int) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, x), true
	case float64:
		if out, ok := appendFloat(b, x); ok {
			return out, true
		}
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case map[string]any:
		if out, ok := appendMap(b, x, depth); ok {
			return out, true
		}
	case []any:
		if out, ok := appendSlice(b, x, depth); ok {
			return out, true
		}
	case json.RawMessage:
		if out, ok := appendRaw(b, x); ok {
			return out, true
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, raw...), true
}

// appendMap writes a map with its keys sorted, as json.Marshal does.
func appendMap(b []byte, m map[string]any, depth int) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	if len(m) == 0 {
		return append(b, "{}"...), true
	}
	var store [16]string
	if len(m) > len(store) || depth >= maxFastDepth {
		return appendMarshalled(b, m)
	}
	keys := store[:0]
	for k := range m {
		// Insertion into sorted position: maps on the wire are small.
		i := len(keys)
		keys = append(keys, k)
		for i > 0 && keys[i-1] > k {
			keys[i] = keys[i-1]
			i--
		}
		keys[i] = k
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, m[k], depth+1); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

func appendSlice(b []byte, s []any, depth int) ([]byte, bool) {
	if s == nil {
		return append(b, "null"...), true
	}
	if depth >= maxFastDepth {
		return appendMarshalled(b, s)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendValue(b, v, depth+1); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

func appendMarshalled(b []byte, v any) ([]byte, bool) {
	raw, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, raw...), true
}

// appendString writes a string that needs no escaping as it is; any other goes through
// json.Marshal (which escapes quotes, controls, <, >, &, U+2028/9 and invalid UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always encodes
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendFloat writes a float64 as encoding/json does: the shortest representation, in
// exponent form below 1e-6 and from 1e21 on. NaN and infinities are not JSON: it fails, and
// the caller's json.Marshal reports the error.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...), true
		}
		return strconv.AppendInt(b, int64(f), 10), true
	}
	abs := math.Abs(f)
	if abs < 1e-6 || abs >= 1e21 {
		raw, err := json.Marshal(f)
		if err != nil {
			return b, false
		}
		return append(b, raw...), true
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), true
}

// appendRaw writes an embedded JSON value as json.Marshal does: nil is null, a compact value
// without HTML-sensitive bytes is copied, anything else (or invalid JSON, which json.Marshal
// refuses) goes through json.Marshal.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if raw == nil {
		return append(b, "null"...), true
	}
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xE2: // 0xE2 leads U+2028 and U+2029
			return appendMarshalled(b, raw)
		}
	}
	d := decoder{b: raw}
	if !d.skip(0) || d.i != len(raw) {
		return appendMarshalled(b, raw)
	}
	return append(b, raw...), true
}
