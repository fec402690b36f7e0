package metrics_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/testutil"
)

// scrape fetches h's /metrics the way Prometheus does and parses it with Prometheus' text
// parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, string(body))
	return mfs
}

// series finds the one series of a family whose labels include want; it fails when none
// or several match.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mf := mfs[name]
	require.NotNil(t, mf, "no metric family %s", name)
	var found []*dto.Metric
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "series of %s with %v", name, want)
	return found[0]
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	m := series(t, mfs, name, want)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

type lbl = map[string]string

func TestMoleculerMetricsAfterASeededRun(t *testing.T) {
	c := testutil.NewSim(7)
	defer c.Close()
	mc, ms := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
	caller := c.MustAddNode("caller", mc.Instrument(broker.Options{
		CircuitBreaker: broker.CircuitBreakerOptions{Enabled: broker.Bool(true), Threshold: broker.Float(0.5),
			MinRequestCount: broker.Int(4), HalfOpenTime: broker.Dur(10 * time.Second)},
	}))
	server := c.MustAddNode("server", ms.Instrument(broker.Options{Cacher: cache.NewMemory(c.Runtime)}),
		&broker.Service{Name: "svc", Actions: map[string]broker.Action{
			"ok": {Handler: func(ctx *broker.Context) (any, error) {
				return "ok", ctx.Sleep(3 * time.Millisecond)
			}},
			"fail": {Handler: func(ctx *broker.Context) (any, error) {
				return nil, errs.Server("flaky", 503, "FLAKY", nil)
			}},
			"down": {Handler: func(ctx *broker.Context) (any, error) {
				return nil, errs.New("down", 500, "DOWN", nil)
			}},
			"cached": {Cache: &broker.CacheOptions{}, Handler: func(ctx *broker.Context) (any, error) {
				return 42, nil
			}},
		}},
		&broker.Service{Name: "listener", Events: map[string]broker.Event{
			"order.created": {Handler: func(ctx *broker.Context) error { return nil }},
		}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for range 5 {
			_, err := caller.Call("svc.ok", nil)
			require.NoError(t, err)
		}
		_, err := caller.Call("svc.fail", nil, broker.WithRetries(2))
		require.EqualError(t, err, "MoleculerServerError: flaky")
		for range 4 {
			_, err := caller.Call("svc.down", nil)
			require.EqualError(t, err, "MoleculerError: down")
		}
		_, err = caller.Call("svc.down", nil)
		require.Equal(t, errs.NameServiceNotAvailable, errs.NameOf(err), "the breaker is open")
		for range 2 {
			_, err := caller.Call("svc.cached", map[string]any{"id": 1})
			require.NoError(t, err)
		}
		require.NoError(t, server.CleanCache("svc.*"))
		require.NoError(t, caller.Emit("order.created", map[string]any{"id": 1}))
		c.Runtime.Sleep(10 * time.Second) // the breaker half-opens
	})

	cm, sm := scrape(t, mc.Handler()), scrape(t, ms.Handler())
	remote := func(action string) lbl {
		return lbl{"service": "svc", "action": action, "type": "remote", "caller": "", "nodeID": "caller", "namespace": ""}
	}
	local := func(action string) lbl {
		return lbl{"service": "svc", "action": action, "type": "local", "caller": "", "nodeID": "server"}
	}
	// Every attempt is a request (a retry comes back through the chain, as in Moleculer), on
	// the caller (remote) and on the serving node (local).
	assert.Equal(t, 5.0, value(t, cm, "moleculer_request_total", remote("svc.ok")))
	assert.Equal(t, 5.0, value(t, sm, "moleculer_request_total", local("svc.ok")))
	assert.Equal(t, 3.0, value(t, cm, "moleculer_request_total", remote("svc.fail")))
	assert.Equal(t, 3.0, value(t, sm, "moleculer_request_total", local("svc.fail")))
	assert.Equal(t, 2.0, value(t, cm, "moleculer_request_retry_attempts_total", lbl{"service": "svc", "action": "svc.fail"}))
	assert.Equal(t, 4.0, value(t, cm, "moleculer_request_total", remote("svc.down")), "the call refused by the open breaker reached no endpoint")
	assert.Equal(t, 0.0, value(t, cm, "moleculer_request_active", remote("svc.ok")))

	failLabels := remote("svc.fail")
	failLabels["errorName"], failLabels["errorCode"], failLabels["errorType"] = "MoleculerServerError", "503", "FLAKY"
	assert.Equal(t, 3.0, value(t, cm, "moleculer_request_error_total", failLabels), "each attempt failed, the outer one with the last error")
	downLabels := local("svc.down")
	downLabels["errorName"], downLabels["errorCode"], downLabels["errorType"] = "MoleculerError", "500", "DOWN"
	assert.Equal(t, 4.0, value(t, sm, "moleculer_request_error_total", downLabels))

	// Virtual time: each svc.ok takes exactly 3 ms on the ideal network; the retried call's
	// outer attempt spans both retry delays (100 + 200 ms), the second spans the 200 ms.
	h := series(t, cm, "moleculer_request_time", remote("svc.ok")).Histogram
	assert.Equal(t, uint64(5), h.GetSampleCount())
	assert.InDelta(t, 15.0, h.GetSampleSum(), 1e-9)
	assert.Equal(t, uint64(0), h.Bucket[0].GetCumulativeCount(), "le=1")
	assert.Equal(t, uint64(5), h.Bucket[1].GetCumulativeCount(), "le=5")
	hf := series(t, cm, "moleculer_request_time", remote("svc.fail")).Histogram
	assert.Equal(t, uint64(3), hf.GetSampleCount())
	assert.InDelta(t, 500.0, hf.GetSampleSum(), 1e-9)

	// The breaker of caller → server's svc.down opened once, then half-opened.
	cb := lbl{"affectedNodeID": "server", "service": "svc", "action": "svc.down"}
	assert.Equal(t, 1.0, value(t, cm, "moleculer_circuit_breaker_opened_total", cb))
	assert.Equal(t, 1.0, value(t, cm, "moleculer_circuit_breaker_half_opened_total", cb))
	assert.Equal(t, 0.0, value(t, cm, "moleculer_circuit_breaker_opened_active", cb))
	assert.Equal(t, 1.0, value(t, cm, "moleculer_circuit_breaker_half_opened_active", cb))

	// The cacher: two gets, one hit, one set, one clean.
	assert.Equal(t, 2.0, value(t, sm, "moleculer_cacher_get_total", nil))
	assert.Equal(t, 1.0, value(t, sm, "moleculer_cacher_found_total", nil))
	assert.Equal(t, 1.0, value(t, sm, "moleculer_cacher_set_total", nil))
	assert.Equal(t, 1.0, value(t, sm, "moleculer_cacher_clean_total", nil))

	// Events.
	assert.Equal(t, 1.0, value(t, cm, "moleculer_event_emit_total", lbl{"event": "order.created", "groups": ""}))
	assert.Equal(t, 1.0, value(t, sm, "moleculer_event_received_total", lbl{"service": "listener", "group": "listener", "event": "order.created", "caller": ""}))

	// Transit: one REQ per remote attempt (5 + 3 + 4 + 2), answered by as many RES; one EVENT.
	assert.Equal(t, 14.0, value(t, cm, "moleculer_transit_publish_total", lbl{"type": "REQ"}))
	assert.Equal(t, 14.0, value(t, cm, "moleculer_transit_receive_total", lbl{"type": "RES"}))
	assert.Equal(t, 14.0, value(t, sm, "moleculer_transit_publish_total", lbl{"type": "RES"}))
	assert.Equal(t, 1.0, value(t, cm, "moleculer_transit_publish_total", lbl{"type": "EVENT"}))
	assert.Equal(t, 0.0, value(t, cm, "moleculer_transit_requests_active", nil))
	published := 0.0
	for _, m := range cm["moleculer_transit_publish_total"].Metric {
		published += m.Counter.GetValue()
	}
	assert.Equal(t, published, value(t, cm, "moleculer_transporter_packets_sent_total", nil))
	assert.Greater(t, value(t, cm, "moleculer_transporter_packets_sent_bytes", nil), published)

	// The registry: both nodes known and online.
	assert.Equal(t, 2.0, value(t, cm, "moleculer_registry_nodes_total", nil))
	assert.Equal(t, 2.0, value(t, cm, "moleculer_registry_nodes_online_total", nil))
}

func TestCustomMetricsAndProcess(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	m := metrics.New(metrics.Options{Process: true})
	c.MustAddNode("n1", m.Instrument(broker.Options{}), &broker.Service{Name: "orders", Actions: map[string]broker.Action{
		"create": {Handler: func(ctx *broker.Context) (any, error) {
			mm := metrics.Of(ctx.Broker())
			created, err := mm.Counter("orders_created_total", "Orders created", "product")
			if err != nil {
				return nil, err
			}
			created.WithLabelValues(ctx.Params["product"].(string)).Inc()
			basket, err := mm.Histogram("orders_basket_size", "Items per order", []float64{1, 5})
			if err != nil {
				return nil, err
			}
			basket.WithLabelValues().Observe(3)
			open, err := mm.Gauge("orders_open", "Open orders")
			if err != nil {
				return nil, err
			}
			open.WithLabelValues().Add(1)
			return nil, nil
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		for _, p := range []string{"p1", "p2", "p1"} {
			_, err := c.Node("n1").Call("orders.create", map[string]any{"product": p})
			require.NoError(t, err)
		}
	})
	mfs := scrape(t, m.Handler())
	assert.Equal(t, 2.0, value(t, mfs, "orders_created_total", lbl{"product": "p1", "nodeID": "n1"}))
	assert.Equal(t, 1.0, value(t, mfs, "orders_created_total", lbl{"product": "p2"}))
	assert.Equal(t, 3.0, value(t, mfs, "orders_open", nil))
	assert.Equal(t, uint64(3), series(t, mfs, "orders_basket_size", nil).Histogram.GetSampleCount())
	assert.NotNil(t, mfs["go_goroutines"])
	assert.NotNil(t, mfs["process_cpu_seconds_total"])

	again, err := m.Counter("orders_created_total", "Orders created", "product")
	require.NoError(t, err)
	assert.Equal(t, 2.0, promtest.ToFloat64(again.WithLabelValues("p1")), "asking again gives the same counter")
	_, err = m.Gauge("orders_created_total", "Orders created", "product")
	assert.EqualError(t, err, "metrics: orders_created_total is registered, and not as a gauge")
	_, err = m.Gauge("orders_created_total", "Another help")
	assert.ErrorContains(t, err, "has different label names or a different help string")
	_, err = m.Counter("", "")
	assert.ErrorContains(t, err, `metrics: `)
	_, err = metrics.New(metrics.Options{}).Counter("x", "")
	assert.EqualError(t, err, "metrics: not instrumented into a broker yet")
	assert.Nil(t, metrics.Of(broker.MustNew(broker.Options{Runtime: c.Runtime})))
}

// TestWriteTextIsTheSameForTheSameSeed: the metrics file of a seeded run is byte-identical
// across runs (no process metrics: they are the real process's).
func TestWriteTextIsTheSameForTheSameSeed(t *testing.T) {
	run := func() string {
		c := testutil.NewSim(3, testutil.NetworkSpec{})
		defer c.Close()
		ma, mb := metrics.New(metrics.Options{}), metrics.New(metrics.Options{})
		a := c.MustAddNode("a", ma.Instrument(broker.Options{}))
		c.MustAddNode("b", mb.Instrument(broker.Options{}), &broker.Service{Name: "s", Actions: map[string]broker.Action{
			"x": {Handler: func(ctx *broker.Context) (any, error) {
				return nil, ctx.Sleep(time.Duration(ctx.Params["n"].(float64)) * time.Millisecond)
			}},
		}})
		c.Run(t, func() {
			require.NoError(t, c.Start())
			for i := range 20 {
				_, err := a.Call("s.x", map[string]any{"n": float64(i * 7 % 30)})
				require.NoError(t, err)
			}
		})
		var buf bytes.Buffer
		require.NoError(t, metrics.WriteText(&buf, ma, mb))
		return buf.String()
	}
	first, second := run(), run()
	assert.Equal(t, first, second)
	lines := strings.Split(first, "\n")
	var sums []string
	for _, l := range lines {
		if strings.HasPrefix(l, "moleculer_request_time_sum") {
			sums = append(sums, l)
		}
	}
	sort.Strings(sums)
	require.Len(t, sums, 2, first)
	assert.Contains(t, sums[1], `nodeID="b"`)
	// 0+7+14+21+28+5+12+19+26+3+10+17+24+1+8+15+22+29+6+13 = 280 ms of handler sleeps.
	assert.True(t, strings.HasSuffix(sums[1], " 280"), sums[1])
}
