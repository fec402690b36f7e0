package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios/report"
)

// FuzzReadJournal: whatever file replay is given, ReadJournal returns records or an error
// naming a line, and never panics.
func FuzzReadJournal(f *testing.F) {
	header := `{"seq":0,"t":0,"kind":"scenario.meta","attrs":{"format":1,"scenario":"s","file":"s.yaml","seed":1,"source":"name: s\n","sourceSHA256":"x","entries":1,"pass":true}}`
	for _, seed := range []string{
		header + "\n" + `{"seq":1,"t":0,"kind":"scenario.step","attrs":{"step":"start"}}` + "\n",
		header + "\n",
		`{"seq":1,"t":0,"kind":"scenario.step"}` + "\n",
		"not json\n",
		`{"kind":"scenario.meta","attrs":{"format":2}}`,
		"\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := report.ReadJournal(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "no ") {
				t.Fatalf("an error that names no line: %v", err)
			}
			return
		}
		for _, r := range recs {
			if r.Line < 1 {
				t.Fatalf("a record at line %d", r.Line)
			}
			_, _, _ = report.Diff(r.Lines, nil)
		}
	})
}
