package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/sweep"
)

func (a *app) mergeCommand() *cobra.Command {
	var junitOut, summaryOut string
	cmd := &cobra.Command{
		Use:   "merge SUMMARY.json...",
		Short: "Combine the summaries of a sharded sweep into one verdict, one JUnit file and the failing seeds",
		Long: `merge reads the JSON summaries the shards of one sweep wrote (faultline sweep --shard k/n
--summary FILE) and prints one verdict and every failing seed with the commands that replay
and shrink it, as one unsharded sweep over the same seeds would. It refuses summaries of
different sweeps (files, their content, seeds, shard count) and names missing or duplicate
shards.

Exit codes: 0 every seed passed, 1 a seed failed, 2 invalid input (a missing or duplicate
shard, another sweep's summary), 3 no seed failed but a shard did not run all its seeds.`,
		Example: `  faultline merge shard-*.json --junit sweep.xml --summary sweep.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in []sweep.Named
			var bad []string
			for _, p := range args {
				data, err := os.ReadFile(p)
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", p, errors.Unwrap(err)))
					continue
				}
				s, err := sweep.ReadSummary(bytes.NewReader(data))
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", p, err))
					continue
				}
				in = append(in, sweep.Named{Name: p, Summary: s})
			}
			if len(bad) > 0 {
				return invalid("%s", strings.Join(bad, "\n"))
			}
			m, err := sweep.Merge(in)
			if err != nil {
				return invalid("merge: %v", err)
			}
			a.printMerged(m)
			if junitOut != "" {
				recs := make([]report.Record, len(m.Runs))
				for i, r := range m.Runs {
					recs[i] = r.Record
				}
				if err := a.writeFile(junitOut, "JUnit XML", func(b *bytes.Buffer) error { return report.WriteJUnitRecords(b, recs, report.JUnitOptions{}) }); err != nil {
					return err
				}
			}
			if summaryOut != "" {
				if err := a.writeFile(summaryOut, "summary", func(b *bytes.Buffer) error { return mergedSummary(m, in).Write(b) }); err != nil {
					return err
				}
			}
			switch m.Verdict {
			case sweep.VerdictFail:
				return &exitError{code: exitFailed}
			case sweep.VerdictIncomplete:
				return &exitError{code: exitIncomplete}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&junitOut, "junit", "", "write every shard's runs as one JUnit XML file")
	cmd.Flags().StringVar(&summaryOut, "summary", "", "write the merged summary (as of one unsharded sweep, shard 1/1) to this file")
	return cmd
}

func (a *app) printMerged(m *sweep.Merged) {
	what := fmt.Sprintf("seeds %d–%d of %s", m.From, m.From+uint64(m.Seeds)-1, m.Files[0].Scenario)
	if len(m.Files) > 1 {
		what = fmt.Sprintf("seeds %d–%d of %d files", m.From, m.From+uint64(m.Seeds)-1, len(m.Files))
	}
	fmt.Fprintf(a.stdout, "merged %s: %s, %d runs\n", plural(m.Shards, "shard"), what, m.Planned)
	for _, f := range m.Failures {
		if len(m.Files) > 1 {
			fmt.Fprintf(a.stdout, "%s: ", f.File)
		}
		a.printFailure(f)
	}
	for _, s := range m.Incomplete {
		fmt.Fprintf(a.stdout, "incomplete: %s\n", s)
	}
	switch m.Verdict {
	case sweep.VerdictPass:
		fmt.Fprintf(a.stdout, "PASS: %d/%d seeds passed\n", m.Ran, m.Planned)
	case sweep.VerdictIncomplete:
		fmt.Fprintf(a.stdout, "INCOMPLETE: %d of %d seeds run, none failed; %d not run\n", m.Ran, m.Planned, m.Planned-m.Ran)
	default:
		parts := make([]string, len(m.Failures))
		for i, f := range m.Failures {
			parts[i] = fmt.Sprint(f.Seed)
			if len(m.Files) > 1 {
				parts[i] = fmt.Sprintf("%s:%d", f.Scenario, f.Seed)
			}
		}
		notRun := ""
		if m.Ran < m.Planned {
			notRun = fmt.Sprintf(", %d not run", m.Planned-m.Ran)
		}
		fmt.Fprintf(a.stdout, "FAIL: %d/%d seeds passed%s; failing seeds: %s\n", m.Ran-len(m.Failures), m.Planned, notRun, strings.Join(parts, " "))
	}
}

// mergedSummary is the merge written as the summary of one whole sweep (shard 1/1), so a
// merged result reads like, and merges like, an unsharded one.
func mergedSummary(m *sweep.Merged, in []sweep.Named) *sweep.Summary {
	s := &sweep.Summary{Format: sweep.SummaryFormat, Shard: sweep.Whole, Files: m.Files, From: m.From, Seeds: m.Seeds,
		Planned: m.Planned, Ran: m.Ran, Complete: len(m.Incomplete) == 0, Verdict: m.Verdict, Runs: m.Runs, Failures: m.Failures}
	if s.Runs == nil {
		s.Runs = []sweep.RunEntry{}
	}
	if s.Failures == nil {
		s.Failures = []sweep.Failure{}
	}
	for _, n := range in {
		s.WallTime = max(s.WallTime, n.Summary.WallTime)
		if !n.Summary.Complete && s.StoppedBy == "" {
			s.StoppedBy, s.TimeBudget = n.Summary.StoppedBy, n.Summary.TimeBudget
		}
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
