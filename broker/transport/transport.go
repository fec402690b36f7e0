// Package transport is the seam between a broker and whatever carries its packets: the
// in-memory simulated network (memnet) or a real message bus (NATS).
package transport

import (
	"errors"

	"github.com/faultline/faultline/broker/packet"
)

// ErrTooLarge is what a transporter's Send error wraps when the packet is larger than the
// transport carries (NATS's max payload). The broker answers a result too large to send with
// an error response instead, so the caller learns it at once instead of at its timeout.
var ErrTooLarge = errors.New("packet too large for the transport")

// Transporter carries a node's packets.
type Transporter interface {
	// Connect joins nodeID to the transport. Every message addressed to the node, or
	// broadcast, is handed to recv, in arrival order. recv must not block.
	Connect(nodeID string, recv func(packet.Message)) error
	// Disconnect leaves the transport. Messages sent after it are dropped.
	Disconnect() error
	// Send publishes a message: to m.Target, or to every other node when Target is "".
	Send(m packet.Message) error
}

// Reconnecter is implemented by a transporter that can lose its connection and get it back
// by itself (NATS). The broker registers a hook at Start; the transporter runs it after each
// reconnect, and the broker re-announces itself as Moleculer's transit does after a
// reconnect: INFO to all, then DISCOVER to all (nodes may have come or gone meanwhile).
type Reconnecter interface {
	OnReconnect(fn func())
}

// ConnectionWatcher is implemented by a transporter whose connection can drop while the node
// runs (NATS). The broker registers a hook at Start; the transporter runs it each time the
// connection is lost, and the broker fails the requests in flight with
// BrokerDisconnectedError: their responses, published while the node was away, are gone.
type ConnectionWatcher interface {
	OnConnectionLost(fn func())
}

// BodyCopier is implemented by a transporter whose Send is done with m.Body when it returns
// (NATS copies it into its connection's buffer), so the broker may write its next packet
// into the same buffer. The simulated network keeps each body until it is delivered.
type BodyCopier interface {
	SendCopiesBody()
}

// BatchWaker is implemented by a transporter that, within the process, hands the responses
// for many waiting callers to the broker one after another on one goroutine (the in-memory
// network's inbox). Go runs the goroutine readied last first, on the waker's time slice, so
// the caller answered last would call again and be answered again ahead of those answered
// before it, which then wait a whole time slice (10 ms) and more. Over such a transporter a
// caller woken by its answer yields once (rt.FairWaiter), which puts it behind the callers
// already runnable. A transporter whose answers come from the network (NATS) leaves it out:
// there the next call cannot overtake, and the yield would cost a trip through the
// scheduler's global queue on every call.
type BatchWaker interface {
	WakesCallersInBatches()
}
