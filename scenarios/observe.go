package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/logging"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/tracing"
	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/testutil"
)

// SpanEntry is the journal kind of a span, recorded at the end of a traced run (in the order
// spans ended) so that the JSON journal carries the run's trace.
const SpanEntry = "trace.span"

// observation is what a run observes besides its journal: each node's Prometheus metrics and
// the cluster's spans. A run observes when its Options ask for metrics or traces, or when a
// metric or trace check needs them; otherwise it is nil and costs nothing.
type observation struct {
	metrics map[string]*metrics.Metrics // by node ID, of the nodes in this process
	nodes   []string                    // every node whose metrics are read, in spec order
	// procs are the node processes whose metrics and spans the tier collects (the real
	// tier: remote, once the cluster is built); spans their spans and the harness's once
	// the run has ended, in the order they ended; offset turns an instant into the run's.
	procs  map[string]bool
	remote Observing
	spans  []sdktrace.ReadOnlySpan
	offset func(time.Time) time.Duration
	tracer *tracing.Tracer
	checks []*MetricCheck
	// spec holds the checkers of the scenario's metric and trace check specs, by index.
	spec map[int]check.Checker
	// log and logOpts: Options.Log; clock is the cluster's runtime once built.
	log     io.Writer
	logOpts logging.Options
	clock   lateClock
}

// lateClock is the cluster's clock, known only once the cluster is built: loggers are made
// with the node options, before it, and log only during the run, after.
type lateClock struct{ c *rt.Clock }

func (l lateClock) Now() time.Time { return (*l.c).Now() }

func newObservation(s *Scenario, o Options) *observation {
	ob := &observation{spec: map[int]check.Checker{}, procs: map[string]bool{}, log: o.Log, logOpts: o.LogOptions, clock: lateClock{new(rt.Clock)},
		offset: func(t time.Time) time.Duration { return t.Sub(rt.Epoch) }}
	wantMetrics, wantTraces := o.Metrics, o.Traces
	extra := slices.Clone(s.ExtraChecks)
	for i, c := range s.Checks {
		var chk check.Checker
		switch c.Kind {
		case "metric":
			chk = &MetricCheck{Label: c.Label, Node: c.Node, Metric: c.Metric, Labels: c.Labels, Op: c.Op, Value: deref(c.Value),
				At: c.At, During: check.Window{From: c.From, To: c.To}, Every: c.Every}
		case "trace":
			tc := &TraceCheck{Label: c.Label, Action: c.Action, MaxDuration: c.Budget, MinSpans: c.Min}
			if c.Max != nil {
				tc.MaxAttempts = int(*c.Max)
			}
			chk = tc
		default:
			continue
		}
		ob.spec[i] = chk
		extra = append(extra, chk)
	}
	for _, c := range extra {
		switch c := c.(type) {
		case *MetricCheck:
			wantMetrics = true
			ob.checks = append(ob.checks, c)
		case *TraceCheck:
			wantTraces = true
		}
	}
	if !wantMetrics && !wantTraces && o.Log == nil {
		return nil
	}
	if wantMetrics {
		ob.metrics = map[string]*metrics.Metrics{}
	}
	if wantTraces {
		ob.tracer = tracing.New(tracing.Options{ServiceName: s.Name, Record: true})
	}
	for _, c := range extra {
		switch c := c.(type) {
		case *MetricCheck:
			c.ob, c.samples = ob, nil
		case *TraceCheck:
			c.ob = ob
		}
	}
	return ob
}

// instrument adds metrics and tracing to every node of the spec. A restarted node keeps its
// metrics: its counters span its incarnations, as a scrape across a restart would not.
func (ob *observation) instrument(spec *testutil.Spec) error {
	if ob == nil {
		return nil
	}
	var log *slog.Logger
	if ob.log != nil {
		lo := ob.logOpts
		lo.Clock = ob.clock
		h, err := logging.NewHandler(ob.log, lo)
		if err != nil {
			return err
		}
		log = slog.New(h)
	}
	for i := range spec.Nodes {
		n := &spec.Nodes[i]
		if n.Process != nil {
			// A node process builds its broker itself: the tier asks it for its metrics and
			// spans (an external command's are not collected: TierProblems).
			if len(n.Process.Command) == 0 && (ob.metrics != nil || ob.tracer != nil) {
				n.Process.Metrics, n.Process.Traces = ob.metrics != nil, ob.tracer != nil
				ob.procs[n.ID] = true
				if ob.metrics != nil {
					ob.nodes = append(ob.nodes, n.ID)
				}
			}
			continue
		}
		if log != nil && n.Options.Logger == nil {
			n.Options.Logger = log
		}
		if ob.metrics != nil {
			m := metrics.New(metrics.Options{})
			ob.metrics[n.ID] = m
			ob.nodes = append(ob.nodes, n.ID)
			n.Options = m.Instrument(n.Options)
		}
		if ob.tracer != nil {
			n.Options = ob.tracer.Instrument(n.Options)
		}
	}
	return nil
}

// built gives the loggers the cluster's clock, and finds the tier's collector of the node
// processes' metrics and spans.
func (ob *observation) built(c *testutil.Cluster) {
	if ob != nil {
		*ob.clock.c = c.Runtime
		ob.remote, _ = c.Tier.(Observing)
		ob.offset = c.Journal.Offset
	}
}

// gather reads one node's metric families: in this process, or scraped from its process.
func (ob *observation) gather(node string) ([]*dto.MetricFamily, error) {
	if m := ob.metrics[node]; m != nil {
		return m.Registry().Gather()
	}
	if !ob.procs[node] || ob.remote == nil {
		return nil, fmt.Errorf("no node %q", node)
	}
	data, err := ob.remote.Scrape(node)
	if err != nil {
		return nil, err
	}
	dec := expfmt.NewDecoder(bytes.NewReader(data), expfmt.NewFormat(expfmt.TypeProtoDelim))
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("node %s's metrics: %w", node, err)
		}
		out = append(out, mf)
	}
}

// gatherer is one node's metrics as a prometheus.Gatherer.
type gatherer func() ([]*dto.MetricFamily, error)

func (g gatherer) Gather() ([]*dto.MetricFamily, error) { return g() }

// collectSpans takes the run's spans: the harness's, and the node processes' (each scraped
// first, so that every span it ended has arrived; a process that is gone keeps what it sent).
func (ob *observation) collectSpans() {
	ob.spans = ob.tracer.Spans()
	if ob.remote == nil || len(ob.procs) == 0 {
		return
	}
	for id := range ob.procs {
		_, _ = ob.remote.Scrape(id)
	}
	for _, data := range ob.remote.Spans() {
		if sp, err := ob.tracer.UnmarshalSpan(data); err == nil {
			ob.spans = append(ob.spans, sp)
		}
	}
	slices.SortStableFunc(ob.spans, func(a, b sdktrace.ReadOnlySpan) int { return a.EndTime().Compare(b.EndTime()) })
}

// start schedules the metric checks' samples, on the simulation's clock.
func (ob *observation) start(c *testutil.Cluster) {
	if ob == nil {
		return
	}
	for _, mc := range ob.checks {
		for _, at := range mc.instants() {
			d := max(at-c.Elapsed(), 0)
			c.Runtime.AfterFunc(d, func() { mc.sample(at, false) })
		}
	}
}

// finish takes the end-of-run samples, records the spans in the journal and keeps the
// metrics and spans on the result.
func (ob *observation) finish(c *testutil.Cluster, out *Result) {
	if ob == nil {
		return
	}
	for _, mc := range ob.checks {
		mc.sample(c.Elapsed(), true)
	}
	if ob.metrics != nil {
		var gs prometheus.Gatherers
		for _, id := range ob.nodes {
			gs = append(gs, gatherer(func() ([]*dto.MetricFamily, error) { return ob.gather(id) }))
		}
		// Gatherers returns what it could gather with its error: a node process that is gone
		// (killed, with no metric check to refuse) has nothing to add, and the others' are
		// still written.
		if mfs, _ := gs.Gather(); len(mfs) > 0 {
			var b bytes.Buffer
			enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				_ = enc.Encode(mf)
			}
			out.Metrics = b.Bytes()
		}
	}
	if ob.tracer != nil {
		ob.collectSpans()
		out.Spans = ob.spans
		for _, s := range out.Spans {
			attrs := map[string]any{"traceID": s.SpanContext().TraceID().String(), "spanID": s.SpanContext().SpanID().String(),
				"name": s.Name(), "start": c.Journal.Offset(s.StartTime()), "duration": s.EndTime().Sub(s.StartTime())}
			if s.Parent().IsValid() {
				attrs["parentID"] = s.Parent().SpanID().String()
			}
			if s.Status().Description != "" {
				attrs["error"] = s.Status().Description
			}
			c.Journal.Record(spanNode(s), SpanEntry, attrs)
		}
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func spanNode(s sdktrace.ReadOnlySpan) string {
	for _, kv := range s.Attributes() {
		if kv.Key == "nodeID" {
			return kv.Value.AsString()
		}
	}
	return ""
}

// MetricCheck holds a metric to a bound: the sum of the series of Metric whose labels
// include Labels, on Node (every node when empty), compared with Value by Op, at each
// instant of At, every Every during During, or at the end of the run when neither is given.
// For a histogram, Metric names its _count or _sum. Add it to Scenario.ExtraChecks: the
// run then collects metrics on every node.
type MetricCheck struct {
	Label  string
	Node   string
	Metric string
	Labels map[string]string
	// Op is ==, !=, <, <=, > or >=.
	Op    string
	Value float64
	At    []time.Duration
	// During is a window sampled every Every (default 1 s); the bound must hold at each.
	During check.Window
	Every  time.Duration

	ob      *observation
	mu      sync.Mutex // samples: off the simulator, each instant's sample runs on a timer of its own
	samples []metricSample
}

type metricSample struct {
	at    time.Duration
	value float64
	err   error
}

// Name implements check.Checker.
func (m *MetricCheck) Name() string {
	if m.Label != "" {
		return m.Label
	}
	return "metric " + m.Metric + labelString(m.Labels)
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (m *MetricCheck) windowed() bool { return m.During.From > 0 || m.During.To > 0 }

// instants are the sample times during the run (the end-of-run sample is taken by finish).
func (m *MetricCheck) instants() []time.Duration {
	out := slices.Clone(m.At)
	if m.windowed() {
		every := m.Every
		if every <= 0 {
			every = time.Second
		}
		for t := m.During.From; m.During.To == 0 || t < m.During.To; t += every {
			out = append(out, t)
			if m.During.To == 0 && len(out) > 10000 {
				break
			}
		}
	}
	return out
}

// sample reads the metric now; end marks the end-of-run reading, which the check uses when
// it has no instants, and which stands in for instants past the run's end.
func (m *MetricCheck) sample(at time.Duration, end bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end && len(m.instants()) > 0 {
		for _, t := range m.instants() {
			if !slices.ContainsFunc(m.samples, func(s metricSample) bool { return s.at == t }) {
				v, err := m.read()
				m.samples = append(m.samples, metricSample{at: t, value: v, err: err})
			}
		}
		return
	}
	v, err := m.read()
	m.samples = append(m.samples, metricSample{at: at, value: v, err: err})
}

func (m *MetricCheck) read() (float64, error) {
	if m.ob == nil || m.ob.metrics == nil {
		return 0, fmt.Errorf("the run collected no metrics")
	}
	nodes := m.ob.nodes
	if m.Node != "" {
		nodes = []string{m.Node}
	}
	name, part := m.Metric, ""
	for _, suffix := range []string{"_count", "_sum"} {
		if base, ok := strings.CutSuffix(m.Metric, suffix); ok {
			name, part = base, suffix
		}
	}
	total, found := 0.0, false
	for _, id := range nodes {
		mfs, err := m.ob.gather(id)
		if err != nil {
			return 0, err
		}
		for _, mf := range mfs {
			fam := mf.GetName()
			if fam != m.Metric && (part == "" || fam != name || mf.GetType() != dto.MetricType_HISTOGRAM) {
				continue
			}
			for _, s := range mf.GetMetric() {
				if !hasLabels(s, m.Labels) {
					continue
				}
				found = true
				switch {
				case s.Counter != nil:
					total += s.Counter.GetValue()
				case s.Gauge != nil:
					total += s.Gauge.GetValue()
				case s.Histogram != nil && part == "_count":
					total += float64(s.Histogram.GetSampleCount())
				case s.Histogram != nil && part == "_sum":
					total += s.Histogram.GetSampleSum()
				}
			}
		}
	}
	if !found {
		return 0, nil // a counter nobody incremented has no series yet: it is 0
	}
	return total, nil
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		ok := false
		for _, l := range s.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func compare(op string, a, b float64) (bool, error) {
	switch op {
	case "==", "":
		return a == b, nil
	case "!=":
		return a != b, nil
	case "<":
		return a < b, nil
	case "<=":
		return a <= b, nil
	case ">":
		return a > b, nil
	case ">=":
		return a >= b, nil
	}
	return false, fmt.Errorf("unknown op %q (==, !=, <, <=, >, >=)", op)
}

// Check implements check.Checker.
func (m *MetricCheck) Check([]journal.Entry) check.Result {
	op := m.Op
	if op == "" {
		op = "=="
	}
	expected := fmt.Sprintf("%s %s %g", m.Metric+labelString(m.Labels), op, m.Value)
	m.mu.Lock()
	samples := slices.Clone(m.samples)
	m.mu.Unlock()
	slices.SortStableFunc(samples, func(a, b metricSample) int { return int(a.at - b.at) })
	if len(samples) == 0 {
		return check.Result{Name: m.Name(), Expected: expected, Actual: "no sample taken", At: -1}
	}
	for _, s := range samples {
		if s.err != nil {
			return check.Result{Name: m.Name(), Expected: expected, Actual: s.err.Error(), At: s.at}
		}
		ok, err := compare(op, s.value, m.Value)
		if err != nil {
			return check.Result{Name: m.Name(), Expected: expected, Actual: err.Error(), At: s.at}
		}
		if !ok {
			return check.Result{Name: m.Name(), Expected: expected, Actual: fmt.Sprintf("%g at +%s", s.value, s.at), At: s.at}
		}
	}
	last := samples[len(samples)-1]
	return check.Result{Name: m.Name(), Pass: true, Expected: expected,
		Actual: fmt.Sprintf("%g at +%s (%d samples)", last.value, last.at, len(samples)), At: -1}
}

// TraceCheck holds the spans of an action to a budget: no span of Action longer than
// MaxDuration, no request making more than MaxAttempts attempts of it (spans of the action
// in one trace under one parent: a retried call's attempts), and at least MinSpans spans of
// it, so that a run that never called it does not pass. Add it to Scenario.ExtraChecks: the
// run then traces every node.
type TraceCheck struct {
	Label       string
	Action      string
	MaxDuration time.Duration
	MaxAttempts int
	MinSpans    int

	ob *observation
}

// Name implements check.Checker.
func (tc *TraceCheck) Name() string {
	if tc.Label != "" {
		return tc.Label
	}
	return "trace " + tc.Action
}

// Check implements check.Checker.
func (tc *TraceCheck) Check([]journal.Entry) check.Result {
	var parts []string
	if tc.MaxDuration > 0 {
		parts = append(parts, fmt.Sprintf("no span longer than %s", tc.MaxDuration))
	}
	if tc.MaxAttempts > 0 {
		parts = append(parts, fmt.Sprintf("at most %d attempts per call", tc.MaxAttempts))
	}
	parts = append(parts, fmt.Sprintf("at least %d spans", max(tc.MinSpans, 1)))
	expected := "action '" + tc.Action + "': " + strings.Join(parts, ", ")
	if tc.ob == nil || tc.ob.tracer == nil {
		return check.Result{Name: tc.Name(), Expected: expected, Actual: "the run was not traced", At: -1}
	}
	name := "action '" + tc.Action + "'"
	type call struct {
		trace  trace.TraceID
		parent trace.SpanID
	}
	attempts := map[call]int{}
	n, longest := 0, time.Duration(0)
	spans := tc.ob.spans
	if spans == nil { // before the run's end
		spans = tc.ob.tracer.Spans()
	}
	for _, s := range spans {
		if s.Name() != name {
			continue
		}
		n++
		d := s.EndTime().Sub(s.StartTime())
		longest = max(longest, d)
		at := tc.ob.offset(s.StartTime())
		if tc.MaxDuration > 0 && d > tc.MaxDuration {
			return check.Result{Name: tc.Name(), Expected: expected,
				Actual: fmt.Sprintf("span %s on %s took %s", s.SpanContext().SpanID(), spanNode(s), d), At: at}
		}
		k := call{s.SpanContext().TraceID(), s.Parent().SpanID()}
		attempts[k]++
		if tc.MaxAttempts > 0 && attempts[k] > tc.MaxAttempts {
			return check.Result{Name: tc.Name(), Expected: expected,
				Actual: fmt.Sprintf("trace %s made %d attempts", k.trace, attempts[k]), At: at}
		}
	}
	if n < max(tc.MinSpans, 1) {
		return check.Result{Name: tc.Name(), Expected: expected, Actual: fmt.Sprintf("%d spans", n), At: -1}
	}
	most := 0
	for _, a := range attempts {
		most = max(most, a)
	}
	return check.Result{Name: tc.Name(), Pass: true, Expected: expected,
		Actual: fmt.Sprintf("%d spans, longest %s, at most %d attempts per call", n, longest, most), At: -1}
}
