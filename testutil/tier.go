package testutil

import (
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// Tier names for Spec.Tier.
const (
	// TierSim runs every node in this process on the simulated runtime: virtual time, a seeded
	// scheduler, the memnet network. The default.
	TierSim = "sim"
	// TierWall runs every node in this process on the wall-clock runtime (goroutines, real
	// time), still joined by memnet. (Before the process tier took the name "real", this
	// tier was called "real".)
	TierWall = "wall"
)

// A Tier is where a cluster's nodes run: which runtime they share and what carries their
// packets. The cluster API (Build, AddNode, Crash, Restart, Pause, Partition, ...) is the same
// over every tier; a tier only supplies these few seams. Tiers are plugs: RegisterTier adds
// one (real processes on NATS, for example) without touching the cluster code.
type Tier interface {
	// Runtime is the runtime every node of the cluster runs on.
	Runtime() rt.Runtime
	// Sim is the same runtime when it is simulated, else nil.
	Sim() *rt.Sim
	// Net is the in-process network when the tier has one (network faults act on it), else nil.
	Net() *memnet.Network
	// Transporter returns a fresh, unconnected transporter for one start of a node.
	Transporter(nodeID string) transport.Transporter
	// Pause freezes a node's traffic (it neither hears nor is heard, like a stopped process);
	// Resume releases it, in order.
	Pause(nodeID string) error
	Resume(nodeID string) error
	// PollStep is how long to wait between two looks at the cluster's state while waiting
	// for it to settle (discovery, services).
	PollStep() time.Duration
	// Close releases what the tier holds. The simulated tier ends every task.
	Close()
}

// A ProcessTier can run a node as an OS process (NodeSpec.Process): a real process with
// its own memory, killed by SIGKILL, paused by SIGSTOP.
type ProcessTier interface {
	Tier
	// Spawn starts a new incarnation of the node and returns once it has joined the
	// cluster's transport; what it journals is recorded into j, stamped when it happened.
	Spawn(ns NodeSpec, j *journal.Journal) (Process, error)
}

// A Controller delivers a message to a process node's control subject, in order: how the
// harness applies a fault inside a node process (scenarios' ControlMessage).
type Controller interface {
	Control(nodeID string, msg []byte) error
}

// A Process is one incarnation of a process node.
type Process interface {
	// InstanceID is the broker instance ID the process announced.
	InstanceID() string
	// Running reports that the process has not exited.
	Running() bool
	// Kill ends it at once (SIGKILL) and waits for it to exit.
	Kill()
	// Stop asks it to stop gracefully (SIGTERM: DISCONNECT sent) and waits, killing it
	// after a bound.
	Stop() error
}

// TierFactory opens a tier for a cluster spec.
type TierFactory func(spec *Spec) (Tier, error)

var (
	tiersMu sync.Mutex
	tiers   = map[string]TierFactory{TierSim: openSimTier, TierWall: openWallTier}
	aliases = map[string]string{}
)

// RegisterTier makes a tier available to Spec.Tier by name. It panics on a duplicate name.
func RegisterTier(name string, f TierFactory) {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	if _, dup := tiers[name]; dup {
		panic(fmt.Sprintf("testutil: tier %q registered twice", name))
	}
	tiers[name] = f
}

// RegisterAlias makes alias another name of the registered tier name: Spec.Tier, Tiers'
// callers and CanonicalTier accept it and mean name. It panics on a name already taken.
func RegisterAlias(alias, name string) {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	if _, dup := tiers[alias]; dup || aliases[alias] != "" {
		panic(fmt.Sprintf("testutil: tier name %q registered twice", alias))
	}
	aliases[alias] = name
}

// CanonicalTier is the registered name a tier name stands for: an alias's tier, any other
// name itself ("" stays "": the default, the simulator).
func CanonicalTier(name string) string {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	if n := aliases[name]; n != "" {
		return n
	}
	return name
}

// KnownTier reports whether name is a registered tier or an alias of one ("" is: the sim).
func KnownTier(name string) bool {
	name = CanonicalTier(name)
	tiersMu.Lock()
	defer tiersMu.Unlock()
	return name == "" || tiers[name] != nil
}

// TierAliases maps each alias to its tier.
func TierAliases() map[string]string {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	return maps.Clone(aliases)
}

// Tiers lists the registered tier names, sorted (aliases left out: TierAliases).
func Tiers() []string {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	names := make([]string, 0, len(tiers))
	for n := range tiers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func openTier(spec *Spec) (Tier, error) {
	name := CanonicalTier(spec.Tier)
	if name == "" {
		name = TierSim
	}
	tiersMu.Lock()
	f := tiers[name]
	tiersMu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("testutil: unknown tier %q (have %v)", name, Tiers())
	}
	return f(spec)
}

// NetworkSpec configures the in-process network of the sim and wall tiers.
//
// The zero value is a realistic network: every packet takes DefaultLatency plus a uniform
// jitter in [0, DefaultJitter), drawn from the runtime's seeded random source (so 0.5–2 ms one
// way, replayable from the seed). Real networks never deliver two packets from different
// senders at the same instant; a zero-latency network does, and then which of two same-instant
// events comes first (a breaker's half-open timer and a periodic call, say) is decided by the
// scheduler's coin. Ask for Ideal when a unit test wants that zero-latency world on purpose.
// Links stay FIFO whatever the jitter.
type NetworkSpec struct {
	// Latency is the one-way base latency; Jitter the width of the uniform extra delay.
	// Both zero (and not Ideal) means the defaults; otherwise they are taken as given.
	Latency time.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter  time.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Ideal is a zero-latency, zero-jitter network: a packet lands at the instant it is sent.
	Ideal bool `yaml:"ideal,omitempty" json:"ideal,omitempty"`
}

// The realistic network's figures (see NetworkSpec).
const (
	DefaultLatency = 500 * time.Microsecond
	DefaultJitter  = 1500 * time.Microsecond
)

// Ideal is the zero-latency network for unit tests.
var Ideal = NetworkSpec{Ideal: true}

// FixedLatency is a network of exactly d one way, no jitter (d = 0: Ideal).
func FixedLatency(d time.Duration) NetworkSpec {
	if d == 0 {
		return Ideal
	}
	return NetworkSpec{Latency: d}
}

// Effective returns the latency and jitter the network will use.
func (n NetworkSpec) Effective() (latency, jitter time.Duration) {
	switch {
	case n.Ideal:
		return 0, 0
	case n.Latency == 0 && n.Jitter == 0:
		return DefaultLatency, DefaultJitter
	}
	return n.Latency, n.Jitter
}

func (n NetworkSpec) options() []memnet.Option {
	lat, jit := n.Effective()
	return []memnet.Option{memnet.WithLatency(lat), memnet.WithJitter(jit)}
}

// memnetTier is the sim and wall tiers: one runtime, one memnet network.
type memnetTier struct {
	runtime rt.Runtime
	sim     *rt.Sim
	net     *memnet.Network
}

func openSimTier(spec *Spec) (Tier, error) {
	sim := rt.NewSim(spec.Seed, spec.Sim...)
	return &memnetTier{runtime: sim, sim: sim, net: memnet.New(sim, spec.Network.options()...)}, nil
}

func openWallTier(spec *Spec) (Tier, error) {
	r := rt.NewReal()
	return &memnetTier{runtime: r, net: memnet.New(r, spec.Network.options()...)}, nil
}

func (t *memnetTier) Runtime() rt.Runtime                      { return t.runtime }
func (t *memnetTier) Sim() *rt.Sim                             { return t.sim }
func (t *memnetTier) Net() *memnet.Network                     { return t.net }
func (t *memnetTier) Transporter(string) transport.Transporter { return t.net.Transport() }
func (t *memnetTier) Pause(id string) error                    { t.net.Pause(id); return nil }
func (t *memnetTier) Resume(id string) error                   { t.net.Resume(id); return nil }

// PollStep: in the simulator a wait costs nothing, so poll at the network's base latency
// (an ideal network's zero sleep still lets same-instant deliveries land); on the wall clock,
// every millisecond.
func (t *memnetTier) PollStep() time.Duration {
	if t.sim != nil {
		return t.net.Latency()
	}
	return time.Millisecond
}

func (t *memnetTier) Close() {
	if t.sim != nil {
		t.sim.Close()
	}
}
