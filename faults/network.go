package faults

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// Network is the injector's network layer: the one memnet interceptor, consulting the
// network faults active at the instant a packet is sent. A dropped packet is counted (per
// fault and per type) and, unless it is a HEARTBEAT, journaled as packet.dropped.
type Network struct {
	inj *Injector

	mu     sync.Mutex
	rules  []*netRule // active, in the order they were applied
	byType map[packet.Type]int
}

// netRule is one active network fault.
type netRule struct {
	name    string
	c       *counters
	matches func(from, to string, t packet.Type) bool
	cut     bool // partitions: every matching delivery is dropped
	loss    float64
	dup     float64
	latency *Latency
	reorder *Reorder
}

// Dropped returns how many deliveries of each type the network faults dropped.
func (n *Network) Dropped() map[packet.Type]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[packet.Type]int, len(n.byType))
	for t, c := range n.byType {
		out[t] = c
	}
	return out
}

// add activates a rule and returns its heal.
func (n *Network) add(r *netRule) func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rules = append(n.rules, r)
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.rules = slices.DeleteFunc(n.rules, func(x *netRule) bool { return x == r })
	}
}

func (n *Network) intercept(d *memnet.Delivery) []memnet.Route {
	n.mu.Lock()
	routes, dropper := decide(n.rules, d, n.inj.rt.Rand())
	if dropper != nil {
		n.byType[d.Type]++
	}
	n.mu.Unlock()
	if dropper != nil && d.Type != packet.Heartbeat {
		n.inj.j.Record("", journal.PacketDropped, map[string]any{
			"from": d.From, "to": d.To, "type": string(d.Type), "fault": dropper.name, "broadcast": d.Broadcast})
	}
	return routes
}

// decide is the fate of one delivery under the active rules, in this order: partitions cut
// it; loss drops it; duplicates add copies; each copy gets the sum of the latencies and may be
// reordered. Random draws are made only for rules that match, so a run without active network
// faults draws nothing. It returns the dropping rule when the delivery is dropped.
func decide(rules []*netRule, d *memnet.Delivery, r rt.Rand) ([]memnet.Route, *netRule) {
	var matched []*netRule
	for _, x := range rules {
		if x.matches(d.From, d.To, d.Type) {
			matched = append(matched, x)
			x.c.matched.Add(1)
		}
	}
	if len(matched) == 0 {
		return []memnet.Route{{}}, nil
	}
	for _, x := range matched {
		if x.cut {
			x.c.dropped.Add(1)
			return nil, x
		}
	}
	for _, x := range matched {
		if hit(x.loss, r) {
			x.c.dropped.Add(1)
			return nil, x
		}
	}
	copies := 1
	for _, x := range matched {
		if hit(x.dup, r) {
			copies++
			x.c.duplicated.Add(1)
		}
	}
	routes := make([]memnet.Route, copies)
	for k := range routes {
		for _, x := range matched {
			if x.latency != nil {
				routes[k].Delay += x.latency.draw(r)
				x.c.delayed.Add(1)
			}
		}
		for _, x := range matched {
			if x.reorder != nil && hit(x.reorder.Rate, r) {
				routes[k].Unordered = true
				if x.reorder.MaxDelay > 0 {
					routes[k].Delay += time.Duration(r.Int64N(int64(x.reorder.MaxDelay) + 1))
				}
				x.c.reordered.Add(1)
			}
		}
	}
	return routes, nil
}

// hit draws an event of probability p; certain and impossible events draw nothing.
func hit(p float64, r rt.Rand) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return r.Float64() < p
}

func (n *Network) ruleFor(env *Env, m Match) *netRule {
	return &netRule{name: env.Name, c: env.counters(), matches: m.Matches}
}

func needNet(env *Env) error {
	if env.inj.net == nil {
		return errNoNet
	}
	return nil
}

// Dist is a jitter distribution.
type Dist string

const (
	// Uniform jitter is drawn uniformly from [-Jitter, +Jitter] (the default).
	Uniform Dist = "uniform"
	// Normal jitter is drawn from a normal distribution with standard deviation Jitter.
	Normal Dist = "normal"
)

// Latency delays matching deliveries by Base plus a jitter drawn per arrival; a delay that
// would be negative is 0. Links stay FIFO (memnet holds a packet behind an earlier, slower
// one), so jitter alone never reorders: use Reorder for that.
type Latency struct {
	Match
	Base   time.Duration
	Jitter time.Duration
	Dist   Dist
}

func (f Latency) Kind() string { return "latency" }
func (f Latency) Attrs() map[string]any {
	dist := f.Dist
	if dist == "" {
		dist = Uniform
	}
	return f.Match.attrs(map[string]any{"base": f.Base, "jitter": f.Jitter, "dist": string(dist)})
}
func (f Latency) Validate(env *Env) error {
	if f.Base < 0 || f.Jitter < 0 {
		return fmt.Errorf("latency base and jitter must not be negative")
	}
	if f.Dist != "" && f.Dist != Uniform && f.Dist != Normal {
		return fmt.Errorf("unknown jitter distribution %q", f.Dist)
	}
	if err := f.Match.validate(); err != nil {
		return err
	}
	return needNet(env)
}
func (f Latency) Apply(env *Env) (func(), error) {
	r := env.inj.net.ruleFor(env, f.Match)
	r.latency = &f
	return env.inj.net.add(r), nil
}

func (f *Latency) draw(r rt.Rand) time.Duration {
	d := f.Base
	if f.Jitter > 0 {
		if f.Dist == Normal {
			d += time.Duration(r.NormFloat64() * float64(f.Jitter))
		} else {
			d += time.Duration(r.Int64N(2*int64(f.Jitter)+1)) - f.Jitter
		}
	}
	return max(d, 0)
}

// Loss drops each matching delivery with probability Rate (1: all, 0: none).
type Loss struct {
	Match
	Rate float64
}

func (f Loss) Kind() string          { return "loss" }
func (f Loss) Attrs() map[string]any { return f.Match.attrs(map[string]any{"rate": f.Rate}) }
func (f Loss) Validate(env *Env) error {
	if err := validRate(f.Rate); err != nil {
		return err
	}
	if err := f.Match.validate(); err != nil {
		return err
	}
	return needNet(env)
}
func (f Loss) Apply(env *Env) (func(), error) {
	r := env.inj.net.ruleFor(env, f.Match)
	r.loss = f.Rate
	return env.inj.net.add(r), nil
}

// Duplicate delivers a matching delivery twice with probability Rate; the copy follows the
// original on its link.
type Duplicate struct {
	Match
	Rate float64
}

func (f Duplicate) Kind() string          { return "duplicate" }
func (f Duplicate) Attrs() map[string]any { return f.Match.attrs(map[string]any{"rate": f.Rate}) }
func (f Duplicate) Validate(env *Env) error {
	if err := validRate(f.Rate); err != nil {
		return err
	}
	if err := f.Match.validate(); err != nil {
		return err
	}
	return needNet(env)
}
func (f Duplicate) Apply(env *Env) (func(), error) {
	r := env.inj.net.ruleFor(env, f.Match)
	r.dup = f.Rate
	return env.inj.net.add(r), nil
}

// Reorder lets a matching delivery, with probability Rate, be held back by a uniform extra
// delay in [0, MaxDelay] while later packets on its link overtake it.
type Reorder struct {
	Match
	Rate     float64
	MaxDelay time.Duration
}

func (f Reorder) Kind() string { return "reorder" }
func (f Reorder) Attrs() map[string]any {
	return f.Match.attrs(map[string]any{"rate": f.Rate, "maxDelay": f.MaxDelay})
}
func (f Reorder) Validate(env *Env) error {
	if err := validRate(f.Rate); err != nil {
		return err
	}
	if f.MaxDelay < 0 {
		return fmt.Errorf("reorder max delay must not be negative")
	}
	if err := f.Match.validate(); err != nil {
		return err
	}
	return needNet(env)
}
func (f Reorder) Apply(env *Env) (func(), error) {
	r := env.inj.net.ruleFor(env, f.Match)
	r.reorder = &f
	return env.inj.net.add(r), nil
}
