// Package sweep runs many seeds of scenario files and accounts for them: which runs a shard
// of a sweep owns (so a CI matrix or a Kubernetes Indexed Job spreads one sweep over many
// machines), the workers that run them with a time budget, the JSON summary every shard
// writes, and the merge of those summaries into one verdict.
//
// It owns no output format but its summary: the CLI prints, writes JUnit (through
// scenarios/report's Record) and shrinks failing seeds. A sweep is deterministic in what it
// runs — the same files, seeds and shard give the same runs, each replayable from its seed —
// though not in how long it takes, so a time budget may stop it at a different seed.
package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of a sweep: Index of Total, counted from 1 (as in --shard 2/3).
// The zero Shard means the whole sweep (1/1).
type Shard struct {
	Index int `json:"index"`
	Total int `json:"total"`
}

// Whole is the unsharded sweep.
var Whole = Shard{Index: 1, Total: 1}

// MaxShards bounds Total: more shards than this is a typo, not a CI matrix.
const MaxShards = 100000

// ParseShard reads "k/n" (1 ≤ k ≤ n).
func ParseShard(s string) (Shard, error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not k/n (such as 2/3: the second of three shards)", s)
	}
	k, err1 := strconv.Atoi(strings.TrimSpace(ks))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%q is not k/n (such as 2/3: the second of three shards)", s)
	}
	return NewShard(k, n)
}

// NewShard checks k of n.
func NewShard(k, n int) (Shard, error) {
	switch {
	case n < 1 || n > MaxShards:
		return Shard{}, fmt.Errorf("%d shards: want between 1 and %d", n, MaxShards)
	case k < 1 || k > n:
		return Shard{}, fmt.Errorf("shard %d of %d: the shard is counted from 1 to %d", k, n, n)
	}
	return Shard{Index: k, Total: n}, nil
}

// FromJobIndex is the shard of a Kubernetes Indexed Job's pod: JOB_COMPLETION_INDEX counts
// from 0, so index i of n is shard i+1 of n.
func FromJobIndex(index string, n int) (Shard, error) {
	i, err := strconv.Atoi(strings.TrimSpace(index))
	if err != nil {
		return Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%q is not a number", index)
	}
	if i < 0 || i >= n {
		return Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%d is out of range for %d shards (want 0 to %d)", i, n, n-1)
	}
	return NewShard(i+1, n)
}

func (s Shard) norm() Shard {
	if s.Total == 0 {
		return Whole
	}
	return s
}

func (s Shard) String() string {
	s = s.norm()
	return fmt.Sprintf("%d/%d", s.Index, s.Total)
}

// Sharded tells whether the shard is a part of a sweep (not the whole).
func (s Shard) Sharded() bool { return s.norm().Total > 1 }

// Owns tells whether the run at position i of the whole sweep belongs to this shard. Runs are
// dealt round-robin: shard k of n takes positions k−1, k−1+n, k−1+2n, … Since positions run
// file by file and seed by seed within a file, every shard gets a near-equal share of every
// file's seeds, whatever the files cost.
func (s Shard) Owns(i int) bool {
	s = s.norm()
	return i%s.Total == s.Index-1
}

// Item is one run of a sweep: a file and a seed, and its position in the whole sweep.
type Item struct {
	// Pos is the position in the whole sweep: File×Seeds + (Seed − From).
	Pos  int
	File int
	Seed uint64
}

// Plan is a sweep: seeds From … From+Seeds−1 of each of Files files, of which Shard runs
// its share.
type Plan struct {
	Files int
	From  uint64
	Seeds int
	Shard Shard
}

// Items are the runs the shard owns, in order (file by file, seed by seed).
func (p Plan) Items() []Item {
	var out []Item
	for f := range p.Files {
		for s := range p.Seeds {
			pos := f*p.Seeds + s
			if p.Shard.Owns(pos) {
				out = append(out, Item{Pos: pos, File: f, Seed: p.From + uint64(s)})
			}
		}
	}
	return out
}

// Pos is the position of a file's seed in the whole sweep, or -1 if the seed is not in it.
func (p Plan) Pos(file int, seed uint64) int {
	if file < 0 || file >= p.Files || seed < p.From || seed-p.From >= uint64(p.Seeds) {
		return -1
	}
	return file*p.Seeds + int(seed-p.From)
}
