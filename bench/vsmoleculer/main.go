// Command vsmoleculer runs Faultline's broker and Moleculer JS side by side on the same four
// cases (see cases.go and interop/node/bench.js), with 1 and 100 concurrent callers, the two
// runtimes alternated round after round, and prints ops/s, p50/p99 and the ratio per case.
// `make bench-vs-moleculer` runs it; it needs node and `npm ci` in interop/node.
//
// The figures are medians over the rounds. Each measurement runs for -duration after a short
// warm-up; latency is one caller's call, from issue to answer.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// result is one measurement, the shape bench.js prints too.
type result struct {
	Case      string  `json:"case"`
	Callers   int     `json:"callers"`
	Ops       int     `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"opsPerSec"`
	P50us     float64 `json:"p50us"`
	P99us     float64 `json:"p99us"`
}

// row is one case × callers in the report: the median of each side and their ratio.
type row struct {
	Case      string   `json:"case"`
	Title     string   `json:"title"`
	Callers   int      `json:"callers"`
	Faultline result   `json:"faultline"`
	Moleculer result   `json:"moleculer"`
	Ratio     float64  `json:"ratio"` // Faultline ops/s ÷ Moleculer ops/s
	Rounds    []result `json:"rounds"`
}

type report struct {
	Machine  string `json:"machine"`
	Go       string `json:"go"`
	Node     string `json:"node"`
	Duration string `json:"duration"`
	Rounds   int    `json:"rounds"`
	Rows     []row  `json:"rows"`
}

func main() {
	duration := flag.Duration("duration", 2*time.Second, "measuring time per case, callers and side")
	rounds := flag.Int("rounds", 2, "alternated rounds (Faultline, then Moleculer, per round)")
	callersFlag := flag.String("callers", "1,100", "comma-separated numbers of concurrent callers")
	script := flag.String("node-script", "interop/node/bench.js", "the Moleculer JS twin")
	out := flag.String("json", "out/bench-vs-moleculer.json", "where to write the JSON report (\"\" for none)")
	only := flag.String("cases", "", "comma-separated case names to run (default all)")
	goOnly := flag.Bool("go-only", false, "measure Faultline alone (no node needed; no ratio)")
	flag.Parse()

	var callers []int
	for _, s := range strings.Split(*callersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("-callers: %q is not a positive number", s)
		}
		callers = append(callers, n)
	}
	nodeVersion := []byte("not run")
	if !*goOnly {
		v, err := exec.Command("node", "--version").Output()
		if err != nil {
			fatalf("node not found (install Node.js 20+, then `npm ci` in interop/node): %v", err)
		}
		nodeVersion = v
	}
	rep := report{
		Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Go:      runtime.Version(), Node: strings.TrimSpace(string(nodeVersion)),
		Duration: duration.String(), Rounds: *rounds,
	}
	for _, c := range cases {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), c.name) {
			continue
		}
		for _, n := range callers {
			var goRes, jsRes []result
			for r := 0; r < *rounds; r++ {
				g, err := runGo(c, n, *duration)
				if err != nil {
					fatalf("faultline %s/%d: %v", c.name, n, err)
				}
				var j result
				if !*goOnly {
					if j, err = runNode(*script, c.name, n, *duration); err != nil {
						fatalf("moleculer %s/%d: %v", c.name, n, err)
					}
				}
				goRes, jsRes = append(goRes, g), append(jsRes, j)
				fmt.Fprintf(os.Stderr, "round %d %-6s %3d callers: faultline %9.0f ops/s, moleculer %9.0f ops/s\n",
					r+1, c.name, n, g.OpsPerSec, j.OpsPerSec)
			}
			rw := row{Case: c.name, Title: c.title, Callers: n, Faultline: median(goRes), Moleculer: median(jsRes)}
			rw.Ratio = rw.Faultline.OpsPerSec / rw.Moleculer.OpsPerSec
			rw.Rounds = append(goRes, jsRes...)
			rep.Rows = append(rep.Rows, rw)
		}
	}
	printTable(rep)
	if *out != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.MkdirAll(dirOf(*out), 0o755); err != nil {
			fatalf("%v", err)
		}
		if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
			fatalf("%v", err)
		}
		fmt.Printf("\nJSON: %s\n", *out)
	}
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "vsmoleculer: "+format+"\n", args...)
	os.Exit(1)
}

// runGo measures one case with n callers on goroutines.
func runGo(c benchCase, n int, d time.Duration) (result, error) {
	f, err := c.setup()
	if err != nil {
		return result{}, err
	}
	defer f.stop()
	warm := d / 4
	if warm > 500*time.Millisecond {
		warm = 500 * time.Millisecond
	}
	if _, _, err := drive(f, n, warm); err != nil {
		return result{}, err
	}
	runtime.GC() // start each measurement from a clean heap, as a fresh node process does
	lat, secs, err := drive(f, n, d)
	if err != nil {
		return result{}, err
	}
	return summarize(c.name, n, lat, secs), nil
}

// drive runs n callers for d, each calling in a loop, and returns every call's latency.
func drive(f *fixture, n int, d time.Duration) ([]time.Duration, float64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		all   []time.Duration
		first error
	)
	start := time.Now()
	end := start.Add(d)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			var err error
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err = f.call(f.make()); err != nil {
					break
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, time.Since(start).Seconds(), first
}

func summarize(name string, n int, lat []time.Duration, secs float64) result {
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e3
	}
	return result{Case: name, Callers: n, Ops: len(lat), Seconds: secs, OpsPerSec: float64(len(lat)) / secs, P50us: q(0.5), P99us: q(0.99)}
}

// runNode runs the JS twin of one case in a fresh node process.
func runNode(script, name string, n int, d time.Duration) (result, error) {
	cmd := exec.Command("node", script, name, strconv.Itoa(n), strconv.FormatInt(d.Milliseconds(), 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(outb), &r); err != nil {
		return result{}, fmt.Errorf("bench.js printed %q: %v", outb, err)
	}
	return r, nil
}

// median takes each figure's median over the rounds separately.
func median(rs []result) result {
	pick := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m := rs[0]
	m.OpsPerSec = pick(func(r result) float64 { return r.OpsPerSec })
	m.P50us = pick(func(r result) float64 { return r.P50us })
	m.P99us = pick(func(r result) float64 { return r.P99us })
	m.Ops = int(pick(func(r result) float64 { return float64(r.Ops) }))
	m.Seconds = pick(func(r result) float64 { return r.Seconds })
	return m
}

func printTable(rep report) {
	fmt.Printf("Faultline (%s) vs Moleculer 0.15.2 (node %s), %s, %s per measurement, median of %d alternated rounds\n\n",
		rep.Go, rep.Node, rep.Machine, rep.Duration, rep.Rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tcallers\tFaultline ops/s\tp50 µs\tp99 µs\tMoleculer ops/s\tp50 µs\tp99 µs\tratio\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.0f\t%.1f\t%.1f\t%.2f\t\n", r.Case, r.Callers,
			r.Faultline.OpsPerSec, r.Faultline.P50us, r.Faultline.P99us,
			r.Moleculer.OpsPerSec, r.Moleculer.P50us, r.Moleculer.P99us, r.Ratio)
	}
	_ = w.Flush()
}
