package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/sweep"
)

// A regression corpus is a directory of scenario files, each a failure a sweep once found
// (sweep --save-failures DIR), shrunk and carrying its seed. `faultline run DIR` runs them
// all: while the bug is there they fail; once fixed they pass, and keep it fixed.

// expandScenarioArgs turns each directory argument into the scenario files (*.yaml, *.yml)
// directly in it, sorted; files are kept as given. An empty directory is an error: a corpus
// that silently runs nothing gates nothing.
func expandScenarioArgs(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil || !st.IsDir() {
			out = append(out, arg) // a file, or a missing path the loader reports
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(arg, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, invalid("%s: no scenario files (*.yaml, *.yml) in the directory", arg)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// saveFailures writes each failing seed into fl.saveDir as a scenario file with its seed:
// shrunk (the failures shrink in parallel, each within fl.shrinkBudget runs) unless
// fl.noShrink, else — or when shrinking cannot keep the failure, e.g. a run error that no
// check names — the whole scenario with its nemesis written out as the faults it drew, so
// the file replays that very run even if the nemesis's drawing changes later.
func (a *app) saveFailures(files []loaded, failures []sweep.Failure, fl sweepFlags, parallel int, stop <-chan struct{}) {
	names := savedNames(files)
	index := map[string]int{}
	for i, f := range files {
		index[f.path] = i
	}
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(failures)) {
		wg.Go(func() {
			for i := range work {
				fa := &failures[i]
				fi := index[fa.File]
				out := filepath.Join(fl.saveDir, fmt.Sprintf("%s-seed%d.yaml", names[fi], fa.Seed))
				a.saveFailure(files[fi], fa, out, fl, stop)
			}
		})
	}
	for i := range failures {
		work <- i
	}
	close(work)
	wg.Wait()
}

func (a *app) saveFailure(f loaded, fa *sweep.Failure, out string, fl sweepFlags, stop <-chan struct{}) {
	s := *f.scenario
	s.Seed = fa.Seed
	if !fl.noShrink {
		r, err := scenarios.Shrink(s, scenarios.ShrinkOptions{Budget: fl.shrinkBudget,
			Run: scenarios.Options{Limits: a.scenarioLimits(), Interrupt: stop}})
		switch {
		case interrupted(stop):
			fa.SaveError = "interrupted while shrinking"
		case err != nil:
			fa.SaveError = err.Error()
		default:
			if err := a.writeShrunk(out, f.path, fa.Seed, r); err != nil {
				fa.SaveError = err.Error()
				return
			}
			fa.Saved, fa.Shrunk = out, true
			return
		}
	}
	m := s.Materialize()
	m.Description = fmt.Sprintf("seed %d of %s: %s", fa.Seed, f.path, fa.Problem)
	body, err := file.Marshal(&m)
	if err != nil {
		fa.SaveError = strings.TrimPrefix(fa.SaveError+"; "+err.Error(), "; ")
		return
	}
	header := fmt.Sprintf("# Saved by: %s sweep --save-failures (not shrunk)\n# Fails: %s\n# Replay: %s\n\n",
		a.prog, strings.ReplaceAll(fa.Problem, "\n", " "), a.replayCommandFor(out, fa.Seed))
	if err := os.WriteFile(out, append([]byte(header), body...), 0o644); err != nil {
		fa.SaveError = err.Error()
		return
	}
	fa.Saved = out
}
