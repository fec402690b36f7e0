package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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

// WriteJUnit writes the runs as JUnit XML.
func WriteJUnit(w io.Writer, runs []Run, o JUnitOptions) error {
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
	for i, r := range runs {
		res := r.Result
		total += res.WallTime
		class := "faultline." + res.Scenario
		s := junitSuite{Name: res.Scenario, Package: "faultline", ID: i, Hostname: o.Hostname,
			Timestamp: o.Now.UTC().Format("2006-01-02T15:04:05"), Time: seconds(res.WallTime),
			Properties: []junitProperty{{"seed", fmt.Sprint(res.Seed)}, {"virtualTime", res.VirtualTime.String()},
				{"journalEntries", fmt.Sprint(len(res.Journal))}, {"journalSha256", Digest(res.JournalBytes())}}}
		if r.File != "" {
			s.Properties = append(s.Properties, junitProperty{"file", r.File})
		}
		if r.Replay != "" {
			s.Properties = append(s.Properties, junitProperty{"replay", r.Replay})
		}
		if res.Interrupted {
			s.Properties = append(s.Properties, junitProperty{"interrupted", "true"})
			msg := fmt.Sprintf("interrupted at +%s of virtual time: partial results", res.VirtualTime)
			s.Errors++
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Time: seconds(res.WallTime),
				Error: &junitProblem{Message: msg, Type: "Interrupted", Text: msg + replayLine(r)}})
		}
		if res.Error != "" {
			s.Errors++
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Time: seconds(res.WallTime),
				Error: &junitProblem{Message: res.Error, Type: "RunError", Text: res.Error + replayLine(r)}})
		}
		for _, c := range res.Checks {
			tc := junitCase{Name: c.Name, Classname: class, Time: "0.000"}
			if !c.Pass {
				s.Failures++
				msg := fmt.Sprintf("expected %s, got %s", c.Expected, c.Actual)
				text := c.Message()
				if c.At >= 0 {
					text += fmt.Sprintf("\nfirst deviation at +%s of virtual time", c.At)
				}
				tc.Failure = &junitProblem{Message: msg, Type: "CheckFailed", Text: text + replayLine(r)}
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		var sum strings.Builder
		WriteSummary(&sum, r, SummaryOptions{})
		s.SystemOut = sum.String()
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

func replayLine(r Run) string {
	if r.Replay == "" {
		return ""
	}
	return "\nreplay: " + r.Replay
}
