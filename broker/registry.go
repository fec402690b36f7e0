package broker

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
)

// Node is a node of the cluster as this broker knows it (Broker.Nodes returns copies).
type Node struct {
	ID         string
	Local      bool
	Available  bool
	InstanceID string
	Seq        int
	CPU        float64
	LastSeen   time.Time
	Services   []packet.ServiceInfo
	Metadata   map[string]any
	// Latency is the average PING round trip (Latency strategy).
	Latency time.Duration
	// Client, IPList and Hostname are what the node's INFO says of itself (remote nodes).
	Client   packet.ClientInfo
	IPList   []string
	Hostname string
}

// Summary is the node as published in $node.* event payloads.
func (n *Node) Summary() map[string]any {
	return map[string]any{"id": n.ID, "local": n.Local, "available": n.Available, "instanceID": n.InstanceID, "seq": n.Seq}
}

// member is a node in this broker's registry. Every node of a cluster of N keeps one for each
// of the N-1 others, so it holds only what changes per observer; what a remote node says of
// itself stays in its INFO as decoded, which memnet decodes once for the whole network and
// every observer shares (read-only): a Node's fields copied per observer were ~250 bytes per
// ordered pair of nodes, a member is ~90.
type member struct {
	id        string
	local     bool
	available bool
	// info is the node's last INFO (remote), or what the local node says of itself
	// (InstanceID, Seq, Metadata; owned by the broker). Nil until a remote node's first INFO.
	info      *packet.InfoPayload
	cpu       float64
	lastSeen  time.Time
	lossTimer rt.Timer
	ping      *pingStats // made by the first PONG
}

// pingStats is a node's last PING round trips and their average.
type pingStats struct {
	latency time.Duration
	rtts    []time.Duration
}

// services returns what the node's INFO listed (nil before any).
func (n *member) services() []packet.ServiceInfo {
	if n.info == nil {
		return nil
	}
	return n.info.Services
}

// instanceID returns the node's instance ID as its INFO gave it ("" before any).
func (n *member) instanceID() string {
	if n.info == nil {
		return ""
	}
	return n.info.InstanceID
}

func (n *member) seq() int {
	if n.info == nil {
		return 0
	}
	return n.info.Seq
}

func (n *member) latency() time.Duration {
	if n.ping == nil {
		return 0
	}
	return n.ping.latency
}

// public returns the member as Broker.Nodes shows it.
func (n *member) public() Node {
	c := Node{ID: n.id, Local: n.local, Available: n.available, CPU: n.cpu, LastSeen: n.lastSeen, Latency: n.latency()}
	if i := n.info; i != nil {
		c.InstanceID, c.Seq, c.Services, c.Metadata = i.InstanceID, i.Seq, i.Services, i.Metadata
		c.Client, c.IPList, c.Hostname = i.Client, i.IPList, i.Hostname
	}
	return c
}

// summary is Node.Summary of the member.
func (n *member) summary() map[string]any {
	c := n.public()
	return c.Summary()
}

// Endpoint is one action on one node.
type Endpoint struct {
	Action  string
	NodeID  string
	Local   bool
	Service string
	// Timeout is the action's own timeout, when it declares one (local endpoints only).
	Timeout *time.Duration

	node    *member
	def     *actionDef // local only
	handler Handler    // the endpoint's middleware chain
	id      string     // ID(), built once when the endpoint is registered
	// blocked is set while the endpoint's circuit breaker keeps it out of the balancer.
	blocked bool
	// exposes is set on a local endpoint whose chain hands the context, or its maps, to code
	// outside the broker before the handler (a user middleware or observer, a cache KeyFunc):
	// such a context is never recycled (see recycle).
	exposes bool
}

// ID names the endpoint as "<node>:<action>", the breaker's and the journal's key.
func (e *Endpoint) ID() string {
	if e.id != "" {
		return e.id
	}
	return e.NodeID + ":" + e.Action
}

func (e *Endpoint) available() bool { return e.node.available && !e.blocked }

// endpointList holds every endpoint of one action, in node ID order (or discovery order, with
// Options.EndpointOrder = EndpointsByDiscovery).
type endpointList struct {
	action string
	slots  []endpointSlot
	// pending holds, unordered, the slots of nodes added since the list was last read (sorted
	// lists only; see settle): discovering N nodes inserted each into N lists of N (an O(N)
	// shift each), the O(N³) of a large cluster's discovery.
	pending []endpointSlot
	counter int // round robin position
}

// endpointSlot is one node's place in an action's list. A remote endpoint's Endpoint is made
// when something needs it (see registry.endpoint): in a cluster of N nodes every node lists
// the N-1 others' actions, ~10 each, and calls few of them, so an Endpoint per ordered pair
// of nodes and action was most of a large cluster's memory. Its fields are all read from the
// node's services as its INFO listed them, which the slot is replaced with when they change.
type endpointSlot struct {
	node *member
	ep   *Endpoint // nil until first needed (remote endpoints only)
}

// eventEndpoint is one event subscription (service and group) on one node.
type eventEndpoint struct {
	pattern string
	group   string
	service string
	nodeID  string
	node    *member
	local   *localEvent
}

type localEvent struct {
	service *ServiceInstance
	def     Event
	name    string
	handler EventFunc // the wrapped chain
}

type registry struct {
	b       *Broker
	nodes   map[string]*member
	actions map[string]*endpointList
	events  []*eventEndpoint
	// localEvents is this node's own subscriptions, in the order they are in events (they
	// are only ever appended): a local delivery scans them, not every subscription of the
	// cluster, which a node's registry holds N of and which every INFO heard broadcasts
	// $node.connected and $services.changed over.
	localEvents []*eventEndpoint
	// eventLists keeps the balancer position per "event|group".
	eventLists map[string]*endpointList
}

func newRegistry(b *Broker) *registry {
	return &registry{b: b, nodes: map[string]*member{}, actions: map[string]*endpointList{}, eventLists: map[string]*endpointList{}}
}

// sortedNodes returns the known nodes in ID order, for deterministic iteration.
func (r *registry) sortedNodes() []*member {
	out := make([]*member, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (r *registry) addEndpoint(ep *Endpoint) {
	if ep.Local {
		ep.id = ep.NodeID + ":" + ep.Action
	} // a remote one's is built when the balancer first considers it (see Broker.endpointAvailable)
	r.addSlot(r.listFor(ep.Action), endpointSlot{node: ep.node, ep: ep})
}

// listFor returns the action's list, creating it.
func (r *registry) listFor(action string) *endpointList {
	l := r.actions[action]
	if l == nil {
		l = &endpointList{action: action}
		r.actions[action] = l
	}
	return l
}

// addSlot puts a node's endpoint of an action in the action's list, replacing the node's
// previous one.
func (r *registry) addSlot(l *endpointList, slot endpointSlot) {
	l.settle()
	if i, found := l.find(slot.node.id, r.sorted()); found {
		l.slots[i] = slot
		return
	} else if r.sorted() {
		// Sorted by node ID: the balancer's order does not depend on which node was discovered
		// first (in a simulation, the seed), so "RoundRobin calls r1 first" holds for every seed.
		l.slots = slices.Insert(l.slots, i, slot)
	} else {
		l.slots = append(l.slots, slot)
	}
}

// addNewSlot is addSlot for a node known not to be in the list: in a sorted list it waits,
// unordered, until the list is next read (settle), which is what addSlot would have made of it.
func (r *registry) addNewSlot(l *endpointList, slot endpointSlot) {
	if !r.sorted() {
		l.slots = append(l.slots, slot)
		return
	}
	l.pending = append(l.pending, slot)
}

// settle merges the pending slots into the list in node ID order (node IDs are distinct: see
// addNewSlot), from the back, in place. The pending slice is dropped, not kept for reuse: a
// thousand-node cluster has ten thousand lists per node.
func (l *endpointList) settle() {
	if len(l.pending) == 0 {
		return
	}
	add := l.pending
	l.pending = nil
	slices.SortFunc(add, func(a, b endpointSlot) int { return strings.Compare(a.node.id, b.node.id) })
	i, j := len(l.slots)-1, len(add)-1
	l.slots = slices.Grow(l.slots, len(add))[:len(l.slots)+len(add)]
	for k := len(l.slots) - 1; j >= 0; k-- {
		if i >= 0 && l.slots[i].node.id > add[j].node.id {
			l.slots[k] = l.slots[i]
			i--
		} else {
			l.slots[k] = add[j]
			j--
		}
	}
}

// sorted reports whether endpoint lists are kept in node ID order (the default).
func (r *registry) sorted() bool { return r.b.opts.EndpointOrder != EndpointsByDiscovery }

// find returns the index of nodeID's endpoint in the list and whether it is there; when it
// is not and the list is sorted, the index is where it would go. A binary search in node ID
// order, a scan in discovery order: with a thousand nodes, each INFO costs a few lookups per
// action instead of a walk over every endpoint of the cluster.
func (l *endpointList) find(nodeID string, sorted bool) (int, bool) {
	if sorted {
		i := sort.Search(len(l.slots), func(i int) bool { return l.slots[i].node.id >= nodeID })
		return i, i < len(l.slots) && l.slots[i].node.id == nodeID
	}
	for i, slot := range l.slots {
		if slot.node.id == nodeID {
			return i, true
		}
	}
	return len(l.slots), false
}

// endpoint returns the list's i-th endpoint, making a remote one on first use (under b.mu).
func (l *endpointList) endpoint(i int) *Endpoint {
	slot := &l.slots[i]
	if slot.ep == nil {
		slot.ep = remoteEndpoint(slot.node, l.action)
	}
	return slot.ep
}

// remoteEndpoint is what registerRemote used to build for each action of a node's INFO: when
// two of its services list the same action, the last one's (it replaced the first's).
func remoteEndpoint(n *member, action string) *Endpoint {
	ep := &Endpoint{Action: action, NodeID: n.id, node: n}
	services := n.services()
	for i := len(services) - 1; i >= 0; i-- {
		s := &services[i]
		a, ok := s.Actions[action]
		if !ok {
			continue
		}
		ep.Service = s.FullName
		if ms := a.Timeout; ms != nil {
			d := time.Duration(*ms) * time.Millisecond
			ep.Timeout = &d
		}
		break
	}
	return ep
}

// local returns the list's local endpoint, or nil.
func (l *endpointList) local() *Endpoint {
	var ep *Endpoint
	for _, slot := range l.slots {
		if slot.node.local {
			ep = slot.ep
		}
	}
	return ep
}

// removeNode drops every endpoint and subscription of a remote node, registered from the
// services its INFO listed. It visits only those services' actions (a binary search each)
// and, when they have events, the event list: not every endpoint of the cluster.
func (r *registry) removeNode(nodeID string, services []packet.ServiceInfo) {
	events := false
	for _, s := range services {
		events = events || len(s.Events) > 0
		for name := range s.Actions {
			l := r.actions[name]
			if l == nil {
				continue
			}
			l.settle()
			if i, found := l.find(nodeID, r.sorted()); found {
				l.slots = slices.Delete(l.slots, i, i+1)
			}
			if len(l.slots) == 0 {
				delete(r.actions, name)
			}
		}
	}
	if !events {
		return
	}
	kept := r.events[:0]
	for _, e := range r.events {
		if e.nodeID != nodeID {
			kept = append(kept, e)
		}
	}
	clear(r.events[len(kept):])
	r.events = kept
}

// registerRemote replaces a node's endpoints with those its INFO lists. The endpoints
// themselves, and their handlers, are made when first needed (endpointList.endpoint,
// selectEndpoint): building them has no effect.
func (r *registry) registerRemote(n *member, old []packet.ServiceInfo) {
	r.removeNode(n.id, old)
	services := n.services()
	for si, s := range services {
		for name := range s.Actions { // each goes to a list of its own: the order is moot
			// removeNode took the node out of its old services' lists and a node's slots come
			// only from its INFO: it is in this list only if an earlier service listed the action.
			if listedBefore(services[:si], name) {
				r.addSlot(r.listFor(name), endpointSlot{node: n})
			} else {
				r.addNewSlot(r.listFor(name), endpointSlot{node: n})
			}
		}
		for _, name := range sortedKeys(s.Events) {
			e := s.Events[name]
			group := e.Group
			if group == "" {
				group = s.Name
			}
			r.events = append(r.events, &eventEndpoint{pattern: name, group: group, service: s.FullName, nodeID: n.id, node: n})
		}
	}
}

// listedBefore reports whether one of services has the action.
func listedBefore(services []packet.ServiceInfo, action string) bool {
	for _, s := range services {
		if _, ok := s.Actions[action]; ok {
			return true
		}
	}
	return false
}

// list returns the endpoints of an action, in order, or nil.
func (r *registry) list(action string) *endpointList {
	l := r.actions[action]
	if l == nil {
		return nil
	}
	l.settle()
	if len(l.slots) == 0 {
		return nil
	}
	return l
}

// hasAction reports whether any node (available or not) serves the action.
func (r *registry) hasAction(action string) bool { return r.list(action) != nil }

// matchEvent reports whether an event name matches a subscription pattern: '*' matches
// within one dot-separated segment, '**' across segments, '?' one character.
func matchEvent(name, pattern string) bool {
	if pattern == name {
		return true
	}
	if !strings.ContainsAny(pattern, "*?") {
		return false
	}
	return globMatch(pattern, name)
}

func globMatch(p, s string) bool {
	for len(p) > 0 {
		switch {
		case strings.HasPrefix(p, "**"):
			rest := p[2:]
			for i := 0; i <= len(s); i++ {
				if globMatch(rest, s[i:]) {
					return true
				}
			}
			return false
		case p[0] == '*':
			rest := p[1:]
			for i := 0; i <= len(s); i++ {
				if globMatch(rest, s[i:]) {
					return true
				}
				if i < len(s) && s[i] == '.' {
					return false
				}
			}
			return false
		case p[0] == '?':
			if len(s) == 0 || s[0] == '.' {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}
