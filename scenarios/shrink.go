package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Shrinking turns a failing run into the smallest scenario that still fails the same check,
// by delta debugging (Zeller's ddmin) over its faults, then over its workload entries, then
// by dropping nodes, shortening each fault, moving each fault later, and lowering client
// counts and calls per client. Every candidate is a full
// simulated run with the same seed, so the search is deterministic: the same failing run
// shrinks to the same file. A nemesis is first written out as the faults it drew, so what
// comes out is an ordinary scenario with a fixed schedule, ready to check in.

// DefaultShrinkBudget is the number of runs a shrink may take by default; MaxShrinkBudget
// caps what may be asked (each run is a whole simulation).
const (
	DefaultShrinkBudget = 200
	MaxShrinkBudget     = 5000
)

// ShrinkOptions tune a shrink.
type ShrinkOptions struct {
	// Check is the name of the check that must keep failing ("" the first failing one).
	Check string
	// Budget is the most runs tried (0: DefaultShrinkBudget; capped at MaxShrinkBudget).
	Budget int
	// Run options of every candidate run (Seed is ignored: the scenario's own is used).
	Run Options
}

// ShrinkResult is a shrink's outcome.
type ShrinkResult struct {
	// Scenario is the smallest failing scenario found (no nemesis, its seed set).
	Scenario Scenario
	// Check is the check it fails; Message that check's failure in the last run.
	Check   string
	Message string
	// Removed lists what was taken away or cut, in order ("removed fault \"nemesis 3: crash order-1\"", ...).
	Removed []string
	// Runs is the number of runs taken; Exhausted tells the budget stopped the search.
	Runs      int
	Exhausted bool
	// FaultsBefore and FaultsAfter count the schedule at the start and at the end.
	FaultsBefore, FaultsAfter int
}

// ErrPasses is returned by Shrink when the scenario does not fail to begin with.
var ErrPasses = errors.New("the run passes: nothing to shrink")

type shrinker struct {
	o      ShrinkOptions
	budget int
	res    ShrinkResult
	// deviates tells the original failure has an instant (check.Result.At): a candidate's
	// failure of the same check must have one too.
	deviates bool
	// changed tells the current pass kept a candidate; moved indexes the Removed line of
	// each fault moved later (by label), so a fault moved again keeps one line.
	changed bool
	moved   map[string]move
}

// move is where a fault started before it was first moved, and the line that says so.
type move struct {
	from time.Duration
	line int
}

// noteMoved records a fault moved later; a fault moved again keeps one line, from its
// first start to its last.
func (sh *shrinker) noteMoved(label string, from, to time.Duration) {
	if m, again := sh.moved[label]; again {
		sh.changed = true
		sh.res.Removed[m.line] = fmt.Sprintf("moved fault %q later, from +%s to +%s", label, m.from, to)
		return
	}
	if sh.moved == nil {
		sh.moved = map[string]move{}
	}
	sh.moved[label] = move{from: from, line: len(sh.res.Removed)}
	sh.note("moved fault %q later, from +%s to +%s", label, from, to)
}

// maxShrinkPasses bounds the passes over every step.
const maxShrinkPasses = 3

// note records a kept reduction.
func (sh *shrinker) note(format string, args ...any) {
	sh.changed = true
	sh.res.Removed = append(sh.res.Removed, fmt.Sprintf(format, args...))
}

// fails runs a candidate and tells whether it fails the target check.
func (sh *shrinker) fails(s Scenario) (bool, error) {
	if sh.res.Runs >= sh.budget {
		sh.res.Exhausted = true
		return false, nil
	}
	sh.res.Runs++
	o := sh.o.Run
	o.Seed, o.CheckDeterminism = nil, false
	r, err := Run(s, o)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return false, nil // a candidate the engine refuses is not a smaller failure
		}
		return false, err
	}
	if r.Error != "" || r.Interrupted {
		// A run that broke (a node it needs removed: seeding fails) fails its checks for
		// want of anything to check; that is not the failure being shrunk.
		return false, nil
	}
	for _, c := range r.Checks {
		if !c.Pass && (sh.o.Check == "" || c.Name == sh.o.Check) {
			if sh.o.Check == "" {
				sh.o.Check, sh.deviates = c.Name, c.At >= 0
			} else if sh.deviates && c.At < 0 {
				return false, nil // "nothing to check": vacuous, not the same failure
			}
			sh.res.Message = c.Message()
			return true, nil
		}
	}
	return false, nil
}

// Shrink searches for a smaller scenario that still fails the same check (see the comment
// above). The scenario runs with its own seed.
func Shrink(s Scenario, o ShrinkOptions) (*ShrinkResult, error) {
	sh := &shrinker{o: o, budget: o.Budget}
	if sh.budget <= 0 {
		sh.budget = DefaultShrinkBudget
	}
	if sh.budget > MaxShrinkBudget {
		return nil, fmt.Errorf("a budget of %d runs exceeds the cap of %d", sh.budget, MaxShrinkBudget)
	}
	if err := ValidateWith(&s, o.Run.baseCatalog(), o.Run.Limits); err != nil {
		return nil, err
	}
	cur := s.Materialize()
	sh.res.FaultsBefore = len(cur.Faults)
	ok, err := sh.fails(cur)
	if err != nil {
		return nil, err
	}
	if !ok {
		if sh.o.Check != "" {
			return nil, fmt.Errorf("check %q does not fail with seed %d: %w", sh.o.Check, s.Seed, ErrPasses)
		}
		return nil, fmt.Errorf("seed %d: %w", s.Seed, ErrPasses)
	}
	sh.res.Check = sh.o.Check

	// Every pass runs every step; a step's success can open the way for an earlier one (a
	// fault moved later may make another fault unnecessary), so passes repeat until one
	// changes nothing, the budget is spent, or maxShrinkPasses ran (later passes mostly
	// nudge faults a few milliseconds on).
	steps := []func(Scenario) (Scenario, error){sh.dropFaults, sh.dropWorkload, sh.dropNodes,
		sh.shortenFaults, sh.moveFaultsLater, sh.lowerClients, sh.lowerCounts}
	for range maxShrinkPasses {
		sh.changed = false
		for _, step := range steps {
			if cur, err = step(cur); err != nil {
				return nil, err
			}
		}
		if !sh.changed || sh.res.Exhausted {
			break
		}
	}
	// The message of the final scenario, not of the last candidate tried.
	if _, err := sh.rerun(cur); err != nil {
		return nil, err
	}
	sh.res.Scenario = cur
	sh.res.FaultsAfter = len(cur.Faults)
	return &sh.res, nil
}

// dropFaults keeps a 1-minimal subset of the faults (ddmin).
func (sh *shrinker) dropFaults(cur Scenario) (Scenario, error) {
	if len(cur.Faults) == 0 {
		return cur, nil
	}
	faults, err := ddmin(cur.Faults, func(fs []FaultSpec) (bool, error) {
		c := cur
		c.Faults = fs
		return sh.fails(c)
	})
	if err != nil {
		return cur, err
	}
	for _, f := range cur.Faults {
		if !slices.ContainsFunc(faults, func(g FaultSpec) bool { return g.Name == f.Name && g.Start == f.Start && g.Kind == f.Kind }) {
			sh.note("removed fault %q", faultLabel(f))
		}
	}
	cur.Faults = faults
	return cur, nil
}

// dropWorkload keeps a 1-minimal, non-empty subset of the workload entries (ddmin).
func (sh *shrinker) dropWorkload(cur Scenario) (Scenario, error) {
	if len(cur.Workload) <= 1 {
		return cur, nil
	}
	work, err := ddmin(cur.Workload, func(ws []WorkloadSpec) (bool, error) {
		if len(ws) == 0 {
			return false, nil
		}
		c := cur
		c.Workload = ws
		return sh.fails(c)
	})
	if err != nil {
		return cur, err
	}
	for _, w := range cur.Workload {
		if !slices.ContainsFunc(work, func(x WorkloadSpec) bool { return x.Name == w.Name && x.Action == w.Action && x.Start == w.Start }) {
			sh.res.Removed = append(sh.res.Removed, fmt.Sprintf("removed workload %q", workloadLabel(w)))
		}
	}
	cur.Workload = work
	return cur, nil
}

// dropNodes removes nodes one at a time, last first, keeping each removal that still fails.
// A node something still names (a workload's caller, a fault's target) makes the candidate
// invalid, which the engine refuses: that costs a run and keeps the node.
func (sh *shrinker) dropNodes(cur Scenario) (Scenario, error) {
	for i := len(cur.Nodes) - 1; i >= 0 && len(cur.Nodes) > 1; i-- {
		c := cur
		c.Nodes = slices.Delete(slices.Clone(cur.Nodes), i, i+1)
		ok, err := sh.fails(c)
		if err != nil {
			return cur, err
		}
		if ok {
			sh.note("removed node %q", cur.Nodes[i].ID)
			cur = c
		}
	}
	return cur, nil
}

// shortenFaults cuts each fault from the right: halves its duration while the failure holds.
func (sh *shrinker) shortenFaults(cur Scenario) (Scenario, error) {
	for i := range cur.Faults {
		for range 4 {
			f := cur.Faults[i]
			if f.Duration < 2*time.Millisecond || f.Every > 0 {
				break
			}
			c := cur
			c.Faults = slices.Clone(cur.Faults)
			c.Faults[i].Duration = (f.Duration / 2).Round(time.Millisecond)
			ok, err := sh.fails(c)
			if err != nil {
				return cur, err
			}
			if !ok {
				break
			}
			sh.note("shortened fault %q from %s to %s", faultLabel(f), f.Duration, c.Faults[i].Duration)
			cur = c
		}
	}
	return cur, nil
}

// laterSteps bounds the runs moveFaultsLater spends on one fault: the latest start first,
// then a bisection of what is left (to 1/8 of the room).
const laterSteps = 4

// moveFaultsLater shifts each fault's window (start and end together) as late as the failure
// allows, within the run: the failure then shows what must already have happened before the
// fault hits, and a fault that only needs to be "somewhere" ends up next to the deviation.
// It tries the latest start the run's duration leaves first, then bisects between the
// start known to fail and the one known to pass, to the millisecond. Recurring faults and
// faults lasting until the end stay where they are.
func (sh *shrinker) moveFaultsLater(cur Scenario) (Scenario, error) {
	for i := range cur.Faults {
		f := cur.Faults[i]
		if f.Every > 0 || f.Duration <= 0 {
			continue
		}
		lo, hi := f.Start, (cur.Duration - f.Duration).Truncate(time.Millisecond)
		if hi-lo < time.Millisecond {
			continue
		}
		try := func(start time.Duration) (bool, error) {
			c := cur
			c.Faults = slices.Clone(cur.Faults)
			c.Faults[i].Start = start
			return sh.fails(c)
		}
		ok, err := try(hi)
		if err != nil {
			return cur, err
		}
		if ok {
			lo = hi
		} else {
			for range laterSteps - 1 {
				mid := (lo + (hi-lo)/2).Round(time.Millisecond)
				if mid <= lo || mid >= hi {
					break
				}
				ok, err := try(mid)
				if err != nil {
					return cur, err
				}
				if ok {
					lo = mid
				} else {
					hi = mid
				}
			}
		}
		if lo > f.Start {
			cur.Faults = slices.Clone(cur.Faults)
			cur.Faults[i].Start = lo
			sh.noteMoved(faultLabel(f), f.Start, lo)
		}
	}
	return cur, nil
}

// lowerClients takes clients off each workload entry, one at a time, while the failure holds.
func (sh *shrinker) lowerClients(cur Scenario) (Scenario, error) {
	for i := range cur.Workload {
		for cur.Workload[i].Clients > 1 {
			c := cur
			c.Workload = slices.Clone(cur.Workload)
			c.Workload[i].Clients--
			ok, err := sh.fails(c)
			if err != nil {
				return cur, err
			}
			if !ok {
				break
			}
			sh.note("lowered the clients of workload %q from %d to %d", workloadLabel(cur.Workload[i]), cur.Workload[i].Clients, c.Workload[i].Clients)
			cur = c
		}
	}
	return cur, nil
}

// lowerCounts halves each workload entry's calls per client (count; an entry without one
// runs until its end and is left alone) while the failure holds.
func (sh *shrinker) lowerCounts(cur Scenario) (Scenario, error) {
	for i := range cur.Workload {
		for range 4 {
			n := cur.Workload[i].Count
			if n <= 1 {
				break
			}
			c := cur
			c.Workload = slices.Clone(cur.Workload)
			c.Workload[i].Count = n / 2
			ok, err := sh.fails(c)
			if err != nil {
				return cur, err
			}
			if !ok {
				break
			}
			sh.note("lowered the count of workload %q from %d to %d", workloadLabel(cur.Workload[i]), n, n/2)
			cur = c
		}
	}
	return cur, nil
}

// rerun runs the final scenario once more outside the budget, for its failure message.
func (sh *shrinker) rerun(s Scenario) (bool, error) {
	sh.budget++
	return sh.fails(s)
}

func faultLabel(f FaultSpec) string {
	if f.Name != "" {
		return f.Name
	}
	return f.Kind
}

func workloadLabel(w WorkloadSpec) string {
	if w.Name != "" {
		return w.Name
	}
	return w.Action + " from " + w.From
}

// ddmin is Zeller's delta debugging minimization: a 1-minimal subset of items for which
// fails holds (removing any one item of it makes fails false), found by trying chunks and
// their complements at finer and finer granularity. The empty set is tried first.
func ddmin[T any](items []T, fails func([]T) (bool, error)) ([]T, error) {
	if ok, err := fails(nil); err != nil || ok {
		return nil, err
	}
	c := slices.Clone(items)
	n := 2
	for len(c) >= 2 {
		chunks := split(c, n)
		reduced := false
		for _, ch := range chunks {
			ok, err := fails(ch)
			if err != nil {
				return nil, err
			}
			if ok {
				c, n, reduced = ch, 2, true
				break
			}
		}
		if !reduced && n > 2 {
			for i := range chunks {
				var comp []T
				for j, ch := range chunks {
					if j != i {
						comp = append(comp, ch...)
					}
				}
				ok, err := fails(comp)
				if err != nil {
					return nil, err
				}
				if ok {
					c, n, reduced = comp, max(n-1, 2), true
					break
				}
			}
		}
		if !reduced {
			if n >= len(c) {
				break
			}
			n = min(2*n, len(c))
		}
	}
	return c, nil
}

// split cuts items into n chunks of near-equal size, in order.
func split[T any](items []T, n int) [][]T {
	out := make([][]T, 0, n)
	start := 0
	for i := range n {
		end := start + (len(items)-start)/(n-i)
		out = append(out, slices.Clone(items[start:end]))
		start = end
	}
	return out
}
