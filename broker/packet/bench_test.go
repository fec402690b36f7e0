package packet

import "testing"

// The packets of one remote call as the broker sends them, decoded as a transporter that
// keeps the body does (DecodeExact) and released as the broker does when done with them.
var (
	benchREQ = []byte(`{"id":"be731c13-9dcb-4457-a133-2bd56fafe735","action":"math.add","params":{"a":1,"b":2},"meta":{},"headers":{},` +
		`"timeout":0,"level":1,"tracing":null,"parentID":null,"requestID":"be731c13-9dcb-4457-a133-2bd56fafe735","caller":null,"stream":false,"ver":"5","sender":"caller"}`)
	benchRES = []byte(`{"id":"be731c13-9dcb-4457-a133-2bd56fafe735","meta":{},"headers":{},"success":true,"data":3,"ver":"5","sender":"server"}`)
)

func BenchmarkDecodeExactRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchREQ)))
	for b.Loop() {
		p, _, ok := DecodeExact(Request, benchREQ)
		if !ok {
			b.Fatal("REQ does not decode")
		}
		Release(p)
	}
}

func BenchmarkDecodeExactResponse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRES)))
	for b.Loop() {
		p, _, ok := DecodeExact(Response, benchRES)
		if !ok {
			b.Fatal("RES does not decode")
		}
		Release(p)
	}
}

func BenchmarkMarshalRequest(b *testing.B) {
	p, _, _ := DecodeExact(Request, benchREQ)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMarshal(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
