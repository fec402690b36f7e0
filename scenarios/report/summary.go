package report

import (
	"fmt"
	"github.com/faultline/faultline/scenarios"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// SummaryOptions tune the text summary.
type SummaryOptions struct {
	// Quiet prints only the verdict line, the failed checks and the replay command.
	Quiet bool
	// MaxEvents bounds the timeline (default 24); the middle is elided.
	MaxEvents int
}

// Verdict is "PASS" or "FAIL".
// VerdictOf is a run's verdict: PASS, FAIL, or INTERRUPTED for a run stopped by a signal
// (its checks then judge a partial journal).
func VerdictOf(res *scenarios.Result) string {
	if res.Interrupted {
		return "INTERRUPTED"
	}
	return Verdict(res.Pass)
}

func Verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func passedChecks(r Run) int {
	n := 0
	for _, c := range r.Result.Checks {
		if c.Pass {
			n++
		}
	}
	return n
}

// FormatWall rounds a wall time for people.
func FormatWall(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// WriteSummary prints a readable account of one run: the verdict, the checks, a compact
// timeline of faults, breaker states and node membership, and virtual against wall time.
func WriteSummary(w io.Writer, r Run, o SummaryOptions) {
	res := r.Result
	where := ""
	if r.File != "" {
		where = "  " + r.File
	}
	fmt.Fprintf(w, "%s  %s  seed %d%s\n", VerdictOf(res), res.Scenario, res.Seed, where)
	if res.Error != "" {
		fmt.Fprintf(w, "  run error: %s\n", res.Error)
	}
	if res.Interrupted {
		fmt.Fprintf(w, "  interrupted at +%s of virtual time: the checks below judge a partial run\n", res.VirtualTime)
	}
	if o.Quiet {
		for _, c := range res.Checks {
			if !c.Pass {
				fmt.Fprintf(w, "  %s\n", c.Message())
			}
		}
		if !res.Pass && r.Replay != "" {
			fmt.Fprintf(w, "  replay: %s\n", r.Replay)
		}
		return
	}
	if r.Scenario != nil && r.Scenario.Description != "" {
		fmt.Fprintf(w, "  %s\n", strings.Join(strings.Fields(r.Scenario.Description), " "))
	}
	fmt.Fprintf(w, "  checks: %d/%d passed\n", passedChecks(r), len(res.Checks))
	for _, c := range res.Checks {
		fmt.Fprintf(w, "    %s\n", c.Message())
	}
	tl := BuildTimeline(res.Journal, res.VirtualTime)
	if len(tl.Events) > 0 {
		fmt.Fprintln(w, "  timeline:")
		maxEv := o.MaxEvents
		if maxEv <= 0 {
			maxEv = 24
		}
		evs := tl.Events
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, e := range evs {
			if len(evs) > maxEv && i == maxEv-4 {
				fmt.Fprintf(tw, "    …\t%d more\t(see --report for the full timeline)\n", len(evs)-maxEv+1)
			}
			if len(evs) > maxEv && i >= maxEv-4 && i < len(evs)-3 {
				continue
			}
			fmt.Fprintf(tw, "    +%s\t%s\t%s\n", e.T.Round(time.Millisecond), e.What, e.Text)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "  time: %s virtual in %s wall (%s) · journal: %d entries, sha256 %s\n",
		res.VirtualTime, FormatWall(res.WallTime), ratio(res.VirtualTime, res.WallTime), len(res.Journal), res.JournalDigest()[:12])
	if res.Deterministic != nil {
		if *res.Deterministic {
			fmt.Fprintln(w, "  determinism: a second run with the same seed gave a byte-identical journal")
		} else {
			fmt.Fprintln(w, "  determinism: a second run with the same seed DIVERGED (see the determinism check)")
		}
	}
	if !res.Pass && r.Replay != "" {
		fmt.Fprintf(w, "  replay: %s\n", r.Replay)
	}
}

func ratio(virtual, wall time.Duration) string {
	if wall <= 0 {
		return "∞×"
	}
	return fmt.Sprintf("%.0f×", float64(virtual)/float64(wall))
}

// WriteTable prints the closing pass/fail table of a set of runs and the "N passed, M
// failed" line.
func WriteTable(w io.Writer, runs []Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSEED\tVERDICT\tCHECKS\tVIRTUAL\tWALL\tFILE")
	passed, failed := 0, 0
	for _, r := range runs {
		res := r.Result
		if res.Pass {
			passed++
		} else {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\n", res.Scenario, res.Seed, VerdictOf(res), passedChecks(r), len(res.Checks),
			res.VirtualTime, FormatWall(res.WallTime), r.File)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
}
