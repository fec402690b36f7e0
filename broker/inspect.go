package broker

import (
	"sort"
	"time"

	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/packet"
)

// What an operator inspects on a stopped or live node: the REPL and the debugger read these.
// Each call takes a consistent snapshot under the node's locks; none changes anything.

// BreakerDetail is one endpoint breaker as this node (the caller) keeps it.
type BreakerDetail struct {
	// Caller is this node; Endpoint is "nodeID:action", the breaker's key.
	Caller, Endpoint        string
	NodeID, Service, Action string
	State                   breaker.State
	// Failures and Count are the current window's counts; Rate is Failures/Count (0 at 0).
	Failures, Count int
	Rate            float64
	// Window is the tumbling window's length and WindowEnds the next boundary, when the
	// counts go back to zero (zero when the window is off).
	Window     time.Duration
	WindowEnds time.Time
	// Deadline is the pending timed transition (open → half-open, or the probe's
	// anti-stick half-open-wait → half-open); zero when none is pending.
	Deadline time.Time
}

// BreakerDetails returns this node's endpoint breakers with their counts and deadlines, in
// endpoint order.
func (b *Broker) BreakerDetails() []BreakerDetail {
	s := b.breakers
	if s == nil {
		return nil
	}
	now := b.rt.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ends time.Time
	if w := b.cb.WindowTime; b.cb.Enabled && w > 0 && !s.windowOrigin.IsZero() {
		ends = now.Add(windowPhase(s.windowOrigin, w, now))
	}
	out := make([]BreakerDetail, 0, len(s.m))
	for _, id := range sortedKeys(s.m) {
		eb := s.m[id]
		f, c := eb.br.Counts()
		d := BreakerDetail{Caller: b.nodeID, Endpoint: id, NodeID: eb.nodeID, Service: eb.service, Action: eb.action,
			State: eb.br.State(), Failures: f, Count: c, Window: b.cb.WindowTime, WindowEnds: ends}
		if c > 0 {
			d.Rate = float64(f) / float64(c)
		}
		if at, ok := eb.br.NextDeadline(); ok {
			d.Deadline = at
		}
		out = append(out, d)
	}
	return out
}

// InFlightRequest is one request this node has sent and not yet had settled.
type InFlightRequest struct {
	ID, Action, NodeID string
	// CallID is the logical call the attempt belongs to (retries share it).
	CallID string
	SentAt time.Time
	// Deadline is when the attempt times out (zero: no timeout).
	Deadline time.Time
}

// InFlight returns the pending requests of this node in the order they were sent.
func (b *Broker) InFlight() []InFlightRequest {
	b.pendingMu.Lock()
	prs := make([]*pendingRequest, 0, len(b.pending))
	for _, pr := range b.pending {
		prs = append(prs, &pr)
	}
	b.pendingMu.Unlock()
	sort.Slice(prs, func(i, j int) bool { return prs[i].seq < prs[j].seq })
	out := make([]InFlightRequest, 0, len(prs))
	for _, pr := range prs {
		r := InFlightRequest{ID: pr.id, Action: pr.action, NodeID: pr.nodeID, SentAt: pr.sentAt}
		if pr.ctx != nil {
			r.CallID = pr.ctx.ID
		}
		if pr.att != nil && pr.att.timeout > 0 {
			r.Deadline = pr.att.startedAt.Add(pr.att.timeout)
		}
		out = append(out, r)
	}
	return out
}

// LocalServiceInfo returns this node's services as its INFO packet describes them.
func (b *Broker) LocalServiceInfo() []packet.ServiceInfo { return b.infoPayload().Services }

// LocalClient returns this node's INFO client and host fields.
func (b *Broker) LocalClient() (client packet.ClientInfo, ipList []string, hostname string) {
	p := b.infoPayload()
	return p.Client, p.IPList, p.Hostname
}
