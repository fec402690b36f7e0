package logging_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/logging"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/testutil"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

var at = fixedClock(time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC))

func TestFormatters(t *testing.T) {
	cases := map[string]string{
		logging.Full:   "[2026-03-04T05:06:07.891Z] INFO  n1/PRODUCT: stock changed id=p1 delta=-2 note=\"two left\"\n",
		logging.Short:  "[05:06:07.891Z] INFO  PRODUCT: stock changed id=p1 delta=-2 note=\"two left\"\n",
		logging.Simple: "INFO  - stock changed id=p1 delta=-2 note=\"two left\"\n",
		logging.JSON:   `{"ts":1772600767891,"level":"info","msg":"stock changed","nodeID":"n1","ns":"shop","mod":"product","id":"p1","delta":-2,"note":"two left"}` + "\n",
	}
	for format, want := range cases {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(&buf, logging.Options{Formatter: format, Clock: at, Namespace: "shop"})
			l.With("node", "n1").With("service", "product").With("id", "p1").Info("stock changed", "delta", -2, "note", "two left")
			assert.Equal(t, want, buf.String())
		})
	}
}

func TestLevelsAndModules(t *testing.T) {
	var buf bytes.Buffer
	h, err := logging.NewHandler(&buf, logging.Options{Formatter: logging.Simple, Clock: at,
		Levels: map[string]string{"*": "warn", "BROKER": "info", "PRODUCT": "debug", "PAY*": "error", "PAYMENT.V2": "trace"}})
	require.NoError(t, err)
	assert.Equal(t, logging.LevelInfo, h.LevelOf("BROKER"))
	assert.Equal(t, logging.LevelDebug, h.LevelOf("product"))
	assert.Equal(t, logging.LevelError, h.LevelOf("PAYMENT"))
	assert.Equal(t, logging.LevelTrace, h.LevelOf("PAYMENT.V2"), "an exact name beats a glob")
	assert.Equal(t, logging.LevelWarn, h.LevelOf("ORDER"))

	l := slog.New(h).With("node", "n1")
	l.Info("broker info")
	l.Debug("broker debug")
	l.With("service", "product").Debug("product debug")
	l.With("service", "product").Log(nil, logging.LevelTrace, "product trace")
	l.With("service", "order").Info("order info")
	l.With("service", "order").Warn("order warn")
	l.With("service", "payment").Warn("payment warn")
	l.With("service", "payment").Log(nil, logging.LevelFatal, "payment fatal", "err", errors.New("disk full"))
	assert.Equal(t, "INFO  - broker info\nDEBUG - product debug\nWARN  - order warn\nFATAL - payment fatal err=\"disk full\"\n", buf.String())

	_, err = logging.NewHandler(&buf, logging.Options{Levels: map[string]string{"X": "loud"}})
	assert.EqualError(t, err, `logging: module X: logging: unknown level "loud" (fatal, error, warn, info, debug, trace, off)`)
	_, err = logging.NewHandler(&buf, logging.Options{Formatter: "fancy"})
	assert.EqualError(t, err, `logging: unknown formatter "fancy" (full, short, simple, json)`)
}

func TestGroupsAndJSONBindings(t *testing.T) {
	var buf bytes.Buffer
	l := logging.New(&buf, logging.Options{Formatter: logging.JSON, Clock: at})
	l.With("node", "n2").WithGroup("req").With("id", 7).Warn("slow", "ms", 12)
	assert.Equal(t, `{"ts":1772600767891,"level":"warn","msg":"slow","nodeID":"n2","ns":"","mod":"broker","req":{"id":7},"req":{"ms":12}}`+"\n", buf.String())
	buf.Reset()
	l = logging.New(&buf, logging.Options{Formatter: logging.Short, Clock: at})
	l.WithGroup("req").Info("slow", "ms", 12, slog.Group("db", "q", "get"))
	assert.Equal(t, "[05:06:07.891Z] INFO  BROKER: slow req.ms=12 req.db.q=get\n", buf.String())
}

func TestFileLogger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	sim := rt.NewSim(1)
	assert.Equal(t, filepath.Join(dir, "faultline-2026-01-01-node-7.log"), logging.FileName(dir, "node-7", sim))
	f, err := logging.OpenFile(dir, "node-7", sim)
	require.NoError(t, err)
	l := logging.New(f, logging.Options{Clock: sim})
	l.With("node", "node-7").Error("boom")
	require.NoError(t, f.Close())
	raw, err := os.ReadFile(logging.FileName(dir, "node-7", sim))
	require.NoError(t, err)
	assert.Equal(t, "[2026-01-01T00:00:00.000Z] ERROR node-7/BROKER: boom\n", string(raw))
}

// seededRun runs a two-node cluster in the simulator with realistic (seeded) latency: an
// action that logs at debug and info, one that panics (the broker logs it), and a call that
// times out. It returns everything both nodes logged.
func seededRun(t *testing.T, seed uint64) string {
	var out bytes.Buffer
	c := testutil.NewSim(seed, testutil.NetworkSpec{})
	defer c.Close()
	logger := logging.New(&out, logging.Options{Clock: c.Runtime, Levels: map[string]string{"*": "info", "PRODUCT": "debug"}})
	c.MustAddNode("caller", broker.Options{Logger: logger})
	c.MustAddNode("server", broker.Options{Logger: logger}, &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Handler: func(ctx *broker.Context) (any, error) {
			log := ctx.Service.Logger
			log.Debug("get", "id", ctx.Params["id"])
			if err := ctx.Sleep(3 * time.Millisecond); err != nil {
				return nil, err
			}
			log.Info("found", "id", ctx.Params["id"], "from", ctx.NodeIDOfCaller())
			return map[string]any{"id": ctx.Params["id"]}, nil
		}},
		"bad": {Handler: func(ctx *broker.Context) (any, error) { panic("nil stock") }},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		caller := c.Node("caller")
		for i := range 3 {
			_, err := caller.Call("product.get", map[string]any{"id": i})
			require.NoError(t, err)
		}
		_, err := caller.Call("product.bad", nil)
		require.Error(t, err)
		_, err = caller.Call("product.get", map[string]any{"id": 9}, broker.WithTimeout(time.Millisecond))
		require.Error(t, err)
		c.Runtime.Sleep(10 * time.Millisecond)
	})
	return out.String()
}

func TestSeededRunLogsAreByteIdentical(t *testing.T) {
	first := seededRun(t, 42)
	second := seededRun(t, 42)
	assert.Equal(t, first, second)
	lines := strings.Split(strings.TrimSuffix(first, "\n"), "\n")
	// The exact lines: virtual timestamps (the seed fixes every network delay), the node and
	// the module of each, the service's debug line kept by PRODUCT=debug.
	assert.Equal(t, []string{
		"[2026-01-01T00:00:00.004Z] DEBUG server/PRODUCT: get id=0",
		"[2026-01-01T00:00:00.007Z] INFO  server/PRODUCT: found id=0 from=caller",
		"[2026-01-01T00:00:00.008Z] DEBUG server/PRODUCT: get id=1",
		"[2026-01-01T00:00:00.011Z] INFO  server/PRODUCT: found id=1 from=caller",
		"[2026-01-01T00:00:00.014Z] DEBUG server/PRODUCT: get id=2",
		"[2026-01-01T00:00:00.017Z] INFO  server/PRODUCT: found id=2 from=caller",
		`[2026-01-01T00:00:00.020Z] ERROR server/BROKER: handler panicked action=product.bad panic="nil stock"`,
		// The timed-out call: its handler's Sleep ends at the deadline, so "found" never comes.
		"[2026-01-01T00:00:00.022Z] DEBUG server/PRODUCT: get id=9",
	}, lines)
	other := seededRun(t, 43)
	assert.NotEqual(t, first, other, "another seed draws other latencies")
}
