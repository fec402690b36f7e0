package repl

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/scenarios"
)

// A Target is the cluster a session talks to.
type Target interface {
	// Node is the broker commands act through (Moleculer's REPL is a broker too).
	Node() *broker.Broker
	// Do runs fn where it may call into the cluster, and returns when fn has: on a live
	// cluster fn just runs; in a stopped simulation it runs as a task of the simulation, at
	// the current instant, journaled as an intervention (see scenarios.Debugger.Intervene).
	Do(command string, fn func()) error
}

// Live is a Target for a broker on the real runtime, joined to a live cluster.
type Live struct {
	Broker *broker.Broker
	// Wait is how long a call waits for a node serving its action: discovery is
	// asynchronous, and a script's first call may come before the INFO it needs.
	Wait time.Duration
}

// Node returns the broker.
func (l Live) Node() *broker.Broker { return l.Broker }

// Do runs fn.
func (l Live) Do(_ string, fn func()) error { fn(); return nil }

// awaitAction waits up to Wait for an endpoint of action.
func (l Live) awaitAction(action string) {
	for deadline := time.Now().Add(l.Wait); len(l.Broker.Endpoints(action)) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// ErrQuit is returned by Exec for quit and exit.
var ErrQuit = errors.New("quit")

// A Session runs REPL commands against a Target.
type Session struct {
	target Target
	out    io.Writer
	// debug is the stopped run, nil on a live cluster; node is the node commands act
	// through in it (use NODE).
	debug *scenarios.Debugger
	node  string
}

// New returns a session on a live cluster.
func New(t Target, out io.Writer) *Session { return &Session{target: t, out: out} }

// NewDebug returns a debugger session on a stopped run; commands act through node from.
func NewDebug(d *scenarios.Debugger, from string, out io.Writer) (*Session, error) {
	if d.Cluster().Node(from) == nil {
		return nil, fmt.Errorf("no node %q in the scenario (have %s)", from, strings.Join(d.Cluster().NodeIDs(), ", "))
	}
	s := &Session{out: out, debug: d, node: from}
	s.target = debugTarget{s}
	return s, nil
}

// debugTarget acts through the session's current node, inside the simulation.
type debugTarget struct{ s *Session }

func (t debugTarget) Node() *broker.Broker { return t.s.debug.Cluster().Node(t.s.node) }

func (t debugTarget) Do(command string, fn func()) error {
	done, err := t.s.debug.Intervene(t.s.node, command, fn)
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("still running after %s of virtual time; it goes on in the background", scenarios.InterventionLimit)
	}
	return nil
}

// Prompt is the prompt to show before the next line: Moleculer's, or the debugger's with
// the run's instant.
func (s *Session) Prompt() string {
	if s.debug == nil {
		return "mol $ "
	}
	state := ""
	if s.debug.Ended() {
		state = " ended"
	}
	return fmt.Sprintf("debug %s %s%s $ ", s.node, Stamp(s.debug.Now()), state)
}

// A command is one REPL verb.
type command struct {
	usage string
	help  string
	debug bool // only in the debugger
	run   func(s *Session, line string, a *args) error
	// complete offers words for argument position i (0: the first after the verb).
	complete func(s *Session, i int) []string
}

var commands map[string]*command

func init() {
	commands = map[string]*command{}
	for name, c := range moleculerCommands() {
		commands[name] = c
	}
	for name, c := range debugCommands() {
		c.debug = true
		commands[name] = c
	}
	commands["help"] = &command{usage: "help", help: "list the commands", run: (*Session).help}
	commands["quit"] = &command{usage: "quit", help: "leave (also exit, Ctrl-D)", run: func(*Session, string, *args) error { return ErrQuit }}
	commands["exit"] = commands["quit"]
}

// Exec runs one line. A failure is printed (one line, or Moleculer's error block for a
// failed call) and returned, so scripts can stop at the first one. Blank lines and
// # comments do nothing.
func (s *Session) Exec(line string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	a := &args{s: line}
	verb := a.word()
	c := commands[verb]
	if c == nil || c.debug && s.debug == nil {
		err := fmt.Errorf("unknown command %q (type help)", verb)
		if c != nil {
			err = fmt.Errorf("%s works in the debugger only (faultline debug FILE)", verb)
		}
		fmt.Fprintln(s.out, "error:", err)
		return err
	}
	err := c.run(s, line, a)
	var failed *callFailed
	switch {
	case err == nil, errors.Is(err, ErrQuit):
	case errors.As(err, &failed):
		// already printed in Moleculer's shape
	default:
		fmt.Fprintln(s.out, "error:", err)
	}
	return err
}

// callFailed is a call or emit that returned an error; it has been printed.
type callFailed struct{ err error }

func (e *callFailed) Error() string { return e.err.Error() }
func (e *callFailed) Unwrap() error { return e.err }

func (s *Session) help(_ string, a *args) error {
	if !a.done() {
		return fmt.Errorf("help takes no arguments")
	}
	var names []string
	for n, c := range commands {
		if n != "exit" && (!c.debug || s.debug != nil) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	w := table(s.out)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\t%s\n", commands[n].usage, commands[n].help)
	}
	return w.Flush()
}

// Complete returns the words that may follow line (up to the cursor), each a whole word to
// replace the last, partial one of line.
func (s *Session) Complete(line string) []string {
	fields := strings.Fields(line)
	if len(fields) == 0 || len(fields) == 1 && !strings.HasSuffix(line, " ") {
		prefix := ""
		if len(fields) == 1 {
			prefix = fields[0]
		}
		var out []string
		for n, c := range commands {
			if strings.HasPrefix(n, prefix) && (!c.debug || s.debug != nil) {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	c := commands[fields[0]]
	if c == nil || c.complete == nil {
		return nil
	}
	i, prefix := len(fields)-1, ""
	if !strings.HasSuffix(line, " ") {
		i, prefix = len(fields)-2, fields[len(fields)-1]
	}
	var out []string
	for _, w := range c.complete(s, i) {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return slicesCompact(out)
}

func slicesCompact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Replay runs a debugged scenario again with its interventions: each command at the
// scheduler step and instant it was typed at, through the node it was typed on, and then
// the run to its end. With the same seed the journal is the recorded one, byte for byte.
// The commands' output goes to out.
func Replay(d *scenarios.Debugger, ivs []scenarios.Intervention, out io.Writer) (*scenarios.Result, error) {
	for _, iv := range ivs {
		if err := d.RunSteps(iv.Step); err != nil {
			return nil, err
		}
		if d.Ended() {
			return nil, fmt.Errorf("the run ended before step %d, where %q was typed", iv.Step, iv.Command)
		}
		if err := d.RunTo(iv.At); err != nil {
			return nil, err
		}
		s, err := NewDebug(d, iv.Node, out)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "%s%s\n", s.Prompt(), iv.Command)
		// A command that failed when typed fails again: that is part of the replay.
		if err := s.Exec(iv.Command); errors.Is(err, ErrQuit) {
			return nil, fmt.Errorf("intervention %q is not a command that runs in the simulation", iv.Command)
		}
	}
	return d.Continue()
}
