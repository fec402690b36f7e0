package broker

import (
	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/packet"
)

// Hooks tell observers (metrics, tracing) about steps that no middleware wraps. Each is
// optional; an unset hook costs the broker one nil check. Hooks run in the task that took
// the step, often with no lock held but always on the hot path: they must be quick and must
// not block or call back into the broker.
type Hooks struct {
	// Created is called once New has built the broker (before Start), so that an observer
	// can read the broker's state later (node counts, pending requests, breakers).
	Created func(b *Broker)
	// PacketSent is called for every packet this node hands to its transporter; size is the
	// body's length in bytes.
	PacketSent func(t packet.Type, size int)
	// PacketReceived is called for every packet that reaches the broker from another node,
	// malformed ones included.
	PacketReceived func(t packet.Type, size int)
	// Emitted is called when this node emits an event: kind is "emit", "broadcast" or
	// "broadcastLocal" (Moleculer's three event metrics).
	Emitted func(event string, groups []string, kind string)
	// BreakerChanged is called on every transition of a breaker this node keeps (one per
	// endpoint it calls).
	BreakerChanged func(nodeID, service, action string, from, to breaker.State)
	// Cache is called for each cacher operation of the cacher middleware and CleanCache: op
	// is "get", "found" (a get that hit), "set" or "clean"; action is "" for clean.
	Cache func(op, action string)
}

// Chain returns hooks that call h's hook and then o's, for each hook either sets.
func (h Hooks) Chain(o Hooks) Hooks {
	return Hooks{
		Created:        chain1(h.Created, o.Created),
		PacketSent:     chain2(h.PacketSent, o.PacketSent),
		PacketReceived: chain2(h.PacketReceived, o.PacketReceived),
		Emitted:        chain3(h.Emitted, o.Emitted),
		BreakerChanged: chain5(h.BreakerChanged, o.BreakerChanged),
		Cache:          chain2(h.Cache, o.Cache),
	}
}

func chain1[A any](f, g func(A)) func(A) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A) { f(a); g(a) }
}

func chain2[A, B any](f, g func(A, B)) func(A, B) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A, b B) { f(a, b); g(a, b) }
}

func chain3[A, B, C any](f, g func(A, B, C)) func(A, B, C) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A, b B, c C) { f(a, b, c); g(a, b, c) }
}

func chain5[A, B, C, D, E any](f, g func(A, B, C, D, E)) func(A, B, C, D, E) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A, b B, c C, d D, e E) { f(a, b, c, d, e); g(a, b, c, d, e) }
}

// PendingRequests returns how many requests this node has sent and not yet had answered
// (Moleculer's transit.pendingRequests).
func (b *Broker) PendingRequests() int {
	b.pendingMu.Lock()
	defer b.pendingMu.Unlock()
	return len(b.pending)
}

// BreakerInfo describes one endpoint breaker this node keeps.
type BreakerInfo struct {
	NodeID, Service, Action string
	State                   breaker.State
}

// Breakers returns this node's endpoint breakers, in endpoint ID order.
func (b *Broker) Breakers() []BreakerInfo {
	s := b.breakers
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BreakerInfo, 0, len(s.m))
	for _, id := range sortedKeys(s.m) {
		eb := s.m[id]
		out = append(out, BreakerInfo{NodeID: eb.nodeID, Service: eb.service, Action: eb.action, State: eb.br.State()})
	}
	return out
}

func emitKind(broadcast bool) string {
	if broadcast {
		return "broadcast"
	}
	return "emit"
}

func (b *Broker) cacheHook(op, action string) {
	if h := b.opts.Hooks.Cache; h != nil {
		h(op, action)
	}
}
