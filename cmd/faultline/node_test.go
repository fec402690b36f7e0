package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/testutil"
)

// Processes on a real network: conditions are waited for with generous bounds, never timed.
const procWait = 20 * time.Second

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// binary builds faultline once for the tests of this file.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faultline-node-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "faultline")
		buildOut, buildErr = exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
	})
	require.NoError(t, buildErr, "%s", buildOut)
	return builtBin
}

func startNATS(t *testing.T) (*server.Server, string) {
	t.Helper()
	o := natstest.DefaultTestOptions
	o.Port = -1
	s := natstest.RunServer(&o)
	t.Cleanup(s.Shutdown)
	return s, "nats://" + s.Addr().String()
}

// lockedBuffer is a process's output, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a running faultline node.
type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

func startNode(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), append([]string{"node"}, args...)...), stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("faultline node stderr:\n%s", p.stderr.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), `msg="node started"`) }, procWait, 10*time.Millisecond,
		"node started: %s", p.stderr.String())
	return p
}

// call runs faultline call and returns its exit code, stdout and stderr.
func call(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, "", append([]string{"call"}, args...)...)
}

// runBinary runs the faultline binary with stdin and returns its exit code, stdout and stderr.
func runBinary(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, stdout.String(), stderr.String()
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), "JSON: %q", s)
	return v
}

// packets records the senders of one packet kind seen on the server.
func packets(t *testing.T, url, subject string) func() []string {
	t.Helper()
	nc, err := natsgo.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	var senders []string
	_, err = nc.Subscribe(subject, func(m *natsgo.Msg) {
		var p struct{ Sender string }
		_ = json.Unmarshal(m.Data, &p)
		mu.Lock()
		senders = append(senders, p.Sender)
		mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), senders...)
	}
}

// A faultline node with product and order on SQLite and a memory cacher: calls from
// faultline call create and read a product, a validation error comes back with every field,
// an unknown action is ServiceNotFoundError; SIGTERM stops it with a DISCONNECT and exit 0.
func TestNodeAndCall(t *testing.T) {
	_, url := startNATS(t)
	disconnects := packets(t, url, "MOL.DISCONNECT")
	db := filepath.Join(t.TempDir(), "shop.db")
	node := startNode(t, "--nats", url, "--id", "product-1", "--services", "product,order", "--db", "sqlite:"+db,
		"--cacher", "memory", "--heartbeat-interval", "500ms")

	code, out, errOut := call(t, "--nats", url, "--id", "cli-1", "product.create", `{"name":"Widget","price":10.5}`)
	require.Equal(t, 0, code, errOut)
	require.Empty(t, errOut)
	require.Equal(t, map[string]any{"id": 1.0, "name": "Widget", "price": 10.5, "stock": 0.0, "description": nil}, decode(t, out))

	code, out, errOut = call(t, "--nats", url, "product.get", `{"id":1}`)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, map[string]any{"id": 1.0, "name": "Widget", "price": 10.5, "stock": 0.0, "description": nil}, decode(t, out))

	code, out, errOut = call(t, "--nats", url, "--id", "cli-2", "product.create", `{"name":"x","price":"free"}`)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, map[string]any{"name": "ValidationError", "message": "Parameters validation error!", "code": 422.0,
		"type": "VALIDATION_ERROR", "nodeID": "product-1", "data": []any{map[string]any{"type": "number", "field": "price",
			"actual": "free", "message": "The 'price' field must be a number.", "nodeID": "cli-2", "action": "product.create"}}},
		decode(t, errOut))

	code, _, errOut = call(t, "--nats", url, "--wait", "200ms", "nope.find")
	require.Equal(t, 1, code)
	require.Equal(t, "ServiceNotFoundError", decode(t, errOut).(map[string]any)["name"])

	code, _, errOut = call(t, "--nats", url, "product.get", `[1]`)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "faultline call: PARAMS-JSON must be a JSON object")

	// The product is in the SQLite file: a new node on it reads it back.
	require.NoError(t, node.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-node.done:
	case <-time.After(procWait):
		t.Fatal("faultline node did not stop on SIGTERM")
	}
	require.NoError(t, node.err, "exit 0 after SIGTERM")
	require.Contains(t, node.stderr.String(), `msg=stopped node=product-1`)
	require.NotContains(t, node.stderr.String(), "level=WARN")
	require.Eventually(t, func() bool { return strings.Count(strings.Join(disconnects(), ","), "product-1") == 1 }, procWait,
		10*time.Millisecond, "product-1's DISCONNECT: %v", disconnects())
	require.Contains(t, disconnects(), "cli-1", "call leaves with a DISCONNECT too")

	startNode(t, "--nats", url, "--id", "product-2", "--services", "product", "--db", "sqlite:"+db)
	code, out, errOut = call(t, "--nats", url, "product.get", `{"id":1}`)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "Widget", decode(t, out).(map[string]any)["name"])
}

// NATS, Redis or the database out of reach: exit 1 with a message naming it; bad flags: 2.
func TestNodeUnreachable(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--nats", "nats://127.0.0.1:1"}, 1, "faultline node: cannot join NATS at nats://127.0.0.1:1:"},
		{[]string{"--cacher", "redis://127.0.0.1:1/0"}, 1, "faultline node: cacher redis://127.0.0.1:1/0: cannot reach Redis:"},
		{[]string{"--db", "sqlite:" + filepath.Join(t.TempDir(), "missing", "shop.db")}, 1, "faultline node: database sqlite:"},
		{[]string{"--db", "mysql:x"}, 1, "want memory, sqlite:PATH or postgres:DSN"},
		{[]string{"--services", "product,nope"}, 2, `faultline node: unknown service "nope"`},
		{[]string{"--id", ""}, 2, "faultline node: --id is required"},
	} {
		args := append([]string{"node", "--id", "n1", "--services", "product", "--nats", "nats://127.0.0.1:1"}, tc.args...)
		code, out, errOut := cli(t, args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, tc.msg, "%v", tc.args)
		require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
	}
	code, _, errOut := cli(t, "call", "--nats", "nats://127.0.0.1:1", "product.get")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "faultline call: cannot join NATS at nats://127.0.0.1:1:")
}

// A Moleculer JS node calls into a faultline node, and faultline call calls the JS node.
func TestJSCallsFaultlineNode(t *testing.T) {
	bin := testutil.RequireProgram(t, "node", "apt-get install nodejs npm, then `make interop/node/node_modules`")
	modules, err := filepath.Abs("../../interop/node/node_modules")
	require.NoError(t, err)
	for _, pkg := range []string{"moleculer", "nats"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			testutil.Missing(t, "node", "npm packages missing in interop/node: run `make interop/node/node_modules` (npm ci)")
		}
	}
	_, url := startNATS(t)
	startNode(t, "--nats", url, "--id", "product-1", "--services", "product", "--heartbeat-interval", "500ms")

	js := exec.Command(bin, "../../interop/testdata/peer.js", url, "js-1")
	js.Env = append(os.Environ(), "NODE_PATH="+modules)
	stdout, err := js.StdoutPipe()
	require.NoError(t, err)
	jsErr := &lockedBuffer{}
	js.Stderr = jsErr
	require.NoError(t, js.Start())
	t.Cleanup(func() {
		_ = js.Process.Kill()
		_ = js.Wait()
		if t.Failed() {
			t.Logf("peer.js stderr:\n%s", jsErr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "peer.js: %s", jsErr.String())
	require.JSONEq(t, `{"ready":"js-1"}`, line)

	// faultline call -> js-1 (ctl.call) -> product-1: JS creates a product, with meta.
	code, out, errOut := call(t, "--nats", url, "ctl.call",
		`{"action":"product.create","params":{"name":"Bolt","price":0.25},"meta":{"user":"ann"}}`)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, map[string]any{
		"result": map[string]any{"id": 1.0, "name": "Bolt", "price": 0.25, "stock": 0.0, "description": nil},
		"meta":   map[string]any{"user": "ann"},
	}, decode(t, out))

	// And a JS node's action straight from faultline call.
	code, out, errOut = call(t, "--nats", url, "--id", "cli-js", "js.echo", `{"text":"hi","n":1}`, "--meta", `{"k":"v"}`)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, map[string]any{"text": "hi", "n": 1.0, "node": "js-1", "caller": "cli-js", "metaIn": map[string]any{"k": "v"}}, decode(t, out))

	// The REPL sees the JS node as Moleculer's own REPL would, and calls it.
	code, out, errOut = replProc(t, "", "--nats", url, "--id", "repl-js",
		"-c", `call js.echo {"text": "hi", "n": 2} --meta {"k": "v"}`, "-c", "nodes", "-c", `dcall js-1 js.echo {"text": "x", "n": 3}`)
	require.Equal(t, 0, code, errOut+out)
	require.Contains(t, out, ">> Call 'js.echo' with params: {\"n\":2,\"text\":\"hi\"} with meta: {\"k\":\"v\"}\n")
	require.Contains(t, out, "\"caller\": \"repl-js\",\n  \"metaIn\": {\n    \"k\": \"v\"\n  },\n  \"n\": 2,\n  \"node\": \"js-1\",\n")
	require.Regexp(t, `\njs-1 +\d+ +0\.15\.2 +nodejs +\S+ +ONLINE`, out)
	require.Contains(t, out, ">> Call 'js.echo' on js-1 with params: {\"n\":3,\"text\":\"x\"}\n")

	// A JS ValidationError prints as ours does.
	code, out, _ = replProc(t, "", "--nats", url, "--id", "repl-js2", "-c", `call js.echo {"text": "hi"}`)
	require.Equal(t, 1, code)
	require.Contains(t, out, ">> ERROR: Parameters validation error!\n   name: ValidationError, code: 422, type: VALIDATION_ERROR, nodeID: js-1\n"+
		`   data: [{"action":"js.echo","field":"n","message":"The 'n' field is required.","nodeID":"repl-js2","type":"required"}]`+"\n")
}
