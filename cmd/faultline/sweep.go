package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/sweep"
)

// Environment variables a Kubernetes Indexed Job (or any runner) may shard a sweep with.
const (
	envJobIndex = "JOB_COMPLETION_INDEX" // set by Kubernetes on each pod of an Indexed Job, from 0
	envShards   = "FAULTLINE_SHARDS"     // the number of shards, when --shards is not given
)

// sweepFlags are sweep's options.
type sweepFlags struct {
	seeds        int
	from         uint64
	parallel     int
	keepGoing    bool
	shard        string
	shards       int
	summary      string
	junit        string
	timeBudget   time.Duration
	saveDir      string
	noShrink     bool
	shrinkBudget int
}

func (a *app) sweepCommand() *cobra.Command {
	var fl sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep FILE|DIR... --seeds N",
		Short: "Run scenarios with N seeds each; print the failing seeds and the commands that replay them",
		Long: `sweep runs seeds --from … --from+N−1 of every file on every core, and prints the first
failing seed (every one with --keep-going) with the command that replays it.

A sweep shards across machines: --shard k/n (or JOB_COMPLETION_INDEX from 0 with --shards n or
FAULTLINE_SHARDS=n, as in a Kubernetes Indexed Job) runs every n-th run of the whole sweep
(files × seeds, dealt round-robin), implies --keep-going, and writes what --summary and
--junit ask; faultline merge puts the shards' summaries back together.

--time-budget stops starting new seeds when it is spent: the seeds done are reported and
written, the rest counted as not run. --save-failures DIR writes each failing seed, shrunk
(unless --no-shrink), as a scenario file with its seed: a corpus for faultline run DIR.

Exit codes: 0 every seed passed, 1 a seed failed, 2 invalid input or usage, 3 no seed failed
but not every seed ran (time budget), 130 interrupted.`,
		Example: `  faultline sweep scenarios/testdata/order-flow.yaml --seeds 200
  faultline sweep scenarios/testdata/nemesis/*.yaml --seeds 1000 --shard 2/4 --summary shard-2.json --junit shard-2.xml
  faultline sweep scenarios/testdata/nemesis/order-flow.yaml --seeds 100000 --time-budget 10m --summary s.json
  faultline sweep scenarios/testdata/nemesis/planted/order-flow-planted.yaml --seeds 20 --save-failures corpus/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sweep(cmd, args, fl)
		},
	}
	f := cmd.Flags()
	f.IntVar(&fl.seeds, "seeds", 100, "number of seeds to run (of each file)")
	f.Uint64Var(&fl.from, "from", 1, "first seed")
	f.IntVar(&fl.parallel, "parallel", 0, "runs at once (default: GOMAXPROCS)")
	f.BoolVar(&fl.keepGoing, "keep-going", false, "run every seed and list all failing ones (implied by a shard)")
	f.StringVar(&fl.shard, "shard", "", "run only shard k of n of the sweep, e.g. 2/4 (counted from 1)")
	f.IntVar(&fl.shards, "shards", 0, "the number of shards, this one's index from $"+envJobIndex+" (0-based; default $"+envShards+")")
	f.StringVar(&fl.summary, "summary", "", "write a JSON summary (every seed's verdict, the failing seeds with their replay and shrink commands) to this file")
	f.StringVar(&fl.junit, "junit", "", "write JUnit XML to this file: a testsuite per seed run, a testcase per check")
	f.DurationVar(&fl.timeBudget, "time-budget", 0, "start no new seed after this much wall time (e.g. 10m); the seeds done are kept")
	f.StringVar(&fl.saveDir, "save-failures", "", "write each failing seed as a (shrunk) scenario file into this directory")
	f.BoolVar(&fl.noShrink, "no-shrink", false, "with --save-failures: save failing seeds as they are, without shrinking")
	f.IntVar(&fl.shrinkBudget, "shrink-budget", scenarios.DefaultShrinkBudget, "with --save-failures: the most runs each shrink may take")
	return cmd
}

// resolveShard reads --shard, or --shards / FAULTLINE_SHARDS with JOB_COMPLETION_INDEX.
func resolveShard(cmd *cobra.Command, fl sweepFlags) (sweep.Shard, error) {
	total := fl.shards
	fromEnv := false
	if !cmd.Flags().Changed("shards") {
		if v := os.Getenv(envShards); v != "" {
			if _, err := fmt.Sscan(v, &total); err != nil {
				return sweep.Shard{}, fmt.Errorf("%s=%q is not a number", envShards, v)
			}
			fromEnv = true
		}
	}
	if fl.shard != "" {
		if cmd.Flags().Changed("shards") {
			return sweep.Shard{}, fmt.Errorf("give --shard k/n or --shards n (with $%s), not both", envJobIndex)
		}
		sh, err := sweep.ParseShard(fl.shard)
		if err != nil {
			return sweep.Shard{}, fmt.Errorf("--shard: %v", err)
		}
		return sh, nil
	}
	if total == 0 && !cmd.Flags().Changed("shards") {
		return sweep.Whole, nil
	}
	if total < 1 {
		return sweep.Shard{}, fmt.Errorf("--shards %d: want at least 1", total)
	}
	idx, ok := os.LookupEnv(envJobIndex)
	if !ok {
		src := "--shards"
		if fromEnv {
			src = envShards
		}
		return sweep.Shard{}, fmt.Errorf("%s %d needs $%s (set by a Kubernetes Indexed Job; elsewhere use --shard k/n)", src, total, envJobIndex)
	}
	return sweep.FromJobIndex(idx, total)
}

// kept is what a sweep holds of one run.
type kept struct {
	rec     report.Record
	problem string
}

func (a *app) sweep(cmd *cobra.Command, args []string, fl sweepFlags) error {
	defer sweep.TuneGC(a.scenarioLimits().WithDefaults().Memory)()
	if fl.seeds <= 0 {
		return invalid("--seeds must be at least 1")
	}
	if fl.timeBudget < 0 {
		return invalid("--time-budget %s: must not be negative", fl.timeBudget)
	}
	if fl.shrinkBudget < 1 || fl.shrinkBudget > scenarios.MaxShrinkBudget {
		return invalid("--shrink-budget must be between 1 and %d runs, got %d", scenarios.MaxShrinkBudget, fl.shrinkBudget)
	}
	if fl.noShrink && fl.saveDir == "" {
		return invalid("--no-shrink goes with --save-failures DIR")
	}
	shard, err := resolveShard(cmd, fl)
	if err != nil {
		return invalid("%v", err)
	}
	paths, err := expandScenarioArgs(args)
	if err != nil {
		return err
	}
	files, err := a.loadAll(paths)
	if err != nil {
		return err
	}
	if fl.saveDir != "" {
		if err := os.MkdirAll(fl.saveDir, 0o755); err != nil {
			return invalid("--save-failures: %v", err)
		}
	}
	plan := sweep.Plan{Files: len(files), From: fl.from, Seeds: fl.seeds, Shard: shard}
	items := plan.Items()
	// A shard cannot know what the others found, and a merged sweep must list the same
	// failures whichever shard ran first: a shard runs all its seeds.
	keepGoing := fl.keepGoing || shard.Sharded()
	// Records for JUnit and the summary are only built when asked: a passing run's record
	// costs a pass over its journal (the digest).
	records := fl.summary != "" || fl.junit != ""

	stop, release := interrupts()
	defer release()
	cfg := sweep.Config{Parallel: fl.parallel, KeepGoing: keepGoing, Interrupt: stop}
	start := time.Now()
	if fl.timeBudget > 0 {
		cfg.Deadline = start.Add(fl.timeBudget)
	}
	opts := scenarios.Options{Limits: a.scenarioLimits(), Interrupt: stop}
	out := sweep.Run(items, cfg, func(it sweep.Item) (*scenarios.Result, error) {
		o := opts
		o.Seed = &it.Seed
		return runScenario(*files[it.File].scenario, o)
	}, func(it sweep.Item, res *scenarios.Result) kept {
		f := files[it.File]
		k := kept{}
		if res.Pass && !records {
			k.rec = report.Record{Scenario: res.Scenario, File: f.path, Seed: res.Seed, Pass: true}
			return k
		}
		r := report.Run{File: f.path, Source: f.source, Scenario: f.scenario, Result: res, Replay: a.replayCommandFor(f.path, res.Seed)}
		k.rec = report.RecordOf(r, !res.Pass)
		if !res.Pass {
			k.problem = firstProblem(res)
		}
		return k
	})
	elapsed := time.Since(start)
	if out.Err != nil {
		return invalid("%v", out.Err)
	}

	sum := &sweep.Summary{Format: sweep.SummaryFormat, Shard: shard, From: fl.from, Seeds: fl.seeds,
		Planned: len(items), Ran: len(out.Done), Complete: len(out.Done) == len(items), StoppedBy: out.StoppedBy, Runs: []sweep.RunEntry{}, Failures: []sweep.Failure{}}
	if fl.timeBudget > 0 {
		sum.TimeBudget = fl.timeBudget.String()
	}
	for _, f := range files {
		sum.Files = append(sum.Files, sweep.FileInfo{Path: f.path, Scenario: f.scenario.Name, SHA256: report.Digest(f.source)})
	}
	for _, d := range out.Done {
		if records {
			sum.Runs = append(sum.Runs, sweep.NewRunEntry(d.Value.rec))
		}
		if d.Pass {
			continue
		}
		rec, path := d.Value.rec, files[d.Item.File].path
		sum.Failures = append(sum.Failures, sweep.Failure{File: path, Scenario: rec.Scenario, Seed: rec.Seed,
			FailedChecks: sweep.FailedChecks(rec), Problem: d.Value.problem, JournalEntries: rec.JournalEntries, JournalSHA256: rec.JournalSHA256,
			Replay: a.replayCommandFor(path, rec.Seed), Shrink: a.shrinkCommandFor(path, rec.Seed)})
	}
	sum.Verdict = sweep.VerdictOf(len(sum.Failures), sum.Complete)
	if fl.saveDir != "" && len(sum.Failures) > 0 {
		a.saveFailures(files, sum.Failures, fl, cfg.Parallel, stop)
	}
	sum.WallTime = elapsed

	for _, fa := range sum.Failures {
		a.printFailure(fa)
	}
	a.printSweepVerdict(sum, files, items, out, keepGoing, elapsed)
	if err := a.writeSweepOutputs(sum, fl); err != nil {
		return err
	}
	switch {
	case out.StoppedBy == sweep.StoppedByInterrupt:
		return &exitError{code: exitInterrupted}
	case len(sum.Failures) > 0:
		return &exitError{code: exitFailed}
	case !sum.Complete:
		return &exitError{code: exitIncomplete}
	}
	return nil
}

func (a *app) shrinkCommandFor(path string, seed uint64) string {
	return fmt.Sprintf("%s shrink %s --seed %d", a.prog, shellQuote(path), seed)
}

// printFailure prints a failing seed: its first failed check, its journal's identity and
// the command that replays it (and the corpus file it was saved as).
func (a *app) printFailure(f sweep.Failure) {
	fmt.Fprintf(a.stdout, "seed %d FAILED: %s\n", f.Seed, f.Problem)
	digest := f.JournalSHA256
	if len(digest) > 12 {
		digest = digest[:12]
	}
	fmt.Fprintf(a.stdout, "  journal: %d entries, sha256 %s\n", f.JournalEntries, digest)
	fmt.Fprintf(a.stdout, "replay: %s\n", f.Replay)
	fmt.Fprintf(a.stdout, "  shrink: %s\n", f.Shrink)
	switch {
	case f.Saved != "" && f.Shrunk:
		fmt.Fprintf(a.stdout, "  saved shrunk: %s\n", f.Saved)
	case f.Saved != "":
		fmt.Fprintf(a.stdout, "  saved: %s\n", f.Saved)
	}
	if f.SaveError != "" {
		fmt.Fprintf(a.stdout, "  not shrunk: %s\n", f.SaveError)
	}
}

// printSweepVerdict prints the closing line. An unsharded sweep of one file prints what
// sweep always printed; a shard or several files name the shard and the files.
func (a *app) printSweepVerdict(sum *sweep.Summary, files []loaded, items []sweep.Item, out sweep.Outcome[kept], keepGoing bool, elapsed time.Duration) {
	prefix := ""
	if sum.Shard.Sharded() {
		prefix = fmt.Sprintf("shard %s: ", sum.Shard)
	}
	what := fmt.Sprintf("seeds %d–%d of %s", sum.From, sum.From+uint64(sum.Seeds)-1, files[0].scenario.Name)
	if len(files) > 1 {
		what = fmt.Sprintf("seeds %d–%d of %d files", sum.From, sum.From+uint64(sum.Seeds)-1, len(files))
	}
	if sum.Shard.Sharded() {
		what += fmt.Sprintf("; this shard's %d of %d runs", sum.Planned, len(files)*sum.Seeds)
	}
	failing := func() string {
		parts := make([]string, len(sum.Failures))
		for i, f := range sum.Failures {
			parts[i] = fmt.Sprint(f.Seed)
			if len(files) > 1 {
				parts[i] = fmt.Sprintf("%s:%d", f.Scenario, f.Seed)
			}
		}
		return strings.Join(parts, " ")
	}
	wall := report.FormatWall(elapsed)
	switch out.StoppedBy {
	case sweep.StoppedByInterrupt:
		fmt.Fprintf(a.stdout, "interrupted: %d of %d seeds run, %d failed, in %s\n", sum.Ran, sum.Planned, len(sum.Failures), wall)
		return
	case sweep.StoppedByTimeBudget:
		next := items[sum.Ran]
		fmt.Fprintf(a.stdout, "%stime budget of %s spent: %d of %d seeds run (%s), %d failed, in %s; not run: %d, from %s seed %d\n",
			prefix, sum.TimeBudget, sum.Ran, sum.Planned, what, len(sum.Failures), wall, sum.Planned-sum.Ran, files[next.File].scenario.Name, next.Seed)
		return
	}
	switch {
	case len(sum.Failures) == 0:
		fmt.Fprintf(a.stdout, "%s%d/%d seeds passed (%s) in %s\n", prefix, sum.Ran, sum.Planned, what, wall)
	case keepGoing:
		fmt.Fprintf(a.stdout, "%s%d/%d seeds passed; failing seeds: %s (in %s)\n", prefix, sum.Ran-len(sum.Failures), sum.Planned, failing(), wall)
	default:
		fmt.Fprintf(a.stdout, "stopped at the first failure: %d seeds run, in %s\n", sum.Ran, wall)
	}
}

func (a *app) writeSweepOutputs(sum *sweep.Summary, fl sweepFlags) error {
	if fl.junit != "" {
		recs := make([]report.Record, len(sum.Runs))
		for i, r := range sum.Runs {
			recs[i] = r.Record
		}
		if err := a.writeFile(fl.junit, "JUnit XML", func(b *bytes.Buffer) error { return report.WriteJUnitRecords(b, recs, report.JUnitOptions{}) }); err != nil {
			return err
		}
	}
	if fl.summary != "" {
		return a.writeFile(fl.summary, "summary", func(b *bytes.Buffer) error { return sum.Write(b) })
	}
	return nil
}

// writeFile writes what fn renders to path, and says so on stderr.
func (a *app) writeFile(path, what string, fn func(*bytes.Buffer) error) error {
	var b bytes.Buffer
	if err := fn(&b); err != nil {
		return invalid("writing the %s: %v", what, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return invalid("writing the %s: %v", what, err)
	}
	fmt.Fprintf(a.stderr, "wrote the %s to %s\n", what, path)
	return nil
}

// firstProblem is the message of a failed run's first failed check (or its run error).
func firstProblem(res *scenarios.Result) string {
	if res.Error != "" {
		return "run error: " + res.Error
	}
	for _, c := range res.Checks {
		if !c.Pass {
			return c.Message()
		}
	}
	return "failed"
}

// savedName is the corpus file name of each swept file's failing seed K: <base>-seed<K>.yaml,
// with the file's position added where two swept files share a base name.
func savedNames(files []loaded) []string {
	count := map[string]int{}
	bases := make([]string, len(files))
	for i, f := range files {
		bases[i] = strings.TrimSuffix(filepath.Base(f.path), filepath.Ext(f.path))
		count[bases[i]]++
	}
	for i, b := range bases {
		if count[b] > 1 {
			bases[i] = fmt.Sprintf("%s-%d", b, i+1)
		}
	}
	return bases
}
