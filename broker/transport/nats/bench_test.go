package nats_test

import (
	"encoding/json"
	"math/bits"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/rt"
	fnats "github.com/faultline/faultline/broker/transport/nats"
)

// The benchmarks below pair a remote call between two brokers over an embedded NATS server
// with a raw nats.go request/reply loop carrying the same packets, in the same run. Each
// reports req/s and the p50/p99 latency of one call, from issue to answer.

// latencies is a histogram of call latencies: 1 µs buckets under 1,024 µs, then 64 buckets
// per doubling (under 1.6 % apart), recorded with atomics so it adds no allocation to a call.
type latencies struct{ buckets [1024 + 40*64]atomic.Int64 }

func bucketOf(us int64) int {
	if us < 1024 {
		return int(max(us, 0))
	}
	n := bits.Len64(uint64(us)) // 11 and up
	return 1024 + (n-11)*64 + int(us>>(n-7)) - 64
}

// valueOf is the middle of a bucket, in µs.
func valueOf(i int) float64 {
	if i < 1024 {
		return float64(i) + 0.5
	}
	n, top := (i-1024)/64+11, (i-1024)%64+64
	return (float64(top) + 0.5) * float64(int64(1)<<(n-7))
}

func (l *latencies) record(d time.Duration) { l.buckets[bucketOf(d.Microseconds())].Add(1) }

// quantile returns the latency (µs) at or under which a fraction q of the calls fall.
func (l *latencies) quantile(q float64) float64 {
	var total int64
	for i := range l.buckets {
		total += l.buckets[i].Load()
	}
	want, seen := int64(q*float64(total)+0.5), int64(0)
	for i := range l.buckets {
		if seen += l.buckets[i].Load(); seen >= want && seen > 0 {
			return valueOf(i)
		}
	}
	return 0
}

// measure runs op b.N times over callers goroutines (1: the benchmark's own loop) and
// reports req/s, p50 and p99.
func measure(b *testing.B, callers int, op func() error) {
	lat := new(latencies)
	b.ReportAllocs()
	start := time.Now()
	if callers == 1 {
		for b.Loop() {
			t0 := time.Now()
			if err := op(); err != nil {
				b.Fatal(err)
			}
			lat.record(time.Since(t0))
		}
	} else {
		b.SetParallelism((callers + 1) / 2) // GOMAXPROCS 2 on the machine the README measures
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t0 := time.Now()
				if err := op(); err != nil {
					b.Error(err)
					return
				}
				lat.record(time.Since(t0))
			}
		})
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(lat.quantile(0.50), "p50-µs")
	b.ReportMetric(lat.quantile(0.99), "p99-µs")
}

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
	measure(b, 1, func() error { _, err := caller.Call("math.add", params); return err })
}

func BenchmarkRemoteCallNATS100(b *testing.B) {
	caller := benchPair(b)
	params := map[string]any{"a": 1.0, "b": 2.0}
	measure(b, 100, func() error { _, err := caller.Call("math.add", params); return err })
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
	measure(b, 1, func() error { _, err := client.Request("MOL.REQ.server", req, 5*time.Second); return err })
}

func BenchmarkRawNATSRequest100(b *testing.B) {
	client, req := rawPair(b)
	measure(b, 100, func() error { _, err := client.Request("MOL.REQ.server", req, 5*time.Second); return err })
}

// The histogram's buckets are contiguous and ordered: each value maps back into its bucket.
func TestLatencyBuckets(t *testing.T) {
	prev := -1
	for _, us := range []int64{0, 1, 1023, 1024, 1039, 1040, 2047, 2048, 4_000, 10_000, 100_000, 3_600_000_000} {
		i := bucketOf(us)
		if i < prev || i >= len(latencies{}.buckets) {
			t.Fatalf("bucketOf(%d) = %d after %d", us, i, prev)
		}
		if v := valueOf(i); bucketOf(int64(v)) != i || v < float64(us)*0.98 || v > float64(us)*1.02+1 {
			t.Fatalf("valueOf(bucketOf(%d)) = %v", us, v)
		}
		prev = i
	}
	var l latencies
	for us := range 100 {
		l.record(time.Duration(us+1) * time.Microsecond)
	}
	if p50, p99 := l.quantile(0.5), l.quantile(0.99); p50 != 50.5 || p99 != 99.5 {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
}

// BenchmarkNATSVsRaw100 is the pair above, interleaved: each iteration runs 100 callers
// for a slice of wall time on the brokers, and a slice on raw nats.go, in ABBA order, so a
// change in the machine's load (other processes, a noisy 2-core CI box) falls on both alike.
// It reports both rates, their ratio and both p99s; ns/op is meaningless here. Use
// -benchtime Nx for N slice pairs (e.g. -benchtime 10x: 10 × 2 × sliceOf).
func BenchmarkNATSVsRaw100(b *testing.B) {
	const callers, sliceOf = 100, 250 * time.Millisecond
	caller := benchPair(b)
	params := map[string]any{"a": 1.0, "b": 2.0}
	ours := func() error { _, err := caller.Call("math.add", params); return err }
	client, req := rawPair(b)
	raw := func() error { _, err := client.Request("MOL.REQ.server", req, 5*time.Second); return err }

	var oursLat, rawLat latencies
	var oursN, rawN atomic.Int64
	var oursT, rawT, oursCPU, rawCPU time.Duration
	slice := func(op func() error, lat *latencies, n *atomic.Int64, cpu *time.Duration) time.Duration {
		stop := time.Now().Add(sliceOf)
		start, cpu0 := time.Now(), processCPU()
		defer func() { *cpu += processCPU() - cpu0 }()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for time.Now().Before(stop) {
					t0 := time.Now()
					if err := op(); err != nil {
						b.Error(err)
						return
					}
					lat.record(time.Since(t0))
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			oursT += slice(ours, &oursLat, &oursN, &oursCPU)
			rawT += slice(raw, &rawLat, &rawN, &rawCPU)
		} else {
			rawT += slice(raw, &rawLat, &rawN, &rawCPU)
			oursT += slice(ours, &oursLat, &oursN, &oursCPU)
		}
		i++
	}
	oursRate, rawRate := float64(oursN.Load())/oursT.Seconds(), float64(rawN.Load())/rawT.Seconds()
	b.ReportMetric(oursRate, "req/s")
	b.ReportMetric(rawRate, "raw-req/s")
	b.ReportMetric(oursRate/rawRate, "ratio")
	b.ReportMetric(oursLat.quantile(0.99), "p99-µs")
	b.ReportMetric(rawLat.quantile(0.99), "raw-p99-µs")
	// CPU per call of the whole process (server, both clients, the brokers): what the
	// brokers add to a request/reply, nearly independent of what else the machine runs.
	oursPer, rawPer := oursCPU.Seconds()*1e6/float64(oursN.Load()), rawCPU.Seconds()*1e6/float64(rawN.Load())
	b.ReportMetric(oursPer, "cpu-µs/call")
	b.ReportMetric(rawPer, "raw-cpu-µs/call")
}

// processCPU is the user and system CPU time the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
