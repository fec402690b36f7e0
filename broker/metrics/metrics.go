// Package metrics gives a broker Moleculer's metrics on a Prometheus registry of its own:
// the request, event, transit, transporter, registry, circuit-breaker and cacher metrics
// with Moleculer's names and labels (dots and dashes become underscores, as Moleculer's
// Prometheus reporter writes them), process metrics on request, and a custom-metrics API for
// services. Durations are read on the broker's runtime clock, so in a simulation the
// *_time histograms hold virtual milliseconds and a seeded run's numbers are exact.
//
// Metrics hook into a broker through its options only (an observer middleware and hooks):
//
//	m := metrics.New(metrics.Options{})
//	b, _ := broker.New(m.Instrument(opts))
//	http.Handle("/metrics", m.Handler())
//
// A broker built without Instrument pays nothing.
package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/packet"
)

// DefaultBuckets are Moleculer's histogram buckets, in milliseconds.
var DefaultBuckets = []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

// Options configure a broker's metrics.
type Options struct {
	// Buckets of the *_time histograms, in milliseconds; nil: DefaultBuckets.
	Buckets []float64
	// Process adds the Go runtime's and the process's collectors (go_*, process_*). Their
	// values are the real process's, never virtual: leave it off where a run's metrics must
	// be the same every time.
	Process bool
}

// Metrics is one broker's registry and instruments. Instrument it into exactly one broker
// (a restarted node's new broker may reuse it: its counters then span both incarnations).
type Metrics struct {
	reg    *prometheus.Registry
	wrap   prometheus.Registerer // reg with the namespace and nodeID labels on every metric
	b      atomic.Pointer[weak.Pointer[broker.Broker]]
	custom sync.Mutex // guards wrap and custom registrations

	reqTotal, reqErrors, reqLevels, retries      *prometheus.CounterVec
	reqActive                                    *prometheus.GaugeVec
	reqTime                                      *prometheus.HistogramVec
	emitTotal, broadcastTotal, broadcastLocal    *prometheus.CounterVec
	evTotal, evErrors                            *prometheus.CounterVec
	evActive                                     *prometheus.GaugeVec
	evTime                                       *prometheus.HistogramVec
	publish, receive                             *prometheus.CounterVec
	sent, sentBytes, received, receivedBytes     prometheus.Counter
	cbOpened, cbHalfOpened                       *prometheus.CounterVec
	cbOpenedActive, cbHalfOpenedActive           *prometheus.GaugeVec
	cacheGet, cacheFound, cacheSet, cacheCleaned prometheus.Counter
	buckets                                      []float64
	process                                      bool
}

// New returns metrics not yet bound to a broker; Instrument binds them.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), buckets: o.Buckets, process: o.Process}
	if m.buckets == nil {
		m.buckets = DefaultBuckets
	}
	return m
}

// Instrument returns opts with the metrics' observer middleware (outermost, as Moleculer's
// Metrics middleware) and hooks added. broker.New then registers the metrics, labelled with
// the broker's namespace and node ID.
func (m *Metrics) Instrument(opts broker.Options) broker.Options {
	opts.Observers = append([]broker.Middleware{m.middleware()}, opts.Observers...)
	opts.Hooks = opts.Hooks.Chain(broker.Hooks{
		Created:        m.bind,
		PacketSent:     m.packetSent,
		PacketReceived: m.packetReceived,
		Emitted:        m.emitted,
		BreakerChanged: m.breakerChanged,
		Cache:          m.cacheOp,
	})
	return opts
}

// Registry returns the broker's Prometheus registry (to gather, or to register collectors
// of one's own on).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format, for `faultline node
// --metrics` and `faultline serve` to mount at /metrics.
func (m *Metrics) Handler() http.Handler { return Handler(m) }

// Handler serves several brokers' metrics as one exposition (a whole simulated cluster on
// one /metrics): every series carries its node's nodeID label, so they never collide.
func Handler(ms ...*Metrics) http.Handler {
	g := make(prometheus.Gatherers, len(ms))
	for i, m := range ms {
		g[i] = m.reg
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WriteText writes every metric in the Prometheus text format, metric families sorted by
// name, series by label values: the same run gives the same bytes.
func (m *Metrics) WriteText(w io.Writer) error { return WriteText(w, m) }

// WriteText writes several brokers' metrics as one text exposition.
func WriteText(w io.Writer, ms ...*Metrics) error {
	g := make(prometheus.Gatherers, len(ms))
	for i, m := range ms {
		g[i] = m.reg
	}
	mfs, err := g.Gather()
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// WriteFile writes WriteText's output of ms to path.
func WriteFile(path string, ms ...*Metrics) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := WriteText(f, ms...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// byBroker finds a broker's metrics for Of without keeping the broker (or, through the
// broker's closures, its metrics) alive: a sweep builds thousands of brokers.
var byBroker sync.Map // weak.Pointer[broker.Broker] → *Metrics

// Of returns the metrics instrumented into b, or nil: a service's handle on the custom
// metrics API (metrics.Of(ctx.Broker()).Counter(...)).
func Of(b *broker.Broker) *Metrics {
	if v, ok := byBroker.Load(weak.Make(b)); ok {
		return v.(*Metrics)
	}
	return nil
}

func (m *Metrics) bind(b *broker.Broker) {
	m.custom.Lock()
	if m.wrap == nil {
		m.register(b.Namespace(), b.NodeID())
	}
	m.custom.Unlock()
	key := weak.Make(b)
	m.b.Store(&key)
	byBroker.Store(key, m)
	runtime.AddCleanup(b, func(k weak.Pointer[broker.Broker]) { byBroker.Delete(k) }, key)
}

func (m *Metrics) broker() *broker.Broker {
	if p := m.b.Load(); p != nil {
		return p.Value()
	}
	return nil
}

// Counter returns a counter vector of the service's own, registered on first use; asking
// again with the same name returns the same vector. The node's namespace and nodeID labels
// are added to it.
func (m *Metrics) Counter(name, help string, labels ...string) (*prometheus.CounterVec, error) {
	v, err := m.custom1(prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	if err != nil {
		return nil, err
	}
	c, ok := v.(*prometheus.CounterVec)
	if !ok {
		return nil, fmt.Errorf("metrics: %s is registered, and not as a counter", name)
	}
	return c, nil
}

// Gauge returns a gauge vector of the service's own (see Counter).
func (m *Metrics) Gauge(name, help string, labels ...string) (*prometheus.GaugeVec, error) {
	v, err := m.custom1(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
	if err != nil {
		return nil, err
	}
	g, ok := v.(*prometheus.GaugeVec)
	if !ok {
		return nil, fmt.Errorf("metrics: %s is registered, and not as a gauge", name)
	}
	return g, nil
}

// Histogram returns a histogram vector of the service's own (see Counter); nil buckets are
// DefaultBuckets.
func (m *Metrics) Histogram(name, help string, buckets []float64, labels ...string) (*prometheus.HistogramVec, error) {
	if buckets == nil {
		buckets = DefaultBuckets
	}
	v, err := m.custom1(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
	if err != nil {
		return nil, err
	}
	h, ok := v.(*prometheus.HistogramVec)
	if !ok {
		return nil, fmt.Errorf("metrics: %s is registered, and not as a histogram", name)
	}
	return h, nil
}

func (m *Metrics) custom1(c prometheus.Collector) (collector prometheus.Collector, err error) {
	m.custom.Lock()
	defer m.custom.Unlock()
	if m.wrap == nil {
		return nil, errors.New("metrics: not instrumented into a broker yet")
	}
	defer func() {
		// NewCounterVec and friends panic on an invalid name; a service gets an error.
		if r := recover(); r != nil {
			collector, err = nil, fmt.Errorf("metrics: %v", r)
		}
	}()
	if err := m.wrap.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector, nil
		}
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return c, nil
}

func (m *Metrics) register(namespace, nodeID string) {
	m.wrap = prometheus.WrapRegistererWith(prometheus.Labels{"namespace": namespace, "nodeID": nodeID}, m.reg)
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.wrap.MustRegister(v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.wrap.MustRegister(v)
		return v
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: m.buckets}, labels)
		m.wrap.MustRegister(v)
		return v
	}
	plain := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.wrap.MustRegister(c)
		return c
	}
	gaugeFunc := func(name, help string, fn func(b *broker.Broker) float64) {
		m.wrap.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if b := m.broker(); b != nil {
				return fn(b)
			}
			return 0
		}))
	}
	req := []string{"service", "action", "type", "caller"}
	m.reqTotal = counter("moleculer_request_total", "Number of requests", req...)
	m.reqActive = gauge("moleculer_request_active", "Number of active requests", req...)
	m.reqErrors = counter("moleculer_request_error_total", "Number of request errors", append(req, "errorName", "errorCode", "errorType")...)
	m.reqTime = histogram("moleculer_request_time", "Request times in milliseconds", req...)
	m.reqLevels = counter("moleculer_request_levels", "Number of requests by context level", "level")
	m.retries = counter("moleculer_request_retry_attempts_total", "Number of retries", "service", "action")

	m.emitTotal = counter("moleculer_event_emit_total", "Number of emitted events", "event", "groups")
	m.broadcastTotal = counter("moleculer_event_broadcast_total", "Number of broadcast events", "event", "groups")
	m.broadcastLocal = counter("moleculer_event_broadcast_local_total", "Number of local broadcast events", "event", "groups")
	ev := []string{"service", "group", "event", "caller"}
	m.evTotal = counter("moleculer_event_received_total", "Number of received events", ev...)
	m.evActive = gauge("moleculer_event_received_active", "Number of active event executions", ev...)
	m.evErrors = counter("moleculer_event_received_error_total", "Number of event execution errors", append(ev, "errorName", "errorCode", "errorType")...)
	m.evTime = histogram("moleculer_event_received_time", "Execution time of events in milliseconds", ev...)

	m.publish = counter("moleculer_transit_publish_total", "Number of published packets", "type")
	m.receive = counter("moleculer_transit_receive_total", "Number of received packets", "type")
	gaugeFunc("moleculer_transit_requests_active", "Number of active requests", func(b *broker.Broker) float64 { return float64(b.PendingRequests()) })
	m.sent = plain("moleculer_transporter_packets_sent_total", "Number of sent packets")
	m.sentBytes = plain("moleculer_transporter_packets_sent_bytes", "Number of sent bytes")
	m.received = plain("moleculer_transporter_packets_received_total", "Number of received packets")
	m.receivedBytes = plain("moleculer_transporter_packets_received_bytes", "Number of received bytes")

	gaugeFunc("moleculer_registry_nodes_total", "Number of registered nodes", func(b *broker.Broker) float64 { return float64(len(b.Nodes())) })
	gaugeFunc("moleculer_registry_nodes_online_total", "Number of online nodes", func(b *broker.Broker) float64 {
		n := 0
		for _, node := range b.Nodes() {
			if node.Available {
				n++
			}
		}
		return float64(n)
	})

	cb := []string{"affectedNodeID", "service", "action"}
	m.cbOpened = counter("moleculer_circuit_breaker_opened_total", "Number of opened circuit-breakers", cb...)
	m.cbHalfOpened = counter("moleculer_circuit_breaker_half_opened_total", "Number of half-opened circuit-breakers", cb...)
	m.cbOpenedActive = gauge("moleculer_circuit_breaker_opened_active", "Number of active opened circuit-breakers", cb...)
	m.cbHalfOpenedActive = gauge("moleculer_circuit_breaker_half_opened_active", "Number of active half-opened circuit-breakers", cb...)

	m.cacheGet = plain("moleculer_cacher_get_total", "Number of cache gets")
	m.cacheFound = plain("moleculer_cacher_found_total", "Number of cache hits")
	m.cacheSet = plain("moleculer_cacher_set_total", "Number of cache sets")
	m.cacheCleaned = plain("moleculer_cacher_clean_total", "Number of cache cleans")

	if m.process {
		m.wrap.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
}

// middleware counts requests and event deliveries. Outside the fault-tolerance middlewares
// it sees what Moleculer's Metrics middleware sees: every attempt of a call (a retry comes
// back through the chain, nested in the first attempt) with its final outcome, and on a
// serving node every request served.
func (m *Metrics) middleware() broker.Middleware {
	action := func(typ string) func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
		return func(next broker.Handler, ep *broker.Endpoint) broker.Handler {
			// Curried once per endpoint: a call only looks up its caller.
			fixed := prometheus.Labels{"service": ep.Service, "action": ep.Action, "type": typ}
			total, active := m.reqTotal.MustCurryWith(fixed), m.reqActive.MustCurryWith(fixed)
			timing := m.reqTime.MustCurryWith(fixed)
			errors := m.reqErrors.MustCurryWith(fixed)
			return func(ctx *broker.Context) (any, error) {
				caller := ctx.Caller
				total.WithLabelValues(caller).Inc()
				a := active.WithLabelValues(caller)
				a.Inc()
				m.reqLevels.WithLabelValues(strconv.Itoa(ctx.Level)).Inc()
				if ctx.RetryAttempts() > 0 && !ctx.Served() {
					m.retries.WithLabelValues(ep.Service, ep.Action).Inc() // no series for actions never retried
				}
				start := ctx.Now()
				res, err := next(ctx)
				timing.WithLabelValues(caller).Observe(ms(ctx.Now().Sub(start)))
				a.Dec()
				if err != nil {
					e := errs.From(err)
					errors.WithLabelValues(caller, e.Name, strconv.Itoa(e.Code), e.Type).Inc()
				}
				return res, err
			}
		}
	}
	return broker.Middleware{
		Name:         "Metrics",
		LocalAction:  action("local"),
		RemoteAction: action("remote"),
		LocalEvent: func(next broker.EventFunc, ev broker.EventEndpointInfo) broker.EventFunc {
			service := ev.Service
			if i := strings.LastIndexByte(service, '.'); i >= 0 {
				service = service[i+1:] // Moleculer labels events with the service's name, not its versioned full name
			}
			return func(ctx *broker.Context) error {
				labels := []string{service, ev.Group, ctx.Event, ctx.Caller}
				m.evTotal.WithLabelValues(labels...).Inc()
				a := m.evActive.WithLabelValues(labels...)
				a.Inc()
				start := ctx.Now()
				err := next(ctx)
				m.evTime.WithLabelValues(labels...).Observe(ms(ctx.Now().Sub(start)))
				a.Dec()
				if err != nil {
					e := errs.From(err)
					m.evErrors.WithLabelValues(append(labels, e.Name, strconv.Itoa(e.Code), e.Type)...).Inc()
				}
				return err
			}
		},
	}
}

func (m *Metrics) packetSent(t packet.Type, size int) {
	m.publish.WithLabelValues(string(t)).Inc()
	m.sent.Inc()
	m.sentBytes.Add(float64(size))
}

func (m *Metrics) packetReceived(t packet.Type, size int) {
	m.receive.WithLabelValues(string(t)).Inc()
	m.received.Inc()
	m.receivedBytes.Add(float64(size))
}

func (m *Metrics) emitted(event string, groups []string, kind string) {
	g := strings.Join(groups, ",")
	switch kind {
	case "emit":
		m.emitTotal.WithLabelValues(event, g).Inc()
	case "broadcast":
		m.broadcastTotal.WithLabelValues(event, g).Inc()
	default:
		m.broadcastLocal.WithLabelValues(event, g).Inc()
	}
}

func (m *Metrics) breakerChanged(nodeID, service, action string, _, to breaker.State) {
	opened, half := 0.0, 0.0
	switch to {
	case breaker.Open:
		m.cbOpened.WithLabelValues(nodeID, service, action).Inc()
		opened = 1
	case breaker.HalfOpen:
		m.cbHalfOpened.WithLabelValues(nodeID, service, action).Inc()
		half = 1
	}
	m.cbOpenedActive.WithLabelValues(nodeID, service, action).Set(opened)
	m.cbHalfOpenedActive.WithLabelValues(nodeID, service, action).Set(half)
}

func (m *Metrics) cacheOp(op, _ string) {
	switch op {
	case "get":
		m.cacheGet.Inc()
	case "found":
		m.cacheFound.Inc()
	case "set":
		m.cacheSet.Inc()
	case "clean":
		m.cacheCleaned.Inc()
	}
}

// ms is a duration in (fractional) milliseconds, Moleculer's unit for *_time.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
