package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/gateway"
)

// benchResult is what both benchmark handlers answer.
var benchResult = map[string]any{"id": 1, "name": "Widget", "price": 2.5, "stock": 100}

// BenchmarkHTTP compares the gateway calling a local action with a bare net/http handler
// writing the same JSON, each with 100 concurrent keep-alive clients over loopback TCP.
// The gateway's share is gateway ns/op ÷ bare ns/op (req/s is the inverse).
func BenchmarkHTTP(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(benchResult)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})
	br := broker.MustNew(broker.Options{NodeID: "bench", Runtime: rt.NewReal()})
	g := gateway.MustNew(gateway.Settings{Routes: []gateway.Route{{Path: "/api", Aliases: map[string]string{"GET /products/:id": "product.get"}}}})
	br.MustAddService(g.Schema())
	br.MustAddService(&broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) { return benchResult, nil }},
	}})
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Stop() })
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"gateway", g}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 200}}
			defer client.CloseIdleConnections()
			url := srv.URL + "/api/products/1"
			b.SetParallelism((100 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}
