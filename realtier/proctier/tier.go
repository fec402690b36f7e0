// Package proctier is the process tier: every scenario node that serves (and drives
// nothing) runs as a `faultline node` process of its own, on its own embedded nats-server,
// the servers routed into one NATS cluster through Toxiproxy proxies (realtier/natsmesh).
// The harness process keeps the nodes that run the workload, and collects every process's
// journal over NATS into the cluster's one journal, each entry stamped when it happened.
//
// A crash is SIGKILL, a pause SIGSTOP/SIGCONT, a restart a new process with the same node
// ID; a symmetric partition cuts the servers' routes. The nodes share one SQLite file, as
// services of one shop share a database.
//
// Importing the package registers the tier as "real" (testutil.Spec.Tier), also known as
// "process" (the name it had before "real" stopped meaning the in-process wall clock).
package proctier

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
	"github.com/faultline/faultline/broker/transport/cut"
	"github.com/faultline/faultline/broker/transport/memnet"
	natstransport "github.com/faultline/faultline/broker/transport/nats"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/realtier/natsmesh"
	"github.com/faultline/faultline/testutil"
)

// Name is the tier's name; Alias another name of it.
const (
	Name  = "real"
	Alias = "process"
)

// Binary is the faultline program the nodes run. The CLI sets it to itself; otherwise
// $FAULTLINE_BIN names it.
var Binary string

func init() {
	testutil.RegisterTier(Name, open)
	testutil.RegisterAlias(Alias, Name)
}

// network is where the tier's nodes meet: a mesh of embedded servers (one per node, routed
// through Toxiproxy: partitions), or one server in a container.
type network interface {
	ClientURL(node string) string
	Links() faults.Links // nil when partitions cannot be made
	Close()
}

type meshNetwork struct{ *natsmesh.Mesh }

func (m meshNetwork) Links() faults.Links { return m.Mesh }

// StartTimeout bounds how long a node process may take to join.
const StartTimeout = 30 * time.Second

type tier struct {
	name    string
	runtime *rt.Real
	net     network
	bin     string
	dir     string // the shared SQLite file's directory

	// spawnMu makes node processes start one at a time: the first to open the shared
	// SQLite file creates its tables, and two doing so at once would race.
	spawnMu sync.Mutex

	mu        sync.Mutex
	procs     map[string]*process
	collector map[string]*nats.Conn // per process node, on its own server
	redis     *sharedRedis          // started at the first node with a redis cacher
	// newRedis starts the shared Redis (startRedis; a container on the containers tier).
	newRedis func() (*sharedRedis, error)
	// cuts are the one-way partition filters of the harness's own nodes; journal is the
	// cluster's (known from the first Spawn), where their drops are journaled.
	cuts    map[string]*cut.Filter
	journal *journal.Journal
	// spans are what the node processes traced (ProcessSpec.Traces).
	spans *spanBox
}

func binary(spec *testutil.Spec, name string) (string, error) {
	if spec.Network != (testutil.NetworkSpec{}) {
		return "", fmt.Errorf("tier %s: the network is real; a network spec (latency, jitter, ideal) applies to the in-memory tiers only", name)
	}
	bin := Binary
	if bin == "" {
		bin = os.Getenv("FAULTLINE_BIN")
	}
	if bin == "" {
		return "", fmt.Errorf("tier %s: the faultline binary is unknown: run it from the faultline CLI, or set FAULTLINE_BIN", name)
	}
	return bin, nil
}

func newTier(name, bin string, net network) (*tier, error) {
	dir, err := os.MkdirTemp("", "faultline-"+name+"-tier")
	if err != nil {
		net.Close()
		return nil, err
	}
	return &tier{name: name, runtime: rt.NewReal(), net: net, bin: bin, dir: dir, procs: map[string]*process{},
		collector: map[string]*nats.Conn{}, newRedis: startRedis, cuts: map[string]*cut.Filter{}, spans: newSpanBox()}, nil
}

func open(spec *testutil.Spec) (testutil.Tier, error) {
	bin, err := binary(spec, Name)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range spec.Nodes {
		ids = append(ids, n.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("tier real: the spec names no nodes")
	}
	m, err := natsmesh.Start(ids, natsmesh.Options{})
	if err != nil {
		return nil, fmt.Errorf("tier real: %w", err)
	}
	return newTier(Name, bin, meshNetwork{m})
}

func (t *tier) Runtime() rt.Runtime     { return t.runtime }
func (t *tier) Sim() *rt.Sim            { return nil }
func (t *tier) Net() *memnet.Network    { return nil }
func (t *tier) Links() faults.Links     { return t.net.Links() }
func (t *tier) PollStep() time.Duration { return 5 * time.Millisecond }

// Transporter connects an in-process node (a workload's) to its own server, behind a
// filter for one-way partitions (Cut).
func (t *tier) Transporter(nodeID string) transport.Transporter {
	inner := natstransport.New(natstransport.Options{URL: t.net.ClientURL(nodeID), ReconnectWait: 100 * time.Millisecond})
	f := cut.Wrap(inner, func(m packet.Message, rule string) {
		t.mu.Lock()
		j := t.journal
		t.mu.Unlock()
		cut.Record(j, nodeID, m, rule)
	})
	t.mu.Lock()
	t.cuts[nodeID] = f
	t.mu.Unlock()
	return f
}

// Cut makes the harness's node `to` drop what arrives from `from` (of types, none: all)
// until Uncut: the receiving half of a one-way partition.
func (t *tier) Cut(name, to string, from []string, types []packet.Type) error {
	t.mu.Lock()
	f := t.cuts[to]
	t.mu.Unlock()
	if f == nil {
		return fmt.Errorf("tier %s: %s is not a node of the harness", t.name, to)
	}
	f.Drop(name, from, types)
	return nil
}

// Uncut removes the rule.
func (t *tier) Uncut(name, to string) {
	t.mu.Lock()
	f := t.cuts[to]
	t.mu.Unlock()
	if f != nil {
		f.Heal(name)
	}
}

func (t *tier) current(id string) (*process, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[id]
	if p == nil {
		return nil, fmt.Errorf("tier %s: %s is not a running process node (only process nodes can be paused)", t.name, id)
	}
	return p, nil
}

// Pause stops the node's process (SIGSTOP): its sockets stay open and silent.
func (t *tier) Pause(id string) error {
	p, err := t.current(id)
	if err != nil {
		return err
	}
	return p.cmd.Process.Signal(syscall.SIGSTOP)
}

// Resume continues it (SIGCONT).
func (t *tier) Resume(id string) error {
	p, err := t.current(id)
	if err != nil {
		return err
	}
	return p.cmd.Process.Signal(syscall.SIGCONT)
}

func (t *tier) Close() {
	t.mu.Lock()
	procs := t.procs
	t.procs = map[string]*process{}
	conns := t.collector
	t.collector = map[string]*nats.Conn{}
	t.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, nc := range conns {
		nc.Close()
	}
	t.mu.Lock()
	if t.redis != nil {
		t.redis.close()
	}
	t.mu.Unlock()
	t.net.Close()
	os.RemoveAll(t.dir)
}

// journalSubject is where a node's process publishes its journal; controlSubject where it
// listens for the faults the harness applies in it.
func journalSubject(id string) string { return "faultline.journal." + id }
func controlSubject(id string) string { return "faultline.control." + id }

// Control sends msg to the node's process, on the node's own server (no route to cross:
// a partition does not stop the harness from reaching it) and flushed, so that it is on
// its way when Control returns.
func (t *tier) Control(id string, msg []byte) error {
	t.mu.Lock()
	nc := t.collector[id]
	t.mu.Unlock()
	if nc == nil {
		return fmt.Errorf("tier %s: %s is not a process node", t.name, id)
	}
	if err := nc.Publish(controlSubject(id), msg); err != nil {
		return err
	}
	return nc.Flush()
}

// collect subscribes, once per node and on the node's own server (so no route, and no
// partition, stands between them), to what its processes journal.
func (t *tier) collect(id string, j *journal.Journal) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.collector[id] != nil {
		return nil
	}
	nc, err := nats.Connect(t.net.ClientURL(id), nats.Name("faultline-collector-"+id))
	if err != nil {
		return fmt.Errorf("tier %s: journal of %s: %w", t.name, id, err)
	}
	_, err = nc.Subscribe(journalSubject(id), func(m *nats.Msg) {
		var e journal.Message
		if json.Unmarshal(m.Data, &e) != nil || e.Kind == "" {
			return // not an entry: nothing to journal
		}
		j.RecordAt(time.Unix(0, e.At), e.Node, e.Kind, e.Attrs)
	})
	if err == nil {
		_, err = nc.Subscribe(spansSubject(id), t.spans.add)
	}
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("tier %s: journal of %s: %w", t.name, id, err)
	}
	t.collector[id] = nc
	return nil
}

// Spawn starts a node process and waits until it has joined.
func (t *tier) Spawn(ns testutil.NodeSpec, j *journal.Journal) (testutil.Process, error) {
	t.mu.Lock()
	t.journal = j
	t.mu.Unlock()
	if err := t.collect(ns.ID, j); err != nil {
		return nil, err
	}
	if ns.Process != nil && len(ns.Process.Command) > 0 {
		p, err := t.spawnExternal(ns)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.procs[ns.ID] = p
		t.mu.Unlock()
		return p, nil
	}
	args := []string{"node", "--nats", t.net.ClientURL(ns.ID), "--id", ns.ID, "--services", strings.Join(ns.Services, ","),
		"--db", "sqlite:" + filepath.Join(t.dir, "shop.db"), "--journal-subject", journalSubject(ns.ID),
		"--control-subject", controlSubject(ns.ID)}
	switch ns.Cacher {
	case testutil.CacherNone:
	case testutil.CacherMemory:
		args = append(args, "--cacher", "memory")
	case testutil.CacherRedis:
		url, err := t.redisURL()
		if err != nil {
			return nil, err
		}
		args = append(args, "--cacher", url)
	default:
		return nil, fmt.Errorf("tier %s: node %s: cacher %q is not supported on this tier (memory and redis are)", t.name, ns.ID, ns.Cacher)
	}
	if ns.Process != nil {
		if ns.Process.Metrics || ns.Process.Traces {
			// a scrape also says how many spans to wait for
			args = append(args, "--metrics-subject", metricsSubject(ns.ID))
		}
		if ns.Process.Traces {
			args = append(args, "--spans-subject", spansSubject(ns.ID))
		}
		args = append(args, ns.Process.Args...)
	}
	t.spawnMu.Lock()
	p, err := startProcess(t.bin, ns.ID, args)
	t.spawnMu.Unlock()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.procs[ns.ID] = p
	t.mu.Unlock()
	return p, nil
}

// process is one incarnation of a node.
type process struct {
	id       string
	cmd      *exec.Cmd
	instance string
	stderr   *tail
	done     chan struct{}
}

var startedLine = regexp.MustCompile(`msg="node started".* instance=(\S+)`)

func startProcess(bin, id string, args []string) (*process, error) {
	return startCommand(exec.Command(bin, args...), id, nil)
}

// spawnExternal starts an external node's command (any process that joins over NATS) and
// waits for its INFO: it has joined when it has introduced itself to the cluster.
func (t *tier) spawnExternal(ns testutil.NodeSpec) (*process, error) {
	url := t.net.ClientURL(ns.ID)
	subst := strings.NewReplacer("{{nats}}", url, "{{id}}", ns.ID)
	argv := make([]string, len(ns.Process.Command))
	for i, a := range ns.Process.Command {
		argv[i] = subst.Replace(a)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "FAULTLINE_NATS_URL="+url, "FAULTLINE_NODE_ID="+ns.ID)
	for k, v := range ns.Process.Env {
		cmd.Env = append(cmd.Env, k+"="+subst.Replace(v))
	}
	nc, err := nats.Connect(url, nats.Name("faultline-watch-"+ns.ID))
	if err != nil {
		return nil, fmt.Errorf("tier %s: node %s: %w", t.name, ns.ID, err)
	}
	defer nc.Close()
	joined := make(chan string, 1)
	watch := func(m *nats.Msg) {
		var info struct {
			Sender     string `json:"sender"`
			InstanceID string `json:"instanceID"`
		}
		if json.Unmarshal(m.Data, &info) == nil && info.Sender == ns.ID {
			select {
			case joined <- info.InstanceID:
			default:
			}
		}
	}
	// A Moleculer node broadcasts its INFO when it connects, and sends it to each node that
	// asks (DISCOVER): either shows it has joined.
	for _, subj := range []string{"MOL.INFO", "MOL.INFO.>"} {
		if _, err := nc.Subscribe(subj, watch); err != nil {
			return nil, err
		}
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	t.spawnMu.Lock()
	defer t.spawnMu.Unlock()
	return startCommand(cmd, ns.ID, joined)
}

// startCommand starts a node's process and waits until it has joined: its "node started"
// log line (faultline node), or an instance ID on joined (an external node).
func startCommand(cmd *exec.Cmd, id string, joined <-chan string) (*process, error) {
	dieWithHarness(cmd)
	r, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("process node %s: %w", id, err)
	}
	p := &process{id: id, cmd: cmd, stderr: &tail{}, done: make(chan struct{})}
	started := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.add(line)
			if m := startedLine.FindStringSubmatch(line); m != nil {
				select {
				case started <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	ready := (<-chan string)(started)
	if joined != nil {
		ready = joined // an external node logs what it likes; its INFO says it has joined
	}
	select {
	case inst := <-ready:
		p.instance = inst
		return p, nil
	case <-p.done:
		<-drained // its last words
		return nil, fmt.Errorf("process node %s exited before joining: %s", id, p.stderr.String())
	case <-time.After(StartTimeout):
		p.Kill()
		return nil, fmt.Errorf("process node %s did not join within %s: %s", id, StartTimeout, p.stderr.String())
	}
}

func (p *process) InstanceID() string { return p.instance }

func (p *process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies just as well, but be sure
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) Stop() error {
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(15 * time.Second):
		p.Kill()
		return fmt.Errorf("process node %s did not stop on SIGTERM; killed: %s", p.id, p.stderr.String())
	}
}

// tail keeps the last lines a process wrote on stderr, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > 20 {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// RouteNodes are the nodes whose servers the mesh routes between (none on the containers
// tier, whose one server has no routes).
func (t *tier) RouteNodes() []string {
	if m, ok := t.net.(meshNetwork); ok {
		return m.Nodes()
	}
	return nil
}

// AddToxic puts a Toxiproxy toxic on the route between a's and b's servers.
func (t *tier) AddToxic(a, b string, tox natsmesh.Toxic) error {
	m, ok := t.net.(meshNetwork)
	if !ok {
		return fmt.Errorf("tier %s has no routes to put a toxic on", t.name)
	}
	return m.AddToxic(a, b, tox)
}

// RemoveToxic takes it off.
func (t *tier) RemoveToxic(a, b string, tox natsmesh.Toxic) error {
	m, ok := t.net.(meshNetwork)
	if !ok {
		return fmt.Errorf("tier %s has no routes", t.name)
	}
	return m.RemoveToxic(a, b, tox)
}
