package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/report/reporttest"
	"github.com/faultline/faultline/scenarios/sweep"
)

var (
	plantedOrderFlow = filepath.Join(testdata, "nemesis", "planted", "order-flow-planted.yaml")
	plantedStale     = filepath.Join(testdata, "nemesis", "planted", "price-register-stale.yaml")
)

func readSummary(t *testing.T, path string) *sweep.Summary {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s, err := sweep.ReadSummary(f)
	require.NoError(t, err)
	return s
}

// verdicts is a summary's runs without what differs between two runs of a seed (wall time).
func verdicts(s *sweep.Summary) []string {
	var out []string
	for _, r := range s.Runs {
		out = append(out, fmt.Sprintf("%s seed %d %s %v journal %d %s", r.File, r.Seed, r.Verdict, r.FailedChecks, r.JournalEntries, r.JournalSHA256))
	}
	return out
}

// TestShardedSweepMergesLikeUnsharded: two planted files × seeds 1–4, swept whole and as
// three shards (the third from JOB_COMPLETION_INDEX, as in an Indexed Job); the merged shards
// give the whole sweep's verdict, failing seeds, failed checks, journal digests and commands.
func TestShardedSweepMergesLikeUnsharded(t *testing.T) {
	dir := t.TempDir()
	base := []string{"sweep", "--seeds", "4", plantedOrderFlow, plantedStale}
	wholeJSON := filepath.Join(dir, "whole.json")
	code, out, errOut := cli(t, append(base, "--keep-going", "--summary", wholeJSON)...)
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	const failing = "failing seeds: nemesis-order-flow-planted:2 nemesis-order-flow-planted:3 price-register-stale:1 price-register-stale:2 price-register-stale:3 price-register-stale:4"
	assert.Contains(t, out, "\n2/8 seeds passed; "+failing+" (in ")
	whole := readSummary(t, wholeJSON)
	assert.Equal(t, sweep.Whole, whole.Shard)
	assert.Equal(t, sweep.VerdictFail, whole.Verdict)
	require.Len(t, whole.Runs, 8)
	require.Len(t, whole.Failures, 6)
	assert.Equal(t, []string{"invariant: one stock reduction per order"}, whole.Failures[0].FailedChecks)
	assert.Equal(t, []string{"linearizable"}, whole.Failures[2].FailedChecks)
	assert.Equal(t, "faultline run --seed 2 "+plantedOrderFlow, whole.Failures[0].Replay)
	assert.Equal(t, "faultline shrink "+plantedOrderFlow+" --seed 2", whole.Failures[0].Shrink)

	var shards []string
	for k, planned := range []int{1: 3, 2: 3, 3: 2} { // in shard order: shards[i] is shard i+1
		if k == 0 {
			continue
		}
		path, junit := filepath.Join(dir, fmt.Sprintf("shard-%d.json", k)), filepath.Join(dir, fmt.Sprintf("shard-%d.xml", k))
		args := append(base, "--summary", path, "--junit", junit)
		if k == 3 {
			t.Setenv(envJobIndex, "2")
			args = append(args, "--shards", "3")
		} else {
			args = append(args, "--shard", fmt.Sprintf("%d/3", k))
		}
		code, out, errOut := cli(t, args...)
		s := readSummary(t, path)
		assert.Equal(t, sweep.Shard{Index: k, Total: 3}, s.Shard)
		assert.Equal(t, planned, s.Planned)
		assert.Equal(t, planned, s.Ran, "a shard runs all its seeds (keep-going is implied)")
		assert.True(t, s.Complete)
		assert.Equal(t, map[bool]int{true: 1, false: 0}[len(s.Failures) > 0], code, "%s\n%s", out, errOut)
		reporttest.CheckJUnit(t, junit)
		data, err := os.ReadFile(junit)
		require.NoError(t, err)
		assert.Equal(t, planned, strings.Count(string(data), "<testsuite "), "a testsuite per seed run")
		shards = append(shards, path)
	}

	mergedJSON, mergedXML := filepath.Join(dir, "merged.json"), filepath.Join(dir, "merged.xml")
	code, out, errOut = cli(t, append([]string{"merge", "--junit", mergedXML, "--summary", mergedJSON}, shards...)...)
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	assert.True(t, strings.HasPrefix(out, "merged 3 shards: seeds 1–4 of 2 files, 8 runs\n"), out)
	assert.True(t, strings.HasSuffix(out, "\nFAIL: 2/8 seeds passed; "+failing+"\n"), out)
	assert.Contains(t, out, plantedStale+": seed 4 FAILED: FAIL linearizable: ")
	assert.Contains(t, out, "  shrink: faultline shrink "+plantedStale+" --seed 4\n")
	merged := readSummary(t, mergedJSON)
	assert.Equal(t, whole.Verdict, merged.Verdict)
	assert.Equal(t, whole.Failures, merged.Failures, "same failing seeds, checks, journals and commands")
	assert.Equal(t, verdicts(whole), verdicts(merged), "same verdict for every seed")
	reporttest.CheckJUnit(t, mergedXML)
	data, err := os.ReadFile(mergedXML)
	require.NoError(t, err)
	assert.Equal(t, 8, strings.Count(string(data), "<testsuite "))
	assert.Equal(t, 6, strings.Count(string(data), "<failure "), "one failed check in each failing seed")

	// The merged summary is an unsharded one: it merges alone to the same verdict.
	code, _, _ = cli(t, "merge", mergedJSON)
	assert.Equal(t, 1, code)

	t.Run("missing and duplicate shards", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{shards[0], shards[2]}, "merge: missing shard 2/3 (have 2 of 3)\n"},
			{[]string{shards[0], shards[1], shards[0], shards[2]}, fmt.Sprintf("merge: shard 1/3 given 2 times: %s, %s\n", shards[0], shards[0])},
			{[]string{wholeJSON, shards[0]}, fmt.Sprintf("merge: %s is another sweep than %s: 3 shards, not 1\n", shards[0], wholeJSON)},
			{[]string{shards[0], plantedStale}, plantedStale + ": not a sweep summary: invalid character '#' looking for beginning of value\n"},
		} {
			code, out, errOut := cli(t, append([]string{"merge"}, c.args...)...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Equal(t, c.want, errOut)
		}
	})
}

// TestSweepTimeBudget: a budget spent before the first seed starts reports every seed as not
// run, exits 3 (incomplete, not failed), and merges as incomplete. (That the seeds run before
// the budget are kept is asserted on a fake clock in scenarios/sweep.)
func TestSweepTimeBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	code, out, errOut := cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "50", "--time-budget", "1ns", "--summary", path)
	require.Equal(t, exitIncomplete, code, "%s\n%s", out, errOut)
	assert.Regexp(t, `^time budget of 1ns spent: 0 of 50 seeds run \(seeds 1–50 of flaky\), 0 failed, in .+; not run: 50, from flaky seed 1\n$`, out)
	s := readSummary(t, path)
	assert.Equal(t, sweep.VerdictIncomplete, s.Verdict)
	assert.Equal(t, sweep.StoppedByTimeBudget, s.StoppedBy)
	assert.Equal(t, "1ns", s.TimeBudget)
	assert.False(t, s.Complete)
	assert.Equal(t, 50, s.Planned)
	assert.Equal(t, 0, s.Ran)
	assert.Empty(t, s.Runs)

	code, out, _ = cli(t, "merge", path)
	assert.Equal(t, exitIncomplete, code)
	assert.Equal(t, "merged 1 shard: seeds 1–50 of flaky, 50 runs\nincomplete: shard 1/1 ("+path+"): time-budget after 0 of 50 runs\nINCOMPLETE: 0 of 50 seeds run, none failed; 50 not run\n", out)

	// A budget that is not spent changes nothing.
	code, out, _ = cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "3", "--time-budget", "10m")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^3/3 seeds passed \(seeds 1–3 of flaky\) in `, out)
}

func TestSweepShardFromTheEnvironment(t *testing.T) {
	t.Setenv(envShards, "4")
	code, _, errOut := cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "8")
	assert.Equal(t, 2, code)
	assert.Equal(t, "FAULTLINE_SHARDS 4 needs $JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job; elsewhere use --shard k/n)\n", errOut)
	t.Setenv(envJobIndex, "4")
	code, _, errOut = cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "8")
	assert.Equal(t, 2, code)
	assert.Equal(t, "JOB_COMPLETION_INDEX=4 is out of range for 4 shards (want 0 to 3)\n", errOut)
	t.Setenv(envJobIndex, "3")
	code, out, _ := cli(t, "sweep", "testdata/flaky.yaml", "--seeds", "8")
	assert.Equal(t, 1, code, "the fourth shard owns seeds 4 and 8; seed 4 fails")
	assert.Contains(t, out, "seed 4 FAILED: ")
	assert.Contains(t, out, "shard 4/4: 1/2 seeds passed; failing seeds: 4 (in ")
}

// TestSaveFailuresCorpus: a failing seed saved by sweep --save-failures is the shrunk
// scenario (the very file shrink writes); one saved with --no-shrink has its nemesis draw
// written out as fixed faults; both validate, `run DIR` fails on both with the checks the
// sweep named, and a corpus file passes once its bug is gone.
func TestSaveFailuresCorpus(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "corpus")
	code, out, errOut := cli(t, "sweep", plantedStale, "--seeds", "1", "--save-failures", corpus)
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	shrunk := filepath.Join(corpus, "price-register-stale-seed1.yaml")
	assert.Contains(t, out, "seed 1 FAILED: FAIL linearizable: ")
	assert.Contains(t, out, "\n  saved shrunk: "+shrunk+"\n")
	got, err := os.ReadFile(shrunk)
	require.NoError(t, err)
	byShrink := filepath.Join(t.TempDir(), "by-shrink.yaml")
	code, _, _ = cli(t, "shrink", plantedStale, "--seed", "1", "-o", byShrink)
	require.Equal(t, 0, code)
	want, err := os.ReadFile(byShrink)
	require.NoError(t, err)
	body := func(b []byte) string { return string(b[strings.Index(string(b), "\n\n"):]) } // after the header
	assert.Equal(t, body(want), body(got), "what faultline shrink writes")
	assert.True(t, strings.HasPrefix(string(got), "# Shrunk by: faultline shrink "+plantedStale+" --seed 1\n# 13 runs; faults 5 → 0. Still fails: FAIL linearizable: "), string(got))
	small, err := file.Load(shrunk)
	require.NoError(t, err)
	assert.Empty(t, small.Faults, "the stale cache fails without any fault")
	assert.Equal(t, 1, small.Workload[0].Clients, "one reader is enough")

	code, out, _ = cli(t, "sweep", plantedOrderFlow, "--from", "3", "--seeds", "1", "--save-failures", corpus, "--no-shrink")
	require.Equal(t, 1, code, out)
	unshrunk := filepath.Join(corpus, "order-flow-planted-seed3.yaml")
	assert.Contains(t, out, "\n  saved: "+unshrunk+"\n")
	s, err := file.Load(unshrunk)
	require.NoError(t, err)
	orig, err := file.Load(plantedOrderFlow)
	require.NoError(t, err)
	assert.Nil(t, s.Nemesis, "the nemesis is written out as the faults it drew")
	assert.Len(t, s.Faults, 15)
	assert.Equal(t, orig.Schedule(), s.Faults)
	assert.Equal(t, uint64(3), s.Seed)

	code, out, errOut = cli(t, "validate", corpus)
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "ok  "+unshrunk+"  (nemesis-order-flow-planted: 6 nodes, 1 workloads, 15 faults, 4 checks)\n"+
		"ok  "+shrunk+"  (price-register-stale: 2 nodes, 2 workloads, 0 faults, 2 checks)\n", out)

	code, out, _ = cli(t, "run", "--quiet", corpus)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  nemesis-order-flow-planted  seed 3  "+unshrunk+"\n  FAIL invariant: one stock reduction per order: ")
	assert.Contains(t, out, "FAIL  price-register-stale  seed 1  "+shrunk+"\n  FAIL linearizable: ")
	assert.True(t, strings.HasSuffix(out, "\n0 passed, 2 failed\n"), out)

	// Without its bug (the plant), the same file passes: the corpus judges the code.
	fixed := filepath.Join(t.TempDir(), "fixed.yaml")
	require.Contains(t, string(got), "\nplants: [stale-cache]\n")
	require.NoError(t, os.WriteFile(fixed, []byte(strings.Replace(string(got), "\nplants: [stale-cache]\n", "\n", 1)), 0o644))
	code, out, _ = cli(t, "run", "--quiet", fixed)
	assert.Equal(t, 0, code, out)

	code, _, errOut = cli(t, "run", t.TempDir())
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, ": no scenario files (*.yaml, *.yml) in the directory\n")
}

// TestPrintSchedule: run --print-schedule prints a seed's nemesis draw as a faults: block
// and runs nothing; the block is the schedule the scenario runs.
func TestPrintSchedule(t *testing.T) {
	code, out, errOut := cli(t, "run", "--print-schedule", "--seed", "3", plantedOrderFlow)
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, "# "+plantedOrderFlow+", seed 3: 15 faults\nfaults:\n"+
		"  - name: \"nemesis 1: delay product.reduceStock\"\n    kind: delay\n    start: 3.31s\n    duration: 3.053s\n    action: product.reduceStock\n    delay: 1.381s\n"+
		"  - name: \"nemesis 2: crash product-1\"\n    kind: crash\n    start: 4.345s\n    duration: 1.315s\n    node: product-1\n"), out)
	assert.Equal(t, 15, strings.Count(out, "\n  - name: "))
	assert.NotContains(t, out, "PASS")
	assert.NotContains(t, out, "FAIL")

	// Another seed, another draw; without --seed, the file's own (3).
	_, out7, _ := cli(t, "run", "--print-schedule", "--seed", "7", plantedOrderFlow)
	assert.True(t, strings.HasPrefix(out7, "# "+plantedOrderFlow+", seed 7: "), out7)
	assert.NotEqual(t, out[strings.Index(out, "\n"):], out7[strings.Index(out7, "\n"):])
	_, own, _ := cli(t, "run", "--print-schedule", plantedOrderFlow)
	assert.Equal(t, out, own)

	// Parsed back into the file in place of its nemesis, it is the same schedule.
	src, err := os.ReadFile(plantedOrderFlow)
	require.NoError(t, err)
	s, err := file.Load(plantedOrderFlow)
	require.NoError(t, err)
	i, j := strings.Index(string(src), "nemesis:\n"), strings.Index(string(src), "checks:\n")
	fixedSrc := string(src[:i]) + out[strings.Index(out, "faults:"):] + string(src[j:])
	fixed, err := file.Parse("fixed.yaml", []byte(fixedSrc))
	require.NoError(t, err)
	assert.Equal(t, s.Schedule(), fixed.Faults)
}

// TestShrinkCommand: the shrink command's budget, its output file (valid, still failing the
// same check under run) and its errors.
func TestShrinkCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "small.yaml")
	code, stdout, errOut := cli(t, "shrink", plantedOrderFlow, "--seed", "3", "--budget", "3", "-o", out)
	require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	m := regexp.MustCompile(`(?m)^shrunk in 4 runs: faults 15 → (\d+), workload entries 1 → 1\nthe budget of 3 runs ran out: the result is smaller, maybe not minimal \(raise --budget\)$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	assert.True(t, strings.HasPrefix(stdout, plantedOrderFlow+` seed 3 fails "invariant: one stock reduction per order"`+"\n"), stdout)
	assert.True(t, strings.HasSuffix(stdout, "wrote "+out+"\nreplay: faultline run --seed 3 "+out+"\n"), stdout)
	s, err := file.Load(out)
	require.NoError(t, err)
	assert.Equal(t, m[1], itoa(len(s.Faults)))
	assert.Equal(t, 15-len(s.Faults), strings.Count(stdout, "\n  removed fault "))
	assert.Equal(t, len(s.Faults), strings.Count(stdout, "\n  kept fault "))
	code, stdout, _ = cli(t, "run", "--quiet", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "\n  FAIL invariant: one stock reduction per order: ")

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"shrink", plantedOrderFlow, "--seed", "1"}, 1, plantedOrderFlow + ": seed 1: the run passes: nothing to shrink\n"},
		{[]string{"shrink", plantedOrderFlow}, 2, "--seed is required: the seed of the failing run\n"},
		{[]string{"shrink", plantedOrderFlow, "--seed", "3", "--budget", "6000"}, 2, "--budget must be between 1 and 5000 runs, got 6000\n"},
	} {
		code, _, errOut := cli(t, c.args...)
		assert.Equal(t, c.code, code, c.args)
		assert.Equal(t, c.want, errOut, c.args)
	}
}
