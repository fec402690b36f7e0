package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `faultline run --metrics DIR --traces FILE`: retry-backoff's retries in the gateway's
// metrics, its spans in an OTLP JSON file, both the same bytes on a second run.
func TestRunWritesMetricsAndTraces(t *testing.T) {
	dir := t.TempDir()
	run := func(sub string) (prom, traces []byte) {
		mdir, tfile := filepath.Join(dir, sub), filepath.Join(dir, sub+".json")
		code, out, errOut := cli(t, "run", "--quiet", "--metrics", mdir, "--traces", tfile, filepath.Join(testdata, "retry-backoff.yaml"))
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		prom, err := os.ReadFile(filepath.Join(mdir, "retry-backoff.seed-5.prom"))
		require.NoError(t, err)
		traces, err = os.ReadFile(tfile)
		require.NoError(t, err)
		return prom, traces
	}
	prom, traces := run("a")
	prom2, traces2 := run("b")
	assert.Equal(t, string(prom), string(prom2))
	assert.Equal(t, string(traces), string(traces2))

	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(prom))
	require.NoError(t, err)
	retries := map[string]float64{}
	for _, m := range mfs["moleculer_request_retry_attempts_total"].GetMetric() {
		retries[label(m, "nodeID")+" "+label(m, "action")] = m.GetCounter().GetValue()
	}
	// The scenario's own retries checks: 2 for the flaky read, 3 for the slow order.
	assert.Equal(t, map[string]float64{"gateway product.get": 2, "gateway order.create": 3}, retries)

	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					Name   string `json:"name"`
					Status *struct {
						Code int `json:"code"`
					} `json:"status"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	require.NoError(t, json.Unmarshal(traces, &doc))
	failed := map[string]int{}
	for _, s := range doc.ResourceSpans[0].ScopeSpans[0].Spans {
		if s.Status != nil && s.Status.Code == 2 {
			failed[s.Name]++
		}
	}
	// The two injected 503s, and order.create's four attempts on order-1, whose delay fault
	// sleeps on the handler's context and so fails at the 1 s deadline.
	assert.Equal(t, map[string]int{"action 'product.get'": 2, "action 'order.create'": 4}, failed)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// `faultline run --log FILE`: virtual timestamps, the node and module of each line, the same
// bytes twice; bad formatter and level flags are usage errors.
func TestRunWritesLogs(t *testing.T) {
	dir := t.TempDir()
	run := func(name string) string {
		path := filepath.Join(dir, name)
		code, out, errOut := cli(t, "run", "--quiet", "--log", path, "--log-level", "*=warn", filepath.Join(testdata, "crash-failover.yaml"))
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		return string(raw)
	}
	first := run("a.log")
	assert.Equal(t, first, run("b.log"))
	// A read still in flight on product-2 when the simulation ends at +30s.
	assert.Equal(t, `[2026-01-01T00:00:30.000Z] ERROR product-2/BROKER: middleware panicked action=product.get panic="rt: simulation closed"`+"\n", first)

	code, _, errOut := cli(t, "run", "--log", filepath.Join(dir, "c.log"), "--log-format", "fancy", filepath.Join(testdata, "crash-failover.yaml"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `logging: unknown formatter "fancy" (full, short, simple, json)`)
	code, _, errOut = cli(t, "run", "--log", filepath.Join(dir, "c.log"), "--log-level", "BROKER", filepath.Join(testdata, "crash-failover.yaml"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--log-level: "BROKER" is not MODULE=level`)
}
