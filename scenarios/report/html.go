package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/scenarios/file"
)

// The HTML report is one self-contained file: inline CSS, inline SVG drawn here, and a few
// lines of inline script (a time cursor); no external URL, so it reads offline and can be
// attached to a CI run as is.

const (
	svgWidth   = 1000.0
	labelWidth = 230.0
	plotRight  = 16.0
	rowHeight  = 18.0
	callHeight = 36.0
	axisHeight = 26.0
	sectionGap = 20.0
)

// Palette for error names, in order of their sorted names.
var errorPalette = []string{"#d62828", "#9b2226", "#e76f51", "#6a4c93", "#c2185b", "#8d6e63", "#f77f00", "#5e548e"}

var stateColor = map[string]string{"closed": "#8fd19e", "open": "#e5383b", "half-open": "#f6bd60", "half-open-wait": "#f4a261"}

// HTMLOptions tune the report.
type HTMLOptions struct {
	Title string
	// Now stamps the report (default time.Now()).
	Now time.Time
}

type htmlRun struct {
	ID, Name, File, Description, Verdict, Replay, Error string
	Interrupted                                         bool
	Pass                                                bool
	Seed                                                uint64
	Virtual, Wall, Ratio, Digest                        string
	Entries                                             int
	Checks                                              []htmlCheck
	Passed                                              int
	SVG                                                 template.HTML
	Deterministic                                       string
}

type htmlCheck struct {
	Name, Expected, Actual, At string
	Pass                       bool
	// Visualization is the check's own HTML page of its failure (porcupine's for a
	// linearizable check), embedded as an iframe's srcdoc: a page of its own, with its own
	// script and styles, kept apart from the report's. The template escapes it as an attribute.
	Visualization string
}

// WriteHTML writes the self-contained HTML report of runs.
func WriteHTML(w io.Writer, runs []Run, o HTMLOptions) error {
	if o.Title == "" {
		o.Title = "Faultline scenario report"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	colors := errorColors(runs)
	var hr []htmlRun
	passed := 0
	ids := map[string]int{}
	for _, r := range runs {
		res := r.Result
		if res.Pass {
			passed++
		}
		id := "s-" + slug(res.Scenario)
		ids[id]++
		if ids[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, ids[id])
		}
		h := htmlRun{ID: id, Name: res.Scenario, File: r.File, Verdict: VerdictOf(res), Pass: res.Pass, Seed: res.Seed,
			Replay: r.Replay, Error: res.Error, Interrupted: res.Interrupted, Virtual: res.VirtualTime.String(), Wall: FormatWall(res.WallTime),
			Ratio: ratio(res.VirtualTime, res.WallTime), Digest: res.JournalDigest()[:16], Entries: len(res.Journal)}
		if r.Scenario != nil {
			h.Description = r.Scenario.Description
		}
		if res.Deterministic != nil {
			h.Deterministic = map[bool]string{true: "identical on a second run", false: "DIVERGED on a second run"}[*res.Deterministic]
		}
		for _, c := range res.Checks {
			h.Checks = append(h.Checks, toHTMLCheck(c))
			if c.Pass {
				h.Passed++
			}
		}
		h.SVG = template.HTML(drawTimeline(BuildTimeline(res.Journal, res.VirtualTime), colors))
		hr = append(hr, h)
	}
	return page.Execute(w, map[string]any{
		"Title": o.Title, "Runs": hr, "Passed": passed, "Failed": len(runs) - passed, "Generated": o.Now.UTC().Format("2006-01-02 15:04:05 UTC"),
		"Legend": template.HTML(legend(colors)),
	})
}

func toHTMLCheck(c check.Result) htmlCheck {
	h := htmlCheck{Name: c.Name, Expected: c.Expected, Actual: c.Actual, Pass: c.Pass}
	if !c.Pass {
		h.Visualization = string(c.Visualization)
	}
	if c.At >= 0 {
		h.At = "+" + c.At.String()
	}
	return h
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func errorColors(runs []Run) map[string]string {
	set := map[string]bool{}
	for _, r := range runs {
		for _, e := range r.Result.Journal {
			if e.Kind == "call.finished" && !e.Bool("ok") && e.Int("level") == 1 {
				set[errName(e.Str("error"))] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]string{}
	for i, n := range names {
		out[n] = errorPalette[i%len(errorPalette)]
	}
	return out
}

func errName(s string) string {
	if s == "" {
		return "Error"
	}
	return s
}

func legend(colors map[string]string) string {
	var b strings.Builder
	item := func(color, label, extra string) {
		fmt.Fprintf(&b, `<span class="key"><span class="swatch" style="background:%s%s"></span>%s</span>`, color, extra, html.EscapeString(label))
	}
	item("#2a9d8f", "call ok", "")
	names := make([]string, 0, len(colors))
	for n := range colors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		item(colors[n], n, "")
	}
	item("rgba(244,162,97,.35)", "fault window", ";border:1px solid #f4a261")
	for _, s := range []string{"closed", "open", "half-open", "half-open-wait"} {
		item(stateColor[s], "breaker "+s, "")
	}
	return b.String()
}

// niceStep picks an axis step of 1, 2 or 5 times a power of ten giving at most ~10 ticks.
func niceStep(end time.Duration) time.Duration {
	if end <= 0 {
		return time.Second
	}
	raw := float64(end) / 10
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return time.Duration(m * p)
		}
	}
	return time.Duration(10 * p)
}

type svgBuf struct{ strings.Builder }

func (s *svgBuf) f(format string, args ...any) { fmt.Fprintf(&s.Builder, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// drawTimeline draws one run: an axis, fault windows (a lane per fault, shaded across the
// whole chart), the workload's calls per action (ok and errors by error name, binned in
// time) and each breaker's states per caller and endpoint.
func drawTimeline(tl *Timeline, colors map[string]string) string {
	end := tl.End
	if end <= 0 {
		end = time.Second
	}
	plotW := svgWidth - labelWidth - plotRight
	x := func(t time.Duration) float64 {
		t = max(0, min(t, end))
		return labelWidth + float64(t)/float64(end)*plotW
	}
	faultNames := []string{}
	seenFault := map[string]bool{}
	for _, f := range tl.Faults {
		if !seenFault[f.Name] {
			seenFault[f.Name] = true
			faultNames = append(faultNames, f.Name)
		}
	}
	height := axisHeight + 8
	if len(faultNames) > 0 {
		height += sectionGap + float64(len(faultNames))*rowHeight
	}
	if len(tl.Calls) > 0 {
		height += sectionGap + float64(len(tl.Calls))*(callHeight+4)
	}
	if len(tl.Breakers) > 0 {
		height += sectionGap + float64(len(tl.Breakers))*rowHeight
	}
	height += 8
	var s svgBuf
	s.f(`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" data-end-ns="%d" data-x0="%.1f" data-x1="%.1f" role="img" aria-label="timeline">`,
		svgWidth, height, int64(end), labelWidth, labelWidth+plotW)
	// Fault windows, shaded across every lane.
	for _, f := range tl.Faults {
		s.f(`<rect class="fault-shade" x="%.2f" y="%.0f" width="%.2f" height="%.0f"><title>%s</title></rect>`,
			x(f.Start), axisHeight, math.Max(x(f.End)-x(f.Start), 1), height-axisHeight, esc(f.Name+": "+f.Target))
	}
	// Axis.
	step := niceStep(end)
	s.f(`<g class="axis"><line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`, labelWidth, axisHeight, labelWidth+plotW, axisHeight)
	for t := time.Duration(0); t <= end; t += step {
		s.f(`<line x1="%.2f" y1="%.0f" x2="%.2f" y2="%.0f"/><text x="%.2f" y="%.0f" text-anchor="middle">+%s</text>`,
			x(t), axisHeight-4, x(t), axisHeight, x(t), axisHeight-8, esc(file.FormatDuration(t)))
	}
	s.f(`<text x="4" y="%.0f" class="section">virtual time</text></g>`, axisHeight-8)
	y := axisHeight + 8
	if len(faultNames) > 0 {
		y += sectionGap
		s.f(`<text class="section" x="4" y="%.0f">faults</text>`, y-6)
		for _, name := range faultNames {
			s.f(`<text class="label" x="4" y="%.1f">%s</text>`, y+rowHeight-5, esc(truncate(name, 34)))
			for _, f := range tl.Faults {
				if f.Name != name {
					continue
				}
				until := "healed at +" + f.End.String()
				if f.UntilTheEnd {
					until = "until the end"
				}
				s.f(`<rect class="fault" x="%.2f" y="%.1f" width="%.2f" height="%.0f" rx="2"><title>%s (+%s, %s)</title></rect>`,
					x(f.Start), y+2, math.Max(x(f.End)-x(f.Start), 2), rowHeight-4, esc(f.Name+": "+f.Target), f.Start, until)
			}
			y += rowHeight
		}
	}
	if len(tl.Calls) > 0 {
		y += sectionGap
		s.f(`<text class="section" x="4" y="%.0f">calls (by start time)</text>`, y-6)
		bins := int(plotW / 4)
		for _, lane := range tl.Calls {
			drawCalls(&s, lane, y, bins, end, x, colors)
			y += callHeight + 4
		}
	}
	if len(tl.Breakers) > 0 {
		y += sectionGap
		s.f(`<text class="section" x="4" y="%.0f">circuit breakers (caller → endpoint)</text>`, y-6)
		for _, l := range tl.Breakers {
			s.f(`<text class="label" x="4" y="%.1f">%s</text>`, y+rowHeight-5, esc(truncate(l.Observer+" → "+l.Endpoint, 36)))
			for _, sp := range l.Spans {
				if sp.End < sp.Start {
					continue
				}
				s.f(`<rect class="breaker %s" x="%.2f" y="%.1f" width="%.2f" height="%.0f" fill="%s"><title>%s: %s from +%s to +%s</title></rect>`,
					esc(sp.State), x(sp.Start), y+2, math.Max(x(sp.End)-x(sp.Start), 0.5), rowHeight-4, stateColor[sp.State],
					esc(l.Observer+" → "+l.Endpoint), esc(sp.State), sp.Start, sp.End)
			}
			y += rowHeight
		}
	}
	s.f(`<line class="cursor" x1="0" y1="%.0f" x2="0" y2="%.0f" visibility="hidden"/><text class="cursor-label" x="0" y="%.0f" visibility="hidden"></text>`,
		axisHeight, height, axisHeight+12)
	s.f(`</svg>`)
	return s.String()
}

func drawCalls(s *svgBuf, lane CallLane, y float64, bins int, end time.Duration, x func(time.Duration) float64, colors map[string]string) {
	okCount := make([]int, bins)
	errCount := make([]map[string]int, bins)
	nOK, nErr := 0, 0
	for _, c := range lane.Calls {
		i := int(float64(max(c.Start, 0)) / float64(end) * float64(bins))
		i = min(max(i, 0), bins-1)
		if c.OK {
			okCount[i]++
			nOK++
			continue
		}
		nErr++
		if errCount[i] == nil {
			errCount[i] = map[string]int{}
		}
		errCount[i][errName(c.Error)]++
	}
	peak := 1
	for i := range bins {
		total := okCount[i]
		for _, n := range errCount[i] {
			total += n
		}
		peak = max(peak, total)
	}
	s.f(`<text class="label" x="4" y="%.1f">%s</text><text class="sub" x="4" y="%.1f">%d ok, %d failed</text>`,
		y+14, esc(truncate(lane.Action, 34)), y+28, nOK, nErr)
	base := y + callHeight
	s.f(`<line class="baseline" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, labelWidth, base, svgWidth-plotRight, base)
	binW := (svgWidth - labelWidth - plotRight) / float64(bins)
	binDur := end / time.Duration(bins)
	for i := range bins {
		if okCount[i] == 0 && len(errCount[i]) == 0 {
			continue
		}
		x0 := x(time.Duration(i) * binDur)
		top := base
		var tip []string
		if okCount[i] > 0 {
			h := float64(okCount[i]) / float64(peak) * (callHeight - 2)
			top -= h
			s.f(`<rect class="ok" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`, x0, top, math.Max(binW-0.6, 0.8), h)
			tip = append(tip, fmt.Sprintf("%d ok", okCount[i]))
		}
		names := make([]string, 0, len(errCount[i]))
		for n := range errCount[i] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			h := float64(errCount[i][n]) / float64(peak) * (callHeight - 2)
			top -= h
			s.f(`<rect class="err" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"/>`, x0, top, math.Max(binW-0.6, 0.8), h, colors[n])
			tip = append(tip, fmt.Sprintf("%d %s", errCount[i][n], n))
		}
		s.f(`<rect class="hit" x="%.2f" y="%.1f" width="%.2f" height="%.0f"><title>+%s – +%s: %s</title></rect>`,
			x0, y, math.Max(binW, 1), callHeight, time.Duration(i)*binDur, time.Duration(i+1)*binDur, esc(strings.Join(tip, ", ")))
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { --ok:#2a9d8f; --fail:#d62828; --ink:#1d2430; --muted:#5c6675; --line:#d9dee6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
header.top { padding: 18px 28px; background: #1d2430; color: #fff; }
header.top h1 { margin: 0 0 4px; font-size: 20px; }
header.top .meta { color: #c9d1dc; font-size: 13px; }
main { padding: 18px 28px 40px; max-width: 1180px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.badge { display: inline-block; min-width: 46px; text-align: center; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
.badge.PASS { background: var(--ok); } .badge.FAIL { background: var(--fail); }
section.run { margin-top: 28px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; }
section.run h2 { margin: 0 0 4px; font-size: 17px; display: flex; gap: 10px; align-items: center; }
.desc { color: var(--muted); margin: 0 0 8px; }
.facts { color: var(--muted); font-size: 13px; margin-bottom: 10px; }
.facts code, .replay code { background: #eef1f5; padding: 1px 5px; border-radius: 4px; }
.replay { margin: 8px 0; }
.error { color: var(--fail); font-weight: 600; }
table.checks td.v { width: 56px; }
.legend { margin: 10px 0 6px; font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 12px; }
.legend .key { display: inline-flex; align-items: center; gap: 5px; }
.legend .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
svg.timeline { display: block; margin-top: 6px; background: #fff; }
svg.timeline text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg.timeline text.section { font-weight: 700; fill: var(--muted); text-transform: uppercase; font-size: 10px; letter-spacing: .05em; }
svg.timeline text.sub { fill: var(--muted); font-size: 10px; }
svg.timeline .axis line { stroke: #9aa5b4; stroke-width: 1; }
svg.timeline .axis text { fill: var(--muted); font-size: 10px; }
svg.timeline rect.fault-shade { fill: rgba(244,162,97,.16); }
svg.timeline rect.fault { fill: rgba(244,162,97,.75); stroke: #e76f51; stroke-width: .6; }
svg.timeline rect.ok { fill: var(--ok); }
svg.timeline rect.hit { fill: transparent; }
svg.timeline line.baseline { stroke: var(--line); }
svg.timeline line.cursor { stroke: #1d2430; stroke-dasharray: 3 3; pointer-events: none; }
svg.timeline text.cursor-label { font-weight: 600; pointer-events: none; }
details.visualization { margin: 10px 0; }
details.visualization summary { cursor: pointer; color: var(--muted); font-size: 13px; }
iframe.porcupine { width: 100%; height: 560px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
</style>
</head>
<body>
<header class="top">
<h1>{{.Title}}</h1>
<div class="meta"><span id="totals">{{.Passed}} passed, {{.Failed}} failed</span> · generated {{.Generated}} · virtual time, replayable from each seed</div>
</header>
<main>
<table class="summary">
<thead><tr><th>Verdict</th><th>Scenario</th><th>Seed</th><th>Checks</th><th>Virtual</th><th>Wall</th><th>File</th></tr></thead>
<tbody>
{{range .Runs}}<tr><td><span class="badge {{.Verdict}}">{{.Verdict}}</span></td><td><a href="#{{.ID}}">{{.Name}}</a></td><td>{{.Seed}}</td><td>{{.Passed}}/{{len .Checks}}</td><td>{{.Virtual}}</td><td>{{.Wall}}</td><td>{{.File}}</td></tr>
{{end}}</tbody>
</table>
<div class="legend">{{.Legend}}</div>
{{range .Runs}}
<section class="run" id="{{.ID}}" data-verdict="{{.Verdict}}">
<h2><span class="badge {{.Verdict}}">{{.Verdict}}</span> {{.Name}}</h2>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
<div class="facts">seed <code>{{.Seed}}</code> · {{.Virtual}} of virtual time in {{.Wall}} of wall time ({{.Ratio}}) · journal {{.Entries}} entries, sha256 <code>{{.Digest}}…</code>{{if .Deterministic}} · determinism: {{.Deterministic}}{{end}}{{if .File}} · <code>{{.File}}</code>{{end}}</div>
{{if .Error}}<p class="error">run error: {{.Error}}</p>{{end}}{{if .Interrupted}}<p class="error interrupted">interrupted at +{{.Virtual}} of virtual time: partial results</p>{{end}}
{{if .Replay}}{{if not .Pass}}<p class="replay">replay: <code>{{.Replay}}</code></p>{{end}}{{end}}
<table class="checks">
<thead><tr><th></th><th>Check</th><th>Expected</th><th>Actual</th><th>First deviation</th></tr></thead>
<tbody>
{{range .Checks}}<tr class="check {{if .Pass}}pass{{else}}fail{{end}}"><td class="v"><span class="badge {{if .Pass}}PASS{{else}}FAIL{{end}}">{{if .Pass}}PASS{{else}}FAIL{{end}}</span></td><td>{{.Name}}</td><td>{{.Expected}}</td><td>{{.Actual}}</td><td>{{.At}}</td></tr>
{{end}}</tbody>
</table>
{{range .Checks}}{{if .Visualization}}<details class="visualization" open><summary>{{.Name}}: porcupine's visualization of the violating history (hover an operation; faults in the top row)</summary>
<iframe class="porcupine" title="{{.Name}}: porcupine visualization" srcdoc="{{.Visualization}}"></iframe>
</details>
{{end}}{{end}}{{.SVG}}
</section>
{{end}}
<footer>Faultline · hover the chart for details; the dashed line follows virtual time.</footer>
</main>
<script>
(function () {
  document.querySelectorAll("svg.timeline").forEach(function (svg) {
    var end = Number(svg.dataset.endNs), x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
    var line = svg.querySelector("line.cursor"), label = svg.querySelector("text.cursor-label");
    svg.addEventListener("mousemove", function (ev) {
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      if (p.x < x0 || p.x > x1) { line.setAttribute("visibility", "hidden"); label.setAttribute("visibility", "hidden"); return; }
      var t = (p.x - x0) / (x1 - x0) * end / 1e9;
      line.setAttribute("x1", p.x); line.setAttribute("x2", p.x); line.setAttribute("visibility", "visible");
      label.setAttribute("x", p.x + 4); label.textContent = "+" + t.toFixed(t < 10 ? 2 : 1) + "s"; label.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseleave", function () { line.setAttribute("visibility", "hidden"); label.setAttribute("visibility", "hidden"); });
  });
  document.body.setAttribute("data-rendered", document.querySelectorAll("svg.timeline").length);
})();
</script>
</body>
</html>
`))
