package packet_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/packet"
)

// FuzzDecode: whatever arrives on the wire, Decode returns a payload or a Moleculer error,
// never panics; a payload it accepts survives a re-encode unchanged.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct {
		typ  string
		body string
	}{
		{"REQ", `{"ver":"5","sender":"n1","id":"r1","action":"greeter.hello","params":{"name":"Ann"},"meta":{},"timeout":500,"level":1,"tracing":null,"parentID":null,"requestID":"r1","caller":null,"stream":false}`},
		{"RES", `{"ver":"5","sender":"n2","id":"r1","success":false,"data":null,"error":{"name":"MoleculerError","message":"x","code":500,"type":"","data":null,"retryable":false,"nodeID":"n2"},"meta":{}}`},
		{"EVENT", `{"ver":"5","sender":"n1","id":"e1","event":"user.created","data":{"id":1},"groups":["mail"],"broadcast":false,"meta":{},"level":1}`},
		{"INFO", `{"ver":"5","sender":"n1","services":[{"name":"greeter","fullName":"greeter","settings":{},"metadata":{},"actions":{"greeter.hello":{"name":"greeter.hello","rawName":"hello"}},"events":{}}],"ipList":["10.0.0.1"],"hostname":"h","client":{"type":"go","version":"0.1","langVersion":"1.26"},"config":{},"instanceID":"i","metadata":{},"seq":1}`},
		{"HEARTBEAT", `{"ver":"5","sender":"n1","cpu":12.5}`},
		{"DISCOVER", `{"ver":"5","sender":"n1"}`},
		{"PING", `{"ver":"5","sender":"n1","time":1,"id":"p"}`},
		{"PONG", `{"ver":"5","sender":"n1","time":1,"id":"p","arrived":2}`},
		{"DISCONNECT", `{"ver":"4","sender":"n1"}`},
		{"REQ", `{"ver":"5","sender":"n1","params":[1,2`},
		{"NOPE", `{}`},
	} {
		f.Add(seed.typ, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		p, err := packet.Decode(packet.Message{Type: packet.Type(typ), Body: body})
		// DecodeExact accepts only what Decode accepts, with the same payload, and only a
		// body whose top-level "ver" and "sender" (as encoding/json reads them, keys matched
		// exactly) are "5" and the sender it reports.
		if xp, sender, ok := packet.DecodeExact(packet.Type(typ), body); ok {
			if err != nil {
				t.Fatalf("DecodeExact accepts a %s packet Decode rejects (%v): %q", typ, err, body)
			}
			if !reflect.DeepEqual(xp, p) {
				t.Fatalf("DecodeExact and Decode differ on %q:\n%#v\n%#v", body, xp, p)
			}
			var top map[string]json.RawMessage
			if json.Unmarshal(body, &top) != nil {
				t.Fatalf("DecodeExact accepts a body that is not a JSON object: %q", body)
			}
			var ver, from string
			_ = json.Unmarshal(top["ver"], &ver)
			_ = json.Unmarshal(top["sender"], &from)
			if ver != packet.ProtocolVersion || from != sender || sender == "" {
				t.Fatalf("DecodeExact(%q): sender %q; the body has ver %q sender %q", body, sender, ver, from)
			}
		}
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("not a Moleculer error: %T %v", err, err)
			}
			if e.Name != errs.NameInvalidPacketData && e.Name != errs.NameProtocolVersionMismatch {
				t.Fatalf("unexpected error name %q: %v", e.Name, err)
			}
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("an accepted %s packet does not re-encode: %v", typ, err)
		}
		q, err := packet.Decode(packet.Message{Type: packet.Type(typ), Body: again})
		if err != nil {
			t.Fatalf("a re-encoded %s packet is rejected: %v\n%s", typ, err, again)
		}
		if b, _ := json.Marshal(q); string(b) != string(again) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", again, b)
		}
		if reflect.TypeOf(p) != reflect.TypeOf(q) {
			t.Fatalf("type changed: %T vs %T", p, q)
		}
	})
}
