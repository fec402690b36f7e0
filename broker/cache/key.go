package cache

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// hashLen is the length of a base64 SHA-256 digest; Moleculer keeps maxParamsLength-hashLen
// characters of a long params part in front of its digest.
const hashLen = 44

// Key builds the cache key Moleculer's default key generator builds for a call of action.
//
//   - keys == nil (no `keys` option): "action:" + every param flattened, e.g.
//     posts.find:limit|10|offset|30.
//   - len(keys) == 0: the bare action name.
//   - one key: "action:" + that value alone (posts.find:5).
//   - several keys: the values joined by "|"; an object or array value is itself shortened
//     (see below) before joining.
//
// A key starting with "#" is a dotted path into meta, any other a dotted path into params
// (lodash _.get semantics). Strings are written in double quotes (not escaped), numbers as
// JavaScript prints them, arrays as [a|b], objects as k|v|k|v, null as null and a missing
// value as undefined.
//
// With maxParamsLength >= 44, a params part longer than that (in UTF-16 units, as JavaScript
// counts) becomes its first maxParamsLength-44 characters followed by the base64 SHA-256 of
// the whole part. maxParamsLength 0 (or below 44, as in Moleculer) never shortens.
//
// params is normally an Object (from ParseOrdered: field order as received, which is what
// Moleculer uses) or a map[string]any (whose keys are taken sorted: see sortedMapKeys). A nil
// params is Moleculer's default empty params object; a nil meta is an empty meta.
func Key(action string, params any, meta map[string]any, keys []string, maxParamsLength int) string {
	if keys != nil && len(keys) == 0 {
		return action
	}
	if params == nil {
		params = Object{}
	}
	// Keys are built in a stack buffer and copied once into the returned string.
	var scratch [256]byte
	buf := append(scratch[:0], action...)
	buf = append(buf, ':')
	start := len(buf)

	switch len(keys) {
	case 0: // keys == nil: all params
		buf = appendKeyValue(buf, params)
	case 1:
		buf = appendKeyValue(buf, lookupKey(keys[0], params, meta))
	default:
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, '|')
			}
			val := jsValue(lookupKey(k, params, meta))
			switch val.(type) {
			case Object, map[string]any, []any, time.Time: // JS objects: shortened on their own
				mark := len(buf)
				buf = appendKeyValue(buf, val)
				buf = shorten(buf, mark, maxParamsLength)
			default:
				buf = appendKeyValue(buf, val)
			}
		}
	}
	return string(shorten(buf, start, maxParamsLength))
}

// shorten applies hashedKey to buf[from:] in place.
//
// A UTF-8 string is never shorter in bytes than in UTF-16 units, so a part that fits in
// bytes fits for Moleculer too, and only a longer one needs the real check.
func shorten(buf []byte, from, maxParamsLength int) []byte {
	if maxParamsLength < hashLen || len(buf)-from <= maxParamsLength {
		return buf
	}
	part := buf[from:]
	if utf16LenBytes(part) <= maxParamsLength {
		return buf
	}
	sum := sha256.Sum256(part)
	buf = buf[:from]
	if prefixLen := maxParamsLength - hashLen; prefixLen >= 1 {
		cut, half := utf16PrefixBytes(part, prefixLen)
		buf = buf[:from+cut] // the prefix is already in place
		if half {
			buf = append(buf, "\uFFFD"...)
		}
	}
	return base64.StdEncoding.AppendEncode(buf, sum[:])
}

// lookupKey resolves one `keys` entry. Moleculer also reads "@"-prefixed keys from call
// headers; Faultline's calls carry none, and with no headers Moleculer itself falls back to
// reading "@name" from params, which is what this does.
func lookupKey(key string, params any, meta map[string]any) any {
	if len(key) > 0 && key[0] == '#' {
		if meta == nil {
			return undefined{}
		}
		return dotGet(meta, key[1:])
	}
	return dotGet(params, key)
}

// appendKeyValue is Moleculer's _generateKeyFromObject.
func appendKeyValue(dst []byte, v any) []byte {
	switch x := jsValue(v).(type) {
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, '|')
			}
			dst = appendKeyValue(dst, e)
		}
		return append(dst, ']')
	case time.Time: // a JS Date is written as its valueOf(): epoch milliseconds
		return appendJSNumber(dst, float64(x.UnixMilli()))
	case Object:
		order := objectKeyOrder(x)
		for i := range x {
			f := x[i]
			if order != nil {
				f = x[order[i]]
			}
			if i > 0 {
				dst = append(dst, '|')
			}
			dst = append(dst, f.Key...)
			dst = append(dst, '|')
			dst = appendKeyValue(dst, f.Value)
		}
		return dst
	case map[string]any:
		var small [8]string
		for i, k := range sortedMapKeys(x, small[:0]) {
			if i > 0 {
				dst = append(dst, '|')
			}
			dst = append(dst, k...)
			dst = append(dst, '|')
			dst = appendKeyValue(dst, x[k])
		}
		return dst
	case string:
		dst = append(dst, '"')
		dst = append(dst, x...)
		return append(dst, '"')
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case float64:
		return appendJSNumber(dst, x)
	case nil:
		return append(dst, "null"...)
	default: // undefined
		return append(dst, "undefined"...)
	}
}

// hashedKey is Moleculer's _hashedKey.
func hashedKey(key string, maxParamsLength int) string {
	if maxParamsLength < hashLen || utf16Len(key) <= maxParamsLength {
		return key
	}
	return string(appendHashedKey(nil, key, maxParamsLength))
}

// appendHashedKey appends hashedKey(key, maxParamsLength) to dst.
func appendHashedKey(dst []byte, key string, maxParamsLength int) []byte {
	if maxParamsLength < hashLen || utf16Len(key) <= maxParamsLength {
		return append(dst, key...)
	}
	sum := sha256.Sum256([]byte(key))
	if prefixLen := maxParamsLength - hashLen; prefixLen >= 1 {
		dst = append(dst, utf16Prefix(key, prefixLen)...)
	}
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}
