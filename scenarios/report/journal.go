// Package report renders scenario runs: the JSON-lines journal (replayable: it carries the
// scenario source and seed), JUnit XML for CI, a self-contained HTML report, and the
// readable text summary the CLI prints.
package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
)

// Run is one scenario run, as the reports see it.
type Run struct {
	// File is the scenario file's path ("" for a Go scenario).
	File string
	// Source is the file's content (what a journal records for replay).
	Source   []byte
	Scenario *scenarios.Scenario
	Result   *scenarios.Result
	// Replay is the command that reproduces the run ("" if unknown).
	Replay string
}

// MetaKind is the kind of the header entry that opens each run's block in a journal file.
const MetaKind = "scenario.meta"

// JournalFormat is the version of the journal file layout.
const JournalFormat = 1

// Meta is the header of one run in a journal file: enough to run it again.
type Meta struct {
	Format   int    `json:"format"`
	Scenario string `json:"scenario"`
	File     string `json:"file,omitempty"`
	Seed     uint64 `json:"seed"`
	// SourceSHA256 is the digest of Source, the scenario file's exact content.
	SourceSHA256 string `json:"sourceSha256"`
	Source       string `json:"source"`
	// Entries and JournalSHA256 describe the entries that follow the header.
	Entries       int    `json:"entries"`
	JournalSHA256 string `json:"journalSha256"`
	Pass          bool   `json:"pass"`
	// Interrupted marks a run stopped by a signal: its entries are a prefix of a full run's.
	Interrupted bool `json:"interrupted,omitempty"`
	// Interventions are the commands typed into faultline debug during the run, each
	// with the scheduler step it ran at: replay repeats them there.
	Interventions []scenarios.Intervention `json:"interventions,omitempty"`
}

// header is how Meta is written: a journal.Entry-shaped line, so generic journal readers
// (journal.ReadJSONL) read the whole file.
type header struct {
	Seq   uint64        `json:"seq"`
	T     time.Duration `json:"t"`
	Kind  string        `json:"kind"`
	Attrs Meta          `json:"attrs"`
}

// Digest is the SHA-256 of b in hex.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// MetaOf describes a run for its journal header.
func MetaOf(r Run) Meta {
	return Meta{Format: JournalFormat, Scenario: r.Result.Scenario, File: r.File, Seed: r.Result.Seed,
		SourceSHA256: Digest(r.Source), Source: string(r.Source),
		Entries: len(r.Result.Journal), JournalSHA256: r.Result.JournalDigest(), Pass: r.Result.Pass, Interrupted: r.Result.Interrupted,
		Interventions: r.Result.Interventions}
}

// WriteJournal writes runs as one JSON-lines file: for each run a header line (kind
// scenario.meta, seq 0) and then the run's journal exactly as the determinism check
// compares it.
func WriteJournal(w io.Writer, runs []Run) error {
	bw := bufio.NewWriter(w)
	for _, r := range runs {
		line, err := json.Marshal(header{Kind: MetaKind, Attrs: MetaOf(r)})
		if err != nil {
			return err
		}
		bw.Write(line)
		bw.WriteByte('\n')
		bw.Write(r.Result.JournalBytes())
	}
	return bw.Flush()
}

// Recorded is one run read back from a journal file.
type Recorded struct {
	Meta Meta
	// Lines are the run's journal lines, byte for byte, without their newlines.
	Lines [][]byte
	// Line is the 1-based line of the header in the file.
	Line int
}

// ReadJournal reads a journal file written by WriteJournal.
func ReadJournal(r io.Reader) ([]Recorded, error) {
	var out []Recorded
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var probe struct {
			Seq  uint64 `json:"seq"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, fmt.Errorf("line %d: not a journal entry: %v", n, err)
		}
		if probe.Kind == MetaKind {
			var h header
			if err := json.Unmarshal(line, &h); err != nil {
				return nil, fmt.Errorf("line %d: bad %s header: %v", n, MetaKind, err)
			}
			if h.Attrs.Format != JournalFormat {
				return nil, fmt.Errorf("line %d: journal format %d, this faultline reads format %d", n, h.Attrs.Format, JournalFormat)
			}
			out = append(out, Recorded{Meta: h.Attrs, Line: n})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("line %d: no %s header before the first entry: this journal was not written by faultline run --journal", n, MetaKind)
		}
		cur := &out[len(out)-1]
		cur.Lines = append(cur.Lines, append([]byte(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %v", n+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no run in the journal (no %s header)", MetaKind)
	}
	return out, nil
}

// Diff compares a recorded journal with a new run's, line by line. It returns -1 when they
// are byte-identical, else the 0-based index of the first differing entry.
func Diff(recorded [][]byte, replayed []journal.Entry) (int, []byte, []byte) {
	var b bytes.Buffer
	_ = journal.WriteJSONL(&b, replayed)
	lines := bytes.Split(bytes.TrimSuffix(b.Bytes(), []byte("\n")), []byte("\n"))
	if len(replayed) == 0 {
		lines = nil
	}
	for i := range max(len(recorded), len(lines)) {
		var a, c []byte
		if i < len(recorded) {
			a = recorded[i]
		}
		if i < len(lines) {
			c = lines[i]
		}
		if !bytes.Equal(a, c) {
			return i, a, c
		}
	}
	return -1, nil, nil
}
