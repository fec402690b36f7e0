package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replProc runs faultline repl as a process and returns its exit code and output.
func replProc(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, stdin, append([]string{"repl"}, args...)...)
}

// The REPL on `faultline serve --nats`: the shop's nodes over a real NATS server, a REPL
// process of its own calling them, listing them, and stopping a script at its first error.
func TestReplOnServe(t *testing.T) {
	_, url := startNATS(t)
	cmd := exec.Command(binary(t), "serve", "--nats", url, "--addr", "127.0.0.1:0", "--rate-limit", "0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(time.Minute): // set-up bound, not a timing assertion
		t.Fatalf("serve did not start: %s", stderr.String())
	}

	code, out, errOut := replProc(t, "", "--nats", url, "--id", "repl-1",
		"-c", `call product.get {"id": 1}`, "-c", "services", "-c", `call product.create {"name": "x", "price": "free"}`, "-c", "nodes")
	require.Equal(t, 1, code, "the failed call ends the script: %s", errOut)
	assert.Contains(t, out, "mol $ call product.get {\"id\": 1}\n>> Call 'product.get' with params: {\"id\":1}\n")
	assert.Contains(t, out, ">> Response:\n{\n  \"description\": null,\n  \"id\": 1,\n  \"name\": \"Widget\",\n  \"price\": 2.5,\n  \"stock\": 100\n}\n")
	assert.Contains(t, out, "Service       Version  State  Actions  Events  Nodes\n")
	for _, svc := range []string{"api     ", "email   ", "notification", "order   ", "product ", "user    "} {
		assert.Contains(t, out, "\n"+svc, "services lists %s", svc)
	}
	assert.Contains(t, out, ">> ERROR: Parameters validation error!\n   name: ValidationError, code: 422, type: VALIDATION_ERROR, nodeID: products\n"+
		`   data: [{"action":"product.create","actual":"free","field":"price","message":"The 'price' field must be a number.","nodeID":"repl-1","type":"number"}]`+"\n")
	assert.NotContains(t, out, "mol $ nodes", "nothing runs after the failure")

	// Commands on stdin run as a script too; all pass: exit 0.
	// (The counts first: a call waits for its action, so the nodes serving them are known.)
	code, out, errOut = replProc(t, "call product.count {}\ncall order.count {}\nnodes\nactions\n", "--nats", url, "--id", "repl-2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "repl-2 (*)  0         0.1.0    go")
	assert.Contains(t, out, "\nproducts    1         0.1.0    go")
	assert.Contains(t, out, "\norder.create ")

	// Bad input: one line, exit 1.
	code, out, _ = replProc(t, "", "--nats", url, "-c", "call product.get {oops")
	require.Equal(t, 1, code)
	assert.Equal(t, "mol $ call product.get {oops\nerror: params is not valid JSON: invalid character 'o' looking for beginning of object key string\n", out)
}

// faultline debug: a scripted session that steps to the breaker opening, probes it, writes
// the journal; faultline replay repeats the probe and finds the run identical.
func TestDebugThenReplay(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "debug.jsonl")
	code, out, errOut := cli(t, "debug", "../../scenarios/testdata/breaker-cycle.yaml", "--at", "6s", "--journal", journal,
		"-c", "until breaker gateway product-1:product.get open", "-c", "breakers", "-c", "call product.list {}", "-c", "continue")
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, "breaker-cycle seed 1 stopped at +6.000s; type help, or continue\n"), out)
	assert.Contains(t, out, "debug gateway +8.002s $ breakers\n")
	assert.Contains(t, out, "gateway  product-1:product.get     open    4         8      0.50  +60.000s     +13.002s → half-open\n")
	assert.Contains(t, out, "PASS breaker-cycle seed 1 (virtual 40s)\n")

	code, out, errOut = cli(t, "replay", journal)
	require.Equal(t, 0, code, errOut+out)
	assert.Contains(t, out, "  with 1 interventions typed in faultline debug, repeated at their steps:\n    +8.002s step 83 on gateway: call product.list {}\n")
	assert.Contains(t, out, "IDENTICAL")

	code, _, errOut = cli(t, "debug", "../../scenarios/testdata/breaker-cycle.yaml", "--from", "nobody", "-c", "now")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `no node "nobody" in the scenario (have gateway, product-1)`)

	script := filepath.Join(t.TempDir(), "cmds")
	require.NoError(t, os.WriteFile(script, []byte("now\nfrobnicate\nnow\n"), 0o644))
	code, out, _ = cli(t, "repl", "--tier", "sim", "../../scenarios/testdata/breaker-cycle.yaml", "--script", script)
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(out, "$ now\n"), "the script stops at the unknown command: %s", out)
	assert.Contains(t, out, `error: unknown command "frobnicate" (type help)`)
}

// validate --tier real names, at their lines, the faults and checks the real tier cannot
// carry out; run --tier process (its other name) refuses them the same way before starting
// anything.
func TestValidateForTheRealTier(t *testing.T) {
	twins, err := filepath.Glob("../../scenarios/testdata/process/*.yaml")
	require.NoError(t, err)
	code, out, errOut := cli(t, "validate", "--tier", "real", "../../scenarios/testdata/cache-under-partition.yaml", "../../scenarios/testdata/process/")
	assert.Equal(t, 2, code)
	assert.Equal(t, `../../scenarios/testdata/cache-under-partition.yaml:47:11: faults[0].kind: fault "events to product-2 lost" (loss) cannot run on tier real: it acts on single packets, which needs the in-memory network (tiers sim and wall); the real tier's network is NATS`+
		fmt.Sprintf("\n1 of %d files invalid\n", len(twins)+1), errOut)
	assert.Equal(t, len(twins), strings.Count(out, "ok  ../../scenarios/testdata/process/"))
	// Metric checks on node processes run, except on a process that is killed: its
	// counters die with it.
	path := filepath.Join(t.TempDir(), "killed-metrics.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`name: killed-metrics
duration: 5s
nodes:
  - {id: gateway}
  - {id: product-1, services: [product]}
workload:
  - {from: gateway, action: product.get, params: {id: 1}, rate: 2}
faults:
  - {kind: crash, node: product-1, start: 2s}
checks:
  - {kind: metric, node: product-1, metric: moleculer_request_total, value: 4}
  - {kind: trace, action: product.get, min: 1}
`), 0o644))
	code, _, errOut = cli(t, "run", "--tier", "process", path)
	assert.Equal(t, 2, code)
	assert.Equal(t, path+":11:26: checks[0].node: check metric on product-1 cannot run on tier real: product-1's process is killed, and its counters die with it (the simulator's node keeps them across a restart)\n1 of 1 scenario files invalid; nothing was run\n", errOut)
}

// Without a Docker engine, --tier containers exits 2 saying so, before anything starts. The
// test points DOCKER_HOST at a socket nobody listens on, so it sees the refusal on a machine
// with Docker too.
func TestContainersTierNeedsDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	code, out, errOut := cli(t, "run", "--tier", "containers", "../../scenarios/testdata/process/crash.yaml")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.True(t, strings.HasPrefix(errOut, "--tier containers: the containers tier needs a Docker engine (DOCKER_HOST, or /var/run/docker.sock), and none answers here; use --tier real, which embeds NATS and Redis"), errOut)
}
