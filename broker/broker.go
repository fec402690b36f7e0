// Package broker is Faultline's service broker, with Moleculer 0.15's semantics: services,
// actions, events, contexts, a registry with load balancing, transit over a pluggable
// transporter, and the fault-tolerance middleware stack. It never touches the wall clock,
// timers or goroutines directly: all of that goes through the rt.Runtime it is given, so
// the same broker runs in real time or deterministically in virtual time.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
)

// Broker is one node of a cluster.
type Broker struct {
	opts   Options
	nodeID string
	// nodeIDAttr is nodeID as a journal attribute, boxed once: every local call journals it.
	nodeIDAttr any
	rt         rt.Runtime
	// describe: the runtime uses task and signal names (rt.Describes); build them only then.
	describe bool
	// ordered: the runtime orders simultaneous timers (rt.Ordered); else one may serve two.
	ordered bool
	// fairWake: the transporter wakes callers in batches (transport.BatchWaker); a woken
	// caller yields once.
	fairWake bool
	// timedWaiters counts callers waiting on a local call's handler task in the timeout
	// middleware; with more than one, a woken caller yields (attempt.wait).
	timedWaiters atomic.Int32
	journal      *journal.Journal
	log          *slog.Logger
	strategy     Strategy
	// candidates is selectEndpoint's scratch list, guarded by mu.
	candidates []*Endpoint

	// mu guards the registry, services and pending requests. It is never held across a
	// runtime wait. Only a local call's endpoint lookup takes it shared (readyLocalEndpoint);
	// everything else takes it exclusive.
	mu        sync.RWMutex
	reg       *registry
	services  []*ServiceInstance
	localNode *member
	// pendingMu guards pending and pendingSeq apart from mu: every remote call adds and
	// drops an entry, and under mu those contended with endpoint selection on other calls.
	pendingMu  sync.Mutex
	pending    map[string]pendingRequest // by value: no allocation per request
	pendingSeq uint64
	infoSeq    int
	// infoBody is the serialized INFO at infoBodySeq (see sendInfo).
	infoBody    []byte
	infoBodySeq int
	instanceID  string
	changed     []rt.Signal // waiters for registry changes (waitForServices)

	middlewares []Middleware
	// builtinLo and builtinHi bound the built-in middlewares in middlewares: the others
	// (observers before them, user middlewares after) are code outside the broker, which a
	// context they see may stay referenced from (see recycle).
	builtinLo, builtinHi int
	// The broker-level fault-tolerance options, resolved over Moleculer's defaults.
	retry    retry.Policy
	cb       breakerConfig
	bh       bulkheadConfig
	breakers *breakerStore
	state    brokerState
	// live mirrors state (Starting or Started), written under mu with it: alive is asked on
	// every packet and every answer sent, and reads it without taking mu.
	live       atomic.Bool
	timers     []rt.Timer
	stopHooks  []func()
	cacheStats cacheStats
}

type brokerState int

const (
	stateCreated brokerState = iota
	stateStarting
	stateStarted
	stateStopped
	stateCrashed
)

// New creates a broker. Services are added with AddService before or after Start.
func New(opts Options) (*Broker, error) {
	if opts.Runtime == nil {
		return nil, errors.New("broker: Options.Runtime is required")
	}
	opts.setDefaults()
	if o := opts.EndpointOrder; o != EndpointsByNodeID && o != EndpointsByDiscovery {
		return nil, fmt.Errorf("broker: unknown Options.EndpointOrder %q (\"\" for node ID order, %q)", o, EndpointsByDiscovery)
	}
	if opts.CacheDefaults.Keys != nil {
		return nil, errors.New("broker: Options.CacheDefaults.Keys: cache keys are per action (Action.Cache.Keys)")
	}
	strategy, err := newStrategy(opts.Strategy, opts.Runtime)
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts: opts, nodeID: opts.NodeID, rt: opts.Runtime, journal: opts.Journal,
		log: opts.Logger, strategy: strategy, pending: map[string]pendingRequest{},
		retry: brokerRetry(opts.Retry), cb: brokerBreaker(opts.CircuitBreaker), bh: brokerBulkhead(opts.Bulkhead),
	}
	b.describe, b.ordered = rt.Describes(b.rt), rt.Ordered(b.rt)
	_, b.fairWake = opts.Transporter.(transport.BatchWaker)
	b.nodeIDAttr = b.nodeID
	b.reg = newRegistry(b)
	b.localNode = &member{id: b.nodeID, local: true, available: true, info: &packet.InfoPayload{Metadata: opts.Metadata}}
	b.reg.nodes[b.nodeID] = b.localNode
	b.instanceID = b.newID()
	b.localNode.info.InstanceID = b.instanceID
	b.middlewares = b.builtinMiddlewares()
	if h := opts.Hooks.Created; h != nil {
		h(b)
	}
	return b, nil
}

// MustNew is New that panics on bad options, for tests and examples.
func MustNew(opts Options) *Broker {
	b, err := New(opts)
	if err != nil {
		panic(err)
	}
	return b
}

// NodeID returns the broker's node ID.
func (b *Broker) NodeID() string { return b.nodeID }

// Namespace returns the broker's namespace.
func (b *Broker) Namespace() string { return b.opts.Namespace }

// Runtime returns the broker's runtime.
func (b *Broker) Runtime() rt.Runtime { return b.rt }

// Journal returns the broker's journal (possibly nil).
func (b *Broker) Journal() *journal.Journal { return b.journal }

// Logger returns the broker's logger.
func (b *Broker) Logger() *slog.Logger { return b.log }

// Options returns the broker's options, defaults applied.
func (b *Broker) Options() Options { return b.opts }

// Started reports whether the broker is running.
func (b *Broker) Started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == stateStarted
}

// Use adds a middleware inside the built-in ones (and inside those added before it). Call it
// before adding services.
func (b *Broker) Use(m Middleware) { b.middlewares = append(b.middlewares, m) }

// AddService registers a service. Before Start it is started with the broker; after Start it
// is started at once and announced to the cluster.
func (b *Broker) AddService(s *Service) (*ServiceInstance, error) {
	si, err := b.compileService(s)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	for _, other := range b.services {
		if other.FullName == si.FullName {
			b.mu.Unlock()
			return nil, fmt.Errorf("service %s is already registered on %s", si.FullName, b.nodeID)
		}
	}
	b.services = append(b.services, si)
	started := b.state == stateStarted
	b.mu.Unlock()
	if s.Created != nil {
		s.Created(si)
	}
	if started {
		if err := b.startService(si); err != nil {
			return nil, err
		}
		b.sendInfo("")
	}
	return si, nil
}

// MustAddService is AddService that panics on a bad schema.
func (b *Broker) MustAddService(s *Service) *ServiceInstance {
	si, err := b.AddService(s)
	if err != nil {
		panic(err)
	}
	return si
}

// Start connects the broker, starts its services (waiting for their dependencies), announces
// them to the cluster and starts heartbeats. It blocks until the broker is started, so in a
// simulation it must run inside a task.
func (b *Broker) Start() error {
	b.mu.Lock()
	if b.state != stateCreated {
		b.mu.Unlock()
		return fmt.Errorf("broker %s: Start called twice", b.nodeID)
	}
	b.setState(stateStarting)
	services := append([]*ServiceInstance(nil), b.services...)
	b.mu.Unlock()

	b.journal.Record(b.nodeID, journal.NodeStarted, map[string]any{"instanceID": b.instanceID})
	if t := b.opts.Transporter; t != nil {
		if err := t.Connect(b.nodeID, b.receive); err != nil {
			return fmt.Errorf("broker %s: connect: %w", b.nodeID, err)
		}
		if r, ok := t.(transport.Reconnecter); ok {
			r.OnReconnect(b.reconnected)
		}
		if w, ok := t.(transport.ConnectionWatcher); ok {
			w.OnConnectionLost(b.connectionLost)
		}
		b.send(packet.Discover, "", &packet.DiscoverPayload{})
	}
	for _, si := range services {
		if err := b.startService(si); err != nil {
			return err
		}
	}
	b.mu.Lock()
	b.setState(stateStarted)
	b.mu.Unlock()
	if b.opts.Transporter != nil {
		b.sendInfo("")
		b.startHeartbeats()
	}
	b.startBreakerWindow()
	b.BroadcastLocal("$broker.started", nil)
	return nil
}

func (b *Broker) startService(si *ServiceInstance) error {
	if deps := si.schema.Dependencies; len(deps) > 0 {
		b.WaitForServices(deps...)
	}
	if si.schema.Started != nil {
		if err := si.schema.Started(si); err != nil {
			return fmt.Errorf("service %s: started: %w", si.FullName, err)
		}
	}
	b.mu.Lock()
	b.registerLocal(si)
	b.mu.Unlock()
	b.registryChanged(true)
	return nil
}

// registerLocal adds a started service's actions and events to the registry.
func (b *Broker) registerLocal(si *ServiceInstance) {
	for _, name := range sortedKeys(si.actions) {
		d := si.actions[name]
		ep := &Endpoint{Action: d.name, NodeID: b.nodeID, Local: true, Service: si.FullName, node: b.localNode, def: d, Timeout: d.def.Timeout}
		ep.handler = b.wrapLocal(ep)
		b.reg.addEndpoint(ep)
	}
	for _, name := range sortedKeys(si.schema.Events) {
		e := si.schema.Events[name]
		group := e.Group
		if group == "" {
			group = si.Name
		}
		le := &localEvent{service: si, def: e, name: name}
		le.handler = b.wrapLocalEvent(le)
		ee := &eventEndpoint{pattern: name, group: group, service: si.FullName, nodeID: b.nodeID, node: b.localNode, local: le}
		b.reg.events = append(b.reg.events, ee)
		b.reg.localEvents = append(b.reg.localEvents, ee)
	}
	b.infoSeq++
	b.localNode.info.Seq = b.infoSeq
}

// Stop stops services, says DISCONNECT to the cluster and leaves the transport.
func (b *Broker) Stop() error {
	b.mu.Lock()
	if b.state != stateStarted && b.state != stateStarting {
		b.mu.Unlock()
		return nil
	}
	b.setState(stateStopped)
	services := append([]*ServiceInstance(nil), b.services...)
	b.mu.Unlock()

	var errsOut []error
	for i := len(services) - 1; i >= 0; i-- {
		if fn := services[i].schema.Stopped; fn != nil {
			if err := fn(services[i]); err != nil {
				errsOut = append(errsOut, fmt.Errorf("service %s: stopped: %w", services[i].FullName, err))
			}
		}
	}
	b.BroadcastLocal("$broker.stopped", nil)
	if t := b.opts.Transporter; t != nil {
		b.send(packet.Disconnect, "", &packet.DisconnectPayload{})
		_ = t.Disconnect()
	}
	b.halt()
	b.journal.Record(b.nodeID, journal.NodeStopped, map[string]any{"graceful": true})
	return errors.Join(errsOut...)
}

// Crash stops the node the way a killed process stops: no DISCONNECT, no stopped hooks, the
// connection simply drops and everything in memory is gone. Pending calls it made fail;
// other nodes notice only when its heartbeats stop.
func (b *Broker) Crash() {
	b.mu.Lock()
	if b.state == stateCrashed || b.state == stateStopped {
		b.mu.Unlock()
		return
	}
	b.setState(stateCrashed)
	b.mu.Unlock()
	if t := b.opts.Transporter; t != nil {
		_ = t.Disconnect()
	}
	b.halt()
	b.journal.Record(b.nodeID, journal.NodeStopped, map[string]any{"graceful": false})
}

// halt stops timers and fails pending requests of a stopping node.
func (b *Broker) halt() {
	b.mu.Lock()
	timers := b.timers
	b.timers = nil
	for _, n := range b.reg.nodes {
		if n.lossTimer != nil {
			n.lossTimer.Stop()
			n.lossTimer = nil
		}
	}
	hooks := b.stopHooks
	b.stopHooks = nil
	b.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	for _, h := range hooks {
		h()
	}
	b.rejectPending("", nil)
}

// onStop registers cleanup run when the broker stops or crashes.
func (b *Broker) onStop(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopHooks = append(b.stopHooks, fn)
}

func (b *Broker) addTimer(t rt.Timer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timers = append(b.timers, t)
}

// alive reports whether the broker may still act (send, serve).
func (b *Broker) alive() bool { return b.live.Load() }

// setState changes the broker's state; the caller holds b.mu.
func (b *Broker) setState(s brokerState) {
	b.state = s
	b.live.Store(s == stateStarted || s == stateStarting)
}

// WaitForServices blocks until every named service is available somewhere in the cluster.
func (b *Broker) WaitForServices(names ...string) {
	for {
		b.mu.Lock()
		missing := b.missingServices(names)
		var sig rt.Signal
		if len(missing) > 0 {
			sig = b.rt.NewSignal(fmt.Sprintf("services %v on %s", missing, b.nodeID))
			b.changed = append(b.changed, sig)
		}
		b.mu.Unlock()
		if sig == nil {
			return
		}
		sig.Wait()
	}
}

func (b *Broker) missingServices(names []string) []string {
	have := map[string]bool{}
	for _, n := range b.reg.nodes {
		if !n.available {
			continue
		}
		if n.local {
			for _, si := range b.services {
				if b.isRegistered(si) {
					have[si.FullName] = true
				}
			}
			continue
		}
		for _, s := range n.services() {
			have[s.FullName] = true
		}
	}
	var missing []string
	for _, name := range names {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}

// isRegistered reports whether a local service has been started and registered.
func (b *Broker) isRegistered(si *ServiceInstance) bool {
	for _, name := range sortedKeys(si.actions) {
		l := b.reg.list(name)
		return l != nil && l.local() != nil
	}
	for _, e := range b.reg.localEvents {
		if e.local.service == si {
			return true
		}
	}
	return len(si.actions) == 0 && len(si.schema.Events) == 0
}

// registryChanged wakes WaitForServices waiters and emits $services.changed.
func (b *Broker) registryChanged(localService bool) {
	b.mu.Lock()
	waiters := b.changed
	b.changed = nil
	b.mu.Unlock()
	for _, w := range waiters {
		w.Fire()
	}
	b.BroadcastLocal("$services.changed", map[string]any{"localService": localService})
}

// Nodes returns the known nodes, in ID order (copies).
func (b *Broker) Nodes() []Node {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Node
	for _, n := range b.reg.sortedNodes() {
		out = append(out, n.public())
	}
	return out
}

// Sees reports the instance ID of a node as this broker knows it (its own included) and
// whether it is available, without copying the registry as Nodes does: a harness waiting for
// a cluster of N nodes to mesh asks it N² times per look.
func (b *Broker) Sees(nodeID string) (instanceID string, available bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.reg.nodes[nodeID]
	if n == nil {
		return "", false
	}
	return n.instanceID(), n.available
}

// Endpoints returns the endpoints of an action, as "node" IDs with their availability.
func (b *Broker) Endpoints(action string) map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]bool{}
	if l := b.reg.list(action); l != nil {
		for _, slot := range l.slots {
			// An endpoint not made yet has never been blocked.
			out[slot.node.id] = slot.node.available && (slot.ep == nil || slot.ep.available())
		}
	}
	return out
}

// ServiceList returns the services of this node and of every available remote node as
// their INFO describes them (actions with their Rest definitions, settings), one entry per
// node and service, this node's first, then in node ID order. API gateways build their
// autoAliases from it.
func (b *Broker) ServiceList() []packet.ServiceInfo {
	out := b.infoPayload().Services
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.reg.sortedNodes() {
		if !n.local && n.available {
			out = append(out, n.services()...)
		}
	}
	return out
}

// Services returns the local services.
func (b *Broker) Services() []*ServiceInstance {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*ServiceInstance(nil), b.services...)
}

// newID returns a UUID-shaped ID drawn from the runtime's random source, so IDs are
// deterministic in a simulation.
func (b *Broker) newID() string {
	return formatID(b.drawID())
}

// drawID draws the two random words of an ID from the runtime's source. Something that
// skips building a message still draws its ID, so a seed's random sequence stays the same.
func (b *Broker) drawID() (hi, lo uint64) {
	r := b.rt.Rand()
	return r.Uint64(), r.Uint64()
}

// formatID formats two random words as a version-4 UUID, by hand (one allocation, against
// fmt's four: it is on every call path).
func formatID(hi, lo uint64) string {
	var buf [36]byte
	putHex(buf[0:8], hi>>32)
	buf[8] = '-'
	putHex(buf[9:13], (hi>>16)&0xffff)
	buf[13] = '-'
	buf[14] = '4'
	putHex(buf[15:18], hi&0x0fff)
	buf[18] = '-'
	putHex(buf[19:23], (lo>>48)&0x3fff|0x8000)
	buf[23] = '-'
	putHex(buf[24:36], lo&0xffffffffffff)
	return string(buf[:])
}

// putHex writes v as len(dst) lower-case hex digits, zero-padded (as %0<n>x for a v that fits).
func putHex(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// since returns the time elapsed since t on the runtime's clock.
func (b *Broker) since(t time.Time) time.Duration { return b.rt.Now().Sub(t) }
