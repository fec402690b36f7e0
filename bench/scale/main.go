// Command scale measures how the simulator grows with cluster size: the generated scenario
// of scenario.go (one gateway, N product nodes, 10 clients × 10 calls/s, 60 s virtual) for
// each N, each in a process of its own so that its peak RSS is its own, printing wall time,
// peak RSS, journal entries and verdict per N. `make bench-scale` runs it.
//
// With -n it runs one size in this process and prints one JSON line (what the parent reads).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/sweep"
)

// result is one size's run, as the child prints it.
type result struct {
	N         int     `json:"n"`
	Pass      bool    `json:"pass"`
	Error     string  `json:"error,omitempty"`
	Virtual   string  `json:"virtual"`
	WallSec   float64 `json:"wallSeconds"` // the run, as the CLI reports it (build, run, checks)
	Entries   int     `json:"entries"`
	Digest    string  `json:"digest"`
	PeakRSSMB float64 `json:"peakRSSMB"` // filled in by the parent, from the child's rusage
	Same      *bool   `json:"deterministic,omitempty"`
}

func main() {
	n := flag.Int("n", 0, "run one size in this process and print its result as JSON")
	sizes := flag.String("sizes", "5,20,50,100,200,1000", "comma-separated numbers of product nodes")
	determinism := flag.Bool("check-determinism", false, "run each size twice and compare the journals")
	cpuprofile := flag.String("cpuprofile", "", "with -n: write a CPU profile of the run to this file")
	memprofile := flag.String("memprofile", "", "with -n: write a heap profile (at the run's end) to this file")
	maxMemory := flag.Uint64("max-memory", 2<<30, "memory budget of a run, in bytes: the soft limit the collector keeps under, as `faultline sweep` sets it (sweep.TuneGC; GOGC and GOMEMLIMIT in the environment win)")
	flag.Parse()
	if *n > 0 {
		defer sweep.TuneGC(*maxMemory)()
		stop, err := profile(*cpuprofile, *memprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		defer stop()
		if err := runOne(*n, *determinism); err != nil {
			stop()
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		return
	}
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "scale: -sizes: %q is not a positive number\n", f)
			os.Exit(2)
		}
		ns = append(ns, v)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	fmt.Printf("scale: one gateway, N product nodes, 10 clients × 10 calls/s, 60 s virtual; %s, %d CPUs, GOMAXPROCS %d\n",
		runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	const row = "%6s  %9s  %9s  %10s  %-12s  %s\n"
	fmt.Printf(row, "N", "wall", "peak RSS", "journal", "digest", "verdict")
	failed := false
	for _, v := range ns {
		r, err := child(self, v, *determinism, *maxMemory)
		if err != nil {
			fmt.Printf(row, strconv.Itoa(v), "-", "-", "-", "-", "error: "+err.Error())
			failed = true
			continue
		}
		verdict := "PASS"
		if !r.Pass {
			verdict, failed = "FAIL "+r.Error, true
		}
		if r.Same != nil && !*r.Same {
			verdict, failed = verdict+" (not deterministic)", true
		}
		fmt.Printf(row, strconv.Itoa(v), fmt.Sprintf("%.2f s", r.WallSec), fmt.Sprintf("%.0f MB", r.PeakRSSMB),
			strconv.Itoa(r.Entries), r.Digest[:12], verdict)
	}
	if failed {
		os.Exit(1)
	}
}

// child runs one size in a new process and reads its result and peak RSS.
func child(self string, n int, determinism bool, maxMemory uint64) (*result, error) {
	args := []string{"-n", strconv.Itoa(n), "-max-memory", strconv.FormatUint(maxMemory, 10)}
	if determinism {
		args = append(args, "-check-determinism")
	}
	cmd := exec.Command(self, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("child output: %w", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports kilobytes
	}
	return &r, nil
}

// profile starts the CPU profile and returns what writes both profiles at the end.
func profile(cpu, mem string) (func(), error) {
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	var done atomic.Bool // read by the sampler goroutine
	if mem != "" {
		// The heap profile that matters is the one at the peak: take one each time the live
		// heap grows past 1.2× the largest seen, checked every 50 ms; the last one wins.
		go func() {
			var peak uint64
			for !done.Load() {
				time.Sleep(50 * time.Millisecond)
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak*12/10 {
					peak = ms.HeapInuse
					if f, err := os.Create(mem + ".peak"); err == nil {
						_ = pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
		}()
	}
	return func() {
		if done.Swap(true) {
			return
		}
		if cpu != "" {
			pprof.StopCPUProfile()
		}
		if mem != "" {
			if f, err := os.Create(mem); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}, nil
}

func runOne(n int, determinism bool) error {
	start := time.Now()
	res, err := scenarios.Run(Scenario(n), scenarios.Options{Limits: Limits(n), CheckDeterminism: determinism})
	if err != nil {
		return err
	}
	wall := res.WallTime
	if determinism {
		wall = time.Since(start) // both runs
	}
	return json.NewEncoder(os.Stdout).Encode(result{N: n, Pass: res.Pass, Error: res.Error, Virtual: res.VirtualTime.String(),
		WallSec: wall.Seconds(), Entries: len(res.Journal), Digest: res.JournalDigest(), Same: res.Deterministic})
}
