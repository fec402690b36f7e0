package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/sweep"
)

// printSchedule prints each file's whole fault schedule for its seed (the fixed faults and
// the ones its nemesis draws) as a faults: block, and runs nothing.
func (a *app) printSchedule(files []loaded, seed *uint64) error {
	for i, f := range files {
		s := *f.scenario
		if seed != nil {
			s.Seed = *seed
		}
		body, err := file.MarshalFaults(s.Schedule())
		if err != nil {
			return invalid("%s: %v", f.path, err)
		}
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "# %s, seed %d: %d faults\n%s", f.path, s.Seed, len(s.Schedule()), body)
	}
	return nil
}

func (a *app) shrinkCommand() *cobra.Command {
	var (
		seed        uint64
		budget      int
		checkName   string
		out         string
		showVerbose bool
	)
	cmd := &cobra.Command{
		Use:   "shrink FILE --seed K",
		Short: "Shrink a failing run to the smallest scenario that still fails the same check, written as a file",
		Long: `shrink runs FILE with seed K, which must fail, then searches for a smaller scenario that
fails the same check: it writes a nemesis out as the faults it drew, drops faults and workload
entries (delta debugging), shortens the faults left and lowers client counts, re-running the
simulation for every candidate (deterministic; at most --budget runs). It writes the smallest
failing scenario, with its seed, as a valid scenario file and prints what it removed.`,
		Example: `  faultline shrink scenarios/testdata/nemesis/order-flow.yaml --seed 3 -o order-flow-seed3.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("seed") {
				return invalid("--seed is required: the seed of the failing run")
			}
			if budget < 0 || budget > scenarios.MaxShrinkBudget {
				return invalid("--budget must be between 1 and %d runs, got %d", scenarios.MaxShrinkBudget, budget)
			}
			defer sweep.TuneGC(a.scenarioLimits().WithDefaults().Memory)()
			files, err := a.loadAll(args)
			if err != nil {
				return err
			}
			f := files[0]
			s := *f.scenario
			s.Seed = seed
			if out == "" {
				base := strings.TrimSuffix(filepath.Base(f.path), filepath.Ext(f.path))
				out = fmt.Sprintf("%s-seed%d-shrunk.yaml", base, seed)
			}
			r, err := scenarios.Shrink(s, scenarios.ShrinkOptions{Check: checkName, Budget: budget, Run: scenarios.Options{Limits: a.scenarioLimits()}})
			if errors.Is(err, scenarios.ErrPasses) {
				return failed("%s: %v", f.path, err)
			}
			if err != nil {
				return invalid("%s: %v", f.path, err)
			}
			if err := a.writeShrunk(out, f.path, seed, r); err != nil {
				return invalid("%v", err)
			}
			fmt.Fprintf(a.stdout, "%s seed %d fails %q\n", f.path, seed, r.Check)
			fmt.Fprintf(a.stdout, "shrunk in %d runs: faults %d → %d, workload entries %d → %d\n", r.Runs, r.FaultsBefore, r.FaultsAfter,
				len(f.scenario.Workload), len(r.Scenario.Workload))
			if r.Exhausted {
				fmt.Fprintf(a.stdout, "the budget of %d runs ran out: the result is smaller, maybe not minimal (raise --budget)\n", budget)
			}
			if showVerbose || len(r.Removed) <= 40 {
				for _, line := range r.Removed {
					fmt.Fprintf(a.stdout, "  %s\n", line)
				}
			} else {
				fmt.Fprintf(a.stdout, "  removed %d items (-v lists them)\n", len(r.Removed))
			}
			for _, ft := range r.Scenario.Faults {
				fmt.Fprintf(a.stdout, "  kept fault %q (%s at +%s for %s)\n", ft.Name, ft.Kind, ft.Start, ft.Duration)
			}
			fmt.Fprintf(a.stdout, "wrote %s\nreplay: %s\n", out, a.replayCommandFor(out, seed))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&seed, "seed", 0, "the seed of the failing run (required)")
	fl.IntVar(&budget, "budget", scenarios.DefaultShrinkBudget, "the most simulation runs the search may take")
	fl.StringVar(&checkName, "check", "", "the check that must keep failing (default: the run's first failing check)")
	fl.StringVarP(&out, "output", "o", "", "the file to write (default: <name>-seed<K>-shrunk.yaml)")
	fl.BoolVarP(&showVerbose, "verbose", "v", false, "list everything removed, however long")
	return cmd
}

// writeShrunk writes a shrink's result to out as a scenario file with its seed, headed by
// how it was made and the command that replays it.
func (a *app) writeShrunk(out, from string, seed uint64, r *scenarios.ShrinkResult) error {
	r.Scenario.Description = fmt.Sprintf("shrunk from %s seed %d: fails %q", from, seed, r.Check)
	body, err := file.Marshal(&r.Scenario)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Shrunk by: %s\n# %d runs; faults %d → %d. Still fails: %s\n# Replay: %s\n\n",
		a.shrinkCommandFor(from, seed), r.Runs, r.FaultsBefore, r.FaultsAfter, r.Message, a.replayCommandFor(out, seed))
	return os.WriteFile(out, append([]byte(header), body...), 0o644)
}
