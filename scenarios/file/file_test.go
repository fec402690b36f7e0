package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/testutil"
)

// invalid lists every malformed file under scenarios/testdata/invalid with the exact
// message the loader (and so `faultline validate`) gives for it, named as from the
// repository root.
var invalid = map[string]string{
	"bad-duration.yaml":           `scenarios/testdata/invalid/bad-duration.yaml:13:12: workload[0].think: invalid duration "1 second": write a number and a unit, such as "250ms", "1.5s" or "1m30s"`,
	"check-unknown-node.yaml":     `scenarios/testdata/invalid/check-unknown-node.yaml:12:15: checks[0].endpoint: unknown node "product-2"`,
	"check-unknown-observer.yaml": `scenarios/testdata/invalid/check-unknown-observer.yaml:11:11: checks[0].node: unknown node "api-gateway"`,
	"duration-without-unit.yaml":  `scenarios/testdata/invalid/duration-without-unit.yaml:4:11: duration: a duration needs a unit: write "30s" or "30ms", not 30`,
	"fault-unknown-node.yaml":     `scenarios/testdata/invalid/fault-unknown-node.yaml:12:11: faults[0].node: unknown node "product-3"`,
	"loss-rate-out-of-range.yaml": `scenarios/testdata/invalid/loss-rate-out-of-range.yaml:12:11: faults[0].rate: must be between 0 and 1, got 50`,
	"negative-rate.yaml":          `scenarios/testdata/invalid/negative-rate.yaml:13:11: workload[0].rate: must not be negative, got -5`,
	"several-problems.yaml": `scenarios/testdata/invalid/several-problems.yaml:12:11: workload[0].rate: must not be negative, got -1
scenarios/testdata/invalid/several-problems.yaml:14:5: faults[0].node: is required for a crash fault
scenarios/testdata/invalid/several-problems.yaml:17:9: faults[1].b[0]: unknown node "product-9"
scenarios/testdata/invalid/several-problems.yaml:23:14: checks[0].transitions[0].to: must be lost or joined, got "gone"`,
	"syntax-error.yaml":   `scenarios/testdata/invalid/syntax-error.yaml:7:3: YAML syntax error: value is not allowed in this context`,
	"unknown-action.yaml": `scenarios/testdata/invalid/unknown-action.yaml:11:13: workload[0].action: unknown action "product.fetch": no node of the cluster serves it`,
	"unknown-check-kind.yaml": `scenarios/testdata/invalid/unknown-check-kind.yaml:8:11: checks[0].kind: unknown check kind "latency-budget" (` +
		strings.Join(scenarios.CheckKinds, ", ") + `)`,
	"unknown-fault-kind.yaml": `scenarios/testdata/invalid/unknown-fault-kind.yaml:10:11: faults[0].kind: unknown fault kind "latncy" (` +
		strings.Join(scenarios.FaultKinds, ", ") + `)`,
	"unknown-field.yaml":   `scenarios/testdata/invalid/unknown-field.yaml:7:5: nodes[0].option: unknown field "option"; did you mean "options"?`,
	"unknown-node.yaml":    `scenarios/testdata/invalid/unknown-node.yaml:10:11: workload[0].from: unknown node "gatewy"`,
	"unknown-service.yaml": `scenarios/testdata/invalid/unknown-service.yaml:9:9: nodes[1].services[0]: unknown service "prodcut" (known: email, gateway, notification, order, product, user)`,
	"too-many-clients.yaml": `scenarios/testdata/invalid/too-many-clients.yaml:10:3: workload: the workload schedules 100000000 calls per virtual second, over the cap of 100000 (raise it with --max-calls-per-second)
scenarios/testdata/invalid/too-many-clients.yaml:13:14: workload[0].clients: 100000000 clients exceed the cap of 10000 (raise it with --max-clients)`,
	"calls-per-second.yaml": `scenarios/testdata/invalid/calls-per-second.yaml:10:3: workload: the workload schedules 1000000000 calls per virtual second, over the cap of 100000 (raise it with --max-calls-per-second)
scenarios/testdata/invalid/calls-per-second.yaml:14:12: workload[0].count: 1000000000 calls per client exceed the cap of 1000000 (raise it with --max-count)`,
	"control-character.yaml": `scenarios/testdata/invalid/control-character.yaml:6:9: nodes[0].id: "gate\x00way" holds the control character U+0000 at byte 4: names must be printable text`,
	"invalid-utf8.yaml":      `scenarios/testdata/invalid/invalid-utf8.yaml:2:7: name: "caf\ufffd" is not valid UTF-8 (byte 3)`,
	"wrong-type.yaml":        `scenarios/testdata/invalid/wrong-type.yaml:3:7: seed: expected a non-negative integer, got "forty-two"`,
}

func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("../testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 10)
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := invalid[name]
			require.True(t, ok, "add %s and its expected message to the table", name)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			s, err := file.Parse("scenarios/testdata/invalid/"+name, data)
			require.Nil(t, s)
			var fe *file.Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, want, err.Error())
			for _, p := range fe.Problems {
				assert.Positive(t, p.Line, "every problem has a position")
				assert.Positive(t, p.Col)
			}
		})
	}
	for name := range invalid {
		assert.True(t, seen[name], "%s is in the table but not in testdata/invalid", name)
	}
}

const base = `name: t
seed: 7
duration: 10s
nodes:
  - id: gateway
  - id: product-1
    services: [product]
`

func parse(t *testing.T, src string) (*scenarios.Scenario, error) {
	t.Helper()
	return file.Parse("t.yaml", []byte(src))
}

func TestDecodesEveryKindOfValue(t *testing.T) {
	s, err := parse(t, base+`description: |
  two lines
  of text
network: {latency: 2ms}
workload:
  - name: reads
    from: gateway
    action: product.get
    params: {id: 1, tags: [a, b], nested: {x: 1.5, ok: true, none: null}}
    meta: {token: "{{token}}"}
    timeout: 1m30s
    retries: 0
    fallback: {id: 0}
    clients: 2
    rate: 2.5
    start: 0
faults:
  - kind: partition
    a: [gateway]
    types: [REQ, res]
    every: 10s
    duration: 1s
    count: 3
checks:
  - kind: timeout
    action: product.get
    count: 0
    at: [1s, 1.5s]
  - kind: retries
    action: product.get
    max: 2
`)
	require.NoError(t, err)
	assert.Equal(t, "two lines\nof text\n", s.Description)
	assert.Equal(t, uint64(7), s.Seed)
	assert.Equal(t, 2*time.Millisecond, s.Network.Latency)
	w := s.Workload[0]
	assert.Equal(t, map[string]any{"id": 1, "tags": []any{"a", "b"}, "nested": map[string]any{"x": 1.5, "ok": true, "none": nil}}, w.Params)
	assert.Equal(t, 90*time.Second, *w.Timeout)
	require.NotNil(t, w.Retries, "an explicit 0 is kept for pointer fields")
	assert.Equal(t, 0, *w.Retries)
	assert.Equal(t, map[string]any{"id": 0}, w.Fallback)
	assert.Equal(t, 2.5, w.Rate)
	assert.Equal(t, []string{"REQ", "res"}, s.Faults[0].Types)
	assert.Equal(t, 0, *s.Checks[0].Count)
	assert.Equal(t, []time.Duration{time.Second, 1500 * time.Millisecond}, s.Checks[0].At)
	assert.Equal(t, 2.0, *s.Checks[1].Max)
}

func TestAnchorsAliasesAndMergeKeys(t *testing.T) {
	s, err := parse(t, `name: t
duration: 10s
defaults: &hb
  heartbeatInterval: 1s
  heartbeatTimeout: 3s
`+"")
	require.Error(t, err, "unknown top-level keys are rejected, even as anchor holders")

	s, err = parse(t, `name: t
duration: 10s
nodes:
  - id: gateway
    options: &hb
      heartbeatInterval: 1s
      heartbeatTimeout: 3s
  - id: product-1
    services: [product]
    options:
      <<: *hb
      heartbeatTimeout: 5s
  - id: product-2
    services: [product]
    options: *hb
`)
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, s.Nodes[0].Options.HeartbeatTimeout)
	assert.Equal(t, time.Second, s.Nodes[1].Options.HeartbeatInterval, "merged")
	assert.Equal(t, 5*time.Second, s.Nodes[1].Options.HeartbeatTimeout, "explicit keys win over merged ones")
	assert.Equal(t, s.Nodes[0].Options, s.Nodes[2].Options)
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"", "t.yaml:1:1: the file holds no scenario"},
		{"- a\n- b\n", "t.yaml:1:1: a scenario file must be a mapping of scenario fields (name, seed, duration, nodes, workload, faults, checks, ...), got a list"},
		{base + "---\nname: u\n", "t.yaml:9:1: a scenario file holds one scenario: remove the second YAML document"},
		{base + "seed2: 3\n", `t.yaml:8:1: seed2: unknown field "seed2"; did you mean "seed"?`},
		{base + "banana: 3\n", `t.yaml:8:1: banana: unknown field "banana" (fields here: name, description, seed, duration, network, nodes, workload, faults, nemesis, checks, services, setup, config, plants)`},
		{strings.Replace(base, "seed: 7", "seed: -7", 1), "t.yaml:2:7: seed: must not be negative, got -7"},
		{strings.Replace(base, "seed: 7", "seed: 1.5", 1), "t.yaml:2:7: seed: expected a non-negative integer, got the number 1.5"},
		{strings.Replace(base, "duration: 10s", "duration: [10s]", 1), "t.yaml:3:11: duration: expected a duration such as \"250ms\" or \"1m30s\", got a list"},
		{strings.Replace(base, "services: [product]", "services: product", 1), "t.yaml:7:15: nodes[1].services: expected a list, got \"product\""},
		{strings.Replace(base, "- id: gateway", "- id: 7", 1), "t.yaml:5:9: nodes[0].id: expected a string, got the integer 7"},
		{strings.Replace(base, "- id: gateway", "- gateway", 1), "t.yaml:5:5: nodes[0]: expected a mapping with the fields id, services, options, command, env, got \"gateway\""},
		{base + "workload:\n  - from: gateway\n    action: product.get\n    params: *nope\n", "t.yaml:11:13: workload[0].params: alias *nope names no anchor"},
		{base + "checks:\n  - kind: breaker\n    endpoint: product-1:product.get\n    shared: yes\n", "t.yaml:11:13: checks[0].shared: expected true or false, got \"yes\""},
		{base + "workload:\n  - from: gateway\n    action: product.get\n    count: 99999999999999999999\n", "t.yaml:11:12: workload[0].count: integer 99999999999999999999 is out of range"},
		// A missing required field is reported where its parent is.
		{base + "faults:\n  - name: boom\n    kind: crash\n", "t.yaml:9:5: faults[0].node: is required for a crash fault"},
		{"seed: 1\nduration: 5s\nnodes: [{id: a}]\n", "t.yaml:1:1: name: is required"},
	}
	for _, c := range cases {
		_, err := parse(t, c.src)
		var fe *file.Error
		if assert.True(t, errors.As(err, &fe), "%q: %v", c.src, err) {
			assert.Equal(t, c.want, err.Error(), c.src)
		}
	}
}

func TestNeverPanics(t *testing.T) {
	// Truncations and byte flips of a real file: each must give a scenario or an error.
	data, err := os.ReadFile("../testdata/order-flow.yaml")
	require.NoError(t, err)
	for i := 0; i < len(data); i += 7 {
		_, _ = file.Parse("t.yaml", data[:i])
		flipped := append([]byte(nil), data...)
		const specials = ":-[]{}&*!|>'\"%@`#,?\t\n"
		flipped[i] = specials[i%len(specials)]
		_, _ = file.Parse("t.yaml", flipped)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, s := range scenarios.Suite() {
		b, err := file.Marshal(&s)
		require.NoError(t, err)
		got, err := file.Parse(s.Name+".yaml", b)
		require.NoError(t, err, string(b))
		assert.Equal(t, s, *got)
	}
	s := scenarios.Suite()[0]
	s.Setup = func(*testutil.Cluster) error { return nil }
	_, err := file.Marshal(&s)
	assert.ErrorContains(t, err, "Go-only")
}

func TestDescription(t *testing.T) {
	assert.Equal(t, "a b", file.Description([]byte("name: x\ndescription: |\n  a\n  b\n")))
	assert.Equal(t, "A node runs a service the catalog does not have.",
		file.Description([]byte("# yaml-language-server: $schema=x\n# A node runs a service\n# the catalog does not have.\nname: [\n")))
}

// FuzzParse: no input panics or hangs the loader. It validates against a cheap catalog:
// building the real services under coverage instrumentation is too slow to fuzz.
//
// The seeds are small on purpose. Go's fuzzer minimizes every input that finds new
// coverage before it goes on (up to -fuzzminimizetime, 60 s by default), and a minimizer
// pass costs about one execution per byte per pass: seeded with the 3 KB files of
// scenarios/testdata, each new input stalled the worker for the whole minute, and a 20 s
// run reported 7 executions. Small seeds that still reach every part of the decoder
// (anchors, aliases, flow and block style, durations, every section) keep the inputs small.
func FuzzParse(f *testing.F) {
	handler := func(*broker.Context) (any, error) { return nil, nil }
	svc := func(name string, actions ...string) scenarios.ServiceFactory {
		return func(*catalog.Resources) (*broker.Service, error) {
			s := &broker.Service{Name: name, Actions: map[string]broker.Action{}}
			for _, a := range actions {
				s.Actions[a] = broker.Action{Handler: handler}
			}
			return s, nil
		}
	}
	cat := map[string]scenarios.ServiceFactory{"product": svc("product", "get", "create", "update", "reduceStock"),
		"order": svc("order", "create"), "user": svc("user", "login"), "email": svc("email"), "notification": svc("notification")}
	for _, seed := range fuzzSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s, err := file.ParseWith("f.yaml", data, file.Options{Catalog: cat})
			if err == nil && s == nil {
				t.Error("nil scenario without an error")
			}
			var fe *file.Error
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("an error that is not a *file.Error: %v", err)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("parsing took over 5 s: %q", data)
		}
	})
}

// TestBrokerOptionsKeepGivenZeros: the broker-level specs merge over Moleculer's defaults, so a
// field not given is nil (the default) and a given zero is kept as a value.
func TestBrokerOptionsKeepGivenZeros(t *testing.T) {
	s, err := parse(t, `name: t
duration: 10s
nodes:
  - id: gateway
    options:
      retryPolicy: {enabled: true, retries: 0, delay: 0s}
      circuitBreaker: {enabled: true, threshold: 0, minRequestCount: 0}
      bulkhead: {enabled: true, maxQueueSize: 0}
`)
	require.NoError(t, err)
	o := s.Nodes[0].Options
	r := o.Retry.Overrides()
	require.NotNil(t, r.Retries)
	assert.Equal(t, 0, *r.Retries)
	require.NotNil(t, r.Delay)
	assert.Equal(t, time.Duration(0), *r.Delay)
	assert.Nil(t, r.MaxDelay, "not given: Moleculer's default")
	assert.Nil(t, r.Factor)
	cb := o.CircuitBreaker.Options()
	require.NotNil(t, cb.Threshold)
	assert.Equal(t, 0.0, *cb.Threshold)
	require.NotNil(t, cb.MinRequestCount)
	assert.Equal(t, 0, *cb.MinRequestCount)
	assert.Nil(t, cb.WindowTime)
	assert.Nil(t, cb.HalfOpenTime)
	bh := o.Bulkhead.Options()
	assert.True(t, *bh.Enabled)
	assert.Nil(t, bh.Concurrency)
	require.NotNil(t, bh.MaxQueueSize)
	assert.Equal(t, 0, *bh.MaxQueueSize)
}

// TestFileSizeCap: a file over the cap is refused before it is decoded, with the size, the
// cap and the flag that raises it; ReadLimited refuses it without reading it whole.
func TestFileSizeCap(t *testing.T) {
	data := []byte(base + "description: \"" + strings.Repeat("x", 5<<20) + "\"\n")
	_, err := file.Parse("big.yaml", data)
	assert.EqualError(t, err, "big.yaml:1:1: the file is 5 MB, over the cap of 4 MB for scenario files (raise it with --max-file-size)")
	path := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = file.ReadLimited(path, 0)
	assert.EqualError(t, err, path+":1:1: the file is 5 MB, over the cap of 4 MB for scenario files (raise it with --max-file-size)")
	got, err := file.ReadLimited(path, 6<<20)
	require.NoError(t, err)
	assert.Len(t, got, len(data))
	_, err = file.ParseWith("big.yaml", data, file.Options{Limits: scenarios.Limits{FileSize: 6 << 20}})
	assert.NoError(t, err, "raised, the same file is valid")
}

// TestProductsCap: the 1.5-million-product file of issue 12, in small: the cap is checked
// before the services are built.
func TestProductsCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "config:\n  products:\n")
	for range 11 {
		b.WriteString("    - {name: w, price: 1, stock: 1}\n")
	}
	_, err := file.ParseWith("p.yaml", []byte(b.String()), file.Options{Limits: scenarios.Limits{Products: 10}})
	assert.ErrorContains(t, err, "config.products: 11 products exceed the cap of 10 (raise it with --max-products)")
}

// fuzzSeeds are small scenario files, valid and not, covering the decoder's paths.
var fuzzSeeds = []string{
	"name: a\nseed: 1\nduration: 10s\nnodes: [{id: g}, {id: p, services: [product]}]\n" +
		"workload: [{from: g, action: product.get, params: {id: 1}, think: 1s}]\n" +
		"faults: [{kind: error, action: product.get, node: p, start: 2s, duration: 1s}]\n" +
		"checks: [{kind: errors, action: product.get, count: 1}]\nconfig: {products: [{name: w, price: 1, stock: 2}]}\n",
	"name: b\nduration: 1m30s\nnodes:\n  - &n {id: x, options: {circuitBreaker: {enabled: true, threshold: 0.5}}}\n  - *n\n",
	"name: c\nduration: 5s\nnetwork: {latency: 1ms}\nnodes: [{id: a, services: [order, user]}]\n" +
		"faults: [{kind: loss, rate: 0.5, from: [a], types: [REQ]}]\nchecks: [{kind: breaker, endpoint: \"a:order.create\", transitions: [{to: open, at: 1s}]}]\n",
	"name: 1\nduration: -1s\nnodes: [{id: \"\"}]\nworkload: [{clients: 99999999999999999999}]\nbogus: true\n",
	"{name: d, duration: 1s, nodes: [{id: a}], checks: [{kind: membership, node: a, peer: a}]}",
	"name: e\n---\nname: f\n",
	"[1, 2]",
}
