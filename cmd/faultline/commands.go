package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/realtier/proctier"
	"github.com/faultline/faultline/repl"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/schema"
	"github.com/faultline/faultline/testutil"
)

// loaded is a scenario file read and validated.
type loaded struct {
	path     string
	source   []byte
	scenario *scenarios.Scenario
}

// loadAll reads every file; all problems of all files are printed, and any makes it fail
// with exit code 2.
func (a *app) loadAll(paths []string) ([]loaded, error) {
	var out []loaded
	bad := 0
	for _, p := range paths {
		l, ok := a.parse(p)
		if !ok {
			bad++
			continue
		}
		out = append(out, l)
	}
	if bad > 0 {
		return nil, invalid("%d of %d scenario files invalid; nothing was run", bad, len(paths))
	}
	return out, nil
}

// parse reads and decodes one scenario file; a problem is printed (file:line:column) and
// reported as !ok.
func (a *app) parse(p string) (loaded, bool) {
	limits := a.scenarioLimits()
	data, err := file.ReadLimited(p, limits.FileSize)
	var fe *file.Error
	if errors.As(err, &fe) {
		fmt.Fprintln(a.stderr, err)
		return loaded{}, false
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", p, errors.Unwrap(err))
		return loaded{}, false
	}
	s, err := file.ParseWith(p, data, file.Options{Limits: limits, Tier: a.tier})
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return loaded{}, false
	}
	return loaded{path: p, source: data, scenario: s}, true
}

func (a *app) replayCommandFor(path string, seed uint64) string {
	return fmt.Sprintf("%s run --seed %d %s", a.prog, seed, shellQuote(path))
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runScenario runs one scenario; a panic in the engine becomes a failed run, not a crash.
func runScenario(s scenarios.Scenario, o scenarios.Options) (res *scenarios.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = &scenarios.Result{Scenario: s.Name, Seed: s.Seed, Error: fmt.Sprintf("internal error: panic: %v", r)}, nil
			if o.Seed != nil {
				res.Seed = *o.Seed
			}
		}
	}()
	return scenarios.Run(s, o)
}

func (a *app) runCommand() *cobra.Command {
	var (
		seed                    uint64
		journalOut, junitOut    string
		reportOut               string
		checkDeterminism, quiet bool
		tier                    string
		tolerance               time.Duration
		metricsDir, tracesOut   string
		logOut, logFormat       string
		logLevels               string
		printSched              bool
	)
	cmd := &cobra.Command{
		Use:   "run FILE|DIR...",
		Short: "Run scenario files and print a summary per scenario and a pass/fail table",
		Example: `  faultline run scenarios/testdata/*.yaml
  faultline run --seed 17 --journal out.jsonl --junit out.xml --report out.html scenarios/testdata/order-flow.yaml
  faultline run --tier real --tolerance 500ms scenarios/testdata/process/breaker.yaml
  faultline run --tier wall --tolerance 250ms scenarios/testdata/retry-backoff.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := expandScenarioArgs(args)
			if err != nil {
				return err
			}
			if !testutil.KnownTier(tier) {
				return invalid("--tier %q: want one of %s", tier, tierNames())
			}
			tier = testutil.CanonicalTier(tier)
			a.tier = tier // the real tier refuses, at their lines, what it cannot run
			files, err := a.loadAll(args)
			if err != nil {
				return err
			}
			if printSched {
				var sp *uint64
				if cmd.Flags().Changed("seed") {
					sp = &seed
				}
				return a.printSchedule(files, sp)
			}
			stop, release := interrupts()
			defer release()
			opts := scenarios.Options{CheckDeterminism: checkDeterminism, Limits: a.scenarioLimits(), Interrupt: stop,
				Tier: tier, Tolerance: tolerance, Metrics: metricsDir != "", Traces: tracesOut != ""}
			simulated := tier == "" || tier == testutil.TierSim
			if tier == proctier.ContainersName {
				if err := proctier.DockerAvailable(); err != nil {
					return invalid("--tier containers: %v", err)
				}
			}
			if checkDeterminism && !simulated {
				return invalid("--check-determinism needs the simulator (--tier sim): only there does a seed replay")
			}
			if tolerance < 0 {
				return invalid("--tolerance %s: must not be negative", tolerance)
			}
			closeLog, err := a.openLog(&opts, logOut, logFormat, logLevels)
			if err != nil {
				return err
			}
			defer closeLog()
			if cmd.Flags().Changed("seed") {
				opts.Seed = &seed
			}
			var progress *progressLine
			if errFile, ok := a.stderr.(*os.File); ok && !quiet && isTerminal(errFile) {
				progress = &progressLine{w: errFile}
				opts.Progress = progress.update
			}
			var runs []report.Run
			for i, f := range files {
				res, err := runScenario(*f.scenario, opts)
				if progress != nil {
					progress.clear()
				}
				if err != nil {
					return invalid("%s: %v", f.path, err)
				}
				r := report.Run{File: f.path, Source: f.source, Scenario: f.scenario, Result: res}
				if simulated {
					// Off the simulator a seed does not replay a run, so there is no command to offer.
					r.Replay = a.replayCommandFor(f.path, res.Seed)
				}
				runs = append(runs, r)
				if i > 0 && !quiet {
					fmt.Fprintln(a.stdout)
				}
				report.WriteSummary(a.stdout, r, report.SummaryOptions{Quiet: quiet})
				if res.Interrupted {
					break
				}
			}
			if err := a.writeOutputs(runs, journalOut, junitOut, reportOut); err != nil {
				return err
			}
			if err := a.writeObservations(runs, metricsDir, tracesOut); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout)
			report.WriteTable(a.stdout, runs)
			if interrupted(stop) {
				return &exitError{code: exitInterrupted, msg: fmt.Sprintf("interrupted: %d of %d scenarios run, the last one partly; partial results printed and written", len(runs), len(files))}
			}
			for _, r := range runs {
				if !r.Result.Pass {
					return &exitError{code: exitFailed}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&seed, "seed", 0, "run with this seed instead of each scenario's own")
	f.StringVar(&journalOut, "journal", "", "write the journals as JSON lines to this file (replayable with faultline replay)")
	f.StringVar(&junitOut, "junit", "", "write JUnit XML to this file: one testcase per check")
	f.StringVar(&reportOut, "report", "", "write a self-contained HTML report to this file")
	f.BoolVar(&checkDeterminism, "check-determinism", false, "run each scenario twice and fail unless the journals are byte-identical")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only verdicts, failed checks and the final table")
	f.StringVar(&tier, "tier", testutil.TierSim, "where the nodes run: sim (virtual time, replayable), real (every serving node a faultline node process on real NATS and Redis, faults by Toxiproxy; also called process), containers (real, with NATS and Redis in Docker), wall (wall clock, real goroutines and timers, in this process) or nats (in this process, each node on a nats-server of its own)")
	f.DurationVar(&tolerance, "tolerance", 0, "least tolerance of every expected instant (breaker and membership transitions, timeouts); give one with --tier real, e.g. 500ms")
	f.StringVar(&metricsDir, "metrics", "", "write each run's Prometheus metrics (every node's, text format) to DIR/<scenario>.seed-<seed>.prom")
	f.StringVar(&logOut, "log", "", "write every node's log lines to this file, with virtual timestamps")
	f.StringVar(&logFormat, "log-format", "full", "log formatter: full, short, simple or json")
	f.StringVar(&logLevels, "log-level", "*=info", "log level per module, e.g. '*=warn,BROKER=info,PRODUCT=debug' (fatal, error, warn, info, debug, trace, off)")
	f.StringVar(&tracesOut, "traces", "", "write every run's spans to this file as OTLP JSON (importable by Jaeger and OpenTelemetry collectors)")
	f.BoolVar(&printSched, "print-schedule", false, "print each file's fault schedule for its seed (a nemesis's draw included) as a faults: block, and run nothing")
	return cmd
}

// tierNames lists the tiers --tier takes, aliases with what they stand for.
func tierNames() string {
	names := testutil.Tiers()
	aliases := testutil.TierAliases()
	for _, a := range slices.Sorted(maps.Keys(aliases)) {
		names = append(names, a+" (= "+aliases[a]+")")
	}
	return strings.Join(names, ", ")
}

func (a *app) writeOutputs(runs []report.Run, journalOut, junitOut, reportOut string) error {
	write := func(path, what string, fn func(*bytes.Buffer) error) error {
		if path == "" {
			return nil
		}
		return a.writeFile(path, what, fn)
	}
	if err := write(journalOut, "journal", func(b *bytes.Buffer) error { return report.WriteJournal(b, runs) }); err != nil {
		return err
	}
	if err := write(junitOut, "JUnit XML", func(b *bytes.Buffer) error { return report.WriteJUnit(b, runs, report.JUnitOptions{}) }); err != nil {
		return err
	}
	return write(reportOut, "HTML report", func(b *bytes.Buffer) error { return report.WriteHTML(b, runs, report.HTMLOptions{}) })
}

func (a *app) validateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR... [--tier real]",
		Short: "Check scenario files without running them (problems as file:line:column)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !testutil.KnownTier(a.tier) {
				return invalid("--tier %q: want one of %s", a.tier, tierNames())
			}
			args, err := expandScenarioArgs(args)
			if err != nil {
				return err
			}
			bad := 0
			for _, p := range args {
				l, ok := a.parse(p)
				if !ok {
					bad++
					continue
				}
				s := l.scenario
				fmt.Fprintf(a.stdout, "ok  %s  (%s: %d nodes, %d workloads, %d faults, %d checks)\n",
					p, s.Name, len(s.Nodes), len(s.Workload), len(s.Faults), len(s.Checks))
			}
			if bad > 0 {
				return invalid("%d of %d files invalid", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&a.tier, "tier", "", "also refuse what this tier cannot carry out (real: faults and checks the real tier cannot express)")
	return cmd
}

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR|FILE...]",
		Short: "List scenario files (default: scenarios/testdata) with their descriptions",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{filepath.Join("scenarios", "testdata")}
			}
			var paths []string
			for _, arg := range args {
				st, err := os.Stat(arg)
				if err != nil {
					return invalid("%s: %v", arg, errors.Unwrap(err))
				}
				if !st.IsDir() {
					paths = append(paths, arg)
					continue
				}
				for _, pat := range []string{"*.yaml", "*.yml"} {
					m, _ := filepath.Glob(filepath.Join(arg, pat))
					paths = append(paths, m...)
				}
			}
			sort.Strings(paths)
			if len(paths) == 0 {
				return invalid("no scenario files (*.yaml, *.yml) in %s", strings.Join(args, ", "))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tNAME\tSEED\tDESCRIPTION")
			bad := 0
			for _, p := range paths {
				data, err := file.ReadLimited(p, a.scenarioLimits().FileSize)
				if err != nil && !errors.As(err, new(*file.Error)) {
					return invalid("%s: %v", p, errors.Unwrap(err))
				}
				var s *scenarios.Scenario
				if err == nil {
					s, err = file.ParseWith(p, data, file.Options{Limits: a.scenarioLimits()})
				}
				if err != nil {
					bad++
					first := err.Error()
					if i := strings.IndexByte(first, '\n'); i >= 0 {
						first = first[:i]
					}
					fmt.Fprintf(tw, "%s\t-\t-\tINVALID: %s\n", p, strings.TrimPrefix(first, p+":"))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p, s.Name, s.Seed, file.Description(data))
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "%d scenario files, %d invalid\n", len(paths), bad)
			return nil
		},
	}
}

func (a *app) replayCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "replay JOURNAL",
		Short: "Re-run the scenarios recorded in a journal (faultline run --journal) and compare byte for byte",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return invalid("%s: %v", args[0], errors.Unwrap(err))
			}
			defer f.Close()
			recs, err := report.ReadJournal(f)
			if err != nil {
				return invalid("%s: %v", args[0], err)
			}
			differ := 0
			for _, rec := range recs {
				m := rec.Meta
				name := m.File
				if name == "" {
					name = m.Scenario
				}
				if report.Digest([]byte(m.Source)) != m.SourceSHA256 {
					return invalid("%s:%d: the recorded scenario source does not match its sha256", args[0], rec.Line)
				}
				s, err := file.ParseWith(name, []byte(m.Source), file.Options{Limits: a.scenarioLimits()})
				if err != nil {
					fmt.Fprintln(a.stderr, err)
					return invalid("%s:%d: the recorded scenario is not valid any more", args[0], rec.Line)
				}
				note := ""
				if m.File != "" {
					if cur, err := os.ReadFile(m.File); err == nil && report.Digest(cur) != m.SourceSHA256 {
						note = " (the file has changed since; replaying the recorded source)"
					}
				}
				if m.Interrupted {
					differ++
					fmt.Fprintf(a.stdout, "replay %s  seed %d\n  NOT REPLAYED: the recorded run was interrupted; run it whole with: %s\n",
						m.Scenario, m.Seed, a.replayCommandFor(name, m.Seed))
					continue
				}
				seed := m.Seed
				var res *scenarios.Result
				if len(m.Interventions) > 0 {
					res, err = replayDebugged(*s, scenarios.Options{Seed: &seed, Limits: a.scenarioLimits()}, m.Interventions)
				} else {
					res, err = runScenario(*s, scenarios.Options{Seed: &seed, Limits: a.scenarioLimits()})
				}
				if err != nil {
					return invalid("%s: %v", name, err)
				}
				fmt.Fprintf(a.stdout, "replay %s  seed %d%s\n", m.Scenario, m.Seed, note)
				if len(m.Interventions) > 0 {
					fmt.Fprintf(a.stdout, "  with %d interventions typed in faultline debug, repeated at their steps:\n", len(m.Interventions))
					for _, iv := range m.Interventions {
						fmt.Fprintf(a.stdout, "    %s step %d on %s: %s\n", repl.Stamp(iv.At), iv.Step, iv.Node, iv.Command)
					}
				}
				idx, want, got := report.Diff(rec.Lines, res.Journal)
				switch {
				case idx < 0 && len(rec.Lines) != m.Entries:
					differ++
					fmt.Fprintf(a.stdout, "  DIFFERENT: the journal holds %d entries, its header says %d (truncated file?)\n", len(rec.Lines), m.Entries)
				case idx < 0:
					fmt.Fprintf(a.stdout, "  IDENTICAL: %d entries, byte for byte (sha256 %s); verdict %s as recorded\n",
						len(res.Journal), res.JournalDigest()[:12], report.Verdict(res.Pass))
				default:
					differ++
					fmt.Fprintf(a.stdout, "  DIFFERENT: first differing entry is #%d (journal line %d)\n", idx+1, rec.Line+1+idx)
					fmt.Fprintf(a.stdout, "    recorded: %s\n    replayed: %s\n", orNone(want), orNone(got))
					fmt.Fprintf(a.stdout, "  verdict: recorded %s, replayed %s\n", report.Verdict(m.Pass), report.Verdict(res.Pass))
				}
			}
			if differ > 0 {
				return failed("%d of %d runs differ from the journal", differ, len(recs))
			}
			return nil
		},
	}
}

func orNone(b []byte) string {
	if b == nil {
		return "(no entry)"
	}
	const max = 400
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

func (a *app) schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of scenario files (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.stdout.Write(schema.JSON)
			return err
		},
	}
}
