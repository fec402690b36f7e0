package broker

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
)

// Emit emits an event from outside a handler: delivered once per event group.
func (b *Broker) Emit(event string, data any, opts ...EmitOption) error {
	return b.emit(nil, event, data, false, opts)
}

// Broadcast delivers an event to every subscriber on every node.
func (b *Broker) Broadcast(event string, data any, opts ...EmitOption) error {
	return b.emit(nil, event, data, true, opts)
}

// BroadcastLocal delivers an event to every subscriber on this node.
func (b *Broker) BroadcastLocal(event string, data any, opts ...EmitOption) error {
	return b.broadcastLocal(nil, event, data, opts)
}

type eventMessage struct {
	id, requestID, parentID, caller, sender string
	event                                   string
	params                                  map[string]any
	meta                                    map[string]any
	level                                   int
	groups                                  []string
	broadcast                               bool
}

func (b *Broker) newEvent(parent *Context, event string, data any, broadcast bool, opts []EmitOption) (*eventMessage, error) {
	var o EmitOptions
	for _, f := range opts {
		f(&o)
	}
	params, err := toParams(data)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", event, err)
	}
	m := &eventMessage{id: b.newID(), event: event, params: params, meta: map[string]any{}, level: 1, groups: o.Groups, broadcast: broadcast, sender: b.nodeID}
	m.requestID = m.id
	if parent != nil {
		m.requestID, m.parentID, m.level = parent.RequestID, parent.ID, parent.Level+1
		maps.Copy(m.meta, parent.Meta)
		if parent.Service != nil {
			m.caller = parent.Service.FullName
		}
	}
	maps.Copy(m.meta, o.Meta)
	return m, nil
}

func (b *Broker) emit(parent *Context, event string, data any, broadcast bool, opts []EmitOption) error {
	m, err := b.newEvent(parent, event, data, broadcast, opts)
	if err != nil {
		return err
	}
	b.journal.Record(b.nodeID, journal.EventEmitted, map[string]any{"id": m.id, "event": event, "broadcast": broadcast, "groups": m.groups})
	if h := b.opts.Hooks.Emitted; h != nil {
		h(event, m.groups, emitKind(broadcast))
	}
	if broadcast {
		for _, nodeID := range b.subscriberNodes(event, m.groups) {
			if nodeID != b.nodeID {
				b.sendEvent(nodeID, m, m.groups)
			}
		}
		b.deliverLocal(m, m.groups)
		return nil
	}
	// Emit: one endpoint per group, chosen by preferLocal and the balancer; then one packet
	// per node carrying the groups it was chosen for.
	perNode := b.balanceEvent(event, m.groups)
	nodes := sortedKeys(perNode)
	for _, nodeID := range nodes {
		groups := perNode[nodeID]
		if nodeID == b.nodeID {
			b.deliverLocal(m, groups)
		} else {
			b.sendEvent(nodeID, m, groups)
		}
	}
	return nil
}

func (b *Broker) broadcastLocal(parent *Context, event string, data any, opts []EmitOption) error {
	if _, isMap := data.(map[string]any); isMap && len(opts) == 0 && !b.subscribedLocally(event) {
		// Nobody here listens: the common case of $node.connected and $services.changed,
		// which a node broadcasts for every INFO it hears (N² times in a cluster of N). The
		// message is not built, but its ID is drawn, so that the random sequence, and with it
		// the run of a seed, is the same as with a delivery. (A map payload cannot fail
		// toParams, so no error is skipped either.)
		b.drawID()
		if h := b.opts.Hooks.Emitted; h != nil {
			h(event, nil, "broadcastLocal")
		}
		return nil
	}
	m, err := b.newEvent(parent, event, data, true, opts)
	if err != nil {
		return err
	}
	if h := b.opts.Hooks.Emitted; h != nil {
		h(event, m.groups, "broadcastLocal")
	}
	b.deliverLocal(m, m.groups)
	return nil
}

// subscribedLocally reports whether a subscription of this node matches the event (any group).
func (b *Broker) subscribedLocally(event string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.reg.localEvents {
		if matchEvent(event, e.pattern) {
			return true
		}
	}
	return false
}

// subscriberNodes lists the available nodes with a subscription matching the event.
func (b *Broker) subscriberNodes(event string, groups []string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range b.reg.events {
		if e.node.available && matchEvent(event, e.pattern) && (groups == nil || slices.Contains(groups, e.group)) {
			seen[e.nodeID] = true
		}
	}
	return sortedKeys(seen)
}

// balanceEvent picks one node per matching group and returns node → groups.
func (b *Broker) balanceEvent(event string, groups []string) map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	byGroup := map[string][]*eventEndpoint{}
	for _, e := range b.reg.events {
		if e.node.available && matchEvent(event, e.pattern) && (groups == nil || slices.Contains(groups, e.group)) {
			byGroup[e.group] = append(byGroup[e.group], e)
		}
	}
	out := map[string][]string{}
	for _, group := range sortedKeys(byGroup) {
		cands := byGroup[group]
		if b.opts.EndpointOrder != EndpointsByDiscovery {
			slices.SortStableFunc(cands, func(x, y *eventEndpoint) int { return strings.Compare(x.nodeID, y.nodeID) })
		}
		chosen := b.pickEventEndpoint(event+"|"+group, cands)
		out[chosen.nodeID] = append(out[chosen.nodeID], group)
	}
	return out
}

func (b *Broker) pickEventEndpoint(key string, cands []*eventEndpoint) *eventEndpoint {
	if *b.opts.PreferLocal {
		for _, c := range cands {
			if c.nodeID == b.nodeID {
				return c
			}
		}
	}
	// Balance with the action strategy over pseudo-endpoints, keeping a round-robin
	// position per event and group.
	eps := make([]*Endpoint, len(cands))
	for i, c := range cands {
		eps[i] = &Endpoint{NodeID: c.nodeID, node: c.node}
	}
	l := b.reg.eventLists[key]
	if l == nil {
		l = &endpointList{action: key}
		b.reg.eventLists[key] = l
	}
	chosen := b.strategy.Select(eps, l)
	for _, c := range cands {
		if c.nodeID == chosen.NodeID {
			return c
		}
	}
	return cands[0]
}

func (b *Broker) sendEvent(nodeID string, m *eventMessage, groups []string) {
	data, _ := jsonMarshal(m.params)
	p := &packet.EventPayload{ID: m.id, Event: m.event, Data: data, Groups: groups, Broadcast: m.broadcast,
		Meta: m.meta, Headers: noHeaders, Level: m.level, RequestID: m.requestID}
	if m.parentID != "" {
		p.ParentID = &m.parentID
	}
	if m.caller != "" {
		p.Caller = &m.caller
	}
	b.send(packet.Event, nodeID, p)
}

func (b *Broker) processEvent(p *packet.EventPayload) {
	var params map[string]any
	if err := jsonUnmarshal(p.Data, &params); err != nil {
		b.journal.Record(b.nodeID, journal.PacketBad, map[string]any{"type": "EVENT", "from": p.Sender, "error": "event data must be an object"})
		return
	}
	if params == nil {
		params = map[string]any{}
	}
	m := &eventMessage{id: p.ID, event: p.Event, params: params, meta: orEmpty(p.Meta), level: p.Level, groups: p.Groups,
		broadcast: p.Broadcast, sender: p.Sender, requestID: p.RequestID}
	if p.ParentID != nil {
		m.parentID = *p.ParentID
	}
	if p.Caller != nil {
		m.caller = *p.Caller
	}
	b.deliverLocal(m, p.Groups)
}

// deliverLocal runs every local handler subscribed to the event (in the given groups, or all
// when groups is nil), each in a task of its own.
//
// An internal event ($circuit-breaker.*, $node.*, ...) is a consequence of the step that
// emits it, and its local listeners are observed in causal order: their tasks start first
// (rt.GoFirst), ahead of every other runnable task, and an emitting task waits until they
// finish or block, as a Moleculer emitter resumes once its local handlers reach their first
// await. So a listener's effects are journaled before the result of the call that caused the
// event, at the same instant, whatever the seed. (Simulator only: on the real runtime the
// listeners are goroutines.)
func (b *Broker) deliverLocal(m *eventMessage, groups []string) {
	b.mu.Lock()
	var targets []*eventEndpoint
	for _, e := range b.reg.localEvents {
		if matchEvent(m.event, e.pattern) && (groups == nil || slices.Contains(groups, e.group)) {
			targets = append(targets, e)
		}
	}
	b.mu.Unlock()
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].service < targets[j].service })
	for _, e := range targets {
		ctx := &Context{ID: m.id, RequestID: m.requestID, ParentID: m.parentID, Level: m.level, Caller: m.caller,
			NodeID: m.sender, Event: m.event, EventGroups: groups, EventBroadcast: m.broadcast,
			Params: cloneParams(m.params), Meta: maps.Clone(m.meta), Service: e.local.service, broker: b}
		le, group := e.local, e.group
		start := b.rt.Go
		if m.event[0] == '$' {
			start = func(name string, fn func()) { rt.GoFirst(b.rt, name, fn) }
		}
		start("event "+m.event+" in "+le.service.FullName, func() {
			err := le.handler(ctx)
			if m.event[0] == '$' {
				return // internal events are not journaled: they are consequences of journaled steps
			}
			attrs := map[string]any{"id": m.id, "event": m.event, "service": le.service.FullName, "group": group, "from": m.sender, "ok": err == nil}
			if err != nil {
				attrs["error"] = errs.NameOf(err)
			}
			b.journal.Record(b.nodeID, journal.EventHandled, attrs)
		})
	}
}

// cloneParams gives each handler its own copy of an event's payload.
func cloneParams(p map[string]any) map[string]any {
	raw, err := jsonMarshal(p)
	if err != nil {
		return maps.Clone(p)
	}
	var out map[string]any
	if jsonUnmarshal(raw, &out) != nil || out == nil {
		return map[string]any{}
	}
	return out
}

// wrapLocalEvent builds an event handler's chain, with panic recovery innermost.
func (b *Broker) wrapLocalEvent(le *localEvent) EventFunc {
	h := func(ctx *Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("event handler panicked", "event", le.name, "panic", r)
				err = errs.New(fmt.Sprintf("panic in event handler '%s': %v", le.name, r), 500, "HANDLER_PANIC", nil)
			}
		}()
		return le.def.Handler(ctx)
	}
	info := EventEndpointInfo{Event: le.name, Group: le.def.Group, Service: le.service.FullName, Def: le.def}
	if info.Group == "" {
		info.Group = le.service.Name
	}
	for i := len(b.middlewares) - 1; i >= 0; i-- {
		if w := b.middlewares[i].LocalEvent; w != nil {
			h = w(h, info)
		}
	}
	return h
}
