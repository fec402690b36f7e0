package broker

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
)

// Version is the Faultline version reported in INFO packets.
const Version = "0.1.0"

// pendingRequest is a request sent to another node and not yet answered.
type pendingRequest struct {
	seq    uint64
	id     string
	action string
	nodeID string
	ctx    *Context
	att    *attempt
	sentAt time.Time
}

// send serializes and publishes a packet. It reports whether the packet left.
func (b *Broker) send(t packet.Type, target string, payload any) bool {
	return b.sendErr(t, target, payload) == nil
}

// errNoTransporter is sendErr's answer on a broker without a transporter.
var errNoTransporter = errors.New("no transporter")

// sendErr is send, saying why a packet did not leave.
func (b *Broker) sendErr(t packet.Type, target string, payload any) error {
	tr := b.opts.Transporter
	if tr == nil {
		return errNoTransporter
	}
	setHeader(payload, b.nodeID)
	buf := getBuf()
	body, err := packet.AppendMarshal(*buf, payload) // exactly json.Marshal's bytes, without reflection
	defer putBuf(buf, body)
	if err != nil {
		b.log.Error("cannot serialize packet", "type", t, "err", err)
		return err
	}
	if _, reuse := tr.(transport.BodyCopier); !reuse {
		// The transporter keeps the body (the in-process network hands it to the
		// receiver): a copy of its own, of its exact size. Marshal's buffer must fit any
		// small call and is twice what a RES takes, which the collector would then scan
		// and free on every packet.
		body = append([]byte(nil), body...)
	}
	return b.sendBody(t, target, body)
}

// sendBody publishes an already serialized packet, saying why it did not leave.
func (b *Broker) sendBody(t packet.Type, target string, body []byte) error {
	tr := b.opts.Transporter
	if tr == nil {
		return errNoTransporter
	}
	if h := b.opts.Hooks.PacketSent; h != nil {
		h(t, len(body))
	}
	if err := tr.Send(packet.Message{Type: t, Sender: b.nodeID, Target: target, Body: body}); err != nil {
		b.log.Warn("cannot send packet", "type", t, "target", target, "err", err)
		return err
	}
	return nil
}

// bufs recycles the buffers a packet is written into when nothing keeps them after use: the
// JSON of a call's params or result (copied into its packet) and, through a transporter that
// copies what it sends, the packet itself. Two allocations of a few hundred bytes per remote
// call fewer, and less for the collector to do.
var bufs = sync.Pool{New: func() any { return new([]byte) }}

// requests and responses recycle the payloads of a call's two packets: once serialized by
// send, nothing keeps them.
var (
	requests  = sync.Pool{New: func() any { return new(packet.RequestPayload) }}
	responses = sync.Pool{New: func() any { return new(packet.ResponsePayload) }}
)

// maxPooledBuf keeps a rare huge packet's buffer out of the pool.
const maxPooledBuf = 64 << 10

// releaseRequest recycles a REQ's payload and its params' buffer once send is done.
func releaseRequest(p *packet.RequestPayload, buf *[]byte, params []byte) {
	*p = packet.RequestPayload{}
	requests.Put(p)
	putBuf(buf, params)
}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

// putBuf returns buf to the pool; used is what was written into it (it may have grown).
func putBuf(buf *[]byte, used []byte) {
	if cap(used) > maxPooledBuf {
		return
	}
	*buf = used[:0]
	bufs.Put(buf)
}

func setHeader(p any, sender string) {
	h := packetHeader(p)
	h.Ver, h.Sender = packet.ProtocolVersion, sender
}

func packetHeader(p any) *packet.Header {
	switch v := p.(type) {
	case *packet.DiscoverPayload:
		return &v.Header
	case *packet.InfoPayload:
		return &v.Header
	case *packet.RequestPayload:
		return &v.Header
	case *packet.ResponsePayload:
		return &v.Header
	case *packet.EventPayload:
		return &v.Header
	case *packet.HeartbeatPayload:
		return &v.Header
	case *packet.PingPayload:
		return &v.Header
	case *packet.PongPayload:
		return &v.Header
	case *packet.DisconnectPayload:
		return &v.Header
	}
	panic("broker: unknown payload type")
}

// receive is the transporter's callback. It must not block: anything that may block (a
// handler) runs in a task of its own.
func (b *Broker) receive(m packet.Message) {
	if !b.alive() || m.Sender == b.nodeID {
		return
	}
	if h := b.opts.Hooks.PacketReceived; h != nil {
		h(m.Type, len(m.Body))
	}
	p, err := m.Payload, error(nil)
	if p == nil { // not decoded by the transporter (packet.DecodeExact)
		p, err = packet.Decode(m)
	}
	if err != nil {
		b.log.Warn("dropped malformed packet", "type", m.Type, "from", m.Sender, "err", err)
		b.journal.Record(b.nodeID, journal.PacketBad, map[string]any{"type": string(m.Type), "from": m.Sender, "error": err.Error()})
		return
	}
	b.heard(m.Sender, m.Type)
	switch v := p.(type) {
	case *packet.DiscoverPayload:
		b.sendInfo(v.Sender)
	case *packet.InfoPayload:
		b.processInfo(v)
	case *packet.RequestPayload:
		b.serveRequest(v, m.Detach) // releases v when its answer is sent
	case *packet.ResponsePayload:
		b.processResponse(v)
		packet.Release(v)
	case *packet.EventPayload:
		b.processEvent(v)
	case *packet.HeartbeatPayload:
		b.processHeartbeat(v)
	case *packet.PingPayload:
		b.send(packet.Pong, v.Sender, &packet.PongPayload{Time: v.Time, ID: v.ID, Arrived: b.rt.Now().UnixMilli()})
	case *packet.PongPayload:
		b.processPong(v)
	case *packet.DisconnectPayload:
		b.nodeGone(v.Sender, false)
	}
}

// heard notes that a node is alive: it is lost exactly HeartbeatTimeout after the last
// packet heard from it (Faultline's exact version of Moleculer's periodic check).
func (b *Broker) heard(nodeID string, t packet.Type) {
	if t == packet.Disconnect {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.reg.nodes[nodeID]
	if n == nil || !n.available {
		return
	}
	n.lastSeen = b.rt.Now()
	if r, ok := n.lossTimer.(rt.Resetter); ok {
		r.Reset(b.opts.HeartbeatTimeout) // every packet pushes it back: no timer per packet
		return
	}
	if n.lossTimer != nil {
		n.lossTimer.Stop()
	}
	n.lossTimer = b.rt.AfterFunc(b.opts.HeartbeatTimeout, func() { b.nodeGone(nodeID, true) })
}

func (b *Broker) infoPayload() *packet.InfoPayload {
	b.mu.Lock()
	defer b.mu.Unlock()
	info := &packet.InfoPayload{
		IPList: []string{}, Hostname: hostname(),
		Client:     packet.ClientInfo{Type: "go", Version: Version, LangVersion: runtime.Version()},
		Config:     map[string]any{},
		InstanceID: b.instanceID, Metadata: orEmpty(b.opts.Metadata), Seq: b.infoSeq,
		Services: []packet.ServiceInfo{},
	}
	for _, si := range b.services {
		if !b.isRegistered(si) {
			continue
		}
		s := packet.ServiceInfo{Name: si.Name, FullName: si.FullName, Settings: orEmpty(si.Settings), Metadata: orEmpty(si.Metadata),
			Actions: map[string]packet.ActionInfo{}, Events: map[string]packet.EventInfo{}}
		if si.Version != "" {
			s.Version = si.Version
		}
		for name, d := range si.actions {
			ai := packet.ActionInfo{Name: name, RawName: d.rawName, Params: d.def.Params, Rest: d.def.Rest}
			if d.def.Cache != nil {
				ai.Cache = true
			}
			if d.def.Timeout != nil {
				ms := d.def.Timeout.Milliseconds()
				ai.Timeout = &ms
			}
			s.Actions[name] = ai
		}
		for name, e := range si.schema.Events {
			s.Events[name] = packet.EventInfo{Name: name, Group: e.Group}
		}
		info.Services = append(info.Services, s)
	}
	return info
}

var hostnameOnce = func() string { h, _ := os.Hostname(); return h }()

// hostname is read once: it is the only host fact in an INFO and never changes.
func hostname() string { return hostnameOnce }

// noHeaders is the headers of every packet Faultline sends (Moleculer's are empty unless a
// middleware sets some). Shared and never written: a payload is only serialized.
var noHeaders = map[string]any{}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// reconnected runs after the transporter got its connection back: the node re-announces
// itself and asks who is there, as Moleculer's transit does (afterConnect with wasReconnect).
func (b *Broker) reconnected() {
	if !b.alive() {
		return
	}
	b.sendInfo("")
	b.send(packet.Discover, "", &packet.DiscoverPayload{})
}

// connectionLost fails every request in flight with BrokerDisconnectedError when the
// transporter loses its connection: a response published while this node cannot receive is
// gone for good, so waiting would only turn the outage into a timeout. Calls made while the
// connection is down fail when they try to send; after the reconnect calls work again.
func (b *Broker) connectionLost() {
	if !b.alive() {
		return
	}
	b.rejectPending("", nil)
}

// Rediscover announces this node again and asks every node for its INFO, as after a
// reconnect. A harness calls it while it waits for a fresh cluster to mesh over a real
// transport: on a NATS cluster a subscription's interest crosses the routes a moment after
// it is made, so a node's first INFO can reach a server that does not know yet that a peer
// listens; without a second round the peers would meet only at the next heartbeat.
func (b *Broker) Rediscover() { b.reconnected() }

// sendInfo publishes this node's INFO to one node, or to all (""). The serialized INFO is
// kept until the node's services change (infoSeq): a node answers every DISCOVER with the
// same bytes, and a cluster of N nodes asks N times at start. The kept body is never
// written again, so a transport may hold it (memnet keeps it until delivery).
func (b *Broker) sendInfo(target string) {
	b.mu.Lock()
	body, fresh := b.infoBody, b.infoBody != nil && b.infoBodySeq == b.infoSeq
	seq := b.infoSeq
	b.mu.Unlock()
	if !fresh {
		p := b.infoPayload()
		setHeader(p, b.nodeID)
		var err error
		if body, err = packet.Marshal(p); err != nil {
			b.log.Error("cannot serialize packet", "type", packet.Info, "err", err)
			return
		}
		b.mu.Lock()
		b.infoBody, b.infoBodySeq = body, seq
		b.mu.Unlock()
	}
	b.sendBody(packet.Info, target, body)
}

func (b *Broker) processInfo(p *packet.InfoPayload) {
	b.mu.Lock()
	n := b.reg.nodes[p.Sender]
	isNew := n == nil || !n.available
	reconnected := n != nil && !n.available
	if n == nil {
		n = &member{id: p.Sender}
		b.reg.nodes[p.Sender] = n
	}
	if !isNew && n.instanceID() == p.InstanceID && n.seq() == p.Seq {
		b.mu.Unlock()
		return
	}
	if !isNew && n.instanceID() != p.InstanceID {
		// The node restarted faster than its loss was noticed.
		reconnected = true
		isNew = true
	}
	old := n.services() // what its endpoints were registered from
	// The payload is kept as it is, not copied: it is read-only (memnet hands every receiver
	// the same one), and a node's next INFO replaces it whole.
	n.available, n.info = true, p
	n.lastSeen = b.rt.Now()
	if n.lossTimer != nil {
		n.lossTimer.Stop()
	}
	nodeID := n.id
	n.lossTimer = b.rt.AfterFunc(b.opts.HeartbeatTimeout, func() { b.nodeGone(nodeID, true) })
	b.reg.registerRemote(n, old)
	summary := n.summary()
	b.mu.Unlock()

	if isNew {
		key := p.Sender // every node's entry for this peer has the same attributes
		if reconnected {
			key += "\x00reconnected"
		}
		b.journal.RecordShared(b.nodeID, journal.NodeJoined, key, func() map[string]any {
			return map[string]any{"peer": p.Sender, "reconnected": reconnected}
		})
		b.BroadcastLocal("$node.connected", map[string]any{"node": summary, "reconnected": reconnected})
	} else {
		b.BroadcastLocal("$node.updated", map[string]any{"node": summary})
	}
	b.registryChanged(false)
}

func (b *Broker) processHeartbeat(p *packet.HeartbeatPayload) {
	b.mu.Lock()
	n := b.reg.nodes[p.Sender]
	known := n != nil && n.available
	if known {
		n.cpu = p.CPU
	}
	b.mu.Unlock()
	if !known {
		// A node we do not know (or lost) is alive: ask who it is.
		b.send(packet.Discover, p.Sender, &packet.DiscoverPayload{})
	}
}

// nodeGone handles a node lost (no packet for HeartbeatTimeout) or leaving (DISCONNECT).
func (b *Broker) nodeGone(nodeID string, unexpected bool) {
	b.mu.Lock()
	n := b.reg.nodes[nodeID]
	if n == nil || !n.available || n.local {
		b.mu.Unlock()
		return
	}
	n.available = false
	if n.lossTimer != nil {
		n.lossTimer.Stop()
		n.lossTimer = nil
	}
	b.reg.removeNode(nodeID, n.services())
	summary := n.summary()
	lastSeen := n.lastSeen
	b.mu.Unlock()

	kind := journal.NodeLeft
	if unexpected {
		kind = journal.NodeLost
	}
	b.journal.Record(b.nodeID, kind, map[string]any{"peer": nodeID, "unexpected": unexpected, "lastSeen": b.journal.Offset(lastSeen)})
	b.rejectPending(nodeID, func(pr *pendingRequest) error { return errs.RequestRejected(pr.action, nodeID) })
	b.BroadcastLocal("$node.disconnected", map[string]any{"node": summary, "unexpected": unexpected})
	b.registryChanged(false)
}

// rejectPending fails pending requests to nodeID ("" = all), in the order they were sent.
func (b *Broker) rejectPending(nodeID string, errFor func(*pendingRequest) error) {
	b.pendingMu.Lock()
	var out []*pendingRequest
	for _, pr := range b.pending {
		if nodeID == "" || pr.nodeID == nodeID {
			out = append(out, &pr)
		}
	}
	b.pendingMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	for _, pr := range out {
		err := error(errs.BrokerDisconnected())
		if errFor != nil {
			err = errFor(pr)
		}
		b.journal.Record(b.nodeID, journal.ReqRejected, map[string]any{"id": pr.id, "action": pr.action, "target": pr.nodeID, "error": errs.NameOf(err)})
		pr.att.settle(nil, err)
	}
}

func (b *Broker) startHeartbeats() {
	// Moleculer spreads heartbeats with ±0.5 s of jitter so nodes do not beat in lockstep;
	// drawn once per node from the runtime's random source, it is deterministic per seed.
	jitter := time.Duration(b.rt.Rand().Int64N(1001)-500) * time.Millisecond
	interval := b.opts.HeartbeatInterval + jitter
	if interval <= 0 {
		interval = b.opts.HeartbeatInterval
	}
	b.addTimer(b.rt.Every(interval, func() {
		if !b.alive() {
			return
		}
		cpu := 0.0
		if b.opts.CPU != nil {
			cpu = b.opts.CPU()
		}
		b.send(packet.Heartbeat, "", &packet.HeartbeatPayload{CPU: cpu})
	}))
}

// Ping measures the round trip to a node; the answer updates the node's latency.
func (b *Broker) Ping(nodeID string) {
	b.send(packet.Ping, nodeID, &packet.PingPayload{Time: b.rt.Now().UnixNano(), ID: b.newID()})
}

func (b *Broker) processPong(p *packet.PongPayload) {
	rtt := time.Duration(b.rt.Now().UnixNano() - p.Time)
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := b.reg.nodes[p.Sender]; n != nil {
		if n.ping == nil {
			n.ping = &pingStats{}
		}
		ps := n.ping
		ps.rtts = append(ps.rtts, rtt)
		if len(ps.rtts) > 5 {
			ps.rtts = ps.rtts[1:]
		}
		var sum time.Duration
		for _, d := range ps.rtts {
			sum += d
		}
		ps.latency = sum / time.Duration(len(ps.rtts))
	}
}

// serveRequest runs a request of another node and answers it: on the delivering goroutine
// when the transporter can hand delivery on (detach, see packet.Message.Detach), which saves
// the hand-off of every request to a task, else in a task.
func (b *Broker) serveRequest(p *packet.RequestPayload, detach func()) {
	if b.journal != nil { // attribute maps cost allocations on every request: only build them when recorded
		b.journal.Record(b.nodeID, journal.ReqReceived, map[string]any{"id": p.ID, "action": p.Action, "from": p.Sender, "level": p.Level, "timeout": msToDur(p.Timeout)})
	}
	var params map[string]any
	if len(p.Params) > 0 && string(p.Params) != "null" {
		var err error
		if params, err = packet.DecodeObject(p.Params); err != nil {
			b.respond(p, nil, errs.InvalidPacketData("REQ", "params must be an object"))
			packet.Release(p)
			return
		}
	}
	if params == nil {
		params = map[string]any{}
	}
	ctx := &Context{
		ID: p.ID, RequestID: p.RequestID, Level: p.Level, NodeID: p.Sender, Action: p.Action,
		Params: params, Meta: p.Meta, broker: b, served: true, rawParams: p.Params,
	}
	if ctx.Meta == nil {
		ctx.Meta = map[string]any{}
	}
	if p.ParentID != nil {
		ctx.ParentID = *p.ParentID
	}
	if p.Caller != nil {
		ctx.Caller = *p.Caller
	}
	if p.Timeout > 0 {
		// The caller's remaining budget counts from here; an untimed request has no use
		// for the instant (see newAttempt).
		ctx.timeout = msToDur(p.Timeout)
		ctx.startedAt = b.rt.Now()
	}
	ctx.Options.Timeout = &ctx.timeout // inside ctx: no allocation of its own
	b.mu.Lock()
	var ep *Endpoint
	if l := b.reg.list(p.Action); l != nil {
		ep = l.local()
	}
	b.mu.Unlock()
	if ep == nil {
		b.respond(p, nil, errs.ServiceNotFound(p.Action, b.nodeID))
		packet.Release(p)
		return
	}
	ctx.Endpoint = ep
	ctx.Service = ep.def.service
	ctx.attempt = b.newAttempt(ctx)
	name := ""
	if b.describe {
		name = "serve " + p.Action + " for " + p.Sender
	}
	if detach != nil {
		detach()
		b.serve(p, ctx, ep)
		return
	}
	// The closure only here: built before the branch, it was an allocation on every
	// detached request too.
	b.rt.Go(name, func() { b.serve(p, ctx, ep) })
}

// serve runs a served request's handler and answers it.
func (b *Broker) serve(p *packet.RequestPayload, ctx *Context, ep *Endpoint) {
	res, err := ep.handler(ctx)
	ctx.attempt.settle(res, err)
	res, err = ctx.attempt.result()
	b.respondCtx(p, ctx, res, err)
	packet.Release(p) // the request's last user: ctx keeps only what p's fields referred to
}

func msToDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func durToMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (b *Broker) respondCtx(p *packet.RequestPayload, ctx *Context, res any, err error) {
	meta := ctx.Meta
	b.respondMeta(p, meta, res, err)
}

func (b *Broker) respond(p *packet.RequestPayload, res any, err error) {
	b.respondMeta(p, p.Meta, res, err)
}

func (b *Broker) respondMeta(p *packet.RequestPayload, meta map[string]any, res any, err error) {
	if !b.alive() {
		return
	}
	out := responses.Get().(*packet.ResponsePayload)
	defer func() { *out = packet.ResponsePayload{}; responses.Put(out) }() // send is done with it
	*out = packet.ResponsePayload{ID: p.ID, Meta: orEmpty(meta), Headers: noHeaders, Success: err == nil}
	if err == nil {
		buf := getBuf() // the result's JSON, copied into the packet by send
		data, mErr := packet.AppendValue(*buf, res)
		defer putBuf(buf, data)
		if mErr != nil {
			err = errs.New("cannot serialize the response: "+mErr.Error(), 500, "SERIALIZATION_ERROR", nil)
			out.Success = false
		} else {
			out.Data = data
		}
	}
	if err != nil {
		e := *errs.From(err)
		if e.NodeID == "" {
			e.NodeID = b.nodeID
		}
		out.Error = &e
		out.Data = json.RawMessage("null")
	}
	if b.journal != nil {
		attrs := map[string]any{"id": p.ID, "action": p.Action, "to": p.Sender, "ok": err == nil}
		if err != nil {
			attrs["error"], attrs["code"] = out.Error.Name, out.Error.Code
		}
		b.journal.Record(b.nodeID, journal.ResSent, attrs)
	}
	sendErr := b.sendErr(packet.Response, p.Sender, out)
	if sendErr != nil && out.Success && errors.Is(sendErr, transport.ErrTooLarge) {
		// The caller would wait for its timeout; an error response is small enough to go.
		b.respondMeta(p, meta, nil, errs.New("the response is too large for the transporter: "+sendErr.Error(), 500, "RESPONSE_TOO_LARGE", nil))
	}
}

func (b *Broker) processResponse(p *packet.ResponsePayload) {
	b.pendingMu.Lock()
	pr, ok := b.pending[p.ID]
	b.pendingMu.Unlock()
	if !ok {
		// p.ID may be the packet body's bytes (packet.DecodeExact): the journal keeps a copy.
		if b.journal != nil {
			b.journal.Record(b.nodeID, journal.ResOrphan, map[string]any{"id": strings.Clone(p.ID), "from": p.Sender, "ok": p.Success})
		}
		return
	}
	maps.Copy(pr.ctx.Meta, p.Meta)
	var attrs map[string]any
	if b.journal != nil {
		attrs = map[string]any{"id": pr.id, "action": pr.action, "from": p.Sender, "ok": p.Success, "rtt": b.since(pr.sentAt)}
	}
	if !p.Success {
		e := p.Error
		if e == nil {
			e = errs.New("response without error details", 500, "", nil)
		}
		if attrs != nil {
			attrs["error"], attrs["code"] = e.Name, e.Code
			b.journal.Record(b.nodeID, journal.ResReceived, attrs)
		}
		pr.att.settle(nil, e)
		return
	}
	if attrs != nil {
		b.journal.Record(b.nodeID, journal.ResReceived, attrs)
	}
	var data any
	if len(p.Data) > 0 {
		var err error
		if data, err = packet.DecodeValue(p.Data); err != nil {
			pr.att.settle(nil, errs.InvalidPacketData("RES", "data: "+err.Error()))
			return
		}
	}
	pr.att.settle(data, nil)
}

// request sends one attempt of a call to a remote endpoint and waits for it to settle: by the
// response, by the node being lost, or by the attempt's deadline (armed by the timeout
// middleware).
func (b *Broker) request(ctx *Context) (any, error) {
	ep := ctx.Endpoint
	att := ctx.attempt
	id := att.id
	buf := getBuf() // the params' JSON, copied into the packet by send
	params, err := packet.AppendValue(*buf, ctx.Params)
	if err != nil {
		putBuf(buf, params)
		return nil, errs.New("cannot serialize params: "+err.Error(), 500, "SERIALIZATION_ERROR", nil)
	}
	p := requests.Get().(*packet.RequestPayload)
	*p = packet.RequestPayload{
		ID: id, Action: ctx.Action, Params: params, Meta: orEmpty(ctx.Meta), Headers: noHeaders,
		Level: ctx.Level, RequestID: ctx.RequestID,
	}
	if att.timeout > 0 {
		p.Timeout = durToMs(att.timeout - b.since(att.startedAt))
	}
	if ctx.ParentID != "" {
		p.ParentID = &ctx.ParentID
	}
	if ctx.Caller != "" {
		p.Caller = &ctx.Caller
	}
	b.pendingMu.Lock()
	att.mu.Lock()
	if !att.settled {
		b.pendingSeq++
		b.pending[id] = pendingRequest{seq: b.pendingSeq, id: id, action: ctx.Action, nodeID: ep.NodeID, ctx: ctx, att: att, sentAt: b.rt.Now()}
		att.pending = true // settle drops the entry
	}
	att.mu.Unlock()
	b.pendingMu.Unlock()
	if att.isSettled() {
		releaseRequest(p, buf, params)
		return att.result()
	}
	if b.journal != nil {
		b.journal.Record(b.nodeID, journal.ReqSent, map[string]any{"id": id, "action": ctx.Action, "to": ep.NodeID, "level": ctx.Level, "timeout": msToDur(p.Timeout), "call": ctx.ID})
	}
	sendErr := b.sendErr(packet.Request, ep.NodeID, p)
	releaseRequest(p, buf, params)
	switch {
	case sendErr == nil:
	case errors.Is(sendErr, transport.ErrTooLarge):
		// Not retryable: the same params would be as large on any node.
		tooLarge := errs.New("the request is too large for the transporter: "+sendErr.Error(), 500, "REQUEST_TOO_LARGE", nil)
		tooLarge.NodeID = b.nodeID
		att.settle(nil, tooLarge)
	default:
		att.settle(nil, errs.BrokerDisconnected())
	}
	what := ""
	if b.describe {
		what = "response to " + ctx.Action + " from " + ep.NodeID
	}
	att.wait(what, b.fairWake)
	return att.result()
}
