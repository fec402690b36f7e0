package scenarios_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/logging"
	"github.com/faultline/faultline/broker/tracing"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/check"
)

const sec = time.Second

func results(res *scenarios.Result) map[string]check.Result {
	out := map[string]check.Result{}
	for _, c := range res.Checks {
		out[c.Name] = c
	}
	return out
}

// The breaker-cycle scenario's breaker, seen through the gateway's Prometheus metrics: it
// opens at +8s and again after the failed probe at +14s; it half-opens twice (+13s, +19s)
// and ends closed after the +20s probe succeeds.
func TestMetricChecksOnBreakerCycle(t *testing.T) {
	s := scenarios.BreakerCycle()
	cb := map[string]string{"affectedNodeID": "product-1", "action": "product.get"}
	s.ExtraChecks = append(s.ExtraChecks,
		&scenarios.MetricCheck{Label: "opened", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_total", Labels: cb,
			Op: "==", Value: 0, At: []time.Duration{7 * sec}},
		&scenarios.MetricCheck{Label: "opened once by 9s", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_total", Labels: cb,
			Value: 1, At: []time.Duration{9 * sec, 12 * sec}},
		&scenarios.MetricCheck{Label: "opened twice", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_total", Labels: cb, Value: 2},
		&scenarios.MetricCheck{Label: "half-opened twice", Node: "gateway", Metric: "moleculer_circuit_breaker_half_opened_total", Labels: cb, Value: 2},
		&scenarios.MetricCheck{Label: "closed at the end", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_active", Labels: cb, Value: 0},
		&scenarios.MetricCheck{Label: "open from 9s to 13s", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_active", Labels: cb,
			Value: 1, During: check.Window{From: 9 * sec, To: 13 * sec}, Every: 500 * time.Millisecond},
		&scenarios.MetricCheck{Label: "no request errors before the fault", Metric: "moleculer_request_error_total", Op: "==", Value: 0,
			During: check.Window{From: 0, To: 5 * sec}},
		&scenarios.MetricCheck{Label: "served on product-1", Node: "product-1", Metric: "moleculer_request_time_count",
			Labels: map[string]string{"action": "product.get", "type": "local"}, Op: ">=", Value: 1},
		&scenarios.MetricCheck{Label: "a wrong bound fails", Node: "gateway", Metric: "moleculer_circuit_breaker_opened_total", Labels: cb,
			Op: "<", Value: 2},
	)
	res, err := scenarios.Run(s, scenarios.Options{CheckDeterminism: true})
	require.NoError(t, err)
	require.True(t, *res.Deterministic, "metrics change nothing the journal sees")
	r := results(res)
	for _, name := range []string{"opened", "opened once by 9s", "opened twice", "half-opened twice", "closed at the end",
		"open from 9s to 13s", "no request errors before the fault", "served on product-1"} {
		assert.True(t, r[name].Pass, "%s: %s", name, r[name].Message())
	}
	// The histogram's count is the number of requests product-1 served, failed ones included
	// (the injected error answers before the handler runs): the journal's req.received there.
	runs := 0
	for _, e := range journal.Filter(res.Journal, journal.ReqReceived) {
		if e.Node == "product-1" && e.Str("action") == "product.get" {
			runs++
		}
	}
	assert.Equal(t, fmt.Sprintf("%d at +40s (1 samples)", runs), r["served on product-1"].Actual)
	assert.Equal(t, "1 at +12.5s (8 samples)", r["open from 9s to 13s"].Actual)
	wrong := r["a wrong bound fails"]
	assert.False(t, wrong.Pass)
	assert.Equal(t, `moleculer_circuit_breaker_opened_total{action="product.get",affectedNodeID="product-1"} < 2`, wrong.Expected)
	assert.Equal(t, "2 at +40s", wrong.Actual)

	// The run's metrics file parses, and is the same bytes on a second run.
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(res.Metrics))
	require.NoError(t, err)
	assert.Contains(t, mfs, "moleculer_request_total")
	again, err := scenarios.Run(s, scenarios.Options{})
	require.NoError(t, err)
	assert.Equal(t, string(res.Metrics), string(again.Metrics))
}

// retry-backoff through its trace: product.get's flaky read takes three attempts; the slow
// order.create runs 1.5 s on order-1 against a 1 s budget, four times.
func TestTraceChecksOnRetryBackoff(t *testing.T) {
	s := scenarios.RetryBackoff()
	s.ExtraChecks = append(s.ExtraChecks,
		&scenarios.TraceCheck{Label: "flaky read", Action: "product.get", MaxAttempts: 3, MinSpans: 3},
		&scenarios.TraceCheck{Label: "order attempts", Action: "order.create", MaxAttempts: 4, MinSpans: 4},
		&scenarios.TraceCheck{Label: "order budget", Action: "order.create", MaxDuration: sec},
		&scenarios.TraceCheck{Label: "tight budget", Action: "order.create", MaxDuration: 500 * time.Millisecond},
		&scenarios.TraceCheck{Label: "never called", Action: "cart.add"},
	)
	res, err := scenarios.Run(s, scenarios.Options{CheckDeterminism: true})
	require.NoError(t, err)
	require.True(t, *res.Deterministic, "the journal, spans included, is byte-identical")
	r := results(res)
	assert.True(t, r["flaky read"].Pass, r["flaky read"].Message())
	assert.Equal(t, "3 spans, longest 0s, at most 3 attempts per call", r["flaky read"].Actual)
	assert.True(t, r["order attempts"].Pass, r["order attempts"].Message())
	// The 1.5 s delay sleeps on the handler's context, which ends at the 1 s deadline: the
	// serving span is exactly the budget.
	assert.True(t, r["order budget"].Pass, r["order budget"].Message())
	assert.Equal(t, "4 spans, longest 1s, at most 4 attempts per call", r["order budget"].Actual)
	tight := r["tight budget"]
	assert.False(t, tight.Pass)
	assert.Equal(t, "action 'order.create': no span longer than 500ms, at least 1 spans", tight.Expected)
	assert.True(t, strings.HasSuffix(tight.Actual, "on order-1 took 1s"), tight.Actual)
	assert.False(t, r["never called"].Pass)
	assert.Equal(t, "0 spans", r["never called"].Actual)

	// The journal carries the spans, after the run's last step.
	spans := journal.Filter(res.Journal, scenarios.SpanEntry)
	assert.Len(t, spans, len(res.Spans))
	tree := tracing.Tree(res.Spans)
	assert.Contains(t, tree, "action 'product.get' [product-1] +0s 0s ERROR MoleculerRetryableError\n")
	var buf bytes.Buffer
	require.NoError(t, tracing.WriteOTLPJSON(&buf, res.Spans))
	assert.Contains(t, buf.String(), `"stringValue": "retry-backoff"`, "the scenario names the service")
}

// A scenario without metric or trace checks (failover has none) collects neither unless asked.
func TestObservationIsOffByDefault(t *testing.T) {
	res, err := scenarios.Run(scenarios.Failover(), scenarios.Options{})
	require.NoError(t, err)
	assert.Nil(t, res.Metrics)
	assert.Nil(t, res.Spans)
	assert.Empty(t, journal.Filter(res.Journal, scenarios.SpanEntry))
	res, err = scenarios.Run(scenarios.Failover(), scenarios.Options{Metrics: true, Traces: true})
	require.NoError(t, err)
	assert.NotEmpty(t, res.Metrics)
	assert.NotEmpty(t, res.Spans)
}

// Options.Log: every node's log lines with virtual timestamps, the same bytes for the seed.
func TestRunLogsAreByteIdentical(t *testing.T) {
	s := scenarios.RetryBackoff()
	s.Faults = append(s.Faults, scenarios.FaultSpec{Name: "product-1 panics", Kind: "panic", Action: "product.get", Node: "product-1", Start: 10 * sec})
	s.Workload = append(s.Workload, scenarios.WorkloadSpec{Name: "late read", From: "gateway", Action: "product.get",
		Params: map[string]any{"id": 1}, Count: 1, Start: 12 * sec})
	run := func() string {
		var buf bytes.Buffer
		_, err := scenarios.Run(s, scenarios.Options{Log: &buf, LogOptions: logging.Options{Formatter: logging.Full, Levels: map[string]string{"*": "warn"}}})
		require.NoError(t, err)
		return buf.String()
	}
	first := run()
	assert.Equal(t, first, run())
	// The scenario's network has no latency: the read reaches product-1 at the instant it starts.
	assert.Equal(t, "[2026-01-01T00:00:12.000Z] ERROR product-1/BROKER: middleware panicked action=product.get panic=\"injected panic\"\n", first)
}
