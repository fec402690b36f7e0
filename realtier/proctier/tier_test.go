package proctier_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/realtier/proctier"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/testutil"
)

// TestMain builds the faultline binary the node processes run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proctier-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "faultline")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/faultline").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building faultline: %v\n%s", err, out)
		os.Exit(1)
	}
	proctier.Binary = bin
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const sec = time.Second

func twin(name string, faults []scenarios.FaultSpec, checks ...scenarios.CheckSpec) scenarios.Scenario {
	hb := scenarios.NodeOptions{HeartbeatInterval: sec, HeartbeatTimeout: 3 * sec}
	gw := hb
	gw.Retry = &scenarios.RetrySpec{Enabled: true, Retries: ptr(2), Delay: ptr(100 * time.Millisecond)}
	gw.RequestTimeout = 2 * sec
	return scenarios.Scenario{
		Name: name, Seed: 1, Duration: 9 * sec,
		Config: scenarios.ServiceConfig{Products: []scenarios.Product{{Name: "widget", Price: 10, Stock: 1000}}},
		Nodes: []scenarios.NodeSpec{
			{ID: "gateway", Options: gw},
			{ID: "product-1", Services: []string{"product"}, Options: hb},
			{ID: "product-2", Services: []string{"product"}, Options: hb},
		},
		Workload: []scenarios.WorkloadSpec{{Name: "reads", From: "gateway", Action: "product.get", Params: map[string]any{"id": 1}, Rate: 5, Start: sec}},
		Faults:   faults,
		Checks:   checks,
	}
}

func ptr[T any](v T) *T { return &v }

// kinds counts the journal entries of each kind on each node.
func count(es []journal.Entry, kind, node string) int {
	n := 0
	for _, e := range es {
		if e.Kind == kind && (node == "" || e.Node == node) {
			n++
		}
	}
	return n
}

// A product node process is killed (SIGKILL) at +3s: the gateway loses it after the
// heartbeat timeout, every call is still answered (retried on product-2), and the journal
// holds what both processes recorded, under their own node IDs.
func TestCrashedProcessIsLostAndCallsFailOver(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: seconds of wall time")
	}
	s := twin("process-crash", []scenarios.FaultSpec{{Name: "product-1 killed", Kind: "crash", Node: "product-1", Start: 3 * sec}},
		scenarios.CheckSpec{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1},
		scenarios.CheckSpec{Kind: "errors", Action: "product.get", Max: ptr(0.0)},
		scenarios.CheckSpec{Kind: "membership", Node: "gateway", Peer: "product-1", Transitions: []scenarios.TransitionAt{
			{To: "lost", At: 6 * sec, Tolerance: 1500 * time.Millisecond}}},
	)
	res, err := scenarios.Run(s, scenarios.Options{Tier: proctier.Name, Tolerance: 500 * time.Millisecond, Metrics: true})
	require.NoError(t, err)
	for _, c := range res.Checks {
		t.Log(c.Message())
	}
	require.Empty(t, res.Error)
	assert.True(t, res.Pass)
	// The run's metrics are scraped from the processes at the end: product-2's are there,
	// the killed product-1's are gone with it, and the harness's gateway's are its own.
	assert.Contains(t, string(res.Metrics), `moleculer_request_total{action="product.get",caller="",namespace="",nodeID="product-2",service="product",type="local"}`)
	assert.Contains(t, string(res.Metrics), `nodeID="gateway"`)
	assert.NotContains(t, string(res.Metrics), `nodeID="product-1"`)
	es := res.Journal
	assert.Equal(t, 1, count(es, journal.NodeStarted, "product-1"), "product-1's process journaled its start")
	assert.Equal(t, 1, count(es, journal.NodeStarted, "product-2"))
	assert.Zero(t, count(es, journal.NodeStopped, "product-1"), "a killed process says nothing more")
	assert.Positive(t, count(es, journal.ActionRun, "product-2"), "product-2 served calls in its process")
	assert.Equal(t, 1, count(es, journal.FaultApplied, ""))
}

// The process-tier files run in the simulator and as processes with the same verdict and
// the same number of workload calls and successes: the agreement table of the README.
func TestFilesAgreeWithTheSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: seconds of wall time")
	}
	paths, err := filepath.Glob("../../scenarios/testdata/process/*.yaml")
	require.NoError(t, err)
	require.Len(t, paths, 10)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			s, err := file.Parse(path, data)
			require.NoError(t, err)
			sim, err := scenarios.Run(*s, scenarios.Options{})
			require.NoError(t, err)
			real, err := scenarios.Run(*s, scenarios.Options{Tier: proctier.Name, Tolerance: 500 * time.Millisecond})
			require.NoError(t, err)
			for _, c := range real.Checks {
				t.Log("process: " + c.Message())
			}
			require.Empty(t, real.Error)
			assert.True(t, sim.Pass, "passes in the simulator")
			assert.True(t, real.Pass, "passes as processes")
			// The workload's calls, counted where they are made (calls between the services
			// depend on how many attempts the timing allows), and the domain's effects.
			for _, n := range s.Nodes {
				if len(n.Services) == 0 {
					assert.Equal(t, count(sim.Journal, journal.CallStarted, n.ID), count(real.Journal, journal.CallStarted, n.ID), "calls from %s", n.ID)
				}
			}
			// Spans are journaled at the end of a traced run, the node processes' with the
			// harness's: as many in both tiers.
			kinds := []string{journal.FaultApplied, journal.FaultHealed, journal.DomainOrder, journal.DomainStock,
				journal.CacheHit, journal.CacheMiss, journal.CacheSet, journal.CacheClean, journal.CacheError, scenarios.SpanEntry}
			if slices.ContainsFunc(s.Faults, func(f scenarios.FaultSpec) bool { return f.Kind == "asymmetric" }) {
				// dropped one by one, by a transporter, in both tiers (a cut route drops
				// nothing anyone sees; memnet journals each packet)
				kinds = append(kinds, journal.PacketDropped)
			}
			for _, kind := range kinds {
				assert.Equal(t, count(sim.Journal, kind, ""), count(real.Journal, kind, ""), kind)
			}
			for _, c := range s.Checks {
				switch c.Kind {
				case "metric": // the node's series are in the run's metrics, scraped from its process
					assert.Contains(t, string(real.Metrics), fmt.Sprintf("nodeID=%q", c.Node))
				case "trace": // spans ended in the serving nodes' processes reached the harness
					served := 0
					for _, n := range s.Nodes {
						if len(n.Services) > 0 {
							served += count(real.Journal, scenarios.SpanEntry, n.ID)
						}
					}
					assert.Positive(t, served, "spans from the node processes")
				}
			}
			t.Logf("wall %s for %s virtual", real.WallTime.Round(time.Millisecond), real.VirtualTime)
		})
	}
}

// Faults the tier cannot carry out are refused before anything runs, naming each.
func TestUnsupportedFaultsAreRefused(t *testing.T) {
	s := twin("refused", []scenarios.FaultSpec{
		{Name: "cache gone", Kind: "cacher-down", Node: "product-1"}, // product-1 has no cacher
		{Name: "lossy", Kind: "loss", Rate: 0.5},
		{Name: "gateway down", Kind: "crash", Node: "gateway"},
		{Name: "product-2 stopped", Kind: "pause", Node: "product-2", Start: 2 * sec, Duration: 2 * sec},
	},
		// read at +3s, inside the pause: refused; at +5s, after it: runs
		scenarios.CheckSpec{Kind: "metric", Node: "product-2", Metric: "moleculer_request_total", Value: ptr(1.0), At: []time.Duration{5 * sec, 3 * sec}},
		scenarios.CheckSpec{Kind: "metric", Node: "product-2", Metric: "moleculer_request_total", Value: ptr(1.0), At: []time.Duration{5 * sec}},
		// every node's, at the run's end: product-1's and product-2's processes answer then
		scenarios.CheckSpec{Kind: "metric", Metric: "moleculer_request_total", Value: ptr(1.0)},
	)
	for _, name := range []string{proctier.Name, proctier.Alias} { // "process" is "real"
		_, err := scenarios.Run(s, scenarios.Options{Tier: name})
		require.Error(t, err)
		msg := err.Error()
		for _, want := range []string{
			`faults[0].kind: fault "cache gone" (cacher-down) cannot run on tier real: node product-1 has no cacher`,
			`faults[1].kind: fault "lossy" (loss) cannot run on tier real: it acts on single packets, which needs the in-memory network`,
			`faults[2].kind: fault "gateway down" (crash) cannot run on tier real: node gateway runs in the harness`,
			`checks[0].node: check metric on product-2 cannot run on tier real: it reads product-2's metrics at +3s, while fault "product-2 stopped" has its process stopped (SIGSTOP), which cannot answer (sample before or after the pause)`,
		} {
			assert.True(t, strings.Contains(msg, want), "%s\nin: %s", want, msg)
		}
		assert.Equal(t, 4, strings.Count(msg, "cannot run on tier real"), msg)
	}
}

// An external node: a Moleculer JS product service, started from the scenario file's
// command, serves calls beside ours until the harness kills it; the gateway loses it after
// the heartbeat timeout, and every call is still answered.
func TestExternalMoleculerNodeUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: seconds of wall time")
	}
	testutil.RequireProgram(t, "node", "apt-get install nodejs npm, then `make interop/node/node_modules`")
	if _, err := os.Stat("../../interop/node/node_modules/moleculer/package.json"); err != nil {
		testutil.Missing(t, "node", "npm packages missing in interop/node: run `make interop/node/node_modules` (npm ci)")
	}
	s, res := runOnProcesses(t, "../../scenarios/testdata/external/legacy-product.yaml", 500*time.Millisecond)
	served := 0
	for _, e := range res.Journal {
		if e.Kind == journal.ResReceived && e.Node == "gateway" && e.Str("from") == "legacy-product" && e.Bool("ok") {
			served++
		}
	}
	assert.Positive(t, served, "the JS node answered the gateway before it was killed")
	assert.Equal(t, 0, count(res.Journal, journal.NodeStarted, "legacy-product"), "an external node journals nothing of its own")

	_, err := scenarios.Run(*s, scenarios.Options{})
	require.Error(t, err, "the simulator cannot run an external process")
	assert.Contains(t, err.Error(), "nodes[2].command: node legacy-product is an external process: it runs on tiers real and containers only")
}

// A toxic fault: Toxiproxy's timeout toxic on one route. Calls sent across it time out and
// are retried elsewhere; the simulator refuses the file, at the fault's line.
func TestToxicOnARoute(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: seconds of wall time")
	}
	path := "../../scenarios/testdata/toxics/blackhole.yaml"
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = file.Parse(path, data)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "blackhole.yaml:21:42: faults[0].kind: a toxic fault is a Toxiproxy toxic on the routes between the nodes' NATS servers: it runs on tier real only, not sim")
	_, res := runOnProcesses(t, path, 200*time.Millisecond)
	assert.Positive(t, count(res.Journal, journal.ReqTimeout, "gateway"), "calls across the held route timed out")
}

// runOnProcesses runs a scenario file on the process tier and requires it to pass.
func runOnProcesses(t *testing.T, path string, tolerance time.Duration) (*scenarios.Scenario, *scenarios.Result) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := file.ParseWith(path, data, file.Options{Tier: proctier.Name})
	require.NoError(t, err)
	res, err := scenarios.Run(*s, scenarios.Options{Tier: proctier.Name, Tolerance: tolerance})
	require.NoError(t, err)
	for _, c := range res.Checks {
		t.Log(c.Message())
	}
	require.Empty(t, res.Error)
	assert.True(t, res.Pass)
	return s, res
}
