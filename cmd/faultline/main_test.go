package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/report/reporttest"
	"github.com/faultline/faultline/scenarios/schema"
)

const testdata = "../../scenarios/testdata"

// cli runs faultline in-process and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, prog: "faultline"}
	code := a.main(args)
	return code, stdout.String(), stderr.String()
}

func testdataFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), len(scenarios.Suite()))
	return files
}

// TestRunTestdata is `make scenarios` with every report: it runs every file under
// scenarios/testdata through the CLI, then checks the JUnit XML against the JUnit schema,
// renders the HTML report in headless Chromium and replays the journal.
func TestRunTestdata(t *testing.T) {
	files := testdataFiles(t)
	dir := t.TempDir()
	journalPath, junitPath, htmlPath := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "out.xml"), filepath.Join(dir, "out.html")
	args := append([]string{"run", "--journal", journalPath, "--junit", junitPath, "--report", htmlPath}, files...)
	code, out, errOut := cli(t, args...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	// A summary per scenario, then the table, ending with the pass/fail line.
	for _, f := range files {
		s, err := file.Load(f)
		require.NoError(t, err)
		assert.Contains(t, out, "PASS  "+s.Name+"  seed ")
		assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(s.Name)+`\s+\d+\s+PASS\s+\d+/\d+\s`), out)
	}
	assert.Contains(t, out, "checks: ")
	assert.Contains(t, out, "timeline:")
	assert.Contains(t, out, "virtual in ")
	assert.Regexp(t, `(?m)^SCENARIO\s+SEED\s+VERDICT\s+CHECKS\s+VIRTUAL\s+WALL\s+FILE$`, out)
	assert.True(t, strings.HasSuffix(out, "\n"+itoa(len(files))+" passed, 0 failed\n"), "ends with the pass/fail line:\n%s", tail(out))

	t.Run("junit", func(t *testing.T) {
		reporttest.CheckJUnit(t, junitPath)
		t.Run("xmllint", func(t *testing.T) { reporttest.Xmllint(t, junitPath) })
		data, err := os.ReadFile(junitPath)
		require.NoError(t, err)
		checks := 0
		for _, f := range files {
			s, _ := file.Load(f)
			checks += len(s.Checks)
		}
		assert.Equal(t, checks, strings.Count(string(data), "<testcase "), "one testcase per check")
		assert.NotContains(t, string(data), "<failure")
	})

	t.Run("html", func(t *testing.T) {
		data, err := os.ReadFile(htmlPath)
		require.NoError(t, err)
		require.NoError(t, reporttest.SelfContained(string(data)))
		doc, err := reporttest.ParseHTML(data)
		require.NoError(t, err)
		assert.Equal(t, itoa(len(files))+" passed, 0 failed", doc.Totals)
		require.Len(t, doc.Runs, len(files))
		for i, f := range files {
			s, _ := file.Load(f)
			assert.Equal(t, s.Name, doc.Runs[i].Name)
			assert.Equal(t, "PASS", doc.Runs[i].Verdict)
			assert.Len(t, doc.Runs[i].Checks, len(s.Checks))
			assert.Equal(t, 1, doc.Runs[i].Timelines)
		}
	})

	t.Run("html in chromium", func(t *testing.T) {
		r := reporttest.Render(t, htmlPath, 1600)
		assert.Contains(t, r.DOM, `data-rendered="`+itoa(len(files))+`"`, "the report's script ran over every timeline")
		assert.Contains(t, r.DOM, itoa(len(files))+" passed, 0 failed")
		for _, f := range files {
			s, _ := file.Load(f)
			assert.Contains(t, r.DOM, `data-verdict="PASS"`)
			assert.Contains(t, r.DOM, ">"+s.Name+"</a>")
		}
		assert.Greater(t, r.Pixels(0x2a, 0x9d, 0x8f, 6), 1000, "PASS badges and ok calls are drawn")
	})

	t.Run("replay", func(t *testing.T) {
		code, out, errOut := cli(t, "replay", journalPath)
		require.Equal(t, 0, code, "%s\n%s", out, errOut)
		assert.Equal(t, len(files), strings.Count(out, "IDENTICAL: "), out)
		assert.NotContains(t, out, "DIFFERENT")
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// TestSweepFindsAFailingSeedAndReplaysIt: sweep reports the first failing seed of a flaky
// scenario and a command; running that command reproduces the failure exactly (same failed
// check, same journal digest), and its journal replays as identical.
func TestSweepFindsAFailingSeedAndReplaysIt(t *testing.T) {
	code, out, errOut := cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "40")
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	m := regexp.MustCompile(`(?m)^seed (\d+) FAILED: (.+)\n  journal: (\d+) entries, sha256 ([0-9a-f]+)\nreplay: faultline (run --seed \d+ testdata/flaky\.yaml)$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, "4", m[1], "seed 4 is the first failing seed of flaky.yaml (seeds 1–3 pass)")
	failedCheck, digest := m[2], m[4]
	assert.Contains(t, out, "stopped at the first failure")

	journalPath := filepath.Join(t.TempDir(), "replay.jsonl")
	args := append(strings.Fields(m[5]), "--journal", journalPath, "--quiet")
	code, out, _ = cli(t, args...)
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "  "+failedCheck+"\n", "the replayed run fails the same check with the same numbers")
	f, err := os.Open(journalPath)
	require.NoError(t, err)
	defer f.Close()
	recs, err := report.ReadJournal(f)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.True(t, strings.HasPrefix(recs[0].Meta.JournalSHA256, digest), "same journal, byte for byte, as in the sweep")
	assert.Equal(t, uint64(4), recs[0].Meta.Seed)

	code, out, _ = cli(t, "replay", journalPath)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "IDENTICAL: ")
	assert.Contains(t, out, "verdict FAIL as recorded")

	// --keep-going lists every failing seed.
	code, out, _ = cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "20", "--keep-going")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "18/20 seeds passed; failing seeds: 4 20 (in ")
	for _, seed := range []string{"4", "20"} {
		assert.Regexp(t, `(?m)^seed `+seed+` FAILED: .+\n  journal: \d+ entries, sha256 [0-9a-f]{12}\nreplay: faultline run --seed `+seed+` testdata/flaky\.yaml$`, out,
			"every failing seed gets its first failed check and replay command")
	}
}

// TestSweepOrderFlow: 200 seeds of the order-flow scenario, each passing (40 under the race
// detector, which slows the simulation about six-fold). The wall time is logged, not
// asserted — wall-clock bounds flake on a loaded machine; `make sweep` measures the
// acceptance bound of a minute on the built binary (~10 s on two cores).
func TestSweepOrderFlow(t *testing.T) {
	seeds := 200
	if raceEnabled {
		seeds = 40
	}
	start := time.Now()
	code, out, errOut := cli(t, "sweep", filepath.Join(testdata, "order-flow.yaml"), "--seeds", strconv.Itoa(seeds))
	elapsed := time.Since(start)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	assert.Regexp(t, fmt.Sprintf(`^%d/%d seeds passed \(seeds 1–%d of order-flow\) in `, seeds, seeds, seeds), out)
	t.Logf("sweep of %d seeds: %s (race detector: %v)", seeds, elapsed, raceEnabled)
}

func TestReplayDetectsADifference(t *testing.T) {
	journalPath := filepath.Join(t.TempDir(), "j.jsonl")
	code, out, _ := cli(t, "run", "-q", "--journal", journalPath, filepath.Join(testdata, "breaker-cycle.yaml"))
	require.Equal(t, 0, code, out)
	data, err := os.ReadFile(journalPath)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	lines[30] = strings.Replace(lines[30], `"seq":30,`, `"seq":30,"node":"intruder",`, 1)
	require.NoError(t, os.WriteFile(journalPath, []byte(strings.Join(lines, "\n")), 0o644))
	code, out, _ = cli(t, "replay", journalPath)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "DIFFERENT: first differing entry is #30 (journal line 31)")
	assert.Contains(t, out, `recorded: {"seq":30,"node":"intruder",`)

	// Truncated: every entry present matches, but entries are missing.
	require.NoError(t, os.WriteFile(journalPath, []byte(strings.Join(lines[:20], "\n")+"\n"), 0o644))
	code, out, _ = cli(t, "replay", journalPath)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "DIFFERENT: first differing entry is #20")
}

func TestInvalidFilesExitWithTwo(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "invalid", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 10)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		_, want := file.Parse(f, data)
		require.Error(t, want)
		for _, cmd := range []string{"validate", "run", "sweep"} {
			code, out, errOut := cli(t, cmd, f)
			assert.Equal(t, 2, code, "%s %s", cmd, f)
			assert.True(t, strings.HasPrefix(errOut, want.Error()+"\n"), "%s %s: stderr\n%s\nwant\n%s", cmd, f, errOut, want)
			assert.NotContains(t, out, "PASS")
		}
	}
	// One bad file among good ones: nothing runs.
	code, out, errOut := cli(t, "run", filepath.Join(testdata, "breaker-cycle.yaml"), filepath.Join(testdata, "invalid", "unknown-node.yaml"))
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "1 of 2 scenario files invalid; nothing was run")
}

func TestUsageErrorsExitWithTwo(t *testing.T) {
	good := filepath.Join(testdata, "breaker-cycle.yaml")
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run"},
		{"run", "--bogus", good},
		{"run", "--seed", "minus-one", good},
		{"run", "no/such/file.yaml"},
		{"validate"},
		{"replay"},
		{"replay", good},
		{"replay", "no/such/journal.jsonl"},
		{"sweep", good, "--seeds", "0"},
		{"sweep", good, "--shard", "3/2"},
		{"sweep", good, "--shard", "1/2", "--shards", "2"},
		{"sweep", good, "--time-budget", "-1s"},
		{"sweep", good, "--no-shrink"},
		{"merge"},
		{"merge", "no/such/summary.json"},
		{"merge", good},
		{"list", "no/such/dir"},
		{"run", "--journal", "/no/such/dir/j.jsonl", good},
	} {
		code, _, errOut := cli(t, args...)
		assert.Equal(t, 2, code, "faultline %s: %s", strings.Join(args, " "), errOut)
	}
	code, out, _ := cli(t, "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Exit codes: 0 all passed, 1 a check failed, 2 invalid input or usage, 3 time budget\n"+
		"exhausted (sweep --time-budget stopped before every seed ran, none failed; merge of such a\n"+
		"shard), 130 interrupted (SIGINT or SIGTERM: the partial results are printed and written,\n"+
		"marked interrupted).")
}

func TestRunFailureExitsWithOneAndPrintsTheReplayCommand(t *testing.T) {
	code, out, _ := cli(t, "run", "--seed", "4", "testdata/flaky.yaml")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  flaky  seed 4  testdata/flaky.yaml")
	assert.Contains(t, out, "  replay: faultline run --seed 4 testdata/flaky.yaml\n")
	assert.True(t, strings.HasSuffix(out, "0 passed, 1 failed\n"), out)
}

func TestCheckDeterminismAndQuiet(t *testing.T) {
	code, out, _ := cli(t, "run", "--check-determinism", filepath.Join(testdata, "breaker-cycle.yaml"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "determinism: a second run with the same seed gave a byte-identical journal")

	code, out, _ = cli(t, "run", "--quiet", filepath.Join(testdata, "breaker-cycle.yaml"), filepath.Join(testdata, "failover.yaml"))
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 2+1+1+2+1, "two verdict lines, a blank, the table header, two rows, the total:\n%s", out)
	assert.Regexp(t, `^PASS  breaker-cycle  seed 1  `, lines[0])
}

func TestList(t *testing.T) {
	code, out, _ := cli(t, "list", testdata)
	require.Equal(t, 0, code)
	for _, f := range testdataFiles(t) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, out, f)
		assert.Contains(t, out, file.Description(data))
	}
	assert.Contains(t, out, "0 invalid")
	code, out, _ = cli(t, "list", filepath.Join(testdata, "invalid"))
	require.Equal(t, 0, code)
	assert.Contains(t, out, `INVALID: 9:9: nodes[1].services[0]: unknown service "prodcut"`)
}

func TestSchemaCommand(t *testing.T) {
	code, out, _ := cli(t, "schema")
	require.Equal(t, 0, code)
	assert.Equal(t, string(schema.JSON), out)
	assert.True(t, json.Valid([]byte(out)))
}

// TestREADMEExample: the scenario file shown in the README is valid and passes.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Scenario files and the CLI")
	require.True(t, ok)
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, m, "the section shows a YAML scenario")
	path := filepath.Join(t.TempDir(), "example.yaml")
	require.NoError(t, os.WriteFile(path, []byte(m[1]), 0o644))
	code, out, errOut := cli(t, "run", "--quiet", path)
	assert.Equal(t, 0, code, "%s\n%s", out, errOut)
}

// TestRunOnTheWallTier: --tier wall runs a scenario file on the wall clock and judges it with
// the given tolerance; the flags are checked before anything runs.
func TestRunOnTheWallTier(t *testing.T) {
	code, _, stderr := cli(t, "run", "--tier", "moon", "../../scenarios/testdata/distributed-timeout.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `--tier "moon": want one of containers, nats, real, sim, wall, process (= real)`)
	code, _, stderr = cli(t, "run", "--tier", "wall", "--check-determinism", "../../scenarios/testdata/distributed-timeout.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--check-determinism needs the simulator")
	if testing.Short() {
		t.Skip("the wall-clock run takes the scenario's 10 s")
	}
	code, out, _ := cli(t, "run", "--tier", "wall", "--tolerance", "250ms", "../../scenarios/testdata/distributed-timeout.yaml")
	assert.Equal(t, 0, code, out)
	assert.Regexp(t, `(?m)^distributed-timeout\s+4\s+PASS\s+3/3\s`, out)
	assert.NotContains(t, out, "replay:", "a wall-clock run offers no replay command")
}
