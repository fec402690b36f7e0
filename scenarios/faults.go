package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/faults"
)

// FaultKinds lists the fault kinds a scenario can use, with the fields each reads:
//
//	latency      from, to, types, delay (base), jitter, dist (uniform|normal)
//	loss         from, to, types, rate
//	duplicate    from, to, types, rate
//	reorder      from, to, types, rate, delay (max extra delay)
//	partition    a, b, types            (symmetric: a ↮ b; b empty = every other node)
//	asymmetric   from, to, types        (from → to cut, to → from open)
//	bridge       a, b, bridge, types    (a ↮ b, both reach the bridge node)
//	isolate      node, types
//	crash        node                   (duration: restart after it; 0 = stays down)
//	pause        node                   (resumed after duration)
//	skew         node, skew
//	error        action, node, rate, firstN, error{name, message, code, type, retryable}
//	delay        action, node, rate, firstN, delay
//	hang         action, node, rate, firstN
//	panic        action, node, rate, firstN
//	cacher-down  node ("" = every node's cacher)
//	cacher-slow  node, delay
//	db-down      model ("" = every model's storage)
//	db-slow      model, delay
//	toxic        toxic, attributes, a, b (the process tier: a Toxiproxy toxic on routes)
var FaultKinds = []string{"latency", "loss", "duplicate", "reorder", "partition", "asymmetric", "bridge", "isolate",
	"crash", "pause", "skew", "error", "delay", "hang", "panic", "cacher-down", "cacher-slow", "db-down", "db-slow", "toxic"}

// ToxicAttributes are the toxics a toxic fault may name, with the attributes each takes.
var ToxicAttributes = map[string][]string{
	"bandwidth":  {"rate"},
	"slow_close": {"delay"},
	"reset_peer": {"timeout"},
	"timeout":    {"timeout"},
}

// PacketTypes are a fault's packet type names ("req", "EVENT") as packet types.
func PacketTypes(names []string) []packet.Type {
	types := make([]packet.Type, len(names))
	for i, t := range names {
		types[i] = packet.Type(strings.ToUpper(t))
	}
	return types
}

// toFault converts a fault spec to a fault value.
func toFault(f FaultSpec) (faults.Fault, error) {
	types := PacketTypes(f.Types)
	match := faults.Match{From: f.From, To: f.To, Types: types}
	calls := faults.Calls{Action: f.Action, Node: f.Node, Rate: f.Rate, FirstN: f.FirstN}
	switch f.Kind {
	case "latency":
		return faults.Latency{Match: match, Base: f.Delay, Jitter: f.Jitter, Dist: faults.Dist(f.Dist)}, nil
	case "loss":
		return faults.Loss{Match: match, Rate: f.Rate}, nil
	case "duplicate":
		return faults.Duplicate{Match: match, Rate: f.Rate}, nil
	case "reorder":
		return faults.Reorder{Match: match, Rate: f.Rate, MaxDelay: f.Delay}, nil
	case "partition":
		return faults.Symmetric{A: f.A, B: f.B, Types: types}, nil
	case "asymmetric":
		return faults.Asymmetric{From: f.From, To: f.To, Types: types}, nil
	case "bridge":
		return faults.Bridge{A: f.A, B: f.B, Bridge: f.Bridge, Types: types}, nil
	case "isolate":
		return faults.Isolate{Node: f.Node, Types: types}, nil
	case "crash":
		return faults.Crash{Node: f.Node}, nil
	case "pause":
		return faults.Pause{Node: f.Node}, nil
	case "skew":
		return faults.ClockSkew{Node: f.Node, Offset: f.Skew}, nil
	case "error":
		e := faults.Error{Calls: calls, Name: "MoleculerError", Code: 500}
		if f.Error != nil {
			e.Name, e.Message, e.Code, e.Type, e.Retryable = f.Error.Name, f.Error.Message, f.Error.Code, f.Error.Type, f.Error.Retryable
		}
		return e, nil
	case "delay":
		return faults.Delay{Calls: calls, D: f.Delay}, nil
	case "hang":
		return faults.Hang{Calls: calls}, nil
	case "panic":
		return faults.Panic{Calls: calls, Message: "injected panic"}, nil
	case "cacher-down":
		return faults.CacherDown{Cacher: f.Node}, nil
	case "cacher-slow":
		return faults.CacherSlow{Cacher: f.Node, D: f.Delay}, nil
	case "db-down":
		return faults.DatabaseDown{Model: f.Model}, nil
	case "toxic":
		return toxicFault{spec: f}, nil
	case "db-slow":
		return faults.DatabaseSlow{Model: f.Model, D: f.Delay}, nil
	}
	return nil, fmt.Errorf("unknown fault kind %q (%s)", f.Kind, strings.Join(FaultKinds, ", "))
}

func validateFault(v *validator, p string, f FaultSpec, nodes, actions map[string]bool) {
	if f.Kind == "" {
		v.add(p+".kind", "is required")
		return
	}
	if !slices.Contains(FaultKinds, f.Kind) {
		v.add(p+".kind", "unknown fault kind %q (%s)", f.Kind, strings.Join(FaultKinds, ", "))
		return
	}
	if f.Start < 0 || f.Duration < 0 || f.Every < 0 {
		v.add(p, "start, duration and every must not be negative")
	}
	if f.Every > 0 && (f.Duration <= 0 || f.Duration > f.Every) {
		v.add(p+".every", "a repeating fault needs 0 < duration ≤ every")
	}
	if f.Rate < 0 || f.Rate > 1 {
		v.add(p+".rate", "must be between 0 and 1, got %v", f.Rate)
	}
	if f.FirstN < 0 {
		v.add(p+".firstN", "must not be negative, got %d", f.FirstN)
	}
	if f.Delay < 0 || f.Jitter < 0 {
		v.add(p+".delay", "must not be negative")
	}
	checkNodes(v, p+".from", f.From, nodes)
	checkNodes(v, p+".to", f.To, nodes)
	checkNodes(v, p+".a", f.A, nodes)
	checkNodes(v, p+".b", f.B, nodes)
	if f.Bridge != "" && !nodes[f.Bridge] {
		v.add(p+".bridge", "unknown node %q", f.Bridge)
	}
	for i, t := range f.Types {
		if !packet.Type(strings.ToUpper(t)).Valid() {
			v.add(fmt.Sprintf("%s.types[%d]", p, i), "unknown packet type %q (DISCOVER, INFO, REQ, RES, EVENT, HEARTBEAT, PING, PONG, DISCONNECT)", t)
		}
	}
	if f.Node != "" && !nodes[f.Node] {
		v.add(p+".node", "unknown node %q", f.Node)
	}
	switch f.Kind {
	case "crash", "pause", "skew", "isolate":
		if f.Node == "" {
			v.add(p+".node", "is required for a %s fault", f.Kind)
		}
	case "partition", "bridge":
		if len(f.A) == 0 {
			v.add(p+".a", "is required for a %s fault", f.Kind)
		}
		if f.Kind == "bridge" && f.Bridge == "" {
			v.add(p+".bridge", "is required for a bridge fault")
		}
	case "error", "delay", "hang", "panic":
		if f.Action == "" {
			v.add(p+".action", "is required for a %s fault", f.Kind)
		} else if !strings.ContainsAny(f.Action, "*?") && !actions[f.Action] {
			v.add(p+".action", "unknown action %q: no node of the cluster serves it", f.Action)
		}
	case "toxic":
		want, ok := ToxicAttributes[f.Toxic]
		if !ok {
			v.add(p+".toxic", "unknown toxic %q (bandwidth, slow_close, reset_peer, timeout)", f.Toxic)
			break
		}
		for _, k := range sortedNames(f.Attributes) {
			if !slices.Contains(want, k) {
				v.add(p+".attributes."+k, "is not an attribute of the %s toxic (it takes %s)", f.Toxic, strings.Join(want, ", "))
			} else if f.Attributes[k] < 0 {
				v.add(p+".attributes."+k, "must not be negative")
			}
		}
		for _, k := range want {
			if _, ok := f.Attributes[k]; !ok && f.Toxic == "bandwidth" {
				v.add(p+".attributes", "the bandwidth toxic needs rate (KB/s)")
			}
		}
	}
	if f.Kind == "error" && f.Error != nil && f.Error.Code < 0 {
		v.add(p+".error.code", "must not be negative")
	}
}

// scheduleFaults adds every fault of the scenario to the cluster's injector; attribute runs
// each Add with what it starts attributed to that fault (the event budget names the heaviest).
func scheduleFaults(inj *faults.Injector, schedule []FaultSpec, attribute func(origin string, fn func()), wrap func(FaultSpec, faults.Fault) faults.Fault) error {
	for k, f := range schedule {
		fault, err := toFault(f)
		if err != nil {
			return fmt.Errorf("faults[%d]: %w", k, err)
		}
		if wrap != nil {
			fault = wrap(f, fault)
		}
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", f.Kind, k)
		}
		err = nil
		attribute(faultOrigin(k, name), func() {
			err = inj.Add(faults.Spec{Name: name, Fault: fault, Start: f.Start, Duration: f.Duration, Every: f.Every, Count: f.Count})
		})
		if err != nil {
			return fmt.Errorf("faults[%d] (%s): %w", k, name, err)
		}
	}
	return nil
}

// toxicFault is a toxic fault as the engine holds it: only the process tier, whose nodes'
// servers are routed through Toxiproxy, can apply it (routeToxic); elsewhere the scenario is
// refused before it runs, and Apply says why if it ever is reached.
type toxicFault struct{ spec FaultSpec }

func (t toxicFault) Kind() string { return "network.toxic" }
func (t toxicFault) Attrs() map[string]any {
	attrs := map[string]any{"toxic": t.spec.Toxic, "a": t.spec.A, "b": t.spec.B}
	for k, v := range t.spec.Attributes {
		attrs[k] = v
	}
	return attrs
}
func (t toxicFault) Apply(*faults.Env) (func(), error) {
	return nil, fmt.Errorf("a %s toxic needs the process tier's Toxiproxy routes", t.spec.Toxic)
}
