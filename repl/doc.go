// Package repl is Moleculer's REPL for a Faultline cluster: call, dcall, emit, broadcast,
// nodes, services, actions, events, info, cache, metrics and bench, with Moleculer's command
// names and table columns; and, on a seeded run stopped in the simulator (a
// scenarios.Debugger), a time-travel debugger: breakers, inflight, faults, journal, step,
// until, advance, continue.
//
// A Session is terminal-free: lines in (Exec), text out (an io.Writer), and completions
// (Complete) for whatever line editor the caller uses. Every command's output is a pure
// function of the cluster's state, so in the simulator the output of a seeded session is
// the same bytes every time — what the tests assert.
package repl
