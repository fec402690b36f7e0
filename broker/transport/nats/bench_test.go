package nats_test

import (
	"encoding/json"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/rt"
	fnats "github.com/faultline/faultline/broker/transport/nats"
)

// The benchmarks below pair a remote call between two brokers over an embedded NATS server
// with a raw nats.go request/reply loop carrying the same packets, in the same run.

var benchAdd = &broker.Service{Name: "math", Actions: map[string]broker.Action{
	"add": {Params: map[string]any{"a": "number", "b": "number"},
		Handler: func(ctx *broker.Context) (any, error) {
			return ctx.Params["a"].(float64) + ctx.Params["b"].(float64), nil
		}},
}}

func benchPair(b *testing.B) *broker.Broker {
	srv := startServer(b, -1, nil)
	mk := func(id string, svc ...*broker.Service) *broker.Broker {
		n := broker.MustNew(broker.Options{NodeID: id, Runtime: rt.NewReal(),
			Transporter: fnats.New(fnats.Options{URL: url(srv)})})
		for _, s := range svc {
			n.MustAddService(s)
		}
		if err := n.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Stop() })
		return n
	}
	mk("server", benchAdd)
	caller := mk("caller")
	deadline := time.Now().Add(10 * time.Second)
	for !caller.Endpoints("math.add")["server"] {
		if time.Now().After(deadline) {
			b.Fatal("caller never discovered server")
		}
		time.Sleep(time.Millisecond)
	}
	return caller
}

func BenchmarkRemoteCallNATS(b *testing.B) {
	caller := benchPair(b)
	params := map[string]any{"a": 1.0, "b": 2.0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := caller.Call("math.add", params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRemoteCallNATS100(b *testing.B) {
	caller := benchPair(b)
	params := map[string]any{"a": 1.0, "b": 2.0}
	b.ReportAllocs()
	b.SetParallelism(50) // 2 cores × 50 = 100 callers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := caller.Call("math.add", params); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// rawPair is the baseline: a nats.go responder answering each request with a packet the
// size of a RES, the requester sending one the size of a REQ.
func rawPair(b *testing.B) (*natsgo.Conn, []byte) {
	srv := startServer(b, -1, nil)
	server, err := natsgo.Connect(url(srv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(server.Close)
	res, _ := json.Marshal(map[string]any{"id": "be731c13-9dcb-4457-a133-2bd56fafe735", "meta": map[string]any{}, "headers": map[string]any{},
		"success": true, "data": 3, "ver": "5", "sender": "server"})
	if _, err := server.Subscribe("MOL.REQ.server", func(m *natsgo.Msg) { _ = m.Respond(res) }); err != nil {
		b.Fatal(err)
	}
	_ = server.Flush()
	client, err := natsgo.Connect(url(srv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.Close)
	req, _ := json.Marshal(map[string]any{"id": "be731c13-9dcb-4457-a133-2bd56fafe735", "action": "math.add", "params": map[string]any{"a": 1, "b": 2},
		"meta": map[string]any{}, "headers": map[string]any{}, "timeout": 0, "level": 1, "tracing": nil, "parentID": nil,
		"requestID": "be731c13-9dcb-4457-a133-2bd56fafe735", "caller": nil, "stream": false, "ver": "5", "sender": "caller"})
	return client, req
}

func BenchmarkRawNATSRequest(b *testing.B) {
	client, req := rawPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Request("MOL.REQ.server", req, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawNATSRequest100(b *testing.B) {
	client, req := rawPair(b)
	b.ReportAllocs()
	b.SetParallelism(50)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Request("MOL.REQ.server", req, 5*time.Second); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
