package repl

import (
	"fmt"
	"slices"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/scenarios"
)

// benchMaxCalls bounds a bench in the simulator, where a local call may take no virtual
// time at all and a time bound alone would never end it.
const benchMaxCalls = 100_000

// bench calls an action back to back for --time (or --num calls) and prints what Moleculer's
// bench prints, plus latency percentiles. In the debugger the time is virtual.
func (s *Session) bench(line string, a *args) error {
	action, err := a.need("ACTION")
	if err != nil {
		return err
	}
	params, err := a.object("params")
	if err != nil {
		return err
	}
	fl, err := a.flags(map[string]string{"time": "duration", "num": "int", "meta": "json"})
	if err != nil {
		return err
	}
	length, _ := fl["time"].(time.Duration)
	num, _ := fl["num"].(int)
	meta, _ := fl["meta"].(map[string]any)
	if length == 0 && num == 0 {
		length = 5 * time.Second
	}
	if s.debug != nil {
		if length > scenarios.InterventionLimit {
			return fmt.Errorf("bench --time is at most %s in the debugger", scenarios.InterventionLimit)
		}
		if num == 0 || num > benchMaxCalls {
			num = benchMaxCalls
		}
	}
	fmt.Fprintf(s.out, ">> Benchmark '%s' with params: %s\n", action, compact(params))
	if length > 0 {
		fmt.Fprintf(s.out, "Running %s...\n", length)
	} else {
		fmt.Fprintf(s.out, "Running x %d times...\n", num)
	}
	b := s.target.Node()
	var (
		lat     []time.Duration
		errored int
		total   time.Duration
	)
	if err := s.target.Do(line, func() {
		clock := b.Runtime()
		start := clock.Now()
		for (num == 0 || len(lat) < num) && (length == 0 || clock.Now().Sub(start) < length) {
			t0 := clock.Now()
			_, err := b.Call(action, params, broker.WithMeta(meta))
			lat = append(lat, clock.Now().Sub(t0))
			if err != nil {
				errored++
			}
		}
		total = clock.Now().Sub(start)
	}); err != nil {
		return err
	}
	n := len(lat)
	fmt.Fprintln(s.out, "\nBenchmark result:")
	fmt.Fprintf(s.out, "\n  %d requests in %s, %d error(s)\n", n, total, errored)
	if total > 0 {
		fmt.Fprintf(s.out, "\n  Requests/sec: %.1f\n", float64(n)/total.Seconds())
	} else {
		fmt.Fprintln(s.out, "\n  Requests/sec: - (no time passed)")
	}
	if n > 0 {
		slices.Sort(lat)
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		q := func(p float64) time.Duration { return lat[min(n-1, int(p*float64(n)))] }
		fmt.Fprintln(s.out, "\n  Latency:")
		for _, r := range [][2]any{{"Avg", sum / time.Duration(n)}, {"Min", lat[0]}, {"Max", lat[n-1]},
			{"p50", q(0.50)}, {"p90", q(0.90)}, {"p99", q(0.99)}} {
			fmt.Fprintf(s.out, "    %s: %10s\n", r[0], humanize(r[1].(time.Duration)))
		}
	}
	if errored > 0 {
		return fmt.Errorf("%d of %d calls failed", errored, n)
	}
	return nil
}
