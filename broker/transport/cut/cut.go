// Package cut wraps a transporter so that it can drop what arrives from chosen peers: a
// one-way partition made where it cannot be made in the network. One TCP route carries
// both directions between two NATS servers, so "A's packets never reach B, B's reach A"
// has to be done by B's own transporter, dropping what comes from A. The process tier uses
// it for asymmetric partitions.
package cut

import (
	"slices"
	"sync"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/transport"
)

// Filter is a transporter that drops incoming packets matching any active rule.
type Filter struct {
	inner transport.Transporter
	// onDrop, when set, is told of every dropped packet and the rule that dropped it.
	onDrop func(m packet.Message, rule string)

	mu    sync.RWMutex
	rules map[string]rule
}

type rule struct {
	from  []string
	types []packet.Type // empty: every type
}

// Wrap returns a filter around inner with no rule: everything passes.
func Wrap(inner transport.Transporter, onDrop func(m packet.Message, rule string)) *Filter {
	return &Filter{inner: inner, onDrop: onDrop, rules: map[string]rule{}}
}

// Drop adds (or replaces) a named rule: packets from any of from, of any of types (none:
// all), are dropped on arrival until Heal(name).
func (f *Filter) Drop(name string, from []string, types []packet.Type) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[name] = rule{from: slices.Clone(from), types: slices.Clone(types)}
}

// Heal removes a rule.
func (f *Filter) Heal(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rules, name)
}

// dropping returns the name of the rule that drops m, or "".
func (f *Filter) dropping(m packet.Message) string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for name, r := range f.rules {
		if slices.Contains(r.from, m.Sender) && (len(r.types) == 0 || slices.Contains(r.types, m.Type)) {
			return name
		}
	}
	return ""
}

// Connect connects the inner transporter with a receiver that applies the rules.
func (f *Filter) Connect(nodeID string, recv func(packet.Message)) error {
	return f.inner.Connect(nodeID, func(m packet.Message) {
		if name := f.dropping(m); name != "" {
			if f.onDrop != nil {
				f.onDrop(m, name)
			}
			return
		}
		recv(m)
	})
}

// Disconnect disconnects the inner transporter.
func (f *Filter) Disconnect() error { return f.inner.Disconnect() }

// Send sends through the inner transporter: the rules act on arrival only.
func (f *Filter) Send(m packet.Message) error { return f.inner.Send(m) }

// OnReconnect passes the hook to an inner transporter that reconnects by itself.
func (f *Filter) OnReconnect(fn func()) {
	if r, ok := f.inner.(transport.Reconnecter); ok {
		r.OnReconnect(fn)
	}
}

// OnConnectionLost passes the hook to an inner transporter whose connection can drop.
func (f *Filter) OnConnectionLost(fn func()) {
	if w, ok := f.inner.(transport.ConnectionWatcher); ok {
		w.OnConnectionLost(fn)
	}
}

var (
	_ transport.Reconnecter       = (*Filter)(nil)
	_ transport.ConnectionWatcher = (*Filter)(nil)
)

// Record journals a packet a filter of node `to` dropped, as memnet's network faults
// journal theirs (heartbeats are left out, as there). j may be nil.
func Record(j *journal.Journal, to string, m packet.Message, rule string) {
	if m.Type == packet.Heartbeat {
		return
	}
	j.Record("", journal.PacketDropped, map[string]any{
		"from": m.Sender, "to": to, "type": string(m.Type), "fault": rule, "broadcast": m.Target == ""})
}
