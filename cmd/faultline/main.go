// Command faultline runs Faultline's scenario files (run, validate, list, replay, sweep), a
// real node on NATS (node) and one-shot calls into a NATS cluster (call).
//
// Exit codes: 0 when every scenario passed, 1 when a check failed (or a replay differs),
// 2 for invalid input or usage, 3 when a sweep passed but did not run every seed (its
// --time-budget ran out, or a shard merge found such a shard), 130 when interrupted.
package main

import (
	"errors"
	"fmt"
	"github.com/faultline/faultline/realtier/proctier"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2
	// exitIncomplete: a sweep (or merge) that found no failure but did not run every seed:
	// stopped by --time-budget, or a merged shard was.
	exitIncomplete = 3
)

// exitError carries an exit code; its message (if any) is printed on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func failed(format string, args ...any) error {
	return &exitError{code: exitFailed, msg: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &exitError{code: exitInvalid, msg: fmt.Sprintf(format, args...)}
}

// app is one invocation: its streams and the name to print in replay commands.
type app struct {
	stdout, stderr io.Writer
	// prog is how to invoke faultline again ("go run ./cmd/faultline" under go run).
	prog string
	// limits and fileSize are set by the --max-* flags.
	limits   scenarios.Limits
	fileSize *uint64
	// tier is the --tier of run or validate: files are validated for it too.
	tier string
}

func main() {
	// The process tier's nodes are this very program (faultline node).
	if exe, err := os.Executable(); err == nil && proctier.Binary == "" {
		proctier.Binary = exe
	}
	a := &app{stdout: os.Stdout, stderr: os.Stderr, prog: progName()}
	os.Exit(a.main(os.Args[1:]))
}

// progName is the command a person would type to run this program again: the go run form
// when running from go run's build cache, else the name it was invoked by.
func progName() string {
	exe, _ := os.Executable()
	if strings.Contains(exe, "go-build") || strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/faultline"
	}
	if strings.ContainsRune(os.Args[0], filepath.Separator) {
		return os.Args[0]
	}
	return filepath.Base(os.Args[0])
}

func (a *app) main(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(a.stderr, "faultline: internal error: %v\n%s", r, debug.Stack())
			code = exitInvalid
		}
	}()
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(a.stderr, ee.msg)
		}
		return ee.code
	}
	// Cobra's own errors: unknown command or flag, wrong number of arguments.
	fmt.Fprintf(a.stderr, "faultline: %v\nRun 'faultline --help' for usage.\n", err)
	return exitInvalid
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "faultline",
		Short: "Run chaos scenarios in virtual time, replayable from a seed",
		Long: `faultline runs scenario files: a cluster of service-broker nodes, a workload, a fault
schedule and checks, simulated in virtual time. The same seed gives the same run, byte for byte.

Exit codes: 0 all passed, 1 a check failed, 2 invalid input or usage, 3 time budget
exhausted (sweep --time-budget stopped before every seed ran, none failed; merge of such a
shard), 130 interrupted (SIGINT or SIGTERM: the partial results are printed and written,
marked interrupted).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return &exitError{code: exitInvalid}
		},
	}
	a.limitFlags(root.PersistentFlags())
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(a.runCommand(), a.validateCommand(), a.listCommand(), a.replayCommand(), a.sweepCommand(), a.schemaCommand(),
		a.nodeCommand(), a.callCommand(), a.serveCommand(), a.shrinkCommand())
	root.AddCommand(a.mergeCommand())
	root.AddCommand(a.replCommand(), a.debugCommand())
	return root
}
