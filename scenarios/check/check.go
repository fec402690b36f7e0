// Package check holds the scenario checkers. A checker reads a run's journal — nothing else
// — and says whether a resilience promise held. A failing check states what was expected,
// what happened, and the virtual time of the first deviation, so a reader can go straight to
// that instant in the journal.
package check

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker/journal"
)

// Checker is one verifiable promise.
type Checker interface {
	// Name identifies the check in reports ("steady-state during", "breaker a:inv.get", ...).
	Name() string
	Check(entries []journal.Entry) Result
}

// Result is a checker's verdict.
type Result struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	// At is the virtual time of the first deviation (a failing check), or -1.
	At time.Duration `json:"at"`
	// Visualization is a self-contained HTML page that shows a failure, for reports to embed:
	// the linearizable check's is porcupine's view of the violating history. Nil when the
	// check passed or has none; not part of the JSON form (it is large, and derived).
	Visualization []byte `json:"-"`
}

// Message renders a result on one line.
func (r Result) Message() string {
	if r.Pass {
		return fmt.Sprintf("PASS %s: %s", r.Name, r.Actual)
	}
	at := ""
	if r.At >= 0 {
		at = fmt.Sprintf(" (first deviation at +%s)", r.At)
	}
	return fmt.Sprintf("FAIL %s: expected %s, got %s%s", r.Name, r.Expected, r.Actual, at)
}

func pass(name, expected, actual string) Result {
	return Result{Name: name, Pass: true, Expected: expected, Actual: actual, At: -1}
}

func fail(name, expected, actual string, at time.Duration) Result {
	return Result{Name: name, Expected: expected, Actual: actual, At: at}
}

// Window is a half-open interval [From, To) of virtual time; To 0 means "until the end".
type Window struct {
	From, To time.Duration
}

func (w Window) contains(t time.Duration) bool {
	return t >= w.From && (w.To == 0 || t < w.To)
}

func (w Window) String() string {
	if w.To == 0 {
		return fmt.Sprintf("[+%s, end)", w.From)
	}
	return fmt.Sprintf("[+%s, +%s)", w.From, w.To)
}

// call is a finished logical call, as the caller saw it.
type call struct {
	start, end time.Duration
	ok         bool
	err        string
	action     string
	node       string
}

// rootCalls returns finished level-1 calls (the workload's own calls), optionally of one
// action and from one node.
func rootCalls(entries []journal.Entry, action, node string) []call {
	var out []call
	for _, e := range entries {
		if e.Kind != journal.CallFinished || e.Int("level") != 1 {
			continue
		}
		if action != "" && e.Str("action") != action {
			continue
		}
		if node != "" && e.Node != node {
			continue
		}
		d := e.Dur("duration")
		out = append(out, call{start: e.T - d, end: e.T, ok: e.Bool("ok"), err: e.Str("error"), action: e.Str("action"), node: e.Node})
	}
	return out
}

// SteadyState checks the workload's success rate and latency in a window of virtual time
// (by call start): before, during or after a fault.
type SteadyState struct {
	Label          string // e.g. "before", "during", "after"
	Window         Window
	Action         string // "" = every action
	From           string // caller node; "" = any
	MinSuccessRate float64
	// MaxP99 bounds the 99th percentile latency; 0 = unchecked.
	MaxP99 time.Duration
	// Tolerance widens MaxP99 off the simulator: a latency is the distance between two
	// instants that scheduling and load move, as they move a breaker's transitions.
	Tolerance time.Duration
	// MinCalls guards against a vacuous pass (default 1).
	MinCalls int
}

func (s SteadyState) Name() string {
	n := "steady-state"
	if s.Label != "" {
		n += " " + s.Label
	}
	if s.Action != "" {
		n += " " + s.Action
	}
	return n
}

func (s SteadyState) Check(entries []journal.Entry) Result {
	var in []call
	for _, c := range rootCalls(entries, s.Action, s.From) {
		if s.Window.contains(c.start) {
			in = append(in, c)
		}
	}
	minCalls := max(s.MinCalls, 1)
	expected := fmt.Sprintf("success rate ≥ %s", pct(s.MinSuccessRate))
	maxP99 := s.MaxP99 + s.Tolerance
	if s.MaxP99 > 0 {
		expected += fmt.Sprintf(" and p99 ≤ %s", s.MaxP99)
		if s.Tolerance > 0 {
			expected += fmt.Sprintf(" (+%s tolerance)", s.Tolerance)
		}
	}
	expected += " in " + s.Window.String()
	if len(in) < minCalls {
		return fail(s.Name(), expected+fmt.Sprintf(" over at least %d calls", minCalls), fmt.Sprintf("%d calls", len(in)), s.Window.From)
	}
	ok := 0
	firstFail := time.Duration(-1)
	lat := make([]time.Duration, 0, len(in))
	for _, c := range in {
		if c.ok {
			ok++
		} else if firstFail < 0 {
			firstFail = c.end
		}
		lat = append(lat, c.end-c.start)
	}
	rate := float64(ok) / float64(len(in))
	p99 := percentile(lat, 0.99)
	actual := fmt.Sprintf("success rate %s (%d/%d), p99 %s", pct(rate), ok, len(in), p99)
	if rate+1e-12 < s.MinSuccessRate {
		return fail(s.Name(), expected, actual, firstFail)
	}
	if s.MaxP99 > 0 && p99 > maxP99 {
		at := time.Duration(-1)
		for _, c := range in {
			if c.end-c.start > maxP99 {
				at = c.end
				break
			}
		}
		return fail(s.Name(), expected, actual, at)
	}
	return pass(s.Name(), expected, actual)
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", f*100) }

// percentile uses the nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(rank, 0)]
}

// Transition is one expected breaker state change.
type Transition struct {
	To string        // "open", "half-open", "closed" (and "half-open-wait" if IncludeWait)
	At time.Duration // expected virtual time
	// Tolerance, when positive, replaces the check's tolerance for this transition: a
	// transition that waits on the network lands within a round trip of its cause, one set by
	// a timer at the exact instant.
	Tolerance time.Duration
}

// tolerance is the tolerance that applies to t in a check whose own is tol.
func (t Transition) tolerance(tol time.Duration) time.Duration {
	if t.Tolerance > 0 {
		return t.Tolerance
	}
	return tol
}

// matches reports whether got is the expected transition t, within tolerance.
func (t Transition) matches(got Transition, tol time.Duration) bool {
	return got.To == t.To && absDur(got.At-t.At) <= t.tolerance(tol)
}

// render writes a transition as to@+at, with its tolerance when it has one.
func (t Transition) render(tol time.Duration) string {
	s := fmt.Sprintf("%s@+%s", t.To, t.At)
	if tol := t.tolerance(tol); tol > 0 {
		s += "±" + tol.String()
	}
	return s
}

// BreakerSequence checks the transitions of one endpoint's breaker, as seen by one caller
// node, against an expected sequence with times.
type BreakerSequence struct {
	Endpoint string // "node:action"
	Observer string // the caller node whose breaker it is ("" = any)
	Expected []Transition
	// Tolerance on each time (0 = exact).
	Tolerance time.Duration
	// IncludeWait keeps half-open-wait steps; by default they are left out (they are the
	// probe being in flight, not a state users reason about).
	IncludeWait bool
}

func (b BreakerSequence) Name() string { return "breaker " + b.Endpoint }

func (b BreakerSequence) Check(entries []journal.Entry) Result {
	var got []Transition
	for _, e := range entries {
		if e.Kind != journal.BreakerChange || e.Str("endpoint") != b.Endpoint || (b.Observer != "" && e.Node != b.Observer) {
			continue
		}
		to := e.Str("to")
		if to == "half-open-wait" && !b.IncludeWait {
			continue
		}
		if !b.IncludeWait && e.Str("from") == "half-open-wait" && to == "half-open" {
			// The anti-stick return to half-open after a probe that never finished.
			got = append(got, Transition{To: to, At: e.T})
			continue
		}
		got = append(got, Transition{To: to, At: e.T})
	}
	expected := renderTransitions(b.Expected, b.Tolerance)
	actual := renderTransitions(got, 0)
	for i := range max(len(got), len(b.Expected)) {
		switch {
		case i >= len(got):
			return fail(b.Name(), expected, actual, b.Expected[i].At)
		case i >= len(b.Expected):
			return fail(b.Name(), expected, actual, got[i].At)
		case !b.Expected[i].matches(got[i], b.Tolerance):
			return fail(b.Name(), expected, actual, min(got[i].At, b.Expected[i].At))
		}
	}
	return pass(b.Name(), expected, actual)
}

func renderTransitions(ts []Transition, tol time.Duration) string {
	if len(ts) == 0 {
		return "no transitions"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.render(tol)
	}
	return "closed→" + strings.Join(parts, "→")
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Timeouts checks that calls of an action timed out (504 at the caller) or were skipped
// (514, budget spent) at the expected budget and count.
type Timeouts struct {
	Action string
	// Kind is "timeout" (RequestTimeoutError at the caller) or "skip" (RequestSkippedError).
	Kind string
	// Budget is the expected timeout of each timed-out attempt (timeouts only; 0 = any).
	Budget time.Duration
	// Count is the expected number (-1 = at least one).
	Count int
	// At lists the expected instants, in order (optional), each within Tolerance (0 = exact).
	// A timeout fires at the caller, its budget after the attempt started: exact. A skip
	// happens where the budget ran out, often on another node: a network hop later.
	At        []time.Duration
	Tolerance time.Duration
}

func (c Timeouts) Name() string { return fmt.Sprintf("%s %s", c.Kind, c.Action) }

func (c Timeouts) Check(entries []journal.Entry) Result {
	got := c.requests(entries)
	var exp []string
	if c.Count >= 0 {
		exp = append(exp, fmt.Sprintf("%d", c.Count))
	} else {
		exp = append(exp, "at least 1")
	}
	if c.Budget > 0 {
		exp = append(exp, fmt.Sprintf("each after a %s budget", c.Budget))
	}
	if len(c.At) > 0 {
		at := "at " + renderTimes(c.At)
		if c.Tolerance > 0 {
			at += " ±" + c.Tolerance.String()
		}
		exp = append(exp, at)
	}
	expected := strings.Join(exp, ", ")
	times := make([]time.Duration, len(got))
	for i, r := range got {
		times[i] = r.T
	}
	actual := fmt.Sprintf("%d at %s", len(got), renderTimes(times))
	if (c.Count >= 0 && len(got) != c.Count) || (c.Count < 0 && len(got) == 0) {
		at := time.Duration(-1)
		if c.Count >= 0 && len(got) > c.Count {
			at = got[c.Count].T
		}
		return fail(c.Name(), expected, actual, at)
	}
	for i, r := range got {
		if c.Budget > 0 && c.Kind != "skip" && !c.budgetMatches(r) {
			return fail(c.Name(), expected, fmt.Sprintf("%s; one after %s", actual, r.budget), r.T)
		}
		if i < len(c.At) && absDur(r.T-c.At[i]) > c.Tolerance {
			return fail(c.Name(), expected, actual, min(r.T, c.At[i]))
		}
	}
	return pass(c.Name(), expected, actual)
}

// timedOutRequest is one request that timed out (or was skipped), at its first entry.
type timedOutRequest struct {
	T          time.Duration
	budget     time.Duration
	fromCaller bool // budget is the caller's, not what the serving node had left
}

// requests gathers the requests of the action that timed out (or were skipped).
//
// A request's deadline is armed at the caller and again where it is served; both timers
// fire at its end, and one of them answers. The simulator fires the caller's first, but on
// a loaded real machine the serving node's may win and answer 504 before the caller's own
// timer runs. Either way it is one timeout of one request: the first entry per request id
// counts, from whichever side. Its budget is the caller's when the caller recorded one; the
// serving node's entry records what was left on arrival, a network hop less.
func (c Timeouts) requests(entries []journal.Entry) []timedOutRequest {
	var got []timedOutRequest
	byID := map[string]int{} // request id → index in got
	for _, e := range entries {
		if e.Str("action") != c.Action {
			continue
		}
		if c.Kind == "skip" {
			if e.Kind == journal.ReqSkipped {
				got = append(got, timedOutRequest{T: e.T, fromCaller: true})
			}
			continue
		}
		if e.Kind != journal.ReqTimeout {
			continue
		}
		id, fromCaller := e.Str("id"), !e.Bool("served")
		if id == "" {
			if fromCaller { // no id to pair a serving node's entry with its caller's: count the caller's
				got = append(got, timedOutRequest{T: e.T, budget: e.Dur("timeout"), fromCaller: true})
			}
			continue
		}
		if i, ok := byID[id]; ok {
			if fromCaller && !got[i].fromCaller {
				got[i].budget, got[i].fromCaller = e.Dur("timeout"), true
			}
			continue
		}
		byID[id] = len(got)
		got = append(got, timedOutRequest{T: e.T, budget: e.Dur("timeout"), fromCaller: fromCaller})
	}
	return got
}

// budgetMatches: a caller's budget is exact; what a serving node had left may fall short
// of it by up to Tolerance (the hop the request took to arrive).
func (c Timeouts) budgetMatches(r timedOutRequest) bool {
	if r.fromCaller {
		return r.budget == c.Budget
	}
	return r.budget <= c.Budget && c.Budget-r.budget <= c.Tolerance
}

func renderTimes(ts []time.Duration) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "+" + t.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Retries checks the retry attempts of an action's logical calls: how many retries each
// call made (at most Max, and exactly Exact when set) and the backoff delays.
type Retries struct {
	Action string
	// Max retries per logical call (-1 = unchecked).
	Max int
	// Delays, when set, must be the delays of every retried call's retries, in order.
	Delays []time.Duration
}

func (c Retries) Name() string { return "retries " + c.Action }

func (c Retries) Check(entries []journal.Entry) Result {
	perCall := map[string][]journal.Entry{}
	var order []string
	for _, e := range entries {
		if e.Kind == journal.RetryAttempt && e.Str("action") == c.Action {
			id := e.Str("call")
			if _, ok := perCall[id]; !ok {
				order = append(order, id)
			}
			perCall[id] = append(perCall[id], e)
		}
	}
	expected := ""
	if c.Max >= 0 {
		expected = fmt.Sprintf("at most %d retries per call", c.Max)
	}
	if len(c.Delays) > 0 {
		if expected != "" {
			expected += ", "
		}
		expected += "backoff " + renderDurs(c.Delays)
	}
	total := 0
	for _, id := range order {
		rs := perCall[id]
		total += len(rs)
		if c.Max >= 0 && len(rs) > c.Max {
			return fail(c.Name(), expected, fmt.Sprintf("a call with %d retries", len(rs)), rs[c.Max].T)
		}
		if len(c.Delays) > 0 {
			got := make([]time.Duration, len(rs))
			for i, r := range rs {
				got[i] = r.Dur("delay")
			}
			for i := range got {
				if i >= len(c.Delays) || got[i] != c.Delays[i] {
					return fail(c.Name(), expected, "backoff "+renderDurs(got), rs[i].T)
				}
			}
		}
	}
	return pass(c.Name(), expected, fmt.Sprintf("%d retries over %d retried calls", total, len(order)))
}

func renderDurs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Amplification checks retry amplification: executions of an action's handler per logical
// call of it. A non-idempotent action executed more than once per call is the classic
// retry-under-timeout hazard.
type Amplification struct {
	Action string
	// Max executions per logical call (e.g. 1 for a non-idempotent action).
	Max float64
}

func (c Amplification) Name() string { return "amplification " + c.Action }

func (c Amplification) Check(entries []journal.Entry) Result {
	calls, runs := 0, 0
	var firstExtra time.Duration = -1
	for _, e := range entries {
		switch {
		case e.Kind == journal.CallStarted && e.Str("action") == c.Action:
			calls++
		case e.Kind == journal.ActionRun && e.Str("action") == c.Action:
			runs++
			if float64(runs) > c.Max*float64(calls) && firstExtra < 0 {
				firstExtra = e.T
			}
		}
	}
	expected := fmt.Sprintf("≤ %.2f executions per call", c.Max)
	if calls == 0 {
		return fail(c.Name(), expected, "no calls", -1)
	}
	ratio := float64(runs) / float64(calls)
	actual := fmt.Sprintf("%.2f (%d executions / %d calls)", ratio, runs, calls)
	if ratio > c.Max+1e-9 {
		return fail(c.Name(), expected, actual, firstExtra)
	}
	return pass(c.Name(), expected, actual)
}
