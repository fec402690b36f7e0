// Package packet defines Moleculer's protocol-5 packets: their types, their JSON payloads
// (field for field as captured from Moleculer 0.15 in broker/transport/nats/testdata/wire-sample-v5.txt)
// and the transport subjects they travel on.
package packet

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/faultline/faultline/broker/errs"
)

// ProtocolVersion is the Moleculer protocol version spoken.
const ProtocolVersion = "5"

// Type is a packet type; its string is the one used in subjects.
type Type string

const (
	Discover   Type = "DISCOVER"
	Info       Type = "INFO"
	Request    Type = "REQ"
	Response   Type = "RES"
	Event      Type = "EVENT"
	Heartbeat  Type = "HEARTBEAT"
	Ping       Type = "PING"
	Pong       Type = "PONG"
	Disconnect Type = "DISCONNECT"
)

// Types lists every packet type, for validation of user input (fault filters).
var Types = []Type{Discover, Info, Request, Response, Event, Heartbeat, Ping, Pong, Disconnect}

// Valid reports whether t is a known packet type.
func (t Type) Valid() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Message is a packet in flight: who sent it, to whom ("" for a broadcast), its type and its
// serialized payload. Transporters and the network (and the fault layer wrapping it) see
// only this.
type Message struct {
	Type   Type
	Sender string
	Target string
	Body   []byte
	// Payload, when a transporter sets it, is Body already decoded by DecodeExact, so the
	// broker does not parse the body a second time. Nil: the broker decodes Body.
	Payload any
	// Detach, when a transporter sets it, lets the receiver keep the delivering goroutine
	// for work that may block (serving a request): it hands delivery of the packets after
	// this one to another goroutine and returns, and the receiver may then do that work
	// before its callback returns. Nil: the callback must not block; such work goes to a
	// task of its own. Called at most once, and only on the delivering goroutine.
	Detach func()
}

// Subject returns the transport subject of a packet, as Moleculer names them:
// MOL[-ns].TYPE[.target].
func Subject(namespace string, t Type, target string) string {
	prefix := "MOL"
	if namespace != "" {
		prefix += "-" + namespace
	}
	if target == "" {
		return prefix + "." + string(t)
	}
	return prefix + "." + string(t) + "." + target
}

// Header is carried by every packet.
type Header struct {
	Ver    string `json:"ver"`
	Sender string `json:"sender"`
}

// DiscoverPayload asks nodes to send their INFO.
type DiscoverPayload struct {
	Header
}

// InfoPayload describes a node and its services.
type InfoPayload struct {
	Services   []ServiceInfo  `json:"services"`
	IPList     []string       `json:"ipList"`
	Hostname   string         `json:"hostname"`
	Client     ClientInfo     `json:"client"`
	Config     map[string]any `json:"config"`
	InstanceID string         `json:"instanceID"`
	Metadata   map[string]any `json:"metadata"`
	Seq        int            `json:"seq"`
	Header
}

// ClientInfo names the implementation of a node.
type ClientInfo struct {
	Type        string `json:"type"`
	Version     string `json:"version"`
	LangVersion string `json:"langVersion"`
}

// ServiceInfo describes one service in an INFO packet.
type ServiceInfo struct {
	Name     string                `json:"name"`
	FullName string                `json:"fullName"`
	Version  any                   `json:"version,omitempty"`
	Settings map[string]any        `json:"settings"`
	Metadata map[string]any        `json:"metadata"`
	Actions  map[string]ActionInfo `json:"actions"`
	Events   map[string]EventInfo  `json:"events"`
}

// ActionInfo describes one action in an INFO packet.
type ActionInfo struct {
	Name    string         `json:"name"`
	RawName string         `json:"rawName,omitempty"`
	Cache   any            `json:"cache,omitempty"`
	Params  map[string]any `json:"params,omitempty"`
	Timeout *int64         `json:"timeout,omitempty"`
	// Rest is the action's REST route definition, for API gateways (autoAliases).
	Rest any `json:"rest,omitempty"`
}

// EventInfo describes one event subscription in an INFO packet.
type EventInfo struct {
	Name  string `json:"name"`
	Group string `json:"group,omitempty"`
}

// RequestPayload is an action call.
type RequestPayload struct {
	ID        string          `json:"id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	Meta      map[string]any  `json:"meta"`
	Headers   map[string]any  `json:"headers"` // decoded: read only (an empty one is shared)
	Timeout   float64         `json:"timeout"`
	Level     int             `json:"level"`
	Tracing   any             `json:"tracing"`
	ParentID  *string         `json:"parentID"`
	RequestID string          `json:"requestID"`
	Caller    *string         `json:"caller"`
	Stream    bool            `json:"stream"`
	Header
}

// ResponsePayload is the answer to a request.
type ResponsePayload struct {
	ID      string          `json:"id"`      // from DecodeExact: may be the body's bytes (copy it to keep it)
	Meta    map[string]any  `json:"meta"`    // decoded: read only (an empty one is shared)
	Headers map[string]any  `json:"headers"` // decoded: read only (an empty one is shared)
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *errs.Error     `json:"error,omitempty"`
	Header
}

// EventPayload is an emitted or broadcast event.
type EventPayload struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Groups    []string        `json:"groups,omitempty"`
	Broadcast bool            `json:"broadcast"`
	Meta      map[string]any  `json:"meta"`
	Headers   map[string]any  `json:"headers"` // decoded: read only (an empty one is shared)
	Level     int             `json:"level"`
	Tracing   any             `json:"tracing"`
	ParentID  *string         `json:"parentID"`
	RequestID string          `json:"requestID"`
	Caller    *string         `json:"caller"`
	NeedAck   *bool           `json:"needAck"`
	Header
}

// HeartbeatPayload tells the cluster a node is alive.
type HeartbeatPayload struct {
	CPU float64 `json:"cpu"`
	Header
}

// PingPayload asks for a PONG, to measure latency.
type PingPayload struct {
	Time int64  `json:"time"`
	ID   string `json:"id"`
	Header
}

// PongPayload answers a PING.
type PongPayload struct {
	Time    int64  `json:"time"`
	ID      string `json:"id"`
	Arrived int64  `json:"arrived"`
	Header
}

// DisconnectPayload announces a graceful stop.
type DisconnectPayload struct {
	Header
}

// New returns an empty payload value for a packet type, to decode into.
func New(t Type) (any, error) {
	switch t {
	case Discover:
		return &DiscoverPayload{}, nil
	case Info:
		return &InfoPayload{}, nil
	case Request:
		return requestPayloads.Get().(*RequestPayload), nil
	case Response:
		return responsePayloads.Get().(*ResponsePayload), nil
	case Event:
		return &EventPayload{}, nil
	case Heartbeat:
		return &HeartbeatPayload{}, nil
	case Ping:
		return &PingPayload{}, nil
	case Pong:
		return &PongPayload{}, nil
	case Disconnect:
		return &DisconnectPayload{}, nil
	}
	return nil, fmt.Errorf("unknown packet type %q", t)
}

// A REQ and a RES are decoded on every remote call, once on each side: their payloads come
// from these pools, and the broker hands each back with Release once it is done with it.
var (
	requestPayloads  = sync.Pool{New: func() any { return new(RequestPayload) }}
	responsePayloads = sync.Pool{New: func() any { return new(ResponsePayload) }}
)

// Release hands a REQ or RES payload that New, Decode or DecodeExact returned back for reuse
// (other kinds are left to the collector). The caller must be the payload's last user: no
// field of it may be read afterwards, though what its fields referred to (the strings, the
// Meta map, the raw params) stays valid, since only the struct is reused.
func Release(p any) {
	switch v := p.(type) {
	case *RequestPayload:
		*v = RequestPayload{}
		requestPayloads.Put(v)
	case *ResponsePayload:
		*v = ResponsePayload{}
		responsePayloads.Put(v)
	}
}

// Decode parses a message body into its typed payload and checks the fields every packet
// needs. A malformed packet yields an InvalidPacketData error; it never panics.
func Decode(m Message) (any, error) {
	p, err := New(m.Type)
	if err != nil {
		return nil, errs.InvalidPacketData(string(m.Type), err.Error())
	}
	if err := unmarshal(m.Body, p); err != nil {
		return nil, errs.InvalidPacketData(string(m.Type), err.Error())
	}
	if err := check(m.Type, p); err != nil {
		return nil, err
	}
	return p, nil
}

// check is what Decode asks of every decoded packet: protocol 5, a sender, and the fields
// its kind cannot do without.
func check(t Type, p any) error {
	h := header(p)
	if h.Ver != ProtocolVersion {
		return &errs.Error{Name: errs.NameProtocolVersionMismatch, Code: 500, Type: "PROTOCOL_VERSION_MISMATCH",
			Message: fmt.Sprintf("Protocol version mismatch. Expected %s, got %q.", ProtocolVersion, h.Ver),
			Data:    map[string]any{"nodeID": h.Sender, "actual": h.Ver, "received": ProtocolVersion}}
	}
	if h.Sender == "" {
		return errs.InvalidPacketData(string(t), "missing sender")
	}
	switch v := p.(type) {
	case *RequestPayload:
		if v.ID == "" || v.Action == "" {
			return errs.InvalidPacketData(string(t), "request without id or action")
		}
	case *ResponsePayload:
		if v.ID == "" {
			return errs.InvalidPacketData(string(t), "response without id")
		}
	case *EventPayload:
		if v.Event == "" {
			return errs.InvalidPacketData(string(t), "event without name")
		}
	}
	return nil
}

// DecodeExact decodes a body written in the exact form Moleculer and Faultline write a REQ,
// RES, EVENT or HEARTBEAT: one valid JSON object whose keys are the kind's field names
// exactly, none repeated, with a successful RES (error null), protocol 5, a sender and the
// kind's required fields. It returns the payload Decode would return and its sender, and
// false for anything else (another kind, a key in another case, an error answer, a bad
// packet), for which the caller falls back to its full checks and Decode.
//
// It lets a transporter check a packet and decode it in one pass: in the exact form every
// top-level key is known, so the body's "ver" and "sender" are the payload's. body must be
// the caller's to give away: the payload's raw values (params, data) are slices of it.
func DecodeExact(t Type, body []byte) (p any, sender string, ok bool) {
	switch t {
	case Request:
		v := requestPayloads.Get().(*RequestPayload)
		p, ok = v, decodeRequest(v, body, true)
	case Response:
		v := responsePayloads.Get().(*ResponsePayload)
		p, ok = v, decodeResponse(v, body, true)
	case Event:
		v := &EventPayload{}
		p, ok = v, decodeEvent(v, body, true)
	case Heartbeat:
		v := &HeartbeatPayload{}
		p, ok = v, decodeHeartbeat(v, body, true)
	}
	if !ok || check(t, p) != nil {
		if p != nil {
			Release(p)
		}
		return nil, "", false
	}
	return p, header(p).Sender, true
}

func header(p any) *Header {
	switch v := p.(type) {
	case *DiscoverPayload:
		return &v.Header
	case *InfoPayload:
		return &v.Header
	case *RequestPayload:
		return &v.Header
	case *ResponsePayload:
		return &v.Header
	case *EventPayload:
		return &v.Header
	case *HeartbeatPayload:
		return &v.Header
	case *PingPayload:
		return &v.Header
	case *PongPayload:
		return &v.Header
	case *DisconnectPayload:
		return &v.Header
	}
	return &Header{}
}
