package report_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
	"github.com/faultline/faultline/scenarios/report"
	"github.com/faultline/faultline/scenarios/report/reporttest"
	"github.com/faultline/faultline/testutil"
)

// runs returns three runs: breaker-cycle passing, the same with a wrong expectation
// (failing), and a run that broke (a run error). breaker-cycle runs on a fixed 1 ms network
// (no jitter) so that the instants the reports show are round: every reply lands 2 ms after
// its call, the breaker opens at +8.002s.
func runs(t *testing.T) []report.Run {
	t.Helper()
	ok := scenarios.BreakerCycle()
	ok.Network = scenarios.NetworkSpec{Latency: time.Millisecond}
	res, err := scenarios.Run(ok, scenarios.Options{})
	require.NoError(t, err)
	require.True(t, res.Pass)

	bad := ok
	bad.Name = "breaker-cycle-wrong"
	bad.Checks = append([]scenarios.CheckSpec(nil), bad.Checks...)
	bad.Checks[1].Transitions = []scenarios.TransitionAt{{To: "open", At: 7 * time.Second}}
	badRes, err := scenarios.Run(bad, scenarios.Options{})
	require.NoError(t, err)
	require.False(t, badRes.Pass)

	broken := &scenarios.Result{Scenario: "broken <&>", Seed: 3, Error: "deadlock: nothing can ever happen again", VirtualTime: time.Second}
	return []report.Run{
		{File: "scenarios/testdata/breaker-cycle.yaml", Source: []byte("name: breaker-cycle\n"), Scenario: &ok, Result: res},
		{File: "x/wrong.yaml", Source: []byte("name: breaker-cycle-wrong\n"), Scenario: &bad, Result: badRes, Replay: "faultline run --seed 1 x/wrong.yaml"},
		{Source: []byte{}, Result: broken, Replay: "faultline run --seed 3 broken.yaml"},
	}
}

func TestJUnitValidatesAgainstTheSchema(t *testing.T) {
	rs := runs(t)
	path := filepath.Join(t.TempDir(), "junit.xml")
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, rs, report.JUnitOptions{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Hostname: "ci"}))
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	reporttest.CheckJUnit(t, path)

	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc.Suites, 3)
	assert.Len(t, doc.Suites[0].Cases, len(rs[0].Result.Checks), "one testcase per check")
	assert.Equal(t, "breaker-cycle-wrong", doc.Suites[1].Name)
	var failure string
	for _, c := range doc.Suites[1].Cases {
		if c.Failure != nil {
			failure = c.Failure.Message + "\n" + c.Failure.Text
		}
	}
	assert.Contains(t, failure, "expected closed→open@+7s, got closed→open@+8.002s")
	assert.Contains(t, failure, "replay: faultline run --seed 1 x/wrong.yaml")
	assert.Equal(t, "broken <&>", doc.Suites[2].Name)
	require.NotNil(t, doc.Suites[2].Cases[0].Error)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Errors)
}

// TestJUnitSchemaRejectsBrokenFiles: the schema and the structural check are not vacuous.
func TestJUnitSchemaRejectsBrokenFiles(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, runs(t)[:1], report.JUnitOptions{Hostname: "ci"}))
	good := b.String()
	broken := map[string]string{
		"no hostname":     strings.Replace(good, ` hostname="ci"`, "", 1),
		"no system-err":   strings.Replace(good, "<system-err></system-err>", "", 1),
		"bad time":        strings.Replace(good, `time="0.000"`, `time="soon"`, 1),
		"wrong count":     strings.Replace(good, `hostname="ci" tests="8"`, `hostname="ci" tests="9"`, 1),
		"no failure type": strings.Replace(good, `<testcase name=`, `<testcase><failure></failure></testcase><testcase name=`, 1),
	}
	for name, doc := range broken {
		require.NotEqual(t, good, doc, name)
		err := reporttest.Structural([]byte(doc))
		if name == "no failure type" {
			// A testcase without attributes is caught first.
			assert.ErrorContains(t, err, "attribute name is required", name)
		} else {
			assert.Error(t, err, name)
		}
	}
}

// TestJUnitXmllint: libxml2 checks the same output against junit.xsd itself, and rejects
// the broken variants the Go check rejects.
func TestJUnitXmllint(t *testing.T) {
	xmllint := testutil.RequireProgram(t, "xmllint", reporttest.XmllintHint)
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, runs(t), report.JUnitOptions{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Hostname: "ci"}))
	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	reporttest.Xmllint(t, path)

	b.Reset()
	require.NoError(t, report.WriteJUnit(&b, runs(t)[:1], report.JUnitOptions{Hostname: "ci"}))
	good := b.String()
	for name, doc := range map[string]string{ // counts are beyond what an XSD can say
		"no hostname":     strings.Replace(good, ` hostname="ci"`, "", 1),
		"no system-err":   strings.Replace(good, "<system-err></system-err>", "", 1),
		"bad time":        strings.Replace(good, `time="0.000"`, `time="soon"`, 1),
		"no failure type": strings.Replace(good, `<testcase name=`, `<testcase><failure></failure></testcase><testcase name=`, 1),
	} {
		path := filepath.Join(t.TempDir(), "broken.xml")
		require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
		out, err := exec.Command(xmllint, "--noout", "--schema", reporttest.XSD(), path).CombinedOutput()
		assert.Error(t, err, "xmllint accepted %s:\n%s", name, out)
	}
}

func TestJournalRoundTrip(t *testing.T) {
	rs := runs(t)[:2]
	var b bytes.Buffer
	require.NoError(t, report.WriteJournal(&b, rs))
	recs, err := report.ReadJournal(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	for i, rec := range recs {
		assert.Equal(t, rs[i].Result.Seed, rec.Meta.Seed)
		assert.Equal(t, string(rs[i].Source), rec.Meta.Source)
		assert.Equal(t, report.Digest(rs[i].Source), rec.Meta.SourceSHA256)
		assert.Equal(t, len(rs[i].Result.Journal), rec.Meta.Entries)
		idx, _, _ := report.Diff(rec.Lines, rs[i].Result.Journal)
		assert.Equal(t, -1, idx, "byte-identical")
	}
	tampered := append([][]byte(nil), recs[0].Lines...)
	tampered[5] = bytes.Replace(tampered[5], []byte(`"seq":6`), []byte(`"seq":60`), 1)
	idx, want, got := report.Diff(tampered, rs[0].Result.Journal)
	assert.Equal(t, 5, idx)
	assert.Contains(t, string(want), `"seq":60`)
	assert.Contains(t, string(got), `"seq":6,`)
	idx, _, got = report.Diff(recs[0].Lines[:10], rs[0].Result.Journal)
	assert.Equal(t, 10, idx, "a truncated journal differs at its end")
	assert.NotNil(t, got)

	_, err = report.ReadJournal(strings.NewReader(`{"seq":1,"t":0,"kind":"scenario.step"}` + "\n"))
	assert.ErrorContains(t, err, "no scenario.meta header")
	_, err = report.ReadJournal(strings.NewReader("not json\n"))
	assert.ErrorContains(t, err, "line 1: not a journal entry")
}

func TestTimeline(t *testing.T) {
	r := runs(t)[0]
	tl := report.BuildTimeline(r.Result.Journal, r.Result.VirtualTime)
	require.Len(t, tl.Faults, 1)
	f := tl.Faults[0]
	assert.Equal(t, "product-1 fails", f.Name)
	assert.Equal(t, 5*time.Second, f.Start)
	assert.Equal(t, 20*time.Second, f.End)
	assert.False(t, f.UntilTheEnd)
	assert.Equal(t, "action.error product.get on product-1, MoleculerError 500", f.Target)
	require.Len(t, tl.Breakers, 1)
	l := tl.Breakers[0]
	assert.Equal(t, "gateway", l.Observer)
	assert.Equal(t, "product-1:product.get", l.Endpoint)
	rtt := 2 * time.Millisecond
	assert.Equal(t, report.BreakerSpan{State: "closed", Start: 0, End: 8*time.Second + rtt}, l.Spans[0])
	assert.Equal(t, report.BreakerSpan{State: "open", Start: 8*time.Second + rtt, End: 13*time.Second + rtt}, l.Spans[1])
	last := l.Spans[len(l.Spans)-1]
	assert.Equal(t, report.BreakerSpan{State: "closed", Start: 20*time.Second + rtt, End: 40 * time.Second}, last)
	require.Len(t, tl.Calls, 1, "the set-up calls (seeding the product) are not the workload's")
	assert.Equal(t, "product.get", tl.Calls[0].Action)
	assert.Len(t, tl.Calls[0].Calls, 39)
}

func TestSummary(t *testing.T) {
	rs := runs(t)
	var b bytes.Buffer
	report.WriteSummary(&b, rs[0], report.SummaryOptions{})
	out := b.String()
	for _, want := range []string{
		"PASS  breaker-cycle  seed 1  scenarios/testdata/breaker-cycle.yaml",
		"checks: 8/8 passed",
		"PASS breaker product-1:product.get: closed→open@+8.002s→half-open@+13.002s→open@+14.002s→half-open@+19.002s→closed@+20.002s",
		"+5s       fault    product-1 fails applied: action.error product.get on product-1, MoleculerError 500",
		"+8.002s   breaker  gateway → product-1:product.get: closed → open (4 of 8 failed)",
		"+20s      heal     product-1 fails healed",
		"time: 40s virtual in ",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "replay:", "a passing run prints no replay command")

	b.Reset()
	report.WriteSummary(&b, rs[1], report.SummaryOptions{Quiet: true})
	assert.Equal(t, "FAIL  breaker-cycle-wrong  seed 1  x/wrong.yaml\n"+
		"  FAIL breaker product-1:product.get: expected closed→open@+7s, got closed→open@+8.002s→half-open@+13.002s→open@+14.002s→half-open@+19.002s→closed@+20.002s (first deviation at +7s)\n"+
		"  replay: faultline run --seed 1 x/wrong.yaml\n", b.String())

	b.Reset()
	report.WriteTable(&b, rs)
	assert.True(t, strings.HasSuffix(b.String(), "1 passed, 2 failed\n"), b.String())
}

// TestHTMLStructure reads the report with an HTML parser, as a browser would, everywhere.
func TestHTMLStructure(t *testing.T) {
	rs := runs(t)
	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, rs, report.HTMLOptions{}))
	doc, err := reporttest.ParseHTML(b.Bytes())
	require.NoError(t, err)
	assert.Equal(t, "Faultline scenario report", doc.Title)
	assert.Equal(t, "1 passed, 2 failed", doc.Totals)
	require.Len(t, doc.Runs, 3)

	ok := doc.Runs[0]
	assert.Equal(t, "breaker-cycle", ok.Name)
	assert.Equal(t, "PASS", ok.Verdict)
	assert.Empty(t, ok.Replay, "a passing run prints no replay command")
	require.Len(t, ok.Checks, len(rs[0].Result.Checks), "one row per check")
	for i, c := range ok.Checks {
		assert.Equal(t, rs[0].Result.Checks[i].Name, c.Name)
		assert.True(t, c.Pass, c.Name)
	}
	assert.Equal(t, 1, ok.Timelines)
	assert.Equal(t, 1, ok.Faults, "one fault window: product-1 fails")
	assert.Equal(t, 1, ok.FaultShades)
	// closed → open → half-open → half-open-wait (the probe in flight) → open → half-open →
	// half-open-wait → closed: 8 spans, as the check's sequence above says.
	assert.Equal(t, map[string]int{"closed": 2, "open": 2, "half-open": 2, "half-open-wait": 2}, ok.Breakers)
	assert.Positive(t, ok.OKBars)
	assert.Positive(t, ok.ErrBars, "the failing calls of the fault window")

	wrong := doc.Runs[1]
	assert.Equal(t, "FAIL", wrong.Verdict)
	assert.Equal(t, "faultline run --seed 1 x/wrong.yaml", wrong.Replay)
	var failed []string
	for _, c := range wrong.Checks {
		if !c.Pass {
			failed = append(failed, c.Name)
		}
	}
	assert.Equal(t, []string{rs[1].Result.Checks[1].Name}, failed)

	assert.Equal(t, "broken <&>", doc.Runs[2].Name, "names are escaped, and read back as text")
	assert.Equal(t, 1, doc.Runs[2].Timelines)

	// The parser's own checks are not vacuous.
	for name, bad := range map[string]string{
		"external script":  strings.Replace(b.String(), "<script>", `<script src="https://cdn.example/x.js">`, 1),
		"external image":   strings.Replace(b.String(), "<h1>", `<h1><img src="logo.png">`, 1),
		"css url":          strings.Replace(b.String(), "<style>", "<style>body{background:url(https://x.example/a.png)}", 1),
		"css import":       strings.Replace(b.String(), "<style>", "<style>@import 'x.css';", 1),
		"inline style url": strings.Replace(b.String(), "<h1>", `<h1 style="background:url(/a.png)">`, 1),
	} {
		require.NotEqual(t, b.String(), bad, name)
		_, err := reporttest.ParseHTML([]byte(bad))
		assert.ErrorContains(t, err, "not self-contained", name)
	}
}

func TestHTMLRendersInChromium(t *testing.T) {
	rs := runs(t)
	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, rs, report.HTMLOptions{}))
	html := b.String()
	require.NoError(t, reporttest.SelfContained(html))
	assert.Equal(t, 3, strings.Count(html, `<svg class="timeline"`))
	assert.Contains(t, html, "replay: <code>faultline run --seed 1 x/wrong.yaml</code>")

	path := filepath.Join(t.TempDir(), "report.html")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	r := reporttest.Render(t, path, 2600)
	assert.Contains(t, r.DOM, `data-rendered="3"`, "the inline script ran over the three timelines")
	assert.Contains(t, r.DOM, `<h1>Faultline scenario report</h1>`)
	assert.Contains(t, r.DOM, `1 passed, 2 failed`)
	// What the eye sees: ok calls (teal), open breakers (red), fault windows (orange).
	assert.Greater(t, r.Pixels(0x2a, 0x9d, 0x8f, 6), 500, "ok calls and PASS badges drawn")
	assert.Greater(t, r.Pixels(0xe5, 0x38, 0x3b, 6), 500, "open breaker spans drawn")
	assert.Greater(t, r.Pixels(247, 185, 137, 10), 300, "fault windows drawn")
}

// A failing linearizable check embeds porcupine's visualization of the violating history
// (its own page, in an iframe's srcdoc, self-contained like the report), with the run's fault
// windows in a "faults" row; a passing run embeds none.
func TestHTMLEmbedsPorcupineVisualization(t *testing.T) {
	var rs []report.Run
	for _, f := range []string{"../testdata/nemesis/price-register.yaml", "../testdata/nemesis/planted/price-register-stale.yaml"} {
		s, err := file.Load(f)
		require.NoError(t, err)
		res, err := scenarios.Run(*s, scenarios.Options{})
		require.NoError(t, err)
		rs = append(rs, report.Run{File: f, Scenario: s, Result: res})
	}
	require.True(t, rs[0].Result.Pass)
	require.False(t, rs[1].Result.Pass)
	lin := rs[1].Result.Checks[0]
	require.Equal(t, "linearizable", lin.Name)
	require.False(t, lin.Pass)
	assert.Nil(t, rs[0].Result.Checks[0].Visualization, "a passing check has no picture")

	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, rs, report.HTMLOptions{}))
	doc, err := reporttest.ParseHTML(b.Bytes())
	require.NoError(t, err, "the embedded page refers to nothing outside the file either")
	require.Len(t, doc.Runs, 2)
	assert.Empty(t, doc.Runs[0].Visualizations)
	require.Len(t, doc.Runs[1].Visualizations, 1)
	v := doc.Runs[1].Visualizations[0]
	assert.Equal(t, "linearizable: porcupine visualization", v.Frame)
	assert.Equal(t, "Porcupine", v.Title)
	assert.Equal(t, string(lin.Visualization), v.Page, "the page, byte for byte, once the attribute is unescaped")
	// The operation the verdict names is in the picture, described as the verdict does.
	assert.Equal(t, "FAIL linearizable: expected a linearizable history of product operations (a register of price per product), "+
		"got product 1: 284 operations are not linearizable; no order explains get(1) → price 10, stock 100 by client 1, "+
		"invoked at +1.6s, completed at +1.602555746s (first deviation at +1.6s)", lin.Message())
	assert.Contains(t, v.Page, `"get(1) → price 10, stock 100"`)
	// Every fault of the schedule is annotated, by name, in the faults row.
	sched := rs[1].Scenario.Schedule()
	require.NotEmpty(t, sched)
	for _, f := range sched {
		assert.Contains(t, v.Page, `"`+f.Name+`"`)
	}
	assert.Contains(t, v.Page, `"Tag":"faults"`)
}
