package packet

import (
	"encoding/json"
	"math"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// decoder reads JSON from b at i. Every method validates what it reads and reports false
// on anything it does not handle exactly as encoding/json would; the caller then decodes
// the whole input with encoding/json, which also produces the right error for bad input.
type decoder struct {
	b []byte
	i int
	// alias: b belongs to the packet (a transporter's own copy of the message), so raw
	// values are slices of it rather than copies.
	alias bool
}

func (d *decoder) ws() {
	// Locals, not d.i: the compiler keeps them in registers; a field of *d is loaded and
	// stored on every byte (the scanning loops here are most of a packet's decoding).
	b, i := d.b, d.i
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	d.i = i
}

// isSpace marks JSON's white space; plainByte the bytes a string holds as they are
// (printable ASCII but the quote and the backslash).
var isSpace, plainByte = func() (space, plain [256]bool) {
	space[' '], space['\t'], space['\n'], space['\r'] = true, true, true, true
	for c := 0x20; c < 0x80; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return
}()

// lit consumes the literal s (true, false, null).
func (d *decoder) lit(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// peek returns the next non-space byte (0 at the end).
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// skipString consumes a valid string and reports whether it had escapes or bytes that are
// not printable ASCII.
func (d *decoder) skipString() (plain, ok bool) {
	b, i := d.b, d.i
	if i >= len(b) || b[i] != '"' {
		return false, false
	}
	i++
	plain = true
	for {
		for i < len(b) && plainByte[b[i]] { // the common run: printable ASCII
			i++
		}
		if i >= len(b) {
			d.i = i
			return false, false
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return plain, true
		case c < 0x20:
			d.i = i
			return false, false
		case c == '\\':
			plain = false
			i++
			if i >= len(b) {
				d.i = i
				return false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 {
					d.i = i
					return false, false
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						d.i = i
						return false, false
					}
				}
				i += 5
			default:
				d.i = i
				return false, false
			}
		default: // c >= 0x80: UTF-8, checked by str
			plain = false
			i++
		}
	}
}

// str decodes a string. Plain ASCII and valid UTF-8 without escapes are copied; escapes and
// invalid UTF-8 (which encoding/json replaces) are decoded by encoding/json.
func (d *decoder) str() (string, bool) {
	start := d.i
	plain, ok := d.skipString()
	if !ok {
		return "", false
	}
	raw := d.b[start+1 : d.i-1]
	if plain || !containsByte(raw, '\\') && utf8.Valid(raw) {
		return string(raw), true
	}
	var s string
	if json.Unmarshal(d.b[start:d.i], &s) != nil {
		return "", false
	}
	return s, true
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// number consumes a number as JSON's grammar has it and returns its text.
func (d *decoder) number() ([]byte, bool) {
	b, i := d.b, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsFrom(b, i)
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		j := digitsFrom(b, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsFrom(b, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	d.i = i
	return b[start:i], true
}

// digitsFrom returns the index after the run of decimal digits starting at i.
func digitsFrom(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// float decodes a number into a float64 as encoding/json does for an interface value or a
// float64 field (strconv.ParseFloat; out of range is an error there, so a fall-back here).
func (d *decoder) float() (float64, bool) {
	lit, ok := d.number()
	if !ok {
		return 0, false
	}
	// Small integers, the common case, without a string conversion.
	if len(lit) <= 15 {
		n, neg, digitsOnly := int64(0), false, true
		for k, c := range lit {
			if k == 0 && c == '-' {
				neg = true
				continue
			}
			if c < '0' || c > '9' {
				digitsOnly = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if digitsOnly && !(neg && n == 0) { // -0 keeps its sign through ParseFloat below
			if neg {
				return float64(-n), true
			}
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// int decodes a number into an int field: encoding/json accepts integer literals only.
func (d *decoder) int() (int, bool) {
	lit, ok := d.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(lit), 10, 0)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

func (d *decoder) bool() (bool, bool) {
	switch d.peek() {
	case 't':
		return true, d.lit("true")
	case 'f':
		return false, d.lit("false")
	}
	return false, false
}

// value decodes any JSON value into what encoding/json gives an interface: map[string]any,
// []any, string, float64, bool or nil.
func (d *decoder) value(depth int) (any, bool) {
	if depth >= maxFastDepth {
		return nil, false
	}
	switch c := d.peek(); {
	case c == '{':
		m, ok := d.object(depth)
		return m, ok
	case c == '[':
		d.i++
		s := []any{}
		if d.peek() == ']' {
			d.i++
			return s, true
		}
		for {
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			s = append(s, v)
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return s, true
			default:
				return nil, false
			}
		}
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == 't' || c == 'f':
		v, ok := d.bool()
		return v, ok
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		f, ok := d.float()
		if ok && f >= 0 && f < float64(len(smallNumbers)) && f == math.Trunc(f) && !math.Signbit(f) {
			return smallNumbers[int(f)], true
		}
		return f, ok
	}
	return nil, false
}

// smallNumbers holds the float64s 0 to 1023 already in interfaces. Boxing a float64 into an
// `any` allocates (Go shares only its zero value), and small integers are most of the numbers
// in a call's params and results: ids, quantities, counts, pages. An interface value is
// immutable, so every decoded 7 may be the same one.
var smallNumbers = func() (a [1024]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

// object decodes an object into a new map; a repeated key keeps the last value, as
// encoding/json does.
func (d *decoder) object(depth int) (map[string]any, bool) {
	if d.peek() != '{' {
		return nil, false
	}
	d.i++
	m := map[string]any{}
	if d.peek() == '}' {
		d.i++
		return m, true
	}
	for {
		if d.peek() != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok || d.peek() != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		m[k] = v
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

// mapField decodes an object or null into a map field. encoding/json merges a repeated key
// into the existing map; the struct decoders refuse repeated keys, so the map is new here.
func (d *decoder) mapField() (map[string]any, bool) {
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	return d.object(0)
}

// readOnlyEmpty is what an empty object decodes to in a field no one writes into (every
// packet's headers, a response's meta, which is merged into the caller's): one shared map
// instead of a new one per packet.
var readOnlyEmpty = map[string]any{}

// readOnlyMapField is mapField for such a field.
func (d *decoder) readOnlyMapField() (map[string]any, bool) {
	if d.peek() == '{' {
		start := d.i
		d.i++
		if d.peek() == '}' {
			d.i++
			return readOnlyEmpty, true
		}
		d.i = start
	}
	return d.mapField()
}

// skip consumes any valid value.
func (d *decoder) skip(depth int) bool {
	if depth >= maxFastDepth {
		return false
	}
	switch c := d.peek(); {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.i++
		if d.peek() == end {
			d.i++
			return true
		}
		for {
			if c == '{' {
				if _, ok := d.skipString(); !ok || d.peek() != ':' {
					return false
				}
				d.i++
			}
			if !d.skip(depth + 1) {
				return false
			}
			switch d.peek() {
			case ',':
				d.i++
				if c == '{' && d.peek() != '"' {
					return false
				}
			case end:
				d.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		_, ok := d.skipString()
		return ok
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := d.number()
		return ok
	}
	return false
}

// raw consumes a value and returns its bytes, as json.RawMessage keeps them: a copy, or
// with alias the slice of b itself (capped, so an append to it cannot write into b).
func (d *decoder) raw() (json.RawMessage, bool) {
	d.ws()
	start := d.i
	if !d.skip(0) {
		return nil, false
	}
	if d.alias {
		return json.RawMessage(d.b[start:d.i:d.i]), true
	}
	return append(json.RawMessage(nil), d.b[start:d.i]...), true
}

// nameField decodes a string field that repeats from packet to packet (a sender, an action
// or event name): a plain one is interned rather than allocated each time.
func (d *decoder) nameField(dst *string) bool {
	start := d.i
	if plain, ok := d.skipString(); ok && plain {
		*dst = intern(d.b[start+1 : d.i-1])
		return true
	}
	d.i = start
	return d.strField(dst)
}

// sameField decodes a string field that often equals another one already decoded (a
// top-level call's requestID is its id): then it shares that string.
func (d *decoder) sameField(dst *string, same string) bool {
	start := d.i
	if plain, ok := d.skipString(); ok && plain && string(d.b[start+1:d.i-1]) == same {
		*dst = same
		return true
	}
	d.i = start
	return d.strField(dst)
}

// names is a small cache of interned strings, one per slot of a hash of their bytes: a
// node sees few senders and action names, each over and over. A slot holds the last string
// hashed to it; lock-free, as decoders run on every transport goroutine at once.
var names [512]atomic.Pointer[string]

// maxInterned bounds what is interned: node IDs and action names are short.
const maxInterned = 64

func intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &names[h%uint32(len(names))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

// aliasField is strField for a string the broker uses only while it handles the packet (a
// response's id, looked up among the pending requests): with alias, a plain string is the
// body's own bytes rather than a copy. The body is never changed (see decoder.alias), so
// the string stays what it was; whoever keeps it past the packet must copy it.
func (d *decoder) aliasField(dst *string) bool {
	start := d.i
	if plain, ok := d.skipString(); ok && plain && d.alias {
		if raw := d.b[start+1 : d.i-1]; len(raw) > 0 {
			*dst = unsafe.String(&raw[0], len(raw))
		} else {
			*dst = ""
		}
		return true
	}
	d.i = start
	return d.strField(dst)
}

// stringPtr decodes a string or null into a *string field.
func (d *decoder) stringPtr() (*string, bool) {
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	s, ok := d.str()
	if !ok {
		return nil, false
	}
	return &s, true
}

// strField decodes a string field; null leaves it as it was (encoding/json's rule).
func (d *decoder) strField(dst *string) bool {
	if d.peek() == 'n' {
		return d.lit("null")
	}
	s, ok := d.str()
	*dst = s
	return ok
}

// fields walks a packet object, handing each key to field; a key seen twice is a fall-back
// (encoding/json's merging of repeated keys is not worth copying). field returns the key's
// bit (0: unknown key, a fall-back: encoding/json matches keys case-insensitively) and
// whether the value decoded.
func (d *decoder) fields(field func(key []byte) (uint32, bool)) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return d.end()
	}
	var seen uint32
	for {
		if d.peek() != '"' {
			return false
		}
		start := d.i
		plain, ok := d.skipString()
		if !ok || !plain || d.peek() != ':' {
			return false
		}
		key := d.b[start+1 : d.i-1]
		d.i++
		d.ws()
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return d.end()
		default:
			return false
		}
	}
}

// end reports whether only white space is left.
func (d *decoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

func (d *decoder) header(h *Header, key []byte) (uint32, bool) {
	switch string(key) {
	case "ver":
		if d.lit(`"` + ProtocolVersion + `"`) {
			h.Ver = ProtocolVersion // every packet's: no copy
			return 1 << 30, true
		}
		return 1 << 30, d.strField(&h.Ver)
	case "sender":
		return 1 << 31, d.nameField(&h.Sender)
	}
	return 0, true
}

func (d *decoder) floatField(dst *float64) bool {
	if d.peek() == 'n' {
		return d.lit("null")
	}
	f, ok := d.float()
	*dst = f
	return ok
}

func (d *decoder) intField(dst *int) bool {
	if d.peek() == 'n' {
		return d.lit("null")
	}
	n, ok := d.int()
	*dst = n
	return ok
}

func (d *decoder) boolField(dst *bool) bool {
	if d.peek() == 'n' {
		return d.lit("null")
	}
	v, ok := d.bool()
	*dst = v
	return ok
}

func (d *decoder) anyField(dst *any) bool {
	v, ok := d.value(0)
	*dst = v
	return ok
}

func decodeRequest(p *RequestPayload, body []byte, alias bool) bool {
	d := decoder{b: body, alias: alias}
	return d.fields(func(key []byte) (uint32, bool) {
		ok := true
		switch string(key) {
		case "id":
			return 1 << 0, d.strField(&p.ID)
		case "action":
			return 1 << 1, d.nameField(&p.Action)
		case "params":
			p.Params, ok = d.raw()
			return 1 << 2, ok
		case "meta":
			p.Meta, ok = d.mapField()
			return 1 << 3, ok
		case "headers":
			p.Headers, ok = d.readOnlyMapField()
			return 1 << 4, ok
		case "timeout":
			return 1 << 5, d.floatField(&p.Timeout)
		case "level":
			return 1 << 6, d.intField(&p.Level)
		case "tracing":
			return 1 << 7, d.anyField(&p.Tracing)
		case "parentID":
			p.ParentID, ok = d.stringPtr()
			return 1 << 8, ok
		case "requestID":
			return 1 << 9, d.sameField(&p.RequestID, p.ID)
		case "caller":
			p.Caller, ok = d.stringPtr()
			return 1 << 10, ok
		case "stream":
			return 1 << 11, d.boolField(&p.Stream)
		}
		return d.header(&p.Header, key)
	})
}

func decodeResponse(p *ResponsePayload, body []byte, alias bool) bool {
	d := decoder{b: body, alias: alias}
	return d.fields(func(key []byte) (uint32, bool) {
		ok := true
		switch string(key) {
		case "id":
			return 1 << 0, d.aliasField(&p.ID)
		case "meta":
			p.Meta, ok = d.readOnlyMapField()
			return 1 << 1, ok
		case "headers":
			p.Headers, ok = d.readOnlyMapField()
			return 1 << 2, ok
		case "success":
			return 1 << 3, d.boolField(&p.Success)
		case "data":
			p.Data, ok = d.raw()
			return 1 << 4, ok
		case "error":
			// An error answer: the whole packet goes to encoding/json (errs.Error's
			// fields), unless it is null.
			return 1 << 5, d.peek() == 'n' && d.lit("null")
		}
		return d.header(&p.Header, key)
	})
}

func decodeEvent(p *EventPayload, body []byte, alias bool) bool {
	d := decoder{b: body, alias: alias}
	return d.fields(func(key []byte) (uint32, bool) {
		ok := true
		switch string(key) {
		case "id":
			return 1 << 0, d.strField(&p.ID)
		case "event":
			return 1 << 1, d.nameField(&p.Event)
		case "data":
			p.Data, ok = d.raw()
			return 1 << 2, ok
		case "groups":
			p.Groups, ok = d.strings()
			return 1 << 3, ok
		case "broadcast":
			return 1 << 4, d.boolField(&p.Broadcast)
		case "meta":
			p.Meta, ok = d.mapField()
			return 1 << 5, ok
		case "headers":
			p.Headers, ok = d.readOnlyMapField()
			return 1 << 6, ok
		case "level":
			return 1 << 7, d.intField(&p.Level)
		case "tracing":
			return 1 << 8, d.anyField(&p.Tracing)
		case "parentID":
			p.ParentID, ok = d.stringPtr()
			return 1 << 9, ok
		case "requestID":
			return 1 << 10, d.strField(&p.RequestID)
		case "caller":
			p.Caller, ok = d.stringPtr()
			return 1 << 11, ok
		case "needAck":
			if d.peek() == 'n' {
				p.NeedAck = nil
				return 1 << 12, d.lit("null")
			}
			v, ok := d.bool()
			p.NeedAck = &v
			return 1 << 12, ok
		}
		return d.header(&p.Header, key)
	})
}

// strings decodes an array of strings or null into a []string field.
func (d *decoder) strings() ([]string, bool) {
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	if d.peek() != '[' {
		return nil, false
	}
	d.i++
	s := []string{}
	if d.peek() == ']' {
		d.i++
		return s, true
	}
	for {
		if d.peek() != '"' {
			return nil, false
		}
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		s = append(s, v)
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return s, true
		default:
			return nil, false
		}
	}
}

func decodeHeartbeat(p *HeartbeatPayload, body []byte, alias bool) bool {
	d := decoder{b: body, alias: alias}
	return d.fields(func(key []byte) (uint32, bool) {
		if string(key) == "cpu" {
			return 1 << 0, d.floatField(&p.CPU)
		}
		return d.header(&p.Header, key)
	})
}

// unmarshal decodes a packet body into p as json.Unmarshal does.
func unmarshal(body []byte, p any) error {
	var ok bool
	switch v := p.(type) {
	case *RequestPayload:
		if ok = decodeRequest(v, body, false); !ok {
			*v = RequestPayload{}
		}
	case *ResponsePayload:
		if ok = decodeResponse(v, body, false); !ok {
			*v = ResponsePayload{}
		}
	case *EventPayload:
		if ok = decodeEvent(v, body, false); !ok {
			*v = EventPayload{}
		}
	case *HeartbeatPayload:
		if ok = decodeHeartbeat(v, body, false); !ok {
			*v = HeartbeatPayload{}
		}
	}
	if ok {
		return nil
	}
	return json.Unmarshal(body, p)
}

// DecodeObject decodes a JSON object into a new map, as json.Unmarshal into a nil
// map[string]any does (null gives nil).
func DecodeObject(raw []byte) (map[string]any, error) {
	d := decoder{b: raw}
	if m, ok := d.object(0); ok && d.end() {
		return m, nil
	}
	var m map[string]any
	err := json.Unmarshal(raw, &m)
	return m, err
}

// DecodeValue decodes any JSON value as json.Unmarshal into an `any` does.
func DecodeValue(raw []byte) (any, error) {
	d := decoder{b: raw}
	if v, ok := d.value(0); ok && d.end() {
		return v, nil
	}
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}
