// Package reporttest checks report files the way their consumers read them: JUnit XML
// against the JUnit XSD (structurally in Go everywhere, with xmllint where installed), and
// the HTML report parsed in Go everywhere and rendered in headless Chromium where installed. Tests of the report package and of the CLI use it.
package reporttest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/testutil"
)

// XSD is the path of the JUnit schema.
func XSD() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "testdata", "junit.xsd")
}

// CheckJUnit validates a JUnit XML file against what the schema requires, in Go
// (Structural): it runs everywhere. Xmllint checks the same file with libxml2 against
// junit.xsd itself.
func CheckJUnit(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Structural(data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// XmllintHint is how to install xmllint.
const XmllintHint = "apt-get install libxml2-utils"

// Xmllint validates a JUnit XML file with xmllint --schema junit.xsd. Without xmllint the
// test skips in one line (fails when FAULTLINE_REQUIRE lists xmllint).
func Xmllint(t testing.TB, path string) {
	t.Helper()
	bin := testutil.RequireProgram(t, "xmllint", XmllintHint)
	out, err := exec.Command(bin, "--noout", "--schema", XSD(), path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint --schema junit.xsd %s: %v\n%s", path, err, out)
	}
}

type xSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Attrs      []xml.Attr `xml:",any,attr"`
	Properties *struct {
		Props []struct {
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"property"`
	} `xml:"properties"`
	Cases []struct {
		Attrs   []xml.Attr `xml:",any,attr"`
		Failure *xProblem  `xml:"failure"`
		Error   *xProblem  `xml:"error"`
	} `xml:"testcase"`
	SystemOut *string `xml:"system-out"`
	SystemErr *string `xml:"system-err"`
}

type xProblem struct {
	Attrs []xml.Attr `xml:",any,attr"`
}

func attr(as []xml.Attr, name string) (string, bool) {
	for _, a := range as {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

var timestamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$`)

// Structural checks what junit.xsd requires, in Go.
func Structural(data []byte) error {
	var s xSuites
	if err := xml.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("not JUnit XML: %v", err)
	}
	for i, suite := range s.Suites {
		at := fmt.Sprintf("testsuite[%d]", i)
		for _, name := range []string{"name", "timestamp", "hostname", "tests", "failures", "errors", "time", "package", "id"} {
			v, ok := attr(suite.Attrs, name)
			if !ok || (name != "package" && v == "") {
				return fmt.Errorf("%s: attribute %s is required", at, name)
			}
		}
		ts, _ := attr(suite.Attrs, "timestamp")
		if !timestamp.MatchString(ts) {
			return fmt.Errorf("%s: timestamp %q is not YYYY-MM-DDThh:mm:ss", at, ts)
		}
		ints := map[string]int{}
		for _, name := range []string{"tests", "failures", "errors", "id"} {
			v, _ := attr(suite.Attrs, name)
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %s=%q is not an integer", at, name, v)
			}
			ints[name] = n
		}
		if v, _ := attr(suite.Attrs, "time"); !isDecimal(v) {
			return fmt.Errorf("%s: time=%q is not a decimal", at, v)
		}
		if suite.Properties == nil || suite.SystemOut == nil || suite.SystemErr == nil {
			return fmt.Errorf("%s: properties, system-out and system-err are required", at)
		}
		for _, p := range suite.Properties.Props {
			if n, ok := attr(p.Attrs, "name"); !ok || n == "" {
				return fmt.Errorf("%s: a property without a name", at)
			}
			if _, ok := attr(p.Attrs, "value"); !ok {
				return fmt.Errorf("%s: a property without a value", at)
			}
		}
		failures, errs := 0, 0
		for j, c := range suite.Cases {
			for _, name := range []string{"name", "classname", "time"} {
				if _, ok := attr(c.Attrs, name); !ok {
					return fmt.Errorf("%s.testcase[%d]: attribute %s is required", at, j, name)
				}
			}
			if v, _ := attr(c.Attrs, "time"); !isDecimal(v) {
				return fmt.Errorf("%s.testcase[%d]: time=%q is not a decimal", at, j, v)
			}
			if c.Failure != nil && c.Error != nil {
				return fmt.Errorf("%s.testcase[%d]: both failure and error", at, j)
			}
			for _, p := range []*xProblem{c.Failure, c.Error} {
				if p == nil {
					continue
				}
				if _, ok := attr(p.Attrs, "type"); !ok {
					return fmt.Errorf("%s.testcase[%d]: failure/error needs a type", at, j)
				}
			}
			if c.Failure != nil {
				failures++
			}
			if c.Error != nil {
				errs++
			}
		}
		if ints["tests"] != len(suite.Cases) || ints["failures"] != failures || ints["errors"] != errs {
			return fmt.Errorf("%s: counts tests=%d failures=%d errors=%d, but holds %d testcases, %d failures, %d errors",
				at, ints["tests"], ints["failures"], ints["errors"], len(suite.Cases), failures, errs)
		}
	}
	return nil
}

var decimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func isDecimal(s string) bool { return decimal.MatchString(s) }

// chromiumNames are the names a Chromium (or Chrome) binary goes by.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium returns the path of a Chromium (or Chrome) binary, or "".
func Chromium() string { return testutil.LookProgram("chromium", chromiumNames...) }

// ChromiumHint is how to install Chromium.
const ChromiumHint = "apt-get install chromium"

// Rendered is what headless Chromium made of a report.
type Rendered struct {
	// DOM is the document after its scripts ran (--dump-dom).
	DOM string
	// Shot is a screenshot of the top of the page.
	Shot image.Image
}

// Render opens an HTML file in headless Chromium and returns the DOM after scripts ran and
// a screenshot. Without Chromium the test skips in one line (fails when FAULTLINE_REQUIRE
// lists chromium); ParseHTML checks the report's structure everywhere.
func Render(t testing.TB, path string, height int) *Rendered {
	t.Helper()
	bin := testutil.RequireProgram(t, "chromium", ChromiumHint, chromiumNames...)
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(extra ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
			"--no-first-run", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}, extra...)
		args = append(args, "file://"+abs)
		cmd := exec.CommandContext(ctx, bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(extra, " "), err, stderr.String())
		}
		return stdout.Bytes()
	}
	r := &Rendered{DOM: string(run("--dump-dom"))}
	shot := filepath.Join(dir, "shot.png")
	run(fmt.Sprintf("--window-size=1280,%d", height), "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	if r.Shot, err = png.Decode(f); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if keep := os.Getenv("FAULTLINE_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, data, 0o644)
	}
	return r
}

// Pixels counts the screenshot's pixels within tol of an RGB color.
func (r *Rendered) Pixels(red, green, blue, tol int) int {
	n := 0
	b := r.Shot.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := r.Shot.At(x, y).RGBA()
			if abs(int(cr>>8)-red) <= tol && abs(int(cg>>8)-green) <= tol && abs(int(cb>>8)-blue) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// SelfContained reports any reference to an external resource in an HTML document: every
// src or href must be a fragment or inline data; no url(...) outside data:.
func SelfContained(html string) error {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?([^"'\s>]+)`),
		regexp.MustCompile(`(?i)url\(\s*["']?([^"')]+)`),
		regexp.MustCompile(`(?i)@import\s+["']?([^"';]+)`),
	} {
		for _, m := range re.FindAllStringSubmatch(html, -1) {
			if !strings.HasPrefix(m[1], "#") && !strings.HasPrefix(m[1], "data:") {
				return fmt.Errorf("external reference %q", m[0])
			}
		}
	}
	return nil
}
