// Package nats is a transporter on a NATS server, speaking Moleculer 0.15's subjects and
// protocol-5 JSON packets, so a Faultline node joins a cluster of NATS-connected nodes.
//
// Subjects are Moleculer's (src/transporters/base.js getTopicName): MOL[-<namespace>].<TYPE>
// for a broadcast and MOL[-<namespace>].<TYPE>.<nodeID> for a packet to one node. Balancing
// is the broker's (Moleculer's default, disableBalancer false), so requests and events always
// travel to a chosen node; the REQB/EVENTB queue-group subjects of disableBalancer are not
// used.
//
// It runs on the real runtime only: NATS delivers on its own goroutines.
package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/transport"
	"github.com/faultline/faultline/broker/transport/nats/internal/header"
)

// ErrPayloadTooLarge is returned by Send for a packet larger than the server's max payload.
// errors.Is also matches it to transport.ErrTooLarge, which the broker acts on.
var ErrPayloadTooLarge error = payloadTooLarge{}

type payloadTooLarge struct{}

func (payloadTooLarge) Error() string        { return "nats: packet exceeds the server's max payload" }
func (payloadTooLarge) Is(target error) bool { return target == transport.ErrTooLarge }

// ErrNotConnected is returned by Send before Connect, after Disconnect, or while the
// connection is down (publishes are not buffered across a reconnect: a call fails at once,
// as Moleculer's transit fails it with BrokerDisconnectedError).
var ErrNotConnected = errors.New("nats: not connected")

// Options configure a Transport. Zero values take the defaults given.
type Options struct {
	// URL of the server, or several separated by commas (default nats://127.0.0.1:4222).
	URL string
	// Namespace separates clusters on one server: subjects start with MOL-<Namespace>.
	// It must be the broker's Options.Namespace.
	Namespace string
	// Name is the connection name the server shows (default "faultline-<nodeID>").
	Name string
	// MaxReconnects bounds reconnect attempts; 0 or negative retries forever (Moleculer's
	// maxReconnectAttempts -1 default).
	MaxReconnects int
	// ReconnectWait is the pause between reconnect attempts (default 2 s, nats.go's).
	ReconnectWait time.Duration
	// ConnectTimeout bounds the initial connection and each reconnect dial (default 2 s).
	ConnectTimeout time.Duration
	// InboxSize is how many received messages may wait for dispatch before NATS drops new
	// ones as a slow consumer (default 65536).
	InboxSize int
	// Logger receives dropped packets and connection changes; nil discards them.
	Logger *slog.Logger
}

// Stats are a transport's counters.
type Stats struct {
	Sent     uint64 // messages published
	Received uint64 // messages handed to the broker
	Dropped  uint64 // received messages dropped as malformed (inbox overflow is logged by NATS's slow-consumer error)
}

// Transport is a NATS transporter. It implements transport.Transporter and
// transport.Reconnecter.
type Transport struct {
	opts   Options
	prefix string

	mu          sync.Mutex
	nc          *natsgo.Conn
	nodeID      string
	subs        []*natsgo.Subscription
	done        chan struct{}
	onReconnect func()
	onLost      func()

	// live is nc for Send, read without mu: a publish must not wait on a lock of ours
	// (nc's own is held by nats.go's flusher during each socket write).
	live atomic.Pointer[natsgo.Conn]
	// subjects caches the subject of a (type, target), built once instead of on every Send.
	subjects  sync.Map // subjectKey → string
	nsubjects atomic.Int32
	closed    atomic.Bool
	sent      atomic.Uint64
	received  atomic.Uint64
	dropped   atomic.Uint64
}

// New returns an unconnected transport.
func New(opts Options) *Transport {
	if opts.URL == "" {
		opts.URL = natsgo.DefaultURL
	}
	if opts.MaxReconnects <= 0 {
		opts.MaxReconnects = -1
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = natsgo.DefaultReconnectWait
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = natsgo.DefaultTimeout
	}
	if opts.InboxSize <= 0 {
		opts.InboxSize = 1 << 16
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Transport{opts: opts, prefix: Prefix(opts.Namespace)}
}

// Prefix is the first subject token for a namespace: MOL or MOL-<namespace>.
func Prefix(namespace string) string {
	if namespace == "" {
		return "MOL"
	}
	return "MOL-" + namespace
}

// OnConnectionLost registers fn, run each time the connection to the server drops (not on
// Disconnect). It runs on a NATS goroutine.
func (t *Transport) OnConnectionLost(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onLost = fn
}

// OnReconnect registers fn, run after every reconnect once subscriptions are restored (the
// broker re-announces itself with INFO). It runs on a NATS goroutine.
func (t *Transport) OnReconnect(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onReconnect = fn
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	return Stats{Sent: t.sent.Load(), Received: t.received.Load(), Dropped: t.dropped.Load()}
}

// Conn returns the underlying connection (nil before Connect), for monitoring.
func (t *Transport) Conn() *natsgo.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nc
}

// Connect dials the server and subscribes to the subjects a Moleculer node listens on. Every
// message is handed to recv in arrival order by one goroutine.
func (t *Transport) Connect(nodeID string, recv func(packet.Message)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nc != nil {
		return errors.New("nats: Connect called twice")
	}
	name := t.opts.Name
	if name == "" {
		name = "faultline-" + nodeID
	}
	log := t.opts.Logger.With("node", nodeID)
	nc, err := natsgo.Connect(t.opts.URL,
		natsgo.Name(name),
		natsgo.MaxReconnects(t.opts.MaxReconnects),
		natsgo.ReconnectWait(t.opts.ReconnectWait),
		natsgo.Timeout(t.opts.ConnectTimeout),
		natsgo.ReconnectBufSize(-1),
		// Socket writes gathered by a goroutine of the connection (coalesce.go).
		natsgo.SetCustomDialer(&dialer{net: net.Dialer{Timeout: t.opts.ConnectTimeout}, timeout: natsgo.DefaultFlusherTimeout}),
		// A node never needs its own packets; Moleculer's transit skips them anyway.
		natsgo.NoEcho(),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if t.closed.Load() {
				return // our own Disconnect, not a lost connection
			}
			log.Warn("nats: disconnected", "err", err)
			t.mu.Lock()
			fn := t.onLost
			t.mu.Unlock()
			if fn != nil {
				fn()
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) {
			log.Info("nats: reconnected", "url", c.ConnectedUrlRedacted())
			t.mu.Lock()
			fn := t.onReconnect
			t.mu.Unlock()
			if fn != nil && !t.closed.Load() {
				fn()
			}
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if errors.Is(err, natsgo.ErrSlowConsumer) && sub != nil {
				if n, _ := sub.Dropped(); n > 0 {
					log.Error("nats: inbox full, messages lost", "subject", sub.Subject, "lost", n)
				}
			}
			log.Warn("nats: async error", "err", err)
		}),
	)
	if err != nil {
		return fmt.Errorf("nats: connect to %s: %w", t.opts.URL, err)
	}
	// One channel for both subscriptions: the connection's read loop pushes into it in
	// arrival order, and one goroutine drains it, so recv sees the server's order.
	ch := make(chan *natsgo.Msg, t.opts.InboxSize)
	var subs []*natsgo.Subscription
	for _, subj := range []string{t.prefix + ".*", t.prefix + ".*." + nodeID} {
		s, err := nc.ChanSubscribe(subj, ch)
		if err != nil {
			nc.Close()
			return fmt.Errorf("nats: subscribe %s: %w", subj, err)
		}
		subs = append(subs, s)
	}
	// The subscriptions must be in place before the broker's first DISCOVER is answered.
	if err := nc.FlushTimeout(t.opts.ConnectTimeout); err != nil {
		nc.Close()
		return fmt.Errorf("nats: subscribe: %w", err)
	}
	t.nc, t.nodeID, t.subs, t.done = nc, nodeID, subs, make(chan struct{})
	t.live.Store(nc)
	(&delivery{t: t, ch: ch, done: t.done, nodeID: nodeID, recv: recv, log: log, promote: make(chan struct{})}).start()
	return nil
}

// Delivery: one goroutine at a time (the leader) takes messages from the connection's
// channel and hands them to the broker, so the broker sees them in the server's order. A
// request is served on the goroutine that delivered it (packet.Message.Detach): before the
// handler runs, the leader role passes to a parked follower, or to a new goroutine when none
// is parked, and the old leader becomes a follower when its handler returns. Handing the
// request to a task instead would put one more goroutine switch on every call's way; raw
// nats.go answers a request in its subscription's callback. At most maxFollowers wait
// parked, so a burst of slow requests leaves no crowd behind.

// maxFollowers is how many delivery goroutines may wait parked for the leader role.
const maxFollowers = 8

// delivery is what a connection's delivery goroutines share.
type delivery struct {
	t       *Transport
	ch      <-chan *natsgo.Msg
	done    <-chan struct{}
	nodeID  string
	recv    func(packet.Message)
	log     *slog.Logger
	promote chan struct{} // unbuffered: a send succeeds only when a follower waits
	parked  atomic.Int32  // followers waiting on promote
}

// deliverer is one delivery goroutine's own state.
type deliverer struct {
	*delivery
	detachFn func() // d.detach, bound once per goroutine
	// detached is set by detach on this goroutine and read by it after recv returns.
	detached bool
}

func (del *delivery) start() {
	d := &deliverer{delivery: del}
	d.detachFn = d.detach
	go d.run()
}

// run leads delivery, and after serving a request follows, until the transport closes or
// there are enough followers.
func (d *deliverer) run() {
	for d.lead() && d.follow() {
	}
}

// lead delivers messages until the transport closes (false) or a request detaches this
// goroutine (true).
func (d *deliverer) lead() bool {
	t := d.t
	for {
		select {
		case <-d.done:
			return false
		case m := <-d.ch:
			if t.closed.Load() {
				return false
			}
			msg, err := t.parse(m.Subject, m.Data, d.nodeID)
			// nats.go gives each message its own copy of the payload: the broker may keep
			// slices of it (json.RawMessage params), no copy here.
			if err != nil {
				t.dropped.Add(1)
				d.log.Warn("nats: dropped malformed packet", "subject", m.Subject, "bytes", len(m.Data), "err", err)
				continue
			}
			if msg.Sender == d.nodeID {
				continue // our own broadcast (NoEcho makes this rare)
			}
			t.received.Add(1)
			if msg.Type == packet.Request {
				msg.Detach = d.detachFn
			}
			d.recv(msg)
			if d.detached {
				d.detached = false
				return true
			}
		}
	}
}

// detach passes the leader role on (see packet.Message.Detach): to a parked follower, or to
// a new goroutine.
func (d *deliverer) detach() {
	d.detached = true
	select {
	case d.promote <- struct{}{}:
	default:
		d.start()
	}
}

// follow parks a goroutine that served a request until it leads again (true), or reports
// false when it should exit: the transport closed, or maxFollowers already wait.
func (d *deliverer) follow() bool {
	if d.parked.Add(1) > maxFollowers {
		d.parked.Add(-1)
		return false
	}
	defer d.parked.Add(-1)
	select {
	case <-d.promote:
		return true
	case <-d.done:
		return false
	}
}

// parse turns a NATS message into a packet.Message, checking the subject, that the body is
// one JSON object, the protocol version and the sender. Fields of each packet kind are
// checked by the broker's packet.Decode (it drops, logs and journals what fails there).
func (t *Transport) parse(subject string, data []byte, nodeID string) (packet.Message, error) {
	rest, ok := strings.CutPrefix(subject, t.prefix+".")
	if !ok {
		return packet.Message{}, fmt.Errorf("subject outside %s", t.prefix)
	}
	typ, target, _ := strings.Cut(rest, ".")
	pt := packet.Type(typ)
	if !pt.Valid() {
		return packet.Message{}, fmt.Errorf("unknown packet type %q", typ)
	}
	if target != "" && target != nodeID {
		return packet.Message{}, fmt.Errorf("addressed to %q", target)
	}
	// The packets of a call (REQ, RES) and events come in the exact form Moleculer writes
	// them: checked and decoded in one pass, the broker does not decode them again.
	if p, sender, ok := packet.DecodeExact(pt, data); ok {
		return packet.Message{Type: pt, Sender: sender, Target: target, Body: data, Payload: p}, nil
	}
	h, err := header.Read(data)
	if err != nil {
		return packet.Message{}, fmt.Errorf("body: %w", err)
	}
	if h.Ver != packet.ProtocolVersion {
		return packet.Message{}, fmt.Errorf("protocol version %q, want %q", h.Ver, packet.ProtocolVersion)
	}
	if h.Sender == "" {
		return packet.Message{}, errors.New("missing sender")
	}
	return packet.Message{Type: pt, Sender: h.Sender, Target: target, Body: data}, nil
}

// SendCopiesBody marks the transport as a transport.BodyCopier: nats.go's Publish copies
// the body into the connection's write buffer before it returns.
func (t *Transport) SendCopiesBody() {}

// Send publishes m on its Moleculer subject.
func (t *Transport) Send(m packet.Message) error {
	nc := t.live.Load()
	if nc == nil || t.closed.Load() {
		return ErrNotConnected
	}
	subject := t.subject(m.Type, m.Target)
	// Publish copies the body into the connection's buffer before it returns (the broker
	// may reuse it) and refuses one over the server's max payload itself: asking for the
	// limit first would take the connection's lock once more per packet.
	if err := nc.Publish(subject, m.Body); err != nil {
		if errors.Is(err, natsgo.ErrMaxPayload) {
			return fmt.Errorf("%w: %s is %d bytes, the server accepts %d", ErrPayloadTooLarge, subject, len(m.Body), nc.MaxPayload())
		}
		if errors.Is(err, natsgo.ErrReconnectBufExceeded) || errors.Is(err, natsgo.ErrConnectionClosed) {
			return fmt.Errorf("%w: publish %s: %v", ErrNotConnected, subject, err)
		}
		return fmt.Errorf("nats: publish %s: %w", subject, err)
	}
	t.sent.Add(1)
	return nil
}

type subjectKey struct {
	typ    packet.Type
	target string
}

// maxSubjects bounds the subject cache: a long-lived node talking to ever new node IDs
// builds the rest on each Send.
const maxSubjects = 4096

func (t *Transport) subject(typ packet.Type, target string) string {
	k := subjectKey{typ, target}
	if s, ok := t.subjects.Load(k); ok {
		return s.(string)
	}
	s := packet.Subject(t.opts.Namespace, typ, target)
	if t.nsubjects.Load() < maxSubjects {
		if _, loaded := t.subjects.LoadOrStore(k, s); !loaded {
			t.nsubjects.Add(1)
		}
	}
	return s
}

// Disconnect flushes what was sent (a DISCONNECT packet just before it must leave), closes
// the connection and stops delivery.
func (t *Transport) Disconnect() error {
	t.mu.Lock()
	nc, done := t.nc, t.done
	t.mu.Unlock()
	if nc == nil || t.closed.Swap(true) {
		return nil
	}
	var err error
	if nc.IsConnected() {
		err = nc.FlushTimeout(t.opts.ConnectTimeout)
	}
	nc.Close()
	close(done)
	if err != nil {
		return fmt.Errorf("nats: flush before close: %w", err)
	}
	return nil
}
