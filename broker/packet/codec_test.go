package packet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/broker/errs"
)

// wireSample returns the bodies of the packets Moleculer 0.15.2 sent, by packet type, from
// the capture the NATS transport's tests use.
func wireSample(t testing.TB) map[Type][][]byte {
	t.Helper()
	f, err := os.Open("../transport/nats/testdata/wire-sample-v5.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[Type][][]byte{}
	var typ Type
	var body bytes.Buffer
	flush := func() {
		if typ != "" && body.Len() > 0 {
			out[typ] = append(out[typ], bytes.Clone(body.Bytes()))
		}
		typ = ""
		body.Reset()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "MOL."):
			flush()
			typ = Type(strings.Split(line, ".")[1])
		case line == "":
			flush()
		case typ != "":
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	return out
}

func newPayload(t testing.TB, typ Type) any {
	p, err := New(typ)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkDecode decodes body with the codec and with encoding/json and requires the same
// value and the same verdict; it returns the codec's value (nil on error).
func checkDecode(t testing.TB, typ Type, body []byte) any {
	t.Helper()
	got, want := newPayload(t, typ), newPayload(t, typ)
	gotErr, wantErr := unmarshal(body, got), json.Unmarshal(body, want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s %q: codec error %v, encoding/json error %v", typ, body, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q:\ncodec         %#v\nencoding/json %#v", typ, body, got, want)
	}
	if gotErr != nil {
		return nil
	}
	return got
}

// checkMarshal requires Marshal to write what json.Marshal writes, or to fail where it fails.
func checkMarshal(t testing.TB, p any) {
	t.Helper()
	got, gotErr := Marshal(p)
	want, wantErr := json.Marshal(p)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%#v: codec error %v, encoding/json error %v", p, gotErr, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%#v:\ncodec         %s\nencoding/json %s", p, got, want)
	}
	// AppendMarshal writes the same bytes after what the buffer holds, which it keeps on
	// an error.
	prefix := []byte("prefix")
	appended, appendErr := AppendMarshal(prefix[:len(prefix):len(prefix)], p)
	if (appendErr == nil) != (wantErr == nil) || string(appended) != "prefix"+string(want) {
		t.Fatalf("%#v: AppendMarshal = %q, %v; want %q", p, appended, appendErr, "prefix"+string(want))
	}
}

// TestCodecWireSample: Moleculer's own packets take the fast path both ways and come out as
// encoding/json has them.
func TestCodecWireSample(t *testing.T) {
	sample := wireSample(t)
	fast := map[Type]func(any, []byte) bool{
		Request:   func(p any, b []byte) bool { return decodeRequest(p.(*RequestPayload), b, false) },
		Response:  func(p any, b []byte) bool { return decodeResponse(p.(*ResponsePayload), b, false) },
		Event:     func(p any, b []byte) bool { return decodeEvent(p.(*EventPayload), b, false) },
		Heartbeat: func(p any, b []byte) bool { return decodeHeartbeat(p.(*HeartbeatPayload), b, false) },
	}
	counts := map[Type]int{}
	for typ, bodies := range sample {
		for _, body := range bodies {
			p := checkDecode(t, typ, body)
			checkMarshal(t, p)
			isFast, ok := fast[typ]
			if !ok {
				continue
			}
			errorAnswer := typ == Response && p.(*ResponsePayload).Error != nil
			if got := isFast(newPayload(t, typ), body); got == errorAnswer {
				t.Errorf("%s %s: fast path taken = %v, want %v", typ, body, got, !errorAnswer)
			}
			counts[typ]++
		}
	}
	// REQ, two RES (a result and a ValidationError), two EVENT (emit, broadcast), HEARTBEAT.
	want := map[Type]int{Request: 1, Response: 2, Event: 2, Heartbeat: 1}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("packets checked per type: %v, want %v", counts, want)
	}
}

// TestCodecDecodeEdges: inputs where encoding/json has a rule of its own; each must come out
// as encoding/json decodes it (most through the fall-back).
func TestCodecDecodeEdges(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		body string
	}{
		{Request, `{"id":"r","action":"a","params":{ "x" : [1, 2.5e3, -0, "\u00e9\n"] },"ver":"5","sender":"n"}`},
		{Request, `{"id":"r","action":"a","params":null,"meta":null,"headers":{},"parentID":"p","caller":"c","ver":"5","sender":"n"}`},
		{Request, `{"ID":"r","action":"a","ver":"5","sender":"n"}`},                  // case-insensitive key
		{Request, `{"id":"r","id":"s","action":"a","ver":"5","sender":"n"}`},         // repeated key
		{Request, `{"id":"r","meta":{"a":1},"meta":{"b":2},"ver":"5","sender":"n"}`}, // repeated map: merged
		{Request, `{"id":"r","action":"a","level":1.5,"ver":"5","sender":"n"}`},      // not an int
		{Request, `{"id":"r","action":"a","level":99999999999999999999,"ver":"5","sender":"n"}`},
		{Request, `{"id":"r","action":"a","timeout":1e400,"ver":"5","sender":"n"}`},
		{Request, `{"id":5,"action":"a","ver":"5","sender":"n"}`},
		{Request, `{"id":null,"action":"a","stream":null,"timeout":null,"level":null,"ver":"5","sender":"n"}`},
		{Request, `{"id":"a\"b","action":"caf\u00e9","sender":"\xff\xfe","ver":"5"}`},
		{Request, `{"id":"é","action":"a","ver":"5","sender":"n","extra":{"deep":[[[]]]}}`},
		{Request, `{"id":"r","action":"a","tracing":{"a":[true,false,null,"x",0.1]},"ver":"5","sender":"n"}`},
		{Request, ` {"id":"r" , "action":"a"} `},
		{Request, `{"id":"r","action":"a"} x`},
		{Request, `{"id":"r","action":"a",}`},
		{Request, `{"id":"r","params":{"a":01}}`},
		{Request, `{"id":"r","params":{"a":"\x01"}}`},
		{Request, `{"id":"r","params":{"a":"\q"}}`},
		{Request, `{"id":"r","params":{"a":"\u12"}}`},
		{Request, `{"id":"r","params":[1,]}`},
		{Request, `{"id":"r","params":{"a" 1}}`},
		{Request, `null`},
		{Request, `[]`},
		{Request, ``},
		{Request, `{}`},
		{Response, `{"id":"r","success":true,"data":null,"meta":{},"headers":{},"ver":"5","sender":"n"}`},
		{Response, `{"id":"r","success":false,"data":null,"error":null,"ver":"5","sender":"n"}`},
		{Response, `{"id":"r","success":false,"data":null,"error":{"name":"E","code":501,"data":{"a":1}},"ver":"5","sender":"n"}`},
		{Response, `{"id":"r","success":"yes","ver":"5","sender":"n"}`},
		{Event, `{"id":"e","event":"x","groups":[],"needAck":true,"broadcast":true,"ver":"5","sender":"n"}`},
		{Event, `{"id":"e","event":"x","groups":null,"needAck":null,"ver":"5","sender":"n"}`},
		{Event, `{"id":"e","event":"x","groups":["a","b\u0041"],"needAck":false,"ver":"5","sender":"n"}`},
		{Event, `{"id":"e","event":"x","groups":[1],"ver":"5","sender":"n"}`},
		{Heartbeat, `{"cpu":12.5,"ver":"5","sender":"n"}`},
		{Heartbeat, `{"cpu":-0,"ver":"5","sender":"n"}`},
		{Heartbeat, `{"cpu":"12","ver":"5","sender":"n"}`},
	} {
		checkDecode(t, c.typ, []byte(c.body))
	}
}

// TestCodecMarshalEdges: values where encoding/json has a rule of its own.
func TestCodecMarshalEdges(t *testing.T) {
	s := func(v string) *string { return &v }
	yes := true
	many := map[string]any{}
	for _, k := range strings.Split("q w e r t y u i o p a s d f g h j k l z", " ") {
		many[k] = k
	}
	deep := any("x")
	for range 100 {
		deep = []any{map[string]any{"d": deep}}
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	type named map[string]any
	for _, p := range []any{
		&RequestPayload{},
		&RequestPayload{ID: "r", Action: "a", Params: json.RawMessage(`{"a":1}`), Meta: map[string]any{}, Headers: map[string]any{},
			Timeout: 1500.25, Level: 3, ParentID: s("p"), Caller: s("c"), RequestID: "q", Header: Header{Ver: "5", Sender: "n"}},
		&RequestPayload{Params: json.RawMessage(`{ "a" : 1 }`)},
		&RequestPayload{Params: json.RawMessage(`{"a":"<b>&"}`)},
		&RequestPayload{Params: json.RawMessage(`{"a":`)},
		&RequestPayload{Params: json.RawMessage{}},
		&RequestPayload{ID: "<tag> & \"quote\" \\ \n \t \x01 é \u2028 \xff"},
		&RequestPayload{Meta: map[string]any{"b": 1.0, "a": []any{nil, true, "x", 0.1, 1e-7, 1e21, 123456789012345678.0, -0.0, math.MaxFloat64, 5e-324}}},
		&RequestPayload{Meta: map[string]any{"n": math.NaN()}},
		&RequestPayload{Meta: map[string]any{"inf": math.Inf(1)}},
		&RequestPayload{Meta: many},
		&RequestPayload{Meta: map[string]any{"deep": deep}},
		&RequestPayload{Meta: cyclic},
		&RequestPayload{Meta: map[string]any{"typed": named{"z": 1, "a": 2}, "ints": []int{1, 2}, "int": 7, "raw": json.RawMessage(` [1] `),
			"struct": struct{ A int }{1}, "nilmap": map[string]any(nil), "nilslice": []any(nil), "e\u00e9": "k"}},
		&RequestPayload{Tracing: map[string]any{"span": "s"}, Timeout: 1e-9},
		&ResponsePayload{ID: "r", Success: true, Data: json.RawMessage(`"Hello Ann"`), Meta: map[string]any{"user": map[string]any{"id": 7.0}}},
		&ResponsePayload{ID: "r", Data: json.RawMessage("null"), Error: errs.New("boom <x>", 500, "T", map[string]any{"a": 1})},
		&EventPayload{ID: "e", Event: "user.created", Data: json.RawMessage(`{"id":1}`), Groups: []string{"mail", "<x>"}, NeedAck: &yes},
		&EventPayload{Groups: []string{}},
		&HeartbeatPayload{CPU: 12.5, Header: Header{Ver: "5", Sender: "n"}},
		&HeartbeatPayload{CPU: math.Inf(-1)},
		&InfoPayload{Services: []ServiceInfo{{Name: "s"}}},
	} {
		checkMarshal(t, p)
	}
}

// TestCodecValues: the value helpers the broker uses for params and results.
func TestCodecValues(t *testing.T) {
	for _, raw := range []string{`{"a":1,"b":[true,null,"x"],"c":{"d":-2.5e-3}}`, `{}`, `null`, `[1]`, `"s"`, `{"a":1}x`, `{"a":"\u00e9\ud83d\ude00"}`, `{"a":1,"a":2}`} {
		gotM, gotErr := DecodeObject([]byte(raw))
		var wantM map[string]any
		wantErr := json.Unmarshal([]byte(raw), &wantM)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(gotM, wantM) {
			t.Fatalf("DecodeObject(%s) = %#v, %v; encoding/json %#v, %v", raw, gotM, gotErr, wantM, wantErr)
		}
		gotV, gotErr := DecodeValue([]byte(raw))
		var wantV any
		wantErr = json.Unmarshal([]byte(raw), &wantV)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(gotV, wantV) {
			t.Fatalf("DecodeValue(%s) = %#v, %v; encoding/json %#v, %v", raw, gotV, gotErr, wantV, wantErr)
		}
		if gotErr == nil {
			out, err := AppendValue([]byte("prefix"), gotV)
			want, _ := json.Marshal(gotV)
			if err != nil || string(out) != "prefix"+string(want) {
				t.Fatalf("AppendValue(%#v) = %s, %v; want prefix%s", gotV, out, err, want)
			}
		}
	}
	if _, err := AppendValue(nil, map[string]any{"f": func() {}}); err == nil {
		t.Fatal("AppendValue of a func: no error")
	}
}

// FuzzCodec: for any body, the codec decodes every fast-path packet type as encoding/json
// does, and encodes what it decoded as encoding/json does.
func FuzzCodec(f *testing.F) {
	for typ, bodies := range wireSample(f) {
		for _, b := range bodies {
			f.Add(string(typ), b)
		}
	}
	f.Add("REQ", []byte(`{"id":"r","params":{"a":[1,{"b":"\u00e9"}]},"meta":{"x":null}}`))
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		switch Type(typ) {
		case Request, Response, Event, Heartbeat:
		default:
			typ = string(Request)
		}
		if p := checkDecode(t, Type(typ), body); p != nil {
			checkMarshal(t, p)
		}
		got, gotErr := DecodeValue(body)
		var want any
		wantErr := json.Unmarshal(body, &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeValue(%q) = %#v, %v; encoding/json %#v, %v", body, got, gotErr, want, wantErr)
		}
		if gotErr == nil {
			out, err := AppendValue(nil, got)
			raw, _ := json.Marshal(got)
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("AppendValue(%#v) = %s, %v; encoding/json %s", got, out, err, raw)
			}
		}
	})
}

// DecodeExact takes the packets Moleculer writes (the captured REQ, RES, EVENT, HEARTBEAT)
// and leaves everything else to Decode.
func TestDecodeExact(t *testing.T) {
	sample := wireSample(t)
	accepted := 0
	for _, typ := range []Type{Request, Response, Event, Heartbeat} {
		for _, body := range sample[typ] {
			p, sender, ok := DecodeExact(typ, body)
			want, err := Decode(Message{Type: typ, Body: body})
			if r, isRes := want.(*ResponsePayload); isRes && r.Error != nil {
				if ok { // an error answer goes to encoding/json (errs.Error's fields)
					t.Fatalf("DecodeExact took an error answer: %s", body)
				}
				continue
			}
			if err != nil || !ok || !reflect.DeepEqual(p, want) || sender != header(want).Sender || sender == "" {
				t.Fatalf("%s %s: DecodeExact = %v %q %v; Decode = %v, %v", typ, body, p, sender, ok, want, err)
			}
			accepted++
		}
	}
	if accepted < 4 {
		t.Fatalf("only %d captured packets of the four kinds", accepted)
	}
	for _, c := range []struct {
		typ  Type
		body string
	}{
		{Info, `{"ver":"5","sender":"a","services":[]}`},                                     // no exact decoder for INFO
		{Request, `{"ver":"5","Sender":"a","id":"1","action":"x"}`},                          // a key in another case
		{Request, `{"ver":"5","sender":"a","sender":"b","id":"1","action":"x"}`},             // a repeated key
		{Request, `{"ver":"4","sender":"a","id":"1","action":"x"}`},                          // protocol 4
		{Request, `{"ver":"5","id":"1","action":"x"}`},                                       // no sender
		{Request, `{"ver":"5","sender":"a","action":"x"}`},                                   // no id
		{Response, `{"ver":"5","sender":"a","id":"1","success":false,"error":{"name":"E"}}`}, // an error answer
		{Event, `{"ver":"5","sender":"a","id":"1","event":"e"} x`},                           // trailing bytes
		{Heartbeat, `{"ver":"5","sender":"a","cpu":"high"}`},                                 // a field of the wrong type
	} {
		if p, sender, ok := DecodeExact(c.typ, []byte(c.body)); ok || p != nil || sender != "" {
			t.Errorf("DecodeExact(%s, %s) = %v %q %v, want a fall-back", c.typ, c.body, p, sender, ok)
		}
	}
}

// DecodeExact allocates only what the payload owns: the struct, its id and its meta (an
// empty headers object is one shared map). The sender and action are interned, a top-level call's requestID shares
// its id, and params is a slice of the body, capped so that an append cannot write into it.
func TestDecodeExactAllocations(t *testing.T) {
	body := []byte(`{"id":"be731c13-9dcb-4457-a133-2bd56fafe735","action":"math.add","params":{"a":1,"b":2},"meta":{},"headers":{},` +
		`"timeout":0,"level":1,"tracing":null,"parentID":null,"requestID":"be731c13-9dcb-4457-a133-2bd56fafe735","caller":null,"stream":false,"ver":"5","sender":"caller"}`)
	DecodeExact(Request, body) // interns the names
	if n := testing.AllocsPerRun(100, func() { DecodeExact(Request, body) }); n != 3 {
		t.Fatalf("DecodeExact of a REQ: %v allocations, want 3", n)
	}
	p, _, _ := DecodeExact(Request, body)
	r := p.(*RequestPayload)
	if string(r.Params) != `{"a":1,"b":2}` || r.RequestID != r.ID || r.Sender != "caller" || r.Action != "math.add" {
		t.Fatalf("decoded %+v", r)
	}
	_ = append(r.Params, 'x')
	if !bytes.Contains(body, []byte(`{"a":1,"b":2},"meta"`)) {
		t.Fatalf("an append to params wrote into the body: %s", body)
	}
	// Decode, for a body it may not keep (a transporter that reuses its read buffer),
	// copies params.
	q, _ := Decode(Message{Type: Request, Body: body})
	if &q.(*RequestPayload).Params[0] == &body[bytes.Index(body, []byte(`{"a"`))] {
		t.Fatal("Decode's params alias the body")
	}
}

// A released REQ or RES payload comes back all zero, so no field of one call's packet can
// leak into the next one decoded into the same struct; with the struct reused, a REQ costs
// only its id and its meta.
func TestReleaseRecyclesZeroed(t *testing.T) {
	req := []byte(`{"id":"1","action":"math.add","params":{"a":1},"meta":{"m":1},"headers":{},"timeout":50,"level":2,` +
		`"tracing":null,"parentID":"0","requestID":"r","caller":"c","stream":false,"ver":"5","sender":"caller"}`)
	res := []byte(`{"id":"1","meta":{"m":1},"headers":{},"success":true,"data":3,"error":null,"ver":"5","sender":"server"}`)
	for range 50 { // sync.Pool gives no promise to return the same struct: try it many times
		p, _, ok := DecodeExact(Request, req)
		if !ok {
			t.Fatal("the REQ did not decode")
		}
		Release(p)
		if q, _ := New(Request); !reflect.DeepEqual(q, &RequestPayload{}) {
			t.Fatalf("a recycled REQ payload is not zero: %+v", q)
		}
		p, _, ok = DecodeExact(Response, res)
		if !ok {
			t.Fatal("the RES did not decode")
		}
		Release(p)
		if q, _ := New(Response); !reflect.DeepEqual(q, &ResponsePayload{}) {
			t.Fatalf("a recycled RES payload is not zero: %+v", q)
		}
	}
	// A top-level call's REQ, as TestDecodeExactAllocations's.
	top := []byte(`{"id":"be731c13-9dcb-4457-a133-2bd56fafe735","action":"math.add","params":{"a":1,"b":2},"meta":{},"headers":{},` +
		`"timeout":0,"level":1,"tracing":null,"parentID":null,"requestID":"be731c13-9dcb-4457-a133-2bd56fafe735","caller":null,"stream":false,"ver":"5","sender":"caller"}`)
	if raceEnabled {
		return
	}
	DecodeExact(Request, top) // interns the names
	if n := testing.AllocsPerRun(100, func() { p, _, _ := DecodeExact(Request, top); Release(p) }); n > 2 {
		t.Fatalf("DecodeExact and Release of a REQ: %v allocations, want at most 2 (id, meta)", n)
	}
}

// Small integral numbers decode to shared interface values, equal to encoding/json's; -0,
// fractions and larger numbers are boxed as before.
func TestSmallNumbersShared(t *testing.T) {
	for _, lit := range []string{"0", "7", "1023", "1024", "-0", "-3", "1.5", "7.0", "1e2", "12345678901234567890"} {
		got, err := DecodeValue([]byte(lit))
		var want any
		if jerr := json.Unmarshal([]byte(lit), &want); err != nil || jerr != nil || got != want ||
			math.Signbit(got.(float64)) != math.Signbit(want.(float64)) {
			t.Fatalf("DecodeValue(%s) = %#v, %v; encoding/json gives %#v, %v", lit, got, err, want, jerr)
		}
	}
	if raceEnabled {
		return
	}
	small, large := []byte("42"), []byte("4242")
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeValue(small) }); n != 0 {
		t.Fatalf("DecodeValue(42): %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeValue(large) }); n != 1 {
		t.Fatalf("DecodeValue(4242): %v allocations, want 1", n)
	}
}
