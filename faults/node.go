package faults

import (
	"errors"
	"time"
)

// Nodes is how node faults act on a cluster; cluster builders implement it. Its methods run
// in runtime timer callbacks and must not block: anything that waits (starting a restarted
// broker) must run in a task of its own (Runtime.Go).
type Nodes interface {
	// Crash stops a node the way a killed process stops: no DISCONNECT, in-memory state lost.
	Crash(id string) error
	// Restart starts a crashed node again, as a fresh process with the same ID.
	Restart(id string) error
	// Pause freezes a node: no heartbeats, no processing, its connection kept.
	Pause(id string) error
	// Resume unfreezes a paused node.
	Resume(id string) error
	// SetSkew sets the offset of a node's clock.
	SetSkew(id string, d time.Duration) error
}

var errNoNodes = errors.New("node fault without a cluster (Targets.Nodes)")

func needNode(env *Env, id string) error {
	if id == "" {
		return errors.New("node fault without a node")
	}
	if env.Targets.Nodes == nil {
		return errNoNodes
	}
	return nil
}

// Crash crashes a node. Its heal restarts the node, so "restart after 5 s" is a Crash with a
// Duration of 5 s; a Duration of 0 leaves the node down for good.
type Crash struct {
	Node string
}

func (f Crash) Kind() string            { return "node.crash" }
func (f Crash) Attrs() map[string]any   { return map[string]any{"node": f.Node} }
func (f Crash) Validate(env *Env) error { return needNode(env, f.Node) }
func (f Crash) Apply(env *Env) (func(), error) {
	nodes := env.Targets.Nodes
	if err := nodes.Crash(f.Node); err != nil {
		return nil, err
	}
	return func() { healErr(env, f, nodes.Restart(f.Node)) }, nil
}

// Pause freezes a node (no heartbeats, no processing, connection kept) until healed: its peers
// lose it after their heartbeat timeout, and it rejoins when it resumes.
type Pause struct {
	Node string
}

func (f Pause) Kind() string            { return "node.pause" }
func (f Pause) Attrs() map[string]any   { return map[string]any{"node": f.Node} }
func (f Pause) Validate(env *Env) error { return needNode(env, f.Node) }
func (f Pause) Apply(env *Env) (func(), error) {
	nodes := env.Targets.Nodes
	if err := nodes.Pause(f.Node); err != nil {
		return nil, err
	}
	return func() { healErr(env, f, nodes.Resume(f.Node)) }, nil
}

// ClockSkew sets a node's clock Offset ahead (negative: behind) of the cluster's time; the
// heal sets it back to 0. Only the node's clock reading moves: its timers keep their pace.
type ClockSkew struct {
	Node   string
	Offset time.Duration
}

func (f ClockSkew) Kind() string { return "node.skew" }
func (f ClockSkew) Attrs() map[string]any {
	return map[string]any{"node": f.Node, "offset": f.Offset}
}
func (f ClockSkew) Validate(env *Env) error { return needNode(env, f.Node) }
func (f ClockSkew) Apply(env *Env) (func(), error) {
	nodes := env.Targets.Nodes
	if err := nodes.SetSkew(f.Node, f.Offset); err != nil {
		return nil, err
	}
	return func() { healErr(env, f, nodes.SetSkew(f.Node, 0)) }, nil
}

// healErr journals a heal that failed.
func healErr(env *Env, f Fault, err error) {
	if err == nil {
		return
	}
	attrs := f.Attrs()
	attrs["fault"], attrs["kind"], attrs["occurrence"] = env.Name, f.Kind(), env.Occurrence
	attrs["op"], attrs["error"] = "heal", err.Error()
	env.Journal.Record("", FaultFailed, attrs)
}
