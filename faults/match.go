package faults

import (
	"errors"
	"fmt"
	"slices"

	"github.com/faultline/faultline/broker/packet"
)

// Match selects deliveries by sender, receiver and packet type. An empty list matches
// anything, so the zero Match matches every delivery.
type Match struct {
	From  []string      `json:"from,omitempty" yaml:"from,omitempty"`
	To    []string      `json:"to,omitempty" yaml:"to,omitempty"`
	Types []packet.Type `json:"types,omitempty" yaml:"types,omitempty"`
}

// Matches reports whether a delivery from → to of type t is selected.
func (m Match) Matches(from, to string, t packet.Type) bool {
	return anyOf(m.From, from) && anyOf(m.To, to) && (len(m.Types) == 0 || slices.Contains(m.Types, t))
}

func anyOf(set []string, s string) bool { return len(set) == 0 || slices.Contains(set, s) }

func (m Match) validate() error { return validTypes(m.Types) }

func (m Match) attrs(a map[string]any) map[string]any {
	if len(m.From) > 0 {
		a["from"] = m.From
	}
	if len(m.To) > 0 {
		a["to"] = m.To
	}
	if len(m.Types) > 0 {
		a["types"] = typeNames(m.Types)
	}
	return a
}

func validTypes(ts []packet.Type) error {
	for _, t := range ts {
		if !t.Valid() {
			return fmt.Errorf("unknown packet type %q", t)
		}
	}
	return nil
}

func typeNames(ts []packet.Type) []string {
	out := make([]string, len(ts))
	for k, t := range ts {
		out[k] = string(t)
	}
	return out
}

func validRate(r float64) error {
	if r < 0 || r > 1 || r != r {
		return fmt.Errorf("rate %v is not within [0, 1]", r)
	}
	return nil
}

var errNoNet = errors.New("network fault without the in-memory network (Targets.Net; tiers sim and real have it): on real links only two-way partitions apply")
