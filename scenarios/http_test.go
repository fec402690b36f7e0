package scenarios_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// TestHTTPScenarios runs the HTTP chaos files (scenarios/testdata/http) twice each (the
// determinism self-check) and logs what the clients saw: status counts per 5 s window and
// latency percentiles, in virtual time.
func TestHTTPScenarios(t *testing.T) {
	paths, err := filepath.Glob("testdata/http/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 3)
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".yaml"), func(t *testing.T) {
			s, err := file.Load(p)
			require.NoError(t, err)
			res, err := scenarios.Run(*s, scenarios.Options{CheckDeterminism: true})
			require.NoError(t, err)
			for _, c := range res.Checks {
				t.Log(c.Message())
			}
			for _, l := range httpSummary(res.Journal, 5*time.Second) {
				t.Log(l)
			}
			assert.Empty(t, res.Error)
			require.NotNil(t, res.Deterministic)
			assert.True(t, *res.Deterministic, "same seed, byte-identical journal")
			assert.True(t, res.Pass, "scenario %s failed", s.Name)
		})
	}
}

// httpSummary renders status counts per window and the latency percentiles.
func httpSummary(es []journal.Entry, window time.Duration) []string {
	counts := map[time.Duration]map[string]int{}
	var lat []time.Duration
	for _, e := range journal.Filter(es, scenarios.HTTPResponse) {
		w := e.T / window * window
		if counts[w] == nil {
			counts[w] = map[string]int{}
		}
		key := fmt.Sprint(e.Attrs["status"])
		if name, ok := e.Attrs["error"]; ok {
			key += " " + fmt.Sprint(name)
		}
		counts[w][key]++
		if d, ok := e.Attrs["latency"].(time.Duration); ok {
			lat = append(lat, d)
		}
	}
	var out []string
	windows := make([]time.Duration, 0, len(counts))
	for w := range counts {
		windows = append(windows, w)
	}
	slices.Sort(windows)
	for _, w := range windows {
		keys := make([]string, 0, len(counts[w]))
		for k := range counts[w] {
			keys = append(keys, fmt.Sprintf("%s×%d", k, counts[w][k]))
		}
		sort.Strings(keys)
		out = append(out, fmt.Sprintf("+%s: %s", w, strings.Join(keys, ", ")))
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		out = append(out, fmt.Sprintf("latency p50 %s p90 %s p99 %s max %s (%d requests)", lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1], n))
	}
	return out
}

// TestHTTPWorkloadValidation: a malformed HTTP workload is reported at its line and column.
func TestHTTPWorkloadValidation(t *testing.T) {
	src := `name: bad
seed: 1
duration: 1s
nodes:
  - id: gateway
    services: [gateway]
workload:
  - from: gateway
    action: product.get
    http:
      method: get
      path: api/products
      gateways: [gw-9]
      retries: -1
`
	_, err := file.Parse("bad.yaml", []byte(src))
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`bad.yaml:9:13: workload[0].action: an HTTP workload calls no action`,
		`bad.yaml:11:15: workload[0].http.method: must be upper case, got "get"`,
		`bad.yaml:12:13: workload[0].http.path: must start with '/', got "api/products"`,
		`bad.yaml:13:18: workload[0].http.gateways[0]: unknown node "gw-9"`,
		`bad.yaml:14:16: workload[0].http.retries: must not be negative, got -1`,
	} {
		assert.Contains(t, msg, want)
	}
}
