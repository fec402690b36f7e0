package interop_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	fnats "github.com/faultline/faultline/broker/transport/nats"
	"github.com/faultline/faultline/testutil"
)

// Real processes on a real network: conditions are waited for with generous bounds, never
// timed.
const (
	waitFor = 20 * time.Second
	tick    = 10 * time.Millisecond
)

// Heartbeats of every node, Go and JS (peer.js sets the same): node loss is seen within
// seconds instead of Moleculer's 30.
const (
	heartbeatInterval = 500 * time.Millisecond
	heartbeatTimeout  = 3 * time.Second
)

func eventually(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, waitFor, tick, fmt.Sprintf(what, args...))
}

// requireNode returns the node binary and the npm folder holding moleculer and nats, or
// skips (fails under FAULTLINE_REQUIRE=node) with one line saying what to install.
func requireNode(t *testing.T) (bin, modules string) {
	t.Helper()
	bin = testutil.RequireProgram(t, "node", "apt-get install nodejs npm, then `make interop/node/node_modules`")
	modules, err := filepath.Abs(filepath.Join("node", "node_modules"))
	require.NoError(t, err)
	for _, pkg := range []string{"moleculer", "nats"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			testutil.Missing(t, "node", "npm packages missing in interop/node: run `make interop/node/node_modules` (npm ci)")
		}
	}
	return bin, modules
}

// startServer runs an embedded NATS server on a random port.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	o := natstest.DefaultTestOptions
	o.Port = -1
	s := natstest.RunServer(&o)
	t.Cleanup(s.Shutdown)
	return s
}

func natsURL(s *server.Server) string { return "nats://" + s.Addr().String() }

// goNode is a Faultline broker on the real runtime joined to the server.
type goNode struct {
	*broker.Broker
	j *journal.Journal

	mu   sync.Mutex
	gone map[string]bool // peer -> unexpected, from $node.disconnected
}

func startGo(t *testing.T, srv *server.Server, id string, edit func(*broker.Options), services ...*broker.Service) *goNode {
	t.Helper()
	clock := rt.NewReal()
	n := &goNode{j: journal.New(clock), gone: map[string]bool{}}
	opts := broker.Options{NodeID: id, Runtime: clock, Journal: n.j,
		Transporter:       fnats.New(fnats.Options{URL: natsURL(srv), ReconnectWait: 50 * time.Millisecond}),
		HeartbeatInterval: heartbeatInterval, HeartbeatTimeout: heartbeatTimeout}
	if edit != nil {
		edit(&opts)
	}
	n.Broker = broker.MustNew(opts)
	n.MustAddService(&broker.Service{Name: "watch-" + id, Events: map[string]broker.Event{
		"$node.disconnected": {Handler: func(ctx *broker.Context) error {
			node, _ := ctx.Params["node"].(map[string]any)
			peer, _ := node["id"].(string)
			unexpected, _ := ctx.Params["unexpected"].(bool)
			n.mu.Lock()
			n.gone[peer] = unexpected
			n.mu.Unlock()
			return nil
		}},
	}})
	for _, s := range services {
		n.MustAddService(s)
	}
	require.NoError(t, n.Start())
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

func (n *goNode) lost(peer string) (unexpected, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	unexpected, ok = n.gone[peer]
	return
}

// jsNode is peer.js running under node.
type jsNode struct {
	id     string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// syncBuffer collects a process's stderr for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startJS spawns peer.js as node id on the server and waits for it to be started.
func startJS(t *testing.T, srv *server.Server, id string) *jsNode {
	t.Helper()
	bin, modules := requireNode(t)
	cmd := exec.Command(bin, filepath.Join("testdata", "peer.js"), natsURL(srv), id)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	js := &jsNode{id: id, cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = js.stderr
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct{ Ready string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Ready == id {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(js.exited)
	}()
	t.Cleanup(func() {
		js.kill()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", id, js.stderr.String())
		}
	})
	select {
	case <-ready:
	case <-js.exited:
		t.Fatalf("peer.js %s exited before it started:\n%s", id, js.stderr.String())
	case <-time.After(waitFor):
		t.Fatalf("peer.js %s did not start within %s:\n%s", id, waitFor, js.stderr.String())
	}
	return js
}

// kill ends the process at once (SIGKILL: no DISCONNECT) and waits for it.
func (js *jsNode) kill() {
	_ = js.cmd.Process.Signal(syscall.SIGKILL)
	<-js.exited
}

// awaitPeer waits until n has an endpoint of action on peer.
func awaitPeer(t *testing.T, n *goNode, peer, action string) {
	t.Helper()
	eventually(t, func() bool { return n.Endpoints(action)[peer] }, "%s discovers %s on %s", n.NodeID(), action, peer)
}

// ctl calls an action of peer.js's ctl service on that node and decodes the answer.
func ctl[T any](t *testing.T, n *goNode, js *jsNode, action string, params map[string]any) T {
	t.Helper()
	out, err := tryCtl[T](n, js, action, params)
	require.NoError(t, err)
	return out
}

// tryCtl is ctl for conditions polled by eventually (they run on another goroutine, where a
// test must not fail): an error is returned.
func tryCtl[T any](n *goNode, js *jsNode, action string, params map[string]any) (T, error) {
	var out T
	res, err := n.Call("ctl."+action, params, broker.WithNodeID(js.id))
	if err != nil {
		return out, fmt.Errorf("ctl.%s on %s: %w", action, js.id, err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("ctl.%s answer %s: %w", action, raw, err)
	}
	return out, nil
}

// jsCallResult is ctl.call's answer: the result or the error, and the meta after the call.
type jsCallResult struct {
	Result   any            `json:"result"`
	Error    *jsError       `json:"error"`
	Meta     map[string]any `json:"meta"`
	CacheKey string         `json:"cacheKey"`
}

type jsError struct {
	Name              string `json:"name"`
	Message           string `json:"message"`
	Code              int    `json:"code"`
	Type              string `json:"type"`
	Data              any    `json:"data"`
	NodeID            string `json:"nodeID"`
	Retryable         bool   `json:"retryable"`
	IsValidationError bool   `json:"isValidationError"`
	IsMoleculerError  bool   `json:"isMoleculerError"`
}

// jsCall makes peer.js call action with params and meta.
func jsCall(t *testing.T, n *goNode, js *jsNode, action string, params, meta map[string]any) jsCallResult {
	t.Helper()
	return ctl[jsCallResult](t, n, js, "call", map[string]any{"action": action, "params": params, "meta": meta})
}
