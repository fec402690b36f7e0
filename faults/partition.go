package faults

import (
	"errors"
	"fmt"
	"slices"

	"github.com/faultline/faultline/broker/packet"
)

// Partition is a network partition: a rule saying which directed links are cut. Cut links
// drop every packet (of the partition's Types, if any) while the partition is active.
type Partition interface {
	Fault
	// Cuts reports whether packets from → to are dropped.
	Cuts(from, to string) bool
}

// Symmetric cuts every link between the node sets A and B, both ways. An empty B means every
// node not in A.
type Symmetric struct {
	A, B  []string
	Types []packet.Type
}

func (p Symmetric) Kind() string { return "partition.symmetric" }
func (p Symmetric) Attrs() map[string]any {
	return typesAttr(map[string]any{"a": p.A, "b": orRest(p.B)}, p.Types)
}
func (p Symmetric) Cuts(from, to string) bool { return between(p.A, p.B, from, to) }
func (p Symmetric) Validate(env *Env) error {
	if err := disjoint(p.A, p.B); err != nil {
		return err
	}
	return partitionCommon(env, p.Types)
}
func (p Symmetric) Apply(env *Env) (func(), error) { return applyPartition(env, p, p.Types) }

// Asymmetric cuts the links from the nodes From to the nodes To, one way: To's packets still
// reach From. An empty To means every node not in From.
type Asymmetric struct {
	From, To []string
	Types    []packet.Type
}

func (p Asymmetric) Kind() string { return "partition.asymmetric" }
func (p Asymmetric) Attrs() map[string]any {
	return typesAttr(map[string]any{"from": p.From, "to": orRest(p.To)}, p.Types)
}
func (p Asymmetric) Cuts(from, to string) bool {
	return slices.Contains(p.From, from) && inOrRest(p.To, p.From, to)
}
func (p Asymmetric) Validate(env *Env) error {
	if err := disjoint(p.From, p.To); err != nil {
		return err
	}
	if env.inj.net == nil && env.inj.targets.Links != nil {
		return errors.New("a one-way partition needs the in-memory network: a real link carries both directions")
	}
	return partitionCommon(env, p.Types)
}
func (p Asymmetric) Apply(env *Env) (func(), error) { return applyPartition(env, p, p.Types) }

// Bridge splits the cluster into A and B, which cannot talk to each other, while the Bridge
// node talks to both sides (Jepsen's bridge). The bridge is never cut, even if listed in A or
// B. An empty B means every node not in A.
type Bridge struct {
	A, B   []string
	Bridge string
	Types  []packet.Type
}

func (p Bridge) Kind() string { return "partition.bridge" }
func (p Bridge) Attrs() map[string]any {
	return typesAttr(map[string]any{"a": p.A, "b": orRest(p.B), "bridge": p.Bridge}, p.Types)
}
func (p Bridge) Cuts(from, to string) bool {
	if from == p.Bridge || to == p.Bridge {
		return false
	}
	return between(p.A, p.B, from, to)
}
func (p Bridge) Validate(env *Env) error {
	if p.Bridge == "" {
		return errors.New("bridge partition without a bridge node")
	}
	if err := disjoint(p.A, p.B); err != nil {
		return err
	}
	return partitionCommon(env, p.Types)
}
func (p Bridge) Apply(env *Env) (func(), error) { return applyPartition(env, p, p.Types) }

// Isolate cuts one node off from every other node, both ways, keeping its connection (it is
// not a crash: the node runs on, alone).
type Isolate struct {
	Node  string
	Types []packet.Type
}

func (p Isolate) Kind() string { return "partition.isolate" }
func (p Isolate) Attrs() map[string]any {
	return typesAttr(map[string]any{"node": p.Node}, p.Types)
}
func (p Isolate) Cuts(from, to string) bool { return from == p.Node || to == p.Node }
func (p Isolate) Validate(env *Env) error {
	if p.Node == "" {
		return errors.New("isolate partition without a node")
	}
	return partitionCommon(env, p.Types)
}
func (p Isolate) Apply(env *Env) (func(), error) { return applyPartition(env, p, p.Types) }

func applyPartition(env *Env, p Partition, types []packet.Type) (func(), error) {
	if env.inj.net == nil {
		return cutLinks(env.inj.targets.Links, p)
	}
	r := env.inj.net.ruleFor(env, Match{Types: types})
	r.matches = func(from, to string, t packet.Type) bool {
		return (len(types) == 0 || slices.Contains(types, t)) && p.Cuts(from, to)
	}
	r.cut = true
	return env.inj.net.add(r), nil
}

func partitionCommon(env *Env, types []packet.Type) error {
	if err := validTypes(types); err != nil {
		return err
	}
	if env.inj.net == nil && env.inj.targets.Links != nil {
		if len(types) > 0 {
			return errors.New("a partition of some packet types needs the in-memory network: a real link carries every type")
		}
		return nil
	}
	return needNet(env)
}

// cutLinks applies a partition to real links: every pair it cuts both ways is severed. A
// pair cut one way only cannot be, since one route carries both directions, and is refused.
func cutLinks(links Links, p Partition) (func(), error) {
	nodes := links.Nodes()
	var cut [][2]string
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			ab, ba := p.Cuts(a, b), p.Cuts(b, a)
			if ab != ba {
				return nil, fmt.Errorf("%s cuts %s→%s but not back: a real link carries both directions, one-way partitions need the in-memory network", p.Kind(), a, b)
			}
			if ab {
				cut = append(cut, [2]string{a, b})
			}
		}
	}
	for k, pair := range cut {
		if err := links.Cut(pair[0], pair[1]); err != nil {
			for _, done := range cut[:k] {
				_ = links.Heal(done[0], done[1])
			}
			return nil, err
		}
	}
	return func() {
		for _, pair := range cut {
			_ = links.Heal(pair[0], pair[1])
		}
	}, nil
}

// between reports whether from → to crosses the A|B divide (an empty b is A's complement).
func between(a, b []string, from, to string) bool {
	return slices.Contains(a, from) && inOrRest(b, a, to) || slices.Contains(a, to) && inOrRest(b, a, from)
}

// inOrRest reports whether n is in set, or, for an empty set, not in other.
func inOrRest(set, other []string, n string) bool {
	if len(set) == 0 {
		return !slices.Contains(other, n)
	}
	return slices.Contains(set, n)
}

func disjoint(a, b []string) error {
	if len(a) == 0 {
		return errors.New("partition with an empty side")
	}
	for _, n := range a {
		if slices.Contains(b, n) {
			return fmt.Errorf("node %q is on both sides of the partition", n)
		}
	}
	return nil
}

func orRest(set []string) any {
	if len(set) == 0 {
		return "rest"
	}
	return set
}

func typesAttr(a map[string]any, types []packet.Type) map[string]any {
	if len(types) > 0 {
		a["types"] = typeNames(types)
	}
	return a
}
