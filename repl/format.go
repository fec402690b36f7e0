package repl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/broker/errs"
)

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// Stamp is an instant of a run as the journal has it: time since the run's start.
func Stamp(d time.Duration) string { return fmt.Sprintf("+%.3fs", d.Seconds()) }

// compact is v as one line of JSON (map keys sorted, as encoding/json does).
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// pretty is v as indented JSON.
func pretty(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// printError writes a failed call as Moleculer's REPL does (">> ERROR: message"), with the
// error's name, code, type and data, which Moleculer prints in its stack dump.
func printError(w io.Writer, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		fmt.Fprintf(w, ">> ERROR: %s\n", err)
		return
	}
	fmt.Fprintf(w, ">> ERROR: %s\n", e.Message)
	fmt.Fprintf(w, "   name: %s, code: %d", e.Name, e.Code)
	if e.Type != "" {
		fmt.Fprintf(w, ", type: %s", e.Type)
	}
	if e.NodeID != "" {
		fmt.Fprintf(w, ", nodeID: %s", e.NodeID)
	}
	fmt.Fprintln(w)
	if e.Data != nil {
		fmt.Fprintf(w, "   data: %s\n", compact(e.Data))
	}
}

// humanize prints a latency as Moleculer's REPL does: µs under a millisecond, else ms.
func humanize(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(v []string) string { return orDash(strings.Join(v, ", ")) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
