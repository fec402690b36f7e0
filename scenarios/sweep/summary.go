package sweep

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/faultline/faultline/scenarios/report"
)

// SummaryFormat is the version of the summary layout; merge refuses another.
const SummaryFormat = 1

// Verdicts of a sweep (or a merge of shards).
const (
	VerdictPass = "PASS" // every owned seed ran and passed
	VerdictFail = "FAIL" // a seed failed (whether or not every seed ran)
	// VerdictIncomplete: no seed failed, but some were not run (time budget, interrupt).
	VerdictIncomplete = "INCOMPLETE"
)

// FileInfo names a swept file and the exact content that ran.
type FileInfo struct {
	Path     string `json:"path"`
	Scenario string `json:"scenario"`
	SHA256   string `json:"sha256"`
}

// RunEntry is one seed's verdict, and what the JUnit writer needs to write it again.
type RunEntry struct {
	Verdict      string   `json:"verdict"`
	FailedChecks []string `json:"failedChecks,omitempty"`
	report.Record
}

// Failure is a failing seed: what failed and the commands that replay and shrink it.
type Failure struct {
	File     string `json:"file"`
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// FailedChecks names every failed check ("run" when the run itself broke).
	FailedChecks []string `json:"failedChecks"`
	// Problem is the first failed check's message (or the run error).
	Problem        string `json:"problem"`
	JournalEntries int    `json:"journalEntries"`
	JournalSHA256  string `json:"journalSha256"`
	Replay         string `json:"replay"`
	Shrink         string `json:"shrink"`
	// Saved is the scenario file --save-failures wrote for it ("" none); Shrunk tells it is
	// the shrunk form, and SaveError why it could not be (then the unshrunk form is saved).
	Saved     string `json:"saved,omitempty"`
	Shrunk    bool   `json:"shrunk,omitempty"`
	SaveError string `json:"saveError,omitempty"`
}

// Summary is what one shard of a sweep (or an unsharded sweep, shard 1/1) writes.
type Summary struct {
	Format int   `json:"format"`
	Shard  Shard `json:"shard"`
	// Files, From and Seeds define the whole sweep, the same in every shard.
	Files []FileInfo `json:"files"`
	From  uint64     `json:"from"`
	Seeds int        `json:"seeds"`
	// Planned is the runs this shard owns; Ran those it finished.
	Planned int `json:"planned"`
	Ran     int `json:"ran"`
	// Complete tells every owned run finished; StoppedBy says why not.
	Complete   bool   `json:"complete"`
	StoppedBy  string `json:"stoppedBy,omitempty"`
	TimeBudget string `json:"timeBudget,omitempty"`
	Verdict    string `json:"verdict"`
	// WallTime is the shard's wall time; Command how it was started.
	WallTime time.Duration `json:"wallTime"`
	Command  string        `json:"command,omitempty"`
	// Runs is every finished run in sweep order; Failures the failing ones.
	Runs     []RunEntry `json:"runs"`
	Failures []Failure  `json:"failures"`
}

// VerdictOf judges runs: any failure fails; otherwise a sweep that did not run everything is
// incomplete.
func VerdictOf(failures int, complete bool) string {
	switch {
	case failures > 0:
		return VerdictFail
	case !complete:
		return VerdictIncomplete
	}
	return VerdictPass
}

// NewRunEntry is a seed's entry from its record.
func NewRunEntry(rec report.Record) RunEntry {
	e := RunEntry{Verdict: report.Verdict(rec.Pass), Record: rec}
	e.FailedChecks = FailedChecks(rec)
	return e
}

// FailedChecks names a run's failed checks, "run" first when the run itself broke.
func FailedChecks(rec report.Record) []string {
	var out []string
	if rec.Error != "" {
		out = append(out, "run")
	}
	for _, c := range rec.Checks {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// Write writes the summary as indented JSON.
func (s *Summary) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// ReadSummary reads a summary and checks it is one (format, shard, seed range).
func ReadSummary(r io.Reader) (*Summary, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Summary
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a sweep summary: %v", err)
	}
	if s.Format != SummaryFormat {
		return nil, fmt.Errorf("summary format %d, want %d (written by another faultline version?)", s.Format, SummaryFormat)
	}
	if _, err := NewShard(s.Shard.Index, s.Shard.Total); err != nil {
		return nil, fmt.Errorf("bad shard: %v", err)
	}
	if len(s.Files) == 0 || s.Seeds < 1 {
		return nil, fmt.Errorf("no files or seeds: not a sweep summary")
	}
	return &s, nil
}
