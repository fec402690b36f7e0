package main

// faultline repl and faultline debug: Moleculer's REPL on a live NATS cluster, and the same
// REPL on a seeded run stopped in the simulator (package repl does the commands).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/repl"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/report"
)

// scriptFlags are how a session gets its commands other than from a terminal.
type scriptFlags struct {
	commands []string
	script   string
}

func (f *scriptFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.commands, "command", "c", nil, "run this command and leave (repeatable; exit 1 at the first that fails)")
	cmd.Flags().StringVar(&f.script, "script", "", "run the commands of this file, one per line, and leave (exit 1 at the first that fails)")
}

// lines returns the scripted commands, or nil when the session is interactive.
func (f *scriptFlags) lines() ([]string, bool, error) {
	if len(f.commands) > 0 && f.script != "" {
		return nil, false, errors.New("give -c or --script, not both")
	}
	if f.script != "" {
		data, err := os.ReadFile(f.script)
		if err != nil {
			return nil, false, fmt.Errorf("--script: %v", errors.Unwrap(err))
		}
		return strings.Split(string(data), "\n"), true, nil
	}
	return f.commands, len(f.commands) > 0, nil
}

func (a *app) replCommand() *cobra.Command {
	var (
		nf       natsFlags
		sf       scriptFlags
		id       string
		cacher   string
		withMet  bool
		wait     time.Duration
		tier     string
		dbg      debugFlags
		tmout    time.Duration
		startDur time.Duration
	)
	cmd := &cobra.Command{
		Use:   "repl --nats URL | repl --tier sim FILE",
		Short: "Moleculer's REPL: call, emit, nodes, services, actions, events, cache, metrics, bench",
		Long: `repl joins a NATS cluster (Faultline or Moleculer JS nodes) as a node of its own and opens
Moleculer's REPL on it: call ACTION JSON [--meta JSON], dcall NODE ACTION JSON, emit and
broadcast EVENT JSON, nodes, services, actions, events, info, cache keys|get|del|clear,
metrics [NAME], bench ACTION JSON --time 5s. Type help for the list; Tab completes
commands, actions, events and node IDs.

With --tier sim FILE it is faultline debug FILE: the same REPL on a seeded run stopped in
the simulator.

-c CMD (repeatable) or --script FILE runs the commands and leaves, with exit code 1 at the
first that fails: a smoke check for CI. Commands piped on stdin run the same way.`,
		Example: `  faultline repl --nats nats://127.0.0.1:4222
  faultline repl --nats nats://127.0.0.1:4222 -c 'call product.list {}' -c 'nodes'
  faultline repl --tier sim scenarios/testdata/breaker-cycle.yaml --at 8s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch tier {
			case "sim":
				if len(args) != 1 {
					return invalid("faultline repl --tier sim needs a scenario FILE")
				}
				return a.debug(args[0], dbg, sf)
			case "", "live":
			default:
				return invalid("faultline repl: unknown tier %q (live with --nats, or sim FILE)", tier)
			}
			if len(args) > 0 {
				return invalid("faultline repl: a FILE needs --tier sim (or use faultline debug FILE)")
			}
			lines, scripted, err := sf.lines()
			if err != nil {
				return invalid("faultline repl: %v", err)
			}
			if id == "" {
				host, _ := os.Hostname()
				id = fmt.Sprintf("repl-%s-%d", host, os.Getpid())
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			opts := broker.Options{NodeID: id, Namespace: nf.namespace, Runtime: rt.NewReal(), Transporter: nf.transport(log),
				Logger: log, RequestTimeout: tmout}
			if cacher != "" {
				c, err := openCacher(cmd.Context(), cacher, nf.namespace, nf.connectTimeout)
				if err != nil {
					return failed("faultline repl: --cacher %s: %v", cacher, err)
				}
				defer c.Close()
				opts.Cacher = c
			}
			if withMet {
				opts = metrics.New(metrics.Options{}).Instrument(opts)
			}
			b, err := broker.New(opts)
			if err != nil {
				return invalid("faultline repl: %v", err)
			}
			if err := b.Start(); err != nil {
				return failed("faultline repl: cannot join NATS at %s: %v", nf.url, err)
			}
			defer b.Stop()
			// Discovery is asynchronous: the nodes answer our DISCOVER one INFO each. Wait
			// (up to --discover) until some have and no new one has come for a moment, so
			// that a script's first nodes or actions sees the cluster (a call also waits
			// for its action).
			deadline, seen, quietSince := time.Now().Add(startDur), 0, time.Now()
			for time.Now().Before(deadline) {
				if n := len(b.Nodes()); n != seen {
					seen, quietSince = n, time.Now()
				} else if seen > 1 && time.Since(quietSince) >= discoveryQuiet {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			s := repl.New(repl.Live{Broker: b, Wait: wait}, a.stdout)
			return a.interact(s, lines, scripted)
		},
	}
	nf.add(cmd)
	sf.add(cmd)
	dbg.add(cmd)
	f := cmd.Flags()
	f.StringVar(&tier, "tier", "", `"sim" to debug a scenario FILE in the simulator (faultline debug); default: a live cluster on --nats`)
	f.StringVar(&id, "id", "", "this node's ID (default repl-<host>-<pid>)")
	f.StringVar(&cacher, "cacher", "", `this node's cacher for the cache commands: "memory" or redis://host:port/db`)
	f.BoolVar(&withMet, "metrics", false, "collect this node's metrics (the metrics command)")
	f.DurationVar(&wait, "wait", 5*time.Second, "how long a call waits for a node serving its action")
	f.DurationVar(&startDur, "discover", 3*time.Second, "longest wait at start for the cluster's nodes to introduce themselves")
	f.DurationVar(&tmout, "timeout", 10*time.Second, "call timeout")
	return cmd
}

// discoveryQuiet is how long no new node may appear before the REPL takes discovery as done.
const discoveryQuiet = 300 * time.Millisecond

// debugFlags are faultline debug's.
type debugFlags struct {
	seed    int64
	at      time.Duration
	from    string
	journal string
}

func (f *debugFlags) add(cmd *cobra.Command) {
	cmd.Flags().Int64Var(&f.seed, "seed", -1, "the seed to run (default: the file's)")
	cmd.Flags().DurationVar(&f.at, "at", 0, "run up to this instant of virtual time before the first prompt")
	cmd.Flags().StringVar(&f.from, "from", "", "the node commands act through (default: the scenario's first node)")
	cmd.Flags().StringVar(&f.journal, "journal", "", "at the end, write the run's journal with the commands typed (faultline replay repeats them)")
}

func (a *app) debugCommand() *cobra.Command {
	var (
		df debugFlags
		sf scriptFlags
	)
	cmd := &cobra.Command{
		Use:   "debug FILE [--seed K] [--at 13s]",
		Short: "Stop a seeded run in the simulator and inspect it: the REPL plus breakers, inflight, faults, journal, step, until",
		Long: `debug runs the scenario in the simulator up to --at and opens the REPL on the frozen
cluster. Nothing moves while you look: breakers (state, counts, window end, next deadline
per caller and endpoint), inflight (pending requests and their remaining budgets), faults
(active and scheduled), journal [N | --since 10s | --kind breaker], cache keys, nodes,
actions... Then move the run: step (the next journal entry), until EXPR (e.g. until
breaker gateway product-1:product.get open), advance 1s, continue (to the end, with the
verdict).

call, emit, bench and cache del/clear typed at the prompt run inside the simulation at the
current instant: a probe of the system mid-fault. Each is journaled as an intervention;
with --journal FILE the run is written at the end (run to its end first if need be), and
faultline replay FILE repeats the commands at the same scheduler steps, byte for byte.
The journal before the first intervention is the plain run's.`,
		Example: `  faultline debug scenarios/testdata/breaker-cycle.yaml --at 7s
  faultline debug scenarios/testdata/breaker-cycle.yaml -c 'until breaker gateway product-1:product.get open' -c breakers -c continue`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.debug(args[0], df, sf) },
	}
	df.add(cmd)
	sf.add(cmd)
	return cmd
}

func (a *app) debug(path string, df debugFlags, sf scriptFlags) error {
	lines, scripted, err := sf.lines()
	if err != nil {
		return invalid("faultline debug: %v", err)
	}
	l, ok := a.parse(path)
	if !ok {
		return &exitError{code: exitInvalid}
	}
	o := scenarios.Options{Limits: a.scenarioLimits()}
	if df.seed >= 0 {
		seed := uint64(df.seed)
		o.Seed = &seed
	}
	d, err := scenarios.Debug(*l.scenario, o)
	if err != nil {
		return invalid("%s: %v", path, err)
	}
	defer d.Close()
	from := df.from
	if from == "" {
		from = l.scenario.Nodes[0].ID
	}
	s, err := repl.NewDebug(d, from, a.stdout)
	if err != nil {
		return invalid("faultline debug: --from: %v", err)
	}
	if df.at > 0 {
		if err := d.RunTo(df.at); err != nil {
			return failed("faultline debug: %v", err)
		}
	}
	fmt.Fprintf(a.stdout, "%s seed %d stopped at %s; type help, or continue\n", d.Scenario().Name, d.Scenario().Seed, repl.Stamp(d.Now()))
	runErr := a.interact(s, lines, scripted)
	if df.journal != "" {
		if err := writeDebugJournal(df.journal, l, d); err != nil {
			return failed("faultline debug: --journal: %v", err)
		}
		fmt.Fprintf(a.stdout, "journal written to %s (replay: %s replay %s)\n", df.journal, a.prog, shellQuote(df.journal))
	}
	return runErr
}

// writeDebugJournal writes the debugged run as faultline run --journal does, with the
// interventions in its header; an unfinished run is run to its end first.
func writeDebugJournal(path string, l loaded, d *scenarios.Debugger) error {
	res, err := d.Continue()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	werr := report.WriteJournal(f, []report.Run{{File: l.path, Source: l.source, Scenario: l.scenario, Result: res}})
	return errors.Join(werr, f.Close())
}

// interact runs a session: the scripted lines (stopping at the first failure), else a line
// editor on a terminal, else the lines of stdin as a script.
func (a *app) interact(s *repl.Session, lines []string, scripted bool) error {
	if !scripted && !readline.DefaultIsTerminal() {
		var err error
		if lines, err = readLines(os.Stdin); err != nil {
			return failed("reading commands from stdin: %v", err)
		}
		scripted = true
	}
	if scripted {
		for _, line := range lines {
			if strings.TrimSpace(line) == "" {
				continue
			}
			fmt.Fprintf(a.stdout, "%s%s\n", s.Prompt(), line)
			err := s.Exec(line)
			if errors.Is(err, repl.ErrQuit) {
				return nil
			}
			if err != nil {
				return &exitError{code: exitFailed}
			}
		}
		return nil
	}
	home, _ := os.UserHomeDir()
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          s.Prompt(),
		HistoryFile:     filepath.Join(home, ".faultline_history"),
		AutoComplete:    completer{s},
		InterruptPrompt: "^C",
		EOFPrompt:       "quit",
		Stdout:          a.stdout,
		Stderr:          a.stderr,
	})
	if err != nil {
		return failed("cannot open the line editor: %v", err)
	}
	defer rl.Close()
	for {
		rl.SetPrompt(s.Prompt())
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return nil
		}
		if errors.Is(s.Exec(line), repl.ErrQuit) {
			return nil
		}
	}
}

func readLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// completer adapts the session's completions to readline: it returns the rest of each
// candidate after the word being typed.
type completer struct{ s *repl.Session }

func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	partial := before[strings.LastIndexAny(before, " \t")+1:]
	var out [][]rune
	for _, w := range c.s.Complete(before) {
		out = append(out, []rune(strings.TrimPrefix(w, partial)+" "))
	}
	return out, len([]rune(partial))
}

// replayDebugged runs a debugged run again: its interventions at their steps, then to the end.
func replayDebugged(s scenarios.Scenario, o scenarios.Options, ivs []scenarios.Intervention) (*scenarios.Result, error) {
	d, err := scenarios.Debug(s, o)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return repl.Replay(d, ivs, io.Discard)
}
