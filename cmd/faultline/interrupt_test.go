package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/report/reporttest"
)

// TestSIGINTWritesPartialResults sends SIGINT to a built faultline running a long scenario:
// it stops at the next step, prints the partial summary, writes journal, JUnit and HTML
// marked interrupted, and exits 130.
func TestSIGINTWritesPartialResults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "faultline")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	journal, junit, html := filepath.Join(dir, "j.jsonl"), filepath.Join(dir, "j.xml"), filepath.Join(dir, "r.html")
	cmd := exec.Command(bin, "run", "--journal", journal, "--junit", junit, "--report", html, "testdata/long.yaml", "testdata/flaky.yaml")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	// Let it get going (set-up, not an assertion on timing): the run takes minutes whole.
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "exit: %v\n%s\n%s", err, stdout.String(), stderr.String())
	assert.Equal(t, 130, ee.ExitCode(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	o := stdout.String()
	assert.True(t, strings.HasPrefix(o, "INTERRUPTED  long  seed 3  testdata/long.yaml\n"), o)
	assert.Contains(t, o, "  interrupted at +")
	assert.NotContains(t, o, "flaky", "the second file is not started")
	assert.Regexp(t, `(?m)^long\s+3\s+INTERRUPTED\s`, o)
	assert.Contains(t, stderr.String(), "interrupted: 1 of 2 scenarios run, the last one partly; partial results printed and written")

	f, err := os.Open(journal)
	require.NoError(t, err)
	defer f.Close()
	recs, err := report.ReadJournal(f)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.True(t, recs[0].Meta.Interrupted)
	assert.Equal(t, len(recs[0].Lines), recs[0].Meta.Entries)
	assert.Contains(t, string(recs[0].Lines[len(recs[0].Lines)-2]), `"step":"interrupted"`, "the step, then the check's entry")

	reporttest.CheckJUnit(t, junit)
	x, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.Contains(t, string(x), `<property name="interrupted" value="true">`)
	assert.Contains(t, string(x), `type="Interrupted"`)

	h, err := os.ReadFile(html)
	require.NoError(t, err)
	doc, err := reporttest.ParseHTML(h)
	require.NoError(t, err)
	require.Len(t, doc.Runs, 1)
	assert.Equal(t, "INTERRUPTED", doc.Runs[0].Verdict)

	code, rout, _ := cli(t, "replay", journal)
	assert.Equal(t, 1, code)
	assert.Contains(t, rout, "NOT REPLAYED: the recorded run was interrupted; run it whole with: faultline run --seed 3 testdata/long.yaml")
}

// TestRunOverTheEventBudget: issue 12's silent hang, in small, through the CLI: the run
// stops with the budget, the heaviest workload entry and the flag to raise it.
func TestRunOverTheEventBudget(t *testing.T) {
	code, out, errOut := cli(t, "run", "--quiet", "--max-events", "30000", "testdata/long.yaml")
	require.Equal(t, 1, code, "%s\n%s", out, errOut)
	assert.Regexp(t, `run error: run stopped at \+\d+(\.\d+)?s: 3\d{4} simulated events exceed the budget of 30000 \(raise it with --max-events\); most events came from workload\[0\] "reads" \(\d+ of 3\d{4}\)`, out)
}

// TestLimitFlags: the caps can be raised, and a bad size is a usage error.
func TestLimitFlags(t *testing.T) {
	code, _, errOut := cli(t, "validate", "--max-file-size", "100B", "testdata/long.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "testdata/long.yaml:1:1: the file is ")
	assert.Contains(t, errOut, "over the cap of 100 bytes for scenario files (raise it with --max-file-size)")
	code, _, errOut = cli(t, "validate", "--max-file-size", "lots", "testdata/long.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `"lots" is not a size`)
	code, out, errOut := cli(t, "validate", "--max-clients", "10", "testdata/long.yaml")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, errOut, "testdata/long.yaml:11:")
	assert.Contains(t, errOut, "workload[0].clients: 20 clients exceed the cap of 10 (raise it with --max-clients)")
	code, _, _ = cli(t, "validate", "--max-file-size", "1MB", "testdata/long.yaml")
	assert.Equal(t, 0, code)
}
