package header

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Read agrees with encoding/json on every input: an error exactly when the body is not
// one JSON object, and otherwise the top-level "ver" and "sender" strings (the last of each,
// as encoding/json keeps). Seeded with the captured Moleculer packets.
func FuzzRead(f *testing.F) {
	raw, err := os.ReadFile("../../testdata/wire-sample-v5.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, part := range strings.Split(string(raw), "\nMOL") {
		if i := strings.Index(part, "{"); i >= 0 {
			f.Add([]byte(part[i:]))
		}
	}
	for _, s := range []string{`{"ver":"5","sender":"a"}`, ` { "sender" : "a\"b\u00e9" , "ver":"5", "x":{"ver":"4"} } `,
		`{"ver":5}`, `[]`, `"x"`, `{"a":[1,{"b":"]"}],"ver":"5","ver":"6"}`, `{`, ``, `{"Ver":"5"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := Read(body)
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(body, &m)
		if jerr != nil || m == nil {
			if err == nil && !(jerr == nil && m == nil) {
				t.Fatalf("Read(%q) = %+v, nil; encoding/json: %v", body, h, jerr)
			}
			if jerr == nil && m == nil && err == nil {
				t.Fatalf("Read(%q) accepted null", body)
			}
			return
		}
		if err != nil {
			t.Fatalf("Read(%q): %v; encoding/json accepts it", body, err)
		}
		want := func(key string) string {
			var s string
			_ = json.Unmarshal(m[key], &s)
			return s
		}
		if h.Ver != want("ver") || h.Sender != want("sender") {
			t.Fatalf("Read(%q) = %+v, want ver %q sender %q", body, h, want("ver"), want("sender"))
		}
	})
}

// The header check of one REQ-sized packet, and the json.Unmarshal it replaced.
var benchREQ = []byte(`{"id":"be731c13-9dcb-4457-a133-2bd56fafe735","action":"math.add","params":{"a":1,"b":2},"meta":{},"headers":{},` +
	`"timeout":0,"level":1,"tracing":null,"parentID":null,"requestID":"be731c13-9dcb-4457-a133-2bd56fafe735","caller":null,"stream":false,"ver":"5","sender":"caller"}`)

func BenchmarkRead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if h, err := Read(benchREQ); err != nil || h.Sender != "caller" {
			b.Fatal(h, err)
		}
	}
}

func BenchmarkHeaderUnmarshal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var h struct {
			Ver    string `json:"ver"`
			Sender string `json:"sender"`
		}
		if err := json.Unmarshal(benchREQ, &h); err != nil || h.Sender != "caller" {
			b.Fatal(h, err)
		}
	}
}
