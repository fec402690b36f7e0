package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/faultline/faultline/broker/logging"
	"github.com/faultline/faultline/broker/tracing"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/report"
)

// writeObservations writes `faultline run --metrics DIR` (one Prometheus text file per run:
// one exposition cannot hold two runs' series of one name) and `--traces FILE` (one OTLP
// JSON document with every run's spans).
func (a *app) writeObservations(runs []report.Run, metricsDir, tracesOut string) error {
	if metricsDir != "" {
		if err := os.MkdirAll(metricsDir, 0o755); err != nil {
			return invalid("writing the metrics: %v", err)
		}
		for _, r := range runs {
			path := filepath.Join(metricsDir, fmt.Sprintf("%s.seed-%d.prom", r.Result.Scenario, r.Result.Seed))
			if err := os.WriteFile(path, r.Result.Metrics, 0o644); err != nil {
				return invalid("writing the metrics: %v", err)
			}
			fmt.Fprintf(a.stderr, "wrote the metrics of %s to %s\n", r.Result.Scenario, path)
		}
	}
	if tracesOut != "" {
		var spans []sdktrace.ReadOnlySpan
		for _, r := range runs {
			spans = append(spans, r.Result.Spans...)
		}
		var b bytes.Buffer
		if err := tracing.WriteOTLPJSON(&b, spans); err != nil {
			return invalid("writing the traces: %v", err)
		}
		if err := os.WriteFile(tracesOut, b.Bytes(), 0o644); err != nil {
			return invalid("writing the traces: %v", err)
		}
		fmt.Fprintf(a.stderr, "wrote %d spans to %s\n", len(spans), tracesOut)
	}
	return nil
}

// openLog sets up `faultline run --log FILE --log-format F --log-level '*=warn,BROKER=info'`.
func (a *app) openLog(opts *scenarios.Options, path, format, levels string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	lo := logging.Options{Formatter: format, Levels: map[string]string{}}
	for _, kv := range strings.Split(levels, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		mod, level, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, invalid("--log-level: %q is not MODULE=level", kv)
		}
		lo.Levels[strings.TrimSpace(mod)] = strings.TrimSpace(level)
	}
	if _, err := logging.NewHandler(io.Discard, lo); err != nil {
		return nil, invalid("--log-format/--log-level: %v", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, invalid("--log: %v", err)
	}
	opts.Log, opts.LogOptions = f, lo
	return func() {
		if err := f.Close(); err == nil {
			fmt.Fprintf(a.stderr, "wrote the logs to %s\n", path)
		}
	}, nil
}
