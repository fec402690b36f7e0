package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/faultline/faultline/scenarios"
)

// exitInterrupted is the exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as
// shells report it).
const exitInterrupted = 130

// byteSize is a flag value in bytes that reads "4MB", "512KB", "2GB" or a plain number.
type byteSize struct{ v *uint64 }

func (b byteSize) String() string {
	if b.v == nil {
		return "0"
	}
	return formatBytes(*b.v)
}

func (b byteSize) Type() string { return "size" }

func (b byteSize) Set(s string) error {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a size (such as 64MB, 512KB or a number of bytes)", s)
	}
	*b.v = n * mult
	return nil
}

func formatBytes(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	}
	return fmt.Sprint(n)
}

// limitFlags binds the limits' flags (the names scenarios.LimitFlags gives in errors).
func (a *app) limitFlags(fs *pflag.FlagSet) {
	d := scenarios.DefaultLimits
	l := &a.limits
	*l = d
	fileSize := uint64(d.FileSize)
	a.fileSize = &fileSize
	fs.Var(byteSize{a.fileSize}, "max-file-size", "largest scenario file read")
	fs.IntVar(&l.Nodes, "max-nodes", d.Nodes, "most nodes in a scenario")
	fs.IntVar(&l.Clients, "max-clients", d.Clients, "most clients in one workload entry")
	fs.IntVar(&l.Count, "max-count", d.Count, "most calls per client (workload count)")
	fs.IntVar(&l.Products, "max-products", d.Products, "most seeded products")
	fs.IntVar(&l.Users, "max-users", d.Users, "most seeded users")
	fs.Float64Var(&l.CallsPerSecond, "max-calls-per-second", d.CallsPerSecond, "most calls per virtual second the workload schedules")
	fs.Uint64Var(&l.Events, "max-events", d.Events, "budget of simulated events per run")
	fs.Var(byteSize{&l.Memory}, "max-memory", "budget of live memory while a run goes")
}

// scenarioLimits are the limits the flags set.
func (a *app) scenarioLimits() scenarios.Limits {
	l := a.limits
	if a.fileSize != nil {
		l.FileSize = int64(*a.fileSize)
	}
	return l
}

// interrupts returns a channel closed at the first SIGINT or SIGTERM, and a function that
// stops listening. A second signal is left to the default handling, so a stuck run can
// still be killed with a second Ctrl-C.
func interrupts() (<-chan struct{}, func()) {
	ch := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			close(ch)
			signal.Stop(sigs)
		case <-done:
		}
	}()
	return ch, func() {
		signal.Stop(sigs)
		close(done)
	}
}

func interrupted(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
	}
	return false
}

// isTerminal reports whether f is a terminal (a character device), without a dependency.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine prints one line, rewritten in place, of what a run is doing: the scenario,
// the virtual time reached and the simulated events per wall second.
type progressLine struct {
	w          *os.File
	last       time.Time
	lastEvents uint64
	shown      bool
}

func (p *progressLine) update(pr scenarios.Progress) {
	now := time.Now()
	if p.last.IsZero() {
		p.last, p.lastEvents = now, pr.Events
		return
	}
	dt := now.Sub(p.last)
	if dt < 200*time.Millisecond {
		return
	}
	rate := float64(pr.Events-p.lastEvents) / dt.Seconds()
	if pr.Events < p.lastEvents {
		rate = 0 // a new run (or the determinism re-run) started
	}
	fmt.Fprintf(p.w, "\r\033[K%s  +%s virtual  %.0f events/s", pr.Scenario, pr.Virtual.Truncate(time.Millisecond), rate)
	p.last, p.lastEvents, p.shown = now, pr.Events, true
}

func (p *progressLine) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.last, p.shown = time.Time{}, false
}
