package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios/check"
)

// JUnit XML in the Ant layout that CI systems read (Jenkins, GitLab, GitHub actions
// reporters, Azure): one <testsuite> per scenario, one <testcase> per check, a <failure>
// for each failed check, an <error> testcase when the run itself broke. The output is
// checked against scenarios/report/testdata/junit.xsd.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Package    string          `xml:"package,attr"`
	ID         int             `xml:"id,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// JUnitOptions tune the JUnit output.
type JUnitOptions struct {
	// Now stamps the suites (default time.Now()).
	Now time.Time
	// Hostname (default os.Hostname(), or "localhost").
	Hostname string
}

// Record is what the JUnit writer needs of one run, in a form that survives JSON: a sweep
// keeps one per seed in its summary (the journal itself is long gone by then), and
// faultline merge writes the shards' records back as one JUnit file through the same writer
// that `run --junit` uses.
type Record struct {
	Scenario    string         `json:"scenario"`
	File        string         `json:"file,omitempty"`
	Seed        uint64         `json:"seed"`
	Pass        bool           `json:"pass"`
	Error       string         `json:"error,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Checks      []check.Result `json:"checks"`
	VirtualTime time.Duration  `json:"virtualTime"`
	WallTime    time.Duration  `json:"wallTime"`
	// JournalEntries and JournalSHA256 identify the run's journal: a replay gives the same.
	JournalEntries int    `json:"journalEntries"`
	JournalSHA256  string `json:"journalSha256"`
	Replay         string `json:"replay,omitempty"`
	// Summary is the text summary (WriteSummary), the testsuite's system-out; "" leaves it
	// empty (a sweep keeps it for failing runs only, so a summary of 10,000 passing seeds
	// stays small).
	Summary string `json:"summary,omitempty"`
}

// RecordOf describes a run for the JUnit writer; withSummary keeps its text summary.
func RecordOf(r Run, withSummary bool) Record {
	res := r.Result
	rec := Record{Scenario: res.Scenario, File: r.File, Seed: res.Seed, Pass: res.Pass, Error: res.Error,
		Interrupted: res.Interrupted, Checks: res.Checks, VirtualTime: res.VirtualTime, WallTime: res.WallTime,
		JournalEntries: len(res.Journal), JournalSHA256: res.JournalDigest(), Replay: r.Replay}
	if withSummary {
		var sum strings.Builder
		WriteSummary(&sum, r, SummaryOptions{})
		rec.Summary = sum.String()
	}
	return rec
}

// WriteJUnit writes the runs as JUnit XML.
func WriteJUnit(w io.Writer, runs []Run, o JUnitOptions) error {
	recs := make([]Record, len(runs))
	for i, r := range runs {
		recs[i] = RecordOf(r, true)
	}
	return WriteJUnitRecords(w, recs, o)
}

// WriteJUnitRecords writes runs described by their records as JUnit XML.
func WriteJUnitRecords(w io.Writer, recs []Record, o JUnitOptions) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	out := junitSuites{Name: "faultline"}
	var total time.Duration
	for i, r := range recs {
		total += r.WallTime
		class := "faultline." + r.Scenario
		s := junitSuite{Name: r.Scenario, Package: "faultline", ID: i, Hostname: o.Hostname,
			Timestamp: o.Now.UTC().Format("2006-01-02T15:04:05"), Time: seconds(r.WallTime),
			Properties: []junitProperty{{"seed", fmt.Sprint(r.Seed)}, {"virtualTime", r.VirtualTime.String()},
				{"journalEntries", fmt.Sprint(r.JournalEntries)}, {"journalSha256", r.JournalSHA256}}}
		if r.File != "" {
			s.Properties = append(s.Properties, junitProperty{"file", r.File})
		}
		if r.Replay != "" {
			s.Properties = append(s.Properties, junitProperty{"replay", r.Replay})
		}
		if r.Interrupted {
			s.Properties = append(s.Properties, junitProperty{"interrupted", "true"})
			msg := fmt.Sprintf("interrupted at +%s of virtual time: partial results", r.VirtualTime)
			s.Errors++
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Time: seconds(r.WallTime),
				Error: &junitProblem{Message: msg, Type: "Interrupted", Text: msg + replayLine(r.Replay)}})
		}
		if r.Error != "" {
			s.Errors++
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Time: seconds(r.WallTime),
				Error: &junitProblem{Message: r.Error, Type: "RunError", Text: r.Error + replayLine(r.Replay)}})
		}
		for _, c := range r.Checks {
			tc := junitCase{Name: c.Name, Classname: class, Time: "0.000"}
			if !c.Pass {
				s.Failures++
				msg := fmt.Sprintf("expected %s, got %s", c.Expected, c.Actual)
				text := c.Message()
				if c.At >= 0 {
					text += fmt.Sprintf("\nfirst deviation at +%s of virtual time", c.At)
				}
				tc.Failure = &junitProblem{Message: msg, Type: "CheckFailed", Text: text + replayLine(r.Replay)}
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		s.SystemOut = r.Summary
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	out.Time = seconds(total)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	b.WriteString("\n")
	_, err := w.Write(b.Bytes())
	return err
}

func replayLine(replay string) string {
	if replay == "" {
		return ""
	}
	return "\nreplay: " + replay
}
