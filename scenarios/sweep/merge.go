package sweep

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Named is a summary and where it came from (for errors).
type Named struct {
	Name    string
	Summary *Summary
}

// Merged is the shards of one sweep put back together.
type Merged struct {
	Shards int
	Files  []FileInfo
	From   uint64
	Seeds  int
	// Planned and Ran add up the shards'.
	Planned, Ran int
	// Incomplete describes each shard that did not run all its seeds.
	Incomplete []string
	Verdict    string
	// Runs and Failures are every shard's, in sweep order (file by file, seed by seed), as
	// one unsharded sweep would list them.
	Runs     []RunEntry
	Failures []Failure
}

// Merge checks that the summaries are the shards of one sweep — the same files (path and
// content), seeds and shard count, every shard exactly once, every run in the shard that
// claims it — and combines them. Every problem is reported at once.
func Merge(in []Named) (*Merged, error) {
	if len(in) == 0 {
		return nil, errors.New("no summaries to merge")
	}
	ref := in[0].Summary
	var problems []string
	for _, n := range in[1:] {
		s := n.Summary
		var diff []string
		if s.Shard.Total != ref.Shard.Total {
			diff = append(diff, fmt.Sprintf("%d shards, not %d", s.Shard.Total, ref.Shard.Total))
		}
		if s.From != ref.From || s.Seeds != ref.Seeds {
			diff = append(diff, fmt.Sprintf("seeds %s, not %s", seedRange(s.From, s.Seeds), seedRange(ref.From, ref.Seeds)))
		}
		if !slices.Equal(s.Files, ref.Files) {
			diff = append(diff, fmt.Sprintf("files %s, not %s", fileList(s.Files), fileList(ref.Files)))
		}
		if len(diff) > 0 {
			problems = append(problems, fmt.Sprintf("%s is another sweep than %s: %s", n.Name, in[0].Name, strings.Join(diff, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}

	total := ref.Shard.Total
	byIndex := map[int][]string{}
	for _, n := range in {
		byIndex[n.Summary.Shard.Index] = append(byIndex[n.Summary.Shard.Index], n.Name)
	}
	var missing []string
	for k := 1; k <= total; k++ {
		names := byIndex[k]
		switch {
		case len(names) == 0:
			missing = append(missing, fmt.Sprintf("%d/%d", k, total))
		case len(names) > 1:
			problems = append(problems, fmt.Sprintf("shard %d/%d given %d times: %s", k, total, len(names), strings.Join(names, ", ")))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing shard %s (have %d of %d)", strings.Join(missing, ", "), len(byIndex), total))
	}

	fileIdx := map[string]int{}
	for i, f := range ref.Files {
		fileIdx[f.Path] = i
	}
	plan := Plan{Files: len(ref.Files), From: ref.From, Seeds: ref.Seeds}
	m := &Merged{Shards: total, Files: ref.Files, From: ref.From, Seeds: ref.Seeds}
	type posRun struct {
		pos int
		run RunEntry
	}
	var runs []posRun
	failPos := map[int]Failure{}
	for _, n := range in {
		s := n.Summary
		p := plan
		p.Shard = s.Shard
		if want := len(p.Items()); s.Planned != want {
			problems = append(problems, fmt.Sprintf("%s: shard %s owns %d runs, the summary says %d", n.Name, s.Shard, want, s.Planned))
		}
		owns := func(file string, seed uint64) (int, bool) {
			fi, ok := fileIdx[file]
			if !ok {
				return -1, false
			}
			pos := plan.Pos(fi, seed)
			return pos, pos >= 0 && s.Shard.Owns(pos)
		}
		for _, r := range s.Runs {
			pos, ok := owns(r.File, r.Seed)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: %s seed %d is not a run of shard %s", n.Name, r.File, r.Seed, s.Shard))
				continue
			}
			runs = append(runs, posRun{pos, r})
		}
		for _, f := range s.Failures {
			pos, ok := owns(f.File, f.Seed)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: failing %s seed %d is not a run of shard %s", n.Name, f.File, f.Seed, s.Shard))
				continue
			}
			failPos[pos] = f
		}
		m.Planned += s.Planned
		m.Ran += s.Ran
		if !s.Complete {
			why := s.StoppedBy
			if why == "" {
				why = "stopped early"
			}
			m.Incomplete = append(m.Incomplete, fmt.Sprintf("shard %s (%s): %s after %d of %d runs", s.Shard, n.Name, why, s.Ran, s.Planned))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].pos < runs[j].pos })
	for _, r := range runs {
		m.Runs = append(m.Runs, r.run)
	}
	poss := make([]int, 0, len(failPos))
	for p := range failPos {
		poss = append(poss, p)
	}
	sort.Ints(poss)
	for _, p := range poss {
		m.Failures = append(m.Failures, failPos[p])
	}
	sort.Strings(m.Incomplete)
	m.Verdict = VerdictOf(len(m.Failures), len(m.Incomplete) == 0)
	return m, nil
}

func seedRange(from uint64, n int) string {
	return fmt.Sprintf("%d–%d", from, from+uint64(n)-1)
}

func fileList(fs []FileInfo) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		sha := f.SHA256
		if len(sha) > 12 {
			sha = sha[:12]
		}
		parts[i] = fmt.Sprintf("%s (sha256 %s)", f.Path, sha)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
