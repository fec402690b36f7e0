package rt

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// Epoch is the virtual instant every simulation starts at. It is fixed so that journals of
// two runs are comparable byte for byte.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultIdleLimit is how long virtual time may advance on housekeeping timers alone
// (heartbeats, breaker windows) while tasks wait, before the run is declared deadlocked.
const DefaultIdleLimit = 10 * time.Minute

// DeadlockError reports a simulation in which tasks wait for something that can never happen.
type DeadlockError struct {
	At      time.Time
	Pending []string // "task: waiting for what", sorted by task start order
}

func (e *DeadlockError) Error() string {
	return fmt.Sprintf("simulation deadlocked at +%s with %d pending: %s",
		e.At.Sub(Epoch), len(e.Pending), strings.Join(e.Pending, "; "))
}

// PanicError reports a task that panicked outside any recovery of its own.
type PanicError struct {
	Task  string
	Value any
	Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("task %q panicked: %v\n%s", e.Task, e.Value, e.Stack)
}

// errKilled is the value a parked task unwinds with when the simulation is closed.
var errKilled = errors.New("rt: simulation closed")

// Sim is the deterministic simulated runtime. Exactly one goroutine holds the baton at a time:
// the one driving Run (or Drive, RunFor), or a worker running a task. Whoever holds it when a
// step ends runs the scheduler itself (next) and keeps the baton when it can: a task picked
// again right after it parks resumes without a switch, a task that ends runs the next new
// task on its own worker, and timer callbacks run on whichever goroutine holds the baton.
// Otherwise the worker switches back to the driving goroutine, naming the task to resume.
// Workers are coroutines (iter.Pull) of the driving goroutine: a switch is a direct
// goroutine switch on the same thread, not a channel hand-off through the Go scheduler,
// which with two or more Ps woke an idle P on every hand-off (a run's wall time was ~1.5×
// its CPU time). A coroutine switch orders memory as a channel does, so Sim's fields need
// no lock.
type Sim struct {
	seed      uint64
	now       time.Time
	rng       *rand.Rand
	idleLimit time.Duration

	runnable []*task
	// urgent tasks run before any runnable one, in order (GoFirst).
	urgent []*task
	timers timerHeap
	seq    uint64
	live   map[uint64]*task // started or runnable, not finished

	current     *task // the task holding the baton; nil when the scheduler runs
	inTimer     bool  // the scheduler is running a timer callback
	timerDaemon bool  // the daemon flag of the timer being run
	foreground  int   // armed non-daemon timers

	lastProgress time.Time
	stop         func() bool // the running loop's stop condition
	until        time.Time   // the running loop's time bound, zero for none
	result       error       // the ended loop's result
	idle         []*worker   // workers whose task ended, waiting for a new one
	failure      error
	closed       bool
	steps        uint64

	// origin is what the step being run is attributed to (see Attribute); what it starts
	// inherits it.
	origin    *Origin
	origins   []*Origin
	hook      func() error
	hookEvery uint64
	nextHook  uint64
}

// Origin counts the steps (tasks scheduled and timers fired) of everything started, directly
// or transitively, inside one Attribute call: which workload or fault makes a run heavy.
type Origin struct {
	Name  string
	Steps uint64
}

type task struct {
	id      uint64
	name    string
	origin  *Origin
	fn      func()
	daemon  bool
	w       *worker // the goroutine running the task, from its first step on
	started bool
	waiting string
}

// worker is a coroutine of the driving goroutine that runs tasks, one after another: a task's
// goroutine is reused for the next new task once it ends, keeping its grown stack (a fresh
// goroutine's stack growth and a goroutine start cost more than many a task's whole work).
type worker struct {
	// resume switches to the worker until it parks, idles or exits; it returns the task to
	// run next (nil: the loop ended, or the worker was resumed by Close).
	resume func() (*task, bool)
	// yield, called on the worker, switches back to whoever called resume, passing it the
	// task to run next.
	yield func(*task) bool
	t     *task // the task it runs; nil when told to exit
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithIdleLimit sets how long virtual time may pass on housekeeping timers alone while tasks
// wait before the run counts as deadlocked.
func WithIdleLimit(d time.Duration) SimOption { return func(s *Sim) { s.idleLimit = d } }

// WithStepHook calls fn every `every` steps of the scheduler (between steps, with no task
// running). A non-nil error ends Run or RunFor with that error: the simulation's budget or
// interruption point, checked at a step boundary so the journal stays consistent.
func WithStepHook(every uint64, fn func() error) SimOption {
	return func(s *Sim) {
		if every == 0 {
			every = 1
		}
		s.hook, s.hookEvery = fn, every
	}
}

// NewSim returns a simulated runtime at Epoch whose scheduling and randomness derive from seed.
func NewSim(seed uint64, opts ...SimOption) *Sim {
	s := &Sim{
		seed:      seed,
		now:       Epoch,
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		idleLimit: DefaultIdleLimit,
		live:      map[uint64]*task{},
	}
	s.lastProgress = s.now
	for _, o := range opts {
		o(s)
	}
	return s
}

// Seed returns the seed the simulation was built with.
func (s *Sim) Seed() uint64 { return s.seed }

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.now }

// Elapsed returns the virtual time passed since Epoch.
func (s *Sim) Elapsed() time.Duration { return s.now.Sub(Epoch) }

// Steps returns how many times the scheduler has handed the baton to a task or timer.
func (s *Sim) Steps() uint64 { return s.steps }

// Rand returns the seeded random source.
func (s *Sim) Rand() Rand { return s.rng }

// Attribute runs fn (which must not block) and attributes every task and timer it starts,
// and everything those start in turn, to origin name; Origins reports the counts.
func (s *Sim) Attribute(name string, fn func()) {
	o := &Origin{Name: name}
	s.origins = append(s.origins, o)
	prev := s.origin
	s.origin = o
	defer func() { s.origin = prev }()
	fn()
}

// Origins returns the step counts of every origin named by Attribute, in the order they
// were first named.
func (s *Sim) Origins() []Origin {
	out := make([]Origin, len(s.origins))
	for i, o := range s.origins {
		out[i] = *o
	}
	return out
}

// Go schedules fn as a new task. The task inherits the daemon flag of whoever starts it.
func (s *Sim) Go(name string, fn func()) {
	s.seq++
	t := &task{id: s.seq, name: name, fn: fn, daemon: s.contextDaemon(), origin: s.origin}
	s.live[t.id] = t
	s.runnable = append(s.runnable, t)
}

// GoFirst starts fn as a new task that runs before every other runnable task. Called from a
// task, it hands the baton over at once: the caller is parked and resumes as soon as the new
// task finishes or blocks, before anything else runs, much as a JavaScript caller resumes when
// the function it called reaches its first await. Called from a timer callback, the new task
// runs as soon as the callback returns. No random draw is made, so a run stays replayable.
func (s *Sim) GoFirst(name string, fn func()) {
	s.seq++
	t := &task{id: s.seq, name: name, fn: fn, daemon: s.contextDaemon()}
	s.live[t.id] = t
	cur := s.current
	if cur == nil {
		s.urgent = append([]*task{t}, s.urgent...)
		return
	}
	s.urgent = append([]*task{t, cur}, s.urgent...)
	s.park("the task it started first, " + name)
}

func (s *Sim) contextDaemon() bool {
	if s.current != nil {
		return s.current.daemon
	}
	if s.inTimer {
		return s.timerDaemon
	}
	return false
}

// AfterFunc arms a one-shot timer on the virtual clock.
func (s *Sim) AfterFunc(d time.Duration, fn func()) Timer {
	return s.arm(d, 0, fn, s.contextDaemon())
}

// Every arms a periodic housekeeping timer on the virtual clock.
func (s *Sim) Every(d time.Duration, fn func()) Timer {
	if d <= 0 {
		panic("rt: Every needs a positive period")
	}
	return s.arm(d, d, fn, true)
}

func (s *Sim) arm(d, period time.Duration, fn func(), daemon bool) *simTimer {
	if d < 0 {
		d = 0
	}
	s.seq++
	when := s.now.Add(d)
	t := &simTimer{sim: s, when: when, at: when.UnixNano(), seq: s.seq, period: period, fn: fn, daemon: daemon, origin: s.origin}
	s.timers.push(t)
	if !daemon {
		s.foreground++
	}
	return t
}

// Sleep parks the calling task for d of virtual time.
func (s *Sim) Sleep(d time.Duration) {
	sig := s.NewSignal(fmt.Sprintf("sleep %s", d))
	s.AfterFunc(d, sig.Fire)
	sig.Wait()
}

// NewSignal returns a one-shot signal scheduled by this simulation.
func (s *Sim) NewSignal(what string) Signal { return &simSignal{sim: s, what: what} }

// Run runs main as a task and drives the simulation until main returns. Other tasks and
// timers stay armed: Run may be called again to continue the same simulation. It returns a
// *DeadlockError if main can never finish, or a *PanicError if any task panicked.
func (s *Sim) Run(main func()) error {
	if s.closed {
		return errors.New("rt: Run on a closed simulation")
	}
	if s.current != nil || s.inTimer {
		panic("rt: Run called from inside the simulation")
	}
	return s.loop(s.Start("main", main), time.Time{})
}

// Start adds main as a task, as Run does, without driving the simulation: a debugger then
// drives it in pieces with Drive, stopping between any two steps. Driving Start's task to
// its end step by step runs exactly the steps Run would, in the same order. done reports
// whether main has returned.
func (s *Sim) Start(name string, main func()) (done func() bool) {
	finished := false
	// deferred: a main that ends by runtime.Goexit (a failed require) still ends the run.
	s.Go(name, func() { defer func() { finished = true }(); main() })
	s.lastProgress = s.now
	return func() bool { return finished }
}

// Drive runs the simulation until stop holds (checked before every step), or, when until
// is not zero, until virtual time would pass it (then the clock stays at the last event:
// RunFor is the variant that moves it to until). It must not be called from inside the
// simulation. Errors are Run's: deadlock (with until zero) or a task's panic.
func (s *Sim) Drive(stop func() bool, until time.Time) error {
	if s.closed {
		return errors.New("rt: Drive on a closed simulation")
	}
	if s.current != nil || s.inTimer {
		panic("rt: Drive called from inside the simulation")
	}
	return s.loop(stop, until)
}

// RunFor advances the simulation by d of virtual time, running everything due until then.
func (s *Sim) RunFor(d time.Duration) error {
	if s.closed {
		return errors.New("rt: RunFor on a closed simulation")
	}
	until := s.now.Add(d)
	err := s.loop(func() bool { return false }, until)
	if err == nil && s.now.Before(until) {
		s.now = until
	}
	return err
}

// loop drives the scheduler until stop() holds, virtual time would pass until (if set), a
// deadlock, or a task's panic. The driving goroutine runs steps until it has a task to run,
// and resumes that task's worker; the worker runs the scheduler itself when its step ends
// and switches back only to have another task resumed, or when the loop ends.
func (s *Sim) loop(stop func() bool, until time.Time) error {
	s.stop, s.until = stop, until
	for t := s.next(); t != nil; {
		t = s.resume(t)
	}
	s.stop = nil
	return s.result
}

// next runs the scheduler from the end of one step to the start of the next task step: it
// fires the timers due before it and runs the step hook. It returns the task to run, already
// holding the baton (s.current), or nil when the loop ends, with the loop's result in s.result.
// It must be called with no task current.
func (s *Sim) next() *task {
	for {
		if t, end := s.step(); end || t != nil {
			return t
		}
	}
}

// step is one turn of the scheduler: it picks a task to run (returned), or fires one timer
// (nil, false), or ends the loop (nil, true, with s.result set).
func (s *Sim) step() (t *task, end bool) {
	if s.stop() {
		return nil, s.end(s.failure)
	}
	if s.failure != nil {
		return nil, s.end(s.failure)
	}
	if s.hook != nil && s.steps >= s.nextHook {
		s.nextHook = s.steps + s.hookEvery
		if err := s.hook(); err != nil {
			return nil, s.end(err)
		}
	}
	if len(s.urgent) > 0 {
		t := s.urgent[0]
		s.urgent = s.urgent[1:]
		return s.begin(t), false
	}
	if n := len(s.runnable); n > 0 {
		return s.begin(s.takeRunnable(s.rng.IntN(n))), false
	}
	bounded := !s.until.IsZero()
	next := s.timers.top()
	if next == nil {
		if bounded {
			return nil, s.end(nil)
		}
		return nil, s.end(s.deadlock())
	}
	if bounded && next.when.After(s.until) {
		return nil, s.end(nil)
	}
	// Only housekeeping timers are left and tasks wait: if that has gone on for longer
	// than the idle limit, nothing those timers do is going to wake them.
	if !bounded && s.foreground == 0 && s.hasWaiters() && next.when.Sub(s.lastProgress) > s.idleLimit {
		return nil, s.end(s.deadlock())
	}
	s.fireTimer()
	return nil, false
}

func (s *Sim) end(err error) bool {
	s.result = err
	return true
}

func (s *Sim) takeRunnable(i int) *task {
	last := len(s.runnable) - 1
	t := s.runnable[i]
	s.runnable[i] = s.runnable[last]
	s.runnable = s.runnable[:last]
	return t
}

// begin starts t's step: from here until it parks or ends, t holds the baton.
func (s *Sim) begin(t *task) *task {
	if !t.daemon {
		s.lastProgress = s.now
	}
	s.steps++
	s.current = t
	s.origin = t.origin
	if t.origin != nil {
		t.origin.Steps++
	}
	t.waiting = ""
	return t
}

// finishStep ends the current task's step (it parked or ended): no task holds the baton.
func (s *Sim) finishStep() {
	s.current = nil
	s.origin = nil
}

// resume runs t, which holds the baton, on its worker (an idle one or a new one for a task
// that has not started), from the driving goroutine, until a task not on that worker is to
// run next: it returns that task, or nil when the loop ended.
func (s *Sim) resume(t *task) *task {
	if !t.started {
		t.started = true
		var w *worker
		if n := len(s.idle); n > 0 {
			w = s.idle[n-1]
			s.idle[n-1] = nil
			s.idle = s.idle[:n-1]
		} else {
			w = s.newWorker()
		}
		w.t, t.w = t, w
	}
	next, _ := t.w.resume()
	return next
}

// newWorker makes a worker whose coroutine runs tasks until the simulation closes. When a
// task ends, the worker runs the scheduler: a next task that has not started yet runs right
// here; otherwise the worker idles and switches back, naming the next task.
func (s *Sim) newWorker() *worker {
	w := &worker{}
	w.resume, _ = iter.Pull(func(yield func(*task) bool) {
		w.yield = yield
		defer s.workerExit(w)
		for {
			t := w.t
			s.runBody(t)
			delete(s.live, t.id)
			if s.closed { // Close resumed the task to unwind it: back to Close, and exit
				w.t = nil
				return
			}
			s.finishStep()
			next := s.next()
			if next != nil && !next.started {
				next.started = true
				w.t, next.w = next, w
				continue
			}
			w.t = nil
			s.idle = append(s.idle, w)
			yield(next)
			if w.t == nil { // Close: exit
				return
			}
		}
	})
	return w
}

// workerExit ends a worker whose task ended by runtime.Goexit (a failed require in a task):
// the deferred calls run, and the baton must still move on. It switches back from inside the
// Goexit, never to be resumed: were the coroutine's function to return by Goexit, iter.Pull
// would end the resuming goroutine (the test's) with Goexit too. The worker's goroutine stays
// parked for good, as a parked task's does when its simulation is dropped without Close.
func (s *Sim) workerExit(w *worker) {
	t := w.t
	if t == nil {
		return
	}
	w.t = nil
	delete(s.live, t.id)
	if s.closed {
		w.yield(nil)
		select {}
	}
	s.finishStep()
	w.yield(s.next())
	select {}
}

// runBody runs a task's function, recording a panic as the run's failure.
func (s *Sim) runBody(t *task) {
	defer func() {
		if r := recover(); r != nil && r != errKilled { //nolint:errorlint // sentinel identity
			if s.failure == nil {
				s.failure = &PanicError{Task: t.name, Value: r, Stack: string(debug.Stack())}
			}
		}
	}()
	t.fn()
}

func (s *Sim) fireTimer() {
	s.timers.top() // the next timer's place is up to date (see Reset)
	t := s.timers.pop()
	if t.when.After(s.now) {
		s.now = t.when
	}
	if !t.daemon {
		s.foreground--
		s.lastProgress = s.now
	}
	if t.period > 0 {
		s.seq++
		t.when = t.when.Add(t.period)
		t.at = t.when.UnixNano()
		t.seq = s.seq
		s.timers.push(t)
	}
	s.steps++
	s.inTimer, s.timerDaemon = true, t.daemon
	s.origin = t.origin
	if t.origin != nil {
		t.origin.Steps++
	}
	defer func() {
		s.inTimer = false
		s.origin = nil
		if r := recover(); r != nil && s.failure == nil {
			s.failure = &PanicError{Task: "timer", Value: r, Stack: string(debug.Stack())}
		}
	}()
	t.fn()
}

// hasWaiters reports whether any non-daemon task is parked.
func (s *Sim) hasWaiters() bool {
	for _, t := range s.live {
		if !t.daemon && t.started {
			return true
		}
	}
	return false
}

func (s *Sim) deadlock() error {
	var pending []*task
	for _, t := range s.live {
		if !t.daemon {
			pending = append(pending, t)
		}
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].id < pending[j].id })
	e := &DeadlockError{At: s.now}
	for _, t := range pending {
		e.Pending = append(e.Pending, fmt.Sprintf("%s: waiting for %s", t.name, t.waiting))
	}
	return e
}

// park gives the baton back to the scheduler and blocks until the task is scheduled again.
func (s *Sim) park(what string) {
	t := s.current
	if t == nil {
		panic("rt: blocking call outside a simulated task (timer callbacks must not block)")
	}
	t.waiting = what
	if s.closed { // unwinding at Close: give the baton back to Close and stay parked for good
		t.w.yield(nil)
		select {}
	}
	s.finishStep()
	next := s.next()
	if next == t {
		return // picked again at once: no goroutine switch
	}
	t.w.yield(next)
	if s.closed {
		panic(errKilled)
	}
}

// Close ends the simulation: every parked task unwinds (its deferred calls run) and its
// goroutine exits. Closing is idempotent.
func (s *Sim) Close() {
	if s.closed {
		return
	}
	s.closed = true
	ids := make([]uint64, 0, len(s.live))
	for id, t := range s.live {
		if t.started {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		t := s.live[id]
		if t == nil {
			continue
		}
		s.current = t
		t.w.resume()
		s.current = nil
	}
	for _, w := range s.idle {
		w.resume() // w.t is nil: the worker exits
	}
	s.idle = nil
	s.runnable = nil
	s.urgent = nil
	s.timers = nil
	goruntime.Gosched()
}

type simSignal struct {
	sim     *Sim
	what    string
	fired   bool
	waiters []*task
	// one is waiters' first backing array: most signals (a call's answer, a sleep) have one
	// waiter, which then costs no allocation of its own.
	one    [1]*task
	onFire []func()
	ch     chan struct{}
}

func (g *simSignal) Fire() {
	if g.fired {
		return
	}
	g.fired = true
	g.sim.runnable = append(g.sim.runnable, g.waiters...)
	g.waiters, g.one[0] = nil, nil
	if g.ch != nil {
		close(g.ch)
	}
	fns := g.onFire
	g.onFire = nil
	for _, fn := range fns {
		fn()
	}
}

func (g *simSignal) Fired() bool { return g.fired }

func (g *simSignal) Wait() {
	if g.fired {
		return
	}
	t := g.sim.current
	if t == nil {
		panic("rt: Signal.Wait outside a simulated task")
	}
	if g.waiters == nil {
		g.waiters = g.one[:0]
	}
	g.waiters = append(g.waiters, t)
	g.sim.park(g.what)
}

func (g *simSignal) OnFire(fn func()) {
	if g.fired {
		fn()
		return
	}
	g.onFire = append(g.onFire, fn)
}

func (g *simSignal) C() <-chan struct{} {
	if g.ch == nil {
		g.ch = make(chan struct{})
		if g.fired {
			close(g.ch)
		}
	}
	return g.ch
}

type simTimer struct {
	sim  *Sim
	when time.Time
	// at and seq are when the timer is due, in Unix nanoseconds (virtual instants stay within
	// int64's years), and its arming number. The heap entry holding the timer may carry an
	// earlier key than these (Reset pushed the timer back without moving it); it never carries
	// a later one.
	at     int64
	seq    uint64
	period time.Duration
	fn     func()
	daemon bool
	origin *Origin
	index  int // in the heap, or -1 when not pending
}

func (t *simTimer) Stop() bool {
	if t.index < 0 {
		return false
	}
	t.sim.timers.remove(t.index)
	if !t.daemon {
		t.sim.foreground--
	}
	return true
}

// Reset re-arms the timer to fire d from now, whether it was pending, stopped or fired, and
// reports whether it was pending. It is exactly Stop followed by a new AfterFunc with the same
// function, armed by whoever calls Reset (its daemon flag and attribution) and taking the next
// arming number, so a simulation fires every timer in the same order as with that pair; it
// just spares the timer and the closure (a node's loss timer, pushed back on every packet
// heard from it). A periodic timer stays periodic.
//
// Pushing a pending timer back (the common case: a loss timer, once per packet heard) does
// not touch the heap: the timer keeps its place under its old, earlier key and takes its new
// one only when that place reaches the top (timerHeap.top), before anything reads the top.
// Since every other entry's key is at most its timer's true key, the top after that update is
// the timer a fully ordered heap would give, so the firing order is unchanged; the heap work
// drops from one sift per packet to one per timeout period.
func (t *simTimer) Reset(d time.Duration) bool {
	s := t.sim
	if d < 0 {
		d = 0
	}
	when := s.now.Add(d)
	at := when.UnixNano()
	daemon := s.contextDaemon()
	if t.period > 0 {
		daemon = true // Every's timers are housekeeping
	}
	pending := t.index >= 0
	// Later than the key it sits under (the arming number only grows): update in place.
	inPlace := pending && at >= s.timers[t.index].at
	if inPlace {
		if !t.daemon {
			s.foreground--
		}
	} else {
		t.Stop()
	}
	s.seq++
	t.when, t.at, t.seq = when, at, s.seq
	t.daemon, t.origin = daemon, s.origin
	if !inPlace {
		s.timers.push(t)
	}
	if !t.daemon {
		s.foreground++
	}
	return pending
}

// timerHeap orders timers by due time, then by arming order, which makes same-instant
// timers fire in a deterministic order (the key is unique, so the order does not depend on
// the heap's shape). It is a 4-ary heap whose entries carry their keys: a large run holds a
// million timers (one loss timer per pair of nodes) and pushes and pops one per packet, and
// comparing keys held in the slice, four children to a cache line or two, spares a pointer
// chase per comparison and half the levels of a binary heap.
type timerHeap []heapEntry

type heapEntry struct {
	at  int64
	seq uint64
	t   *simTimer
}

func (e *heapEntry) before(o *heapEntry) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// top returns the next timer to fire, or nil, first giving any timer that Reset pushed back
// its true key until the top entry's key is its timer's own.
func (h timerHeap) top() *simTimer {
	for len(h) > 0 {
		e := &h[0]
		if e.seq == e.t.seq {
			return e.t
		}
		e.at, e.seq = e.t.at, e.t.seq
		h.down(0)
	}
	return nil
}

func (h *timerHeap) push(t *simTimer) {
	t.index = len(*h)
	*h = append(*h, heapEntry{at: t.at, seq: t.seq, t: t})
	h.up(t.index)
}

// pop removes the top entry (callers read top first).
func (h *timerHeap) pop() *simTimer {
	return h.remove(0)
}

func (h *timerHeap) remove(i int) *simTimer {
	old := *h
	t := old[i].t
	last := len(old) - 1
	if i != last {
		old[i] = old[last]
		old[i].t.index = i
	}
	old[last] = heapEntry{}
	*h = old[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	t.index = -1
	return t
}

func (h timerHeap) up(i int) {
	e := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		h[i].t.index = i
		i = p
	}
	h[i] = e
	e.t.index = i
}

// down sifts entry i down and reports whether it moved.
func (h timerHeap) down(i int) bool {
	e := h[i]
	start, n := i, len(h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if h[k].before(&h[m]) {
				m = k
			}
		}
		if !h[m].before(&e) {
			break
		}
		h[i] = h[m]
		h[i].t.index = i
		i = m
	}
	h[i] = e
	e.t.index = i
	return i != start
}
