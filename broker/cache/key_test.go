package cache

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type keyVector struct {
	Keys                 []string `json:"keys"`
	Params               string   `json:"params"`
	Meta                 string   `json:"meta"`
	Key                  string   `json:"key"`
	KeyMaxParamsLength60 string   `json:"keyMaxParamsLength60"`
}

// TestKeyVectors checks Key against keys produced by Moleculer itself.
func TestKeyVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/cache-key-vectors.json")
	require.NoError(t, err)
	var vectors []keyVector
	require.NoError(t, json.Unmarshal(raw, &vectors))
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		t.Run(v.Key, func(t *testing.T) {
			params, err := ParseOrdered([]byte(v.Params))
			require.NoError(t, err)
			var meta map[string]any
			require.NoError(t, json.Unmarshal([]byte(v.Meta), &meta))
			assert.Equal(t, v.Key, Key("posts.find", params, meta, v.Keys, 0))
			assert.Equal(t, v.KeyMaxParamsLength60, Key("posts.find", params, meta, v.Keys, 60))
		})
	}
}

func b64sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func mustParse(t *testing.T, s string) any {
	t.Helper()
	v, err := ParseOrdered([]byte(s))
	require.NoError(t, err)
	return v
}

func TestKeyShapes(t *testing.T) {
	p := mustParse(t, `{"id":5,"tags":["x","y"],"a":null,"a.b":"lit","n":{"m":{"o":true}},"s":"héllo"}`)
	cases := []struct {
		name string
		keys []string
		meta map[string]any
		want string
	}{
		{"empty keys give the bare name", []string{}, nil, "posts.find"},
		{"one key is the value alone", []string{"id"}, nil, "posts.find:5"},
		{"one string key keeps its quotes", []string{"s"}, nil, `posts.find:"héllo"`},
		{"one array key", []string{"tags"}, nil, `posts.find:["x"|"y"]`},
		{"one object key is flattened", []string{"n"}, nil, `posts.find:m|o|true`},
		{"nested path", []string{"n.m.o"}, nil, "posts.find:true"},
		{"null value", []string{"a"}, nil, "posts.find:null"},
		{"path through null is undefined", []string{"a.b.c"}, nil, "posts.find:undefined"},
		{"a literal dotted name wins", []string{"a.b"}, nil, `posts.find:"lit"`},
		{"array index by dot", []string{"tags.1"}, nil, `posts.find:"y"`},
		{"array index by bracket", []string{"tags[0]"}, nil, `posts.find:"x"`},
		{"array length", []string{"tags.length"}, nil, `posts.find:2`},
		{"out of range index", []string{"tags.5"}, nil, `posts.find:undefined`},
		{"meta path", []string{"#user.id", "id"}, map[string]any{"user": map[string]any{"id": 7}}, "posts.find:7|5"},
		{"missing meta", []string{"#user.id", "id"}, nil, "posts.find:undefined|5"},
		{"meta root", []string{"#tenant"}, map[string]any{"tenant": "t1"}, `posts.find:"t1"`},
		{"several keys with undefined", []string{"nope", "id"}, nil, "posts.find:undefined|5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Key("posts.find", p, c.meta, c.keys, 0))
		})
	}
}

func TestKeyNilParamsIsEmptyObject(t *testing.T) {
	assert.Equal(t, "posts.find:", Key("posts.find", nil, nil, nil, 0))
	assert.Equal(t, "posts.find:undefined", Key("posts.find", nil, nil, []string{"id"}, 0))
}

// TestKeyObjectOrder covers JavaScript's property order: array-index keys first, ascending,
// then the others in insertion order; and JSON.parse's handling of repeated keys.
func TestKeyObjectOrder(t *testing.T) {
	assert.Equal(t, `x:1|3|2|2|b|1|a|4`, Key("x", mustParse(t, `{"b":1,"2":2,"1":3,"a":4}`), nil, nil, 0))
	assert.Equal(t, `x:01|1|4294967295|2`, Key("x", mustParse(t, `{"01":1,"4294967295":2}`), nil, nil, 0),
		"non-canonical and too-large numbers are ordinary keys")
	assert.Equal(t, `x:a|3|b|2`, Key("x", mustParse(t, `{"a":1,"b":2,"a":3}`), nil, nil, 0))
}

// TestKeyMapMatchesRemote: a local caller passing a Go map must get the key a remote node
// computes from the JSON encoding of that map.
func TestKeyMapMatchesRemote(t *testing.T) {
	params := map[string]any{
		"b": 1, "a": "x", "10": true, "9": nil, "z": []any{1.5, "q"},
		"n": map[string]any{"y": 1, "x": map[string]any{"k": "v"}},
	}
	raw, err := json.Marshal(params)
	require.NoError(t, err)
	remote := mustParse(t, string(raw))
	assert.Equal(t, Key("svc.a", remote, nil, nil, 0), Key("svc.a", params, nil, nil, 0))
	assert.Equal(t, `svc.a:9|null|10|true|a|"x"|b|1|n|x|k|"v"|y|1|z|[1.5|"q"]`, Key("svc.a", params, nil, nil, 0))
	for _, keys := range [][]string{{"n"}, {"n.x", "b"}, {"z"}} {
		assert.Equal(t, Key("svc.a", remote, nil, keys, 0), Key("svc.a", params, nil, keys, 0), "%v", keys)
	}
}

func TestKeyGoValues(t *testing.T) {
	type inner struct {
		Z int `json:"z"`
		A int `json:"a"`
	}
	type params struct {
		ID    int64             `json:"id"`
		Name  string            `json:"name"`
		Ratio float32           `json:"ratio"`
		In    inner             `json:"in"`
		Tags  []string          `json:"tags"`
		Attrs map[string]string `json:"attrs"`
		Skip  string            `json:"-"`
	}
	p := params{ID: 5, Name: "n", Ratio: 1.1, In: inner{Z: 1, A: 2}, Tags: []string{"t"}, Attrs: map[string]string{"y": "1", "x": "2"}}
	want := `svc.a:id|5|name|"n"|ratio|1.1|in|z|1|a|2|tags|["t"]|attrs|x|"2"|y|"1"`
	assert.Equal(t, want, Key("svc.a", p, nil, nil, 0), "struct fields in declaration order, as encoding/json writes them")
	assert.Equal(t, want, Key("svc.a", &p, nil, nil, 0))
	assert.Equal(t, `svc.a:z|1|a|2`, Key("svc.a", p, nil, []string{"in"}, 0))

	m := map[string]any{
		"i": int8(-3), "u": uint64(1) << 60, "f": float32(0.1), "n": json.Number("1e21"),
		"raw": json.RawMessage(`{"b":1,"a":2}`), "d": time.UnixMilli(1700000000123),
	}
	assert.Equal(t, `svc.a:d|1700000000123|f|0.1|i|-3|n|1e+21|raw|b|1|a|2|u|1152921504606847000`, Key("svc.a", m, nil, nil, 0))
}

func TestAppendJSNumber(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	cases := map[float64]string{
		0: "0", math.Copysign(0, -1): "0", 5: "5", -5: "-5", 1.5: "1.5", tenth + fifth: "0.30000000000000004",
		1e21: "1e+21", 1e20: "100000000000000000000", 123456789012345680000: "123456789012345680000",
		1.5e300: "1.5e+300", 0.000001: "0.000001", 0.0000001: "1e-7", 1.2345e-7: "1.2345e-7",
		-2.5e-10: "-2.5e-10", 9007199254740993: "9007199254740992", 123.456: "123.456",
		math.MaxFloat64: "1.7976931348623157e+308", 5e-324: "5e-324",
		math.Inf(1): "Infinity", math.Inf(-1): "-Infinity", math.NaN(): "NaN",
	}
	for f, want := range cases {
		assert.Equal(t, want, string(appendJSNumber(nil, f)), "%v", f)
	}
}

func TestHashedKey(t *testing.T) {
	long := strings.Repeat("x", 100)
	assert.Equal(t, long, hashedKey(long, 0), "0 never shortens")
	assert.Equal(t, long, hashedKey(long, 43), "below 44 never shortens, as in Moleculer")
	assert.Equal(t, b64sha(long), hashedKey(long, 44), "44 leaves the digest alone")
	assert.Equal(t, long[:16]+b64sha(long), hashedKey(long, 60))
	assert.Equal(t, long[:60], hashedKey(long[:60], 60), "exactly max is kept")

	// Lengths count UTF-16 units, as JavaScript's .length does: 44 "é" are 88 bytes but fit.
	e44 := strings.Repeat("é", 44)
	assert.Equal(t, e44, hashedKey(e44, 44))
	// An astral character is two units; cutting it in half leaves U+FFFD.
	s := "😀" + strings.Repeat("y", 50)
	assert.Equal(t, "\uFFFD"+b64sha(s), hashedKey(s, 45))
	assert.Equal(t, "😀"+b64sha(s), hashedKey(s, 46))
}

func TestKeyMultiKeyHashesObjectsSeparately(t *testing.T) {
	query := strings.Repeat("q", 80)
	p := mustParse(t, `{"query":{"text":"`+query+`"},"limit":10}`)
	objPart := `text|"` + query + `"`
	// The object is shortened on its own, then the joined parts as a whole.
	joined := b64sha(objPart) + "|10"
	assert.Equal(t, "posts.find:"+b64sha(joined), Key("posts.find", p, nil, []string{"query", "limit"}, 44))
	joined = objPart[:16] + b64sha(objPart) + "|10"
	assert.Equal(t, "posts.find:"+joined[:16]+b64sha(joined), Key("posts.find", p, nil, []string{"query", "limit"}, 60))
	// A single object key is shortened once.
	assert.Equal(t, "posts.find:"+objPart[:16]+b64sha(objPart), Key("posts.find", p, nil, []string{"query"}, 60))
}

func TestParseOrdered(t *testing.T) {
	v := mustParse(t, ` {"b":[1,{"d":null,"c":"s"}],"a":{}} `)
	assert.Equal(t, Object{
		{"b", []any{1.0, Object{{"d", nil}, {"c", "s"}}}},
		{"a", Object{}},
	}, v)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, `{"b":[1,{"d":null,"c":"s"}],"a":{}}`, string(out), "MarshalJSON keeps the order")

	var o Object
	require.NoError(t, json.Unmarshal([]byte(`{"z":1,"y":2}`), &o))
	assert.Equal(t, Object{{"z", 1.0}, {"y", 2.0}}, o)
	got, ok := o.Get("y")
	assert.True(t, ok)
	assert.Equal(t, 2.0, got)
	assert.Error(t, json.Unmarshal([]byte(`[1]`), &o))

	assert.Equal(t, 12345678901234567000.0, mustParse(t, `12345678901234567890`), "numbers are doubles")
	assert.True(t, math.IsInf(mustParse(t, `1e400`).(float64), 1), "overflow is Infinity, as in JSON.parse")
	for _, bad := range []string{``, `{`, `{"a":1}x`, `[1,]`, `{"a" 1}`, `nul`} {
		_, err := ParseOrdered([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}

	// Many duplicate keys: the indexed path keeps first position, last value.
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 40 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"k` + string(rune('A'+i%20)) + `":` + string(rune('0'+i/20)))
	}
	sb.WriteString("}")
	obj := mustParse(t, sb.String()).(Object)
	require.Len(t, obj, 20)
	assert.Equal(t, Field{"kA", 1.0}, obj[0])
}

func TestSplitPath(t *testing.T) {
	cases := map[string][]string{
		"a.b":          {"a", "b"},
		"a[0].b":       {"a", "0", "b"},
		`a["x.y"].z`:   {"a", "x.y", "z"},
		`a['q']`:       {"a", "q"},
		"a..b":         {"a", "", "b"},
		".a":           {"", "a"},
		"a.":           {"a", ""},
		"[1][2]":       {"1", "2"},
		`a["e\"sc"]`:   {"a", `e"sc`},
		"deep.er.path": {"deep", "er", "path"},
	}
	for in, want := range cases {
		assert.Equal(t, want, splitPath(in), "%q", in)
	}
}

// BenchmarkKeyVectors builds every key of the Moleculer vectors, with and without
// maxParamsLength; ns/op is per key. The params are ordered objects, as decoded from a
// remote caller's packet ("ordered"), or plain maps, as a local Go caller passes them ("map").
func BenchmarkKeyVectors(b *testing.B) {
	raw, err := os.ReadFile("testdata/cache-key-vectors.json")
	if err != nil {
		b.Fatal(err)
	}
	var vectors []keyVector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		b.Fatal(err)
	}
	type input struct {
		ordered, asMap any
		meta           map[string]any
		keys           []string
		max            int
		want           string
	}
	var in []input
	for _, v := range vectors {
		ordered, err := ParseOrdered([]byte(v.Params))
		if err != nil {
			b.Fatal(err)
		}
		var asMap, meta map[string]any
		if err := json.Unmarshal([]byte(v.Params), &asMap); err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal([]byte(v.Meta), &meta); err != nil {
			b.Fatal(err)
		}
		in = append(in, input{ordered, asMap, meta, v.Keys, 0, v.Key},
			input{ordered, asMap, meta, v.Keys, 60, v.KeyMaxParamsLength60})
	}
	for _, x := range in {
		if k := Key("posts.find", x.ordered, x.meta, x.keys, x.max); k != x.want {
			b.Fatalf("key %q, want %q", k, x.want)
		}
	}
	for _, shape := range []string{"ordered", "map"} {
		b.Run(shape, func(b *testing.B) {
			params := make([]any, len(in))
			for i, x := range in {
				params[i] = x.ordered
				if shape == "map" {
					params[i] = x.asMap
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				x := &in[i]
				_ = Key("posts.find", params[i], x.meta, x.keys, x.max)
				if i++; i == len(in) {
					i = 0
				}
			}
		})
	}
}
