package broker_test

import (
	"testing"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/tracing"
)

// BenchmarkLocalCallObserved: BenchmarkLocalCallRealRuntime's call with metrics, tracing
// (recording into nothing: a span processor with no exporter) or both instrumented, next to
// the bare call ("off", which must cost what BenchmarkLocalCallRealRuntime costs).
func BenchmarkLocalCallObserved(b *testing.B) {
	cases := []struct {
		name string
		opts func(broker.Options) broker.Options
	}{
		{"off", func(o broker.Options) broker.Options { return o }},
		{"metrics", metrics.New(metrics.Options{}).Instrument},
		{"tracing", tracing.New(tracing.Options{}).Instrument},
		{"both", func(o broker.Options) broker.Options {
			return tracing.New(tracing.Options{}).Instrument(metrics.New(metrics.Options{}).Instrument(o))
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			n := broker.MustNew(tc.opts(broker.Options{Runtime: rt.NewReal(), NodeID: "a"}))
			n.MustAddService(addService)
			if err := n.Start(); err != nil {
				b.Fatal(err)
			}
			defer n.Stop()
			params := map[string]any{"a": 1.0, "b": 2.0}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Call("math.add", params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
