package repl_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/repl"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata")

// transcript runs lines in a debugger session on s and returns what a terminal would show.
func transcript(t *testing.T, s scenarios.Scenario, from string, lines []string) (string, *scenarios.Debugger) {
	t.Helper()
	d, err := scenarios.Debug(s, scenarios.Options{})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	var out bytes.Buffer
	sess, err := repl.NewDebug(d, from, &out)
	require.NoError(t, err)
	for _, l := range lines {
		out.WriteString(sess.Prompt() + l + "\n")
		_ = sess.Exec(l)
	}
	return out.String(), d
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./repl -update to write it")
	assert.Equal(t, string(want), got)
}

// The README's walk-through: stop the breaker cycle before the fault, step to the breaker
// opening, inspect breakers, faults and the journal, probe mid-fault, watch it half-open,
// and continue to the verdict. Every byte is fixed by the seed.
func TestDebugBreakerCycleTranscript(t *testing.T) {
	out, d := transcript(t, scenarios.BreakerCycle(), "gateway", []string{
		"until time 4s",
		"nodes",
		"actions",
		"faults",
		"until breaker gateway product-1:product.get open",
		"breakers",
		"actions",
		"journal --kind breaker",
		"step",
		"call product.get {\"id\": 1}",
		"advance 5s",
		"breakers",
		"until breaker gateway product-1:product.get open",
		"inflight",
		"continue",
		"step",
		"now",
	})
	golden(t, "breaker-cycle.txt", out)
	require.True(t, d.Ended())
	// The probe at +8s is one more ServiceNotAvailableError than the plain run has: the
	// check sees the intervention, as it should.
	assert.False(t, d.Result().Pass)
	require.Len(t, d.Result().Interventions, 1)
	assert.Equal(t, `call product.get {"id": 1}`, d.Result().Interventions[0].Command)
}

// Calls in flight: a hung dependency holds the gateway's request until its timeout.
func TestDebugInflightTranscript(t *testing.T) {
	out, _ := transcript(t, scenarios.HungDependency(), "gateway", []string{
		"faults",
		"until kind fault.applied",
		"until kind req.sent gateway",
		"inflight",
		"advance 50ms",
		"inflight",
		"faults",
	})
	golden(t, "hung-dependency.txt", out)
}

// Caches on a stopped run: keys, one entry, and a delete that runs inside the simulation.
func TestDebugCacheTranscript(t *testing.T) {
	out, _ := transcript(t, scenarios.CacheUnderPartition(), "product-2", []string{
		"until time 12s",
		"cache keys",
		"cache keys product.get:*",
		"cache get product.get:1|undefined|undefined",
		"cache del product.get:1|undefined|undefined",
		"cache keys",
		"cache get product.get:1|undefined|undefined",
		"use gateway",
		"cache keys",
		"info",
	})
	golden(t, "cache-under-partition.txt", out)
}

// Bad input gets one line and an error, never a panic; the run does not move.
func TestBadCommandsGetOneLine(t *testing.T) {
	d, err := scenarios.Debug(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	defer d.Close()
	for _, c := range []struct{ line, want string }{
		{"frobnicate", `error: unknown command "frobnicate" (type help)`},
		{"call", "error: missing ACTION"},
		{"call product.get {\"id\": 1", "error: params is not valid JSON: unexpected EOF"},
		{"call product.get [1]", "error: params must be a JSON object, not an array"},
		{"call product.get {} --meta", "error: flag --meta needs a value"},
		{"call product.get {} --mta {}", "error: unknown flag --mta"},
		{"call product.get {}x", `error: params is not valid JSON: unexpected "x" after the value`},
		{"emit", "error: missing EVENT"},
		{"cache", "error: no cacher on node gateway"},
		{"until", "error: until what? breaker, kind, fault, node or time"},
		{"until breaker gateway x shut", "error: breaker state must be open, half-open, half-open-wait or closed"},
		{"until time soon", "error: until time needs an instant such as 13s"},
		{"advance -1s", "error: advance needs a positive duration such as 1s"},
		{"journal 0", "error: journal N needs a positive number of entries"},
		{"journal --kind", "error: flag --kind needs a value"},
		{"use nobody", "error: no node \"nobody\" (have gateway, product-1)"},
		{"nodes extra", "error: nodes takes no arguments"},
		{"bench product.get {} --time 2m", "error: bench --time is at most 1m0s in the debugger"},
		{"metrics nosuch", "error: no metric named nosuch*"},
	} {
		var out bytes.Buffer
		s, err := repl.NewDebug(d, "gateway", &out)
		require.NoError(t, err)
		assert.Error(t, s.Exec(c.line), c.line)
		assert.Equal(t, c.want+"\n", out.String(), c.line)
	}
	assert.Zero(t, d.Steps(), "no bad command moved the run")
	assert.Empty(t, d.Interventions())
}

// A debugged run with interventions replays byte for byte; before the first intervention
// its journal is the plain run's.
func TestReplayRepeatsInterventions(t *testing.T) {
	_, d := transcript(t, scenarios.BreakerCycle(), "gateway", []string{
		"until breaker gateway product-1:product.get open",
		"call product.list {}",
		"advance 3s",
		"use product-1",
		"emit cache.clean.product {}",
		"continue",
	})
	res := d.Result()
	require.NotNil(t, res)
	require.Len(t, res.Interventions, 2)
	assert.Equal(t, "product-1", res.Interventions[1].Node)

	plain, err := scenarios.Run(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	first := -1
	for i, e := range res.Journal {
		if e.Kind == "debug.intervention" {
			first = i
			break
		}
	}
	require.Positive(t, first)
	assert.Equal(t, plain.Journal[:first], res.Journal[:first], "the journal before the first intervention is the plain run's")
	assert.NotEqual(t, plain.JournalBytes(), res.JournalBytes())

	again, err := scenarios.Debug(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	defer again.Close()
	replayed, err := repl.Replay(again, res.Interventions, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, string(res.JournalBytes()), string(replayed.JournalBytes()))
}

func TestCompletion(t *testing.T) {
	d, err := scenarios.Debug(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.RunTo(2_000_000_000))
	s, err := repl.NewDebug(d, "gateway", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"cache", "call", "continue"}, s.Complete("c"))
	assert.Equal(t, []string{"product.get"}, s.Complete("call product.g"))
	assert.Equal(t, []string{"product-1"}, s.Complete("dcall p"))
	assert.Equal(t, []string{"cache.clean.product"}, s.Complete("emit "))
	assert.Equal(t, []string{"gateway", "product-1"}, s.Complete("use "))
	assert.Equal(t, []string{"breaker", "fault", "kind", "node", "time"}, s.Complete("until "))
	assert.Empty(t, s.Complete("nodes "))

	live := repl.New(repl.Live{Broker: d.Cluster().Node("gateway")}, &bytes.Buffer{})
	for _, w := range live.Complete("") {
		assert.False(t, strings.Contains("breakers inflight faults journal step until advance continue use now", w), "%s is a debugger command", w)
	}
}

// On the wall clock: the same commands against a live in-process cluster (the transport is
// the in-memory one; faultline repl --nats is tested in cmd/faultline).
func TestLiveSession(t *testing.T) {
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Cacher: testutil.CacherMemory,
		Resources: scenarios.Resources(scenarios.ServiceConfig{}),
		Nodes:     []testutil.NodeSpec{{ID: "repl"}, {ID: "product-1", Services: []string{"product"}}}})
	require.NoError(t, c.Start())
	var out bytes.Buffer
	s := repl.New(repl.Live{Broker: c.Node("product-1"), Wait: 10 * time.Second}, &out)
	run := func(line string) string {
		t.Helper()
		out.Reset()
		require.NoError(t, s.Exec(line), out.String())
		return out.String()
	}
	assert.Contains(t, run(`call product.create {"name": "gadget", "price": 3}`), ">> Response:\n{\n  \"description\": null,\n  \"id\": 1,\n  \"name\": \"gadget\",")
	run(`call product.get {"id": 1}`)
	assert.Equal(t, "Key\nproduct.get:1|undefined|undefined\n(1 keys)\n", run("cache keys"))
	assert.Equal(t, ">> Cleaned -\n", run("cache clear"))
	assert.Equal(t, "Key\n(0 keys)\n", run("cache keys"))
	bench := run(`bench product.get {"id": 1} --num 50`)
	assert.Contains(t, bench, ">> Benchmark 'product.get' with params: {\"id\":1}\nRunning x 50 times...\n")
	assert.Contains(t, bench, "  50 requests in ")
	assert.Contains(t, bench, ", 0 error(s)\n")
	assert.Contains(t, bench, "    p99: ")
	assert.Equal(t, ">> Broadcast 'cache.clean.product' with payload: {}\n", run("broadcast cache.clean.product {}"))
	out.Reset()
	assert.Error(t, s.Exec(`dcall repl product.get {"id": 1}`))
	assert.Contains(t, out.String(), ">> ERROR: Service 'product.get' is not found on 'repl' node.\n   name: ServiceNotFoundError, code: 404, type: SERVICE_NOT_FOUND\n")
	out.Reset()
	assert.Error(t, s.Exec("breakers"))
	assert.Equal(t, "error: breakers works in the debugger only (faultline debug FILE)\n", out.String())
}
