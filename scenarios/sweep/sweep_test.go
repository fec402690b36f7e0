package sweep

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/scenarios/report"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"1/1": Whole, "2/3": {2, 3}, " 3 / 3 ": {3, 3}} {
		got, err := ParseShard(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"2":     `"2" is not k/n (such as 2/3: the second of three shards)`,
		"a/3":   `"a/3" is not k/n (such as 2/3: the second of three shards)`,
		"0/3":   "shard 0 of 3: the shard is counted from 1 to 3",
		"4/3":   "shard 4 of 3: the shard is counted from 1 to 3",
		"1/0":   "0 shards: want between 1 and 100000",
		"1/1e9": `"1/1e9" is not k/n (such as 2/3: the second of three shards)`,
	} {
		_, err := ParseShard(in)
		assert.EqualError(t, err, msg, in)
	}
	sh, err := FromJobIndex("0", 4)
	require.NoError(t, err)
	assert.Equal(t, Shard{1, 4}, sh, "JOB_COMPLETION_INDEX counts from 0")
	sh, err = FromJobIndex("3", 4)
	require.NoError(t, err)
	assert.Equal(t, Shard{4, 4}, sh)
	_, err = FromJobIndex("4", 4)
	assert.EqualError(t, err, "JOB_COMPLETION_INDEX=4 is out of range for 4 shards (want 0 to 3)")
	_, err = FromJobIndex("x", 4)
	assert.EqualError(t, err, `JOB_COMPLETION_INDEX="x" is not a number`)
}

// TestPlanDealsRunsRoundRobin: the shards of a sweep own disjoint runs that together are the
// whole sweep, each a near-equal share of every file's seeds.
func TestPlanDealsRunsRoundRobin(t *testing.T) {
	p := Plan{Files: 2, From: 10, Seeds: 4, Shard: Shard{2, 3}}
	assert.Equal(t, []Item{{Pos: 1, File: 0, Seed: 11}, {Pos: 4, File: 1, Seed: 10}, {Pos: 7, File: 1, Seed: 13}}, p.Items())
	seen := map[int]int{}
	for k := 1; k <= 3; k++ {
		p.Shard = Shard{k, 3}
		for _, it := range p.Items() {
			seen[it.Pos]++
			assert.Equal(t, it.Pos, p.Pos(it.File, it.Seed))
		}
	}
	assert.Len(t, seen, 8)
	for pos, n := range seen {
		assert.Equal(t, 1, n, "position %d", pos)
	}
	p.Shard = Shard{}
	assert.Len(t, p.Items(), 8, "the zero shard is the whole sweep")
	assert.Equal(t, -1, p.Pos(0, 9))
	assert.Equal(t, -1, p.Pos(0, 14))
	assert.Equal(t, -1, p.Pos(2, 10))
}

func items(n int) []Item {
	return Plan{Files: 1, From: 1, Seeds: n}.Items()
}

// fakeRun passes every seed but those in fail; it counts the runs.
func fakeRun(fail map[uint64]bool, runs *atomic.Int64) func(Item) (*scenarios.Result, error) {
	return func(it Item) (*scenarios.Result, error) {
		runs.Add(1)
		return &scenarios.Result{Seed: it.Seed, Pass: !fail[it.Seed]}, nil
	}
}

func seeds(o Outcome[uint64]) []uint64 {
	var out []uint64
	for _, d := range o.Done {
		out = append(out, d.Value)
	}
	return out
}

func keepSeed(_ Item, r *scenarios.Result) uint64 { return r.Seed }

func TestRunStopsAtTheFirstFailureUnlessKeepGoing(t *testing.T) {
	var runs atomic.Int64
	o := Run(items(10), Config{Parallel: 1}, fakeRun(map[uint64]bool{4: true, 7: true}, &runs), keepSeed)
	assert.Equal(t, []uint64{1, 2, 3, 4}, seeds(o))
	assert.Equal(t, StoppedByFirstFailure, o.StoppedBy)
	assert.Equal(t, int64(4), runs.Load())

	runs.Store(0)
	o = Run(items(10), Config{Parallel: 3, KeepGoing: true}, fakeRun(map[uint64]bool{4: true, 7: true}, &runs), keepSeed)
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, seeds(o), "in sweep order, whatever order the workers finished in")
	assert.Empty(t, o.StoppedBy)
	assert.False(t, o.Done[3].Pass)
	assert.Equal(t, int64(10), runs.Load())

	// With many workers, runs past the first failure may be under way: they are dropped.
	o = Run(items(10), Config{Parallel: 4}, fakeRun(map[uint64]bool{2: true}, &runs), keepSeed)
	assert.Equal(t, []uint64{1, 2}, seeds(o))
}

// TestRunTimeBudgetKeepsTheSeedsDone: on a clock that advances a second per finished run, a
// 3 s budget starts exactly three runs; they are kept and the stop is reported.
func TestRunTimeBudgetKeepsTheSeedsDone(t *testing.T) {
	base := time.Unix(1000, 0)
	var runs atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(runs.Load()) * time.Second) }
	o := Run(items(10), Config{Parallel: 1, KeepGoing: true, Deadline: base.Add(3 * time.Second), Now: now},
		fakeRun(nil, &runs), keepSeed)
	assert.Equal(t, []uint64{1, 2, 3}, seeds(o))
	assert.Equal(t, StoppedByTimeBudget, o.StoppedBy)

	// A budget that is not reached leaves the sweep complete.
	runs.Store(0)
	o = Run(items(10), Config{Parallel: 2, KeepGoing: true, Deadline: base.Add(time.Hour), Now: now}, fakeRun(nil, &runs), keepSeed)
	assert.Len(t, o.Done, 10)
	assert.Empty(t, o.StoppedBy)
}

func TestRunInterruptAndErrors(t *testing.T) {
	stop := make(chan struct{})
	var runs atomic.Int64
	o := Run(items(10), Config{Parallel: 1, KeepGoing: true, Interrupt: stop}, func(it Item) (*scenarios.Result, error) {
		runs.Add(1)
		if it.Seed == 3 {
			close(stop)
			return &scenarios.Result{Seed: 3, Interrupted: true}, nil
		}
		return &scenarios.Result{Seed: it.Seed, Pass: true}, nil
	}, keepSeed)
	assert.Equal(t, []uint64{1, 2}, seeds(o), "the interrupted run is not a seed done")
	assert.Equal(t, StoppedByInterrupt, o.StoppedBy)

	o = Run(items(10), Config{Parallel: 1}, func(it Item) (*scenarios.Result, error) {
		if it.Seed == 2 {
			return nil, errors.New("bad scenario")
		}
		return &scenarios.Result{Seed: it.Seed, Pass: true}, nil
	}, keepSeed)
	assert.EqualError(t, o.Err, "bad scenario")
	assert.Equal(t, []uint64{1}, seeds(o))
}

// shardSummary is a summary of shard sh of a 1-file, 6-seed sweep in which seeds 2 and 5 fail.
func shardSummary(sh Shard) *Summary {
	p := Plan{Files: 1, From: 1, Seeds: 6, Shard: sh}
	s := &Summary{Format: SummaryFormat, Shard: sh, From: 1, Seeds: 6, Files: []FileInfo{{Path: "a.yaml", Scenario: "a", SHA256: "ab12"}}}
	for _, it := range p.Items() {
		pass := it.Seed != 2 && it.Seed != 5
		rec := report.Record{Scenario: "a", File: "a.yaml", Seed: it.Seed, Pass: pass,
			Checks: []check.Result{{Name: "c1", Pass: true, At: -1}, {Name: "c2", Pass: pass, At: -1}}}
		s.Runs = append(s.Runs, NewRunEntry(rec))
		if !pass {
			s.Failures = append(s.Failures, Failure{File: "a.yaml", Scenario: "a", Seed: it.Seed, FailedChecks: FailedChecks(rec)})
		}
	}
	s.Planned, s.Ran, s.Complete = len(s.Runs), len(s.Runs), true
	s.Verdict = VerdictOf(len(s.Failures), true)
	return s
}

func TestMergeGivesTheWholeSweep(t *testing.T) {
	whole := shardSummary(Whole)
	var in []Named
	for _, k := range []int{3, 1, 2} { // any order
		in = append(in, Named{Name: "s" + string(rune('0'+k)) + ".json", Summary: roundTrip(t, shardSummary(Shard{k, 3}))})
	}
	m, err := Merge(in)
	require.NoError(t, err)
	assert.Equal(t, VerdictFail, m.Verdict)
	assert.Equal(t, whole.Runs, m.Runs)
	assert.Equal(t, whole.Failures, m.Failures)
	assert.Equal(t, []string{"c2"}, m.Failures[0].FailedChecks)
	assert.Equal(t, 6, m.Planned)
	assert.Equal(t, 6, m.Ran)
	assert.Empty(t, m.Incomplete)

	// A shard stopped by its budget makes the merge incomplete (here with a failure: FAIL).
	short := shardSummary(Shard{2, 3})
	short.Runs, short.Failures = short.Runs[:1], short.Failures[:1]
	short.Ran, short.Complete, short.StoppedBy = 1, false, StoppedByTimeBudget
	m, err = Merge([]Named{{"s1", shardSummary(Shard{1, 3})}, {"s2", short}, {"s3", shardSummary(Shard{3, 3})}})
	require.NoError(t, err)
	assert.Equal(t, []string{"shard 2/3 (s2): time-budget after 1 of 2 runs"}, m.Incomplete)
	assert.Equal(t, VerdictFail, m.Verdict)
	assert.Equal(t, 5, m.Ran)
}

func roundTrip(t *testing.T, s *Summary) *Summary {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, s.Write(&b))
	out, err := ReadSummary(&b)
	require.NoError(t, err)
	return out
}

func TestMergeRefusesWhatIsNotOneSweep(t *testing.T) {
	s := func(k, n int) *Summary { return shardSummary(Shard{k, n}) }
	cases := []struct {
		in   []Named
		want string
	}{
		{[]Named{{"a", s(1, 3)}, {"c", s(3, 3)}}, "missing shard 2/3 (have 2 of 3)"},
		{[]Named{{"a", s(1, 2)}, {"b", s(1, 2)}, {"c", s(2, 2)}}, "shard 1/2 given 2 times: a, b"},
		{[]Named{{"a", s(1, 2)}, {"b", s(1, 2)}}, "shard 1/2 given 2 times: a, b; missing shard 2/2 (have 1 of 2)"},
		{[]Named{{"a", s(1, 2)}, {"b", s(2, 3)}}, "b is another sweep than a: 3 shards, not 2"},
		{nil, "no summaries to merge"},
	}
	for _, c := range cases {
		_, err := Merge(c.in)
		assert.EqualError(t, err, c.want)
	}
	other := s(2, 2)
	other.Files[0].SHA256 = "cd34"
	other.Seeds = 7
	_, err := Merge([]Named{{"a", s(1, 2)}, {"b", other}})
	assert.EqualError(t, err, "b is another sweep than a: seeds 1–7, not 1–6, files [a.yaml (sha256 cd34)], not [a.yaml (sha256 ab12)]")

	// A run the shard does not own (a summary edited, or of another partition).
	wrong := s(2, 2)
	wrong.Runs[0].Seed = 1
	_, err = Merge([]Named{{"a", s(1, 2)}, {"b", wrong}})
	assert.EqualError(t, err, "b: a.yaml seed 1 is not a run of shard 2/2")
}

func TestReadSummaryRefusesOtherJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"format": 2, "shard": {"index": 1, "total": 1}}`: "summary format 2, want 1 (written by another faultline version?)",
		`{"format": 1, "shard": {"index": 0, "total": 1}}`: "bad shard: shard 0 of 1: the shard is counted from 1 to 1",
		`{"format": 1, "shard": {"index": 1, "total": 1}}`: "no files or seeds: not a sweep summary",
		`{"testsuites": 1}`: `not a sweep summary: json: unknown field "testsuites"`,
		`<xml/>`:            "not a sweep summary: invalid character '<' looking for beginning of value",
	} {
		_, err := ReadSummary(strings.NewReader(in))
		assert.EqualError(t, err, want, in)
	}
}
