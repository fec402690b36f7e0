// Package file reads scenario files: YAML documents that decode into scenarios.Scenario, the
// same value the Go scenarios are written in, so both run through one engine.
//
// Decoding is strict. Every key must be a field of the format (see the JSON Schema in
// scenarios/schema), durations are Go duration strings ("100ms", "1m30s"), and after decoding
// the scenario is validated against the service catalog. Every problem is reported with the
// file, line and column of the YAML node it concerns and the field path:
//
//	scenarios/testdata/invalid/unknown-service.yaml:9:9: nodes[1].services[0]: unknown service "prodcut" (known: email, ...)
package file

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Problem is one error in a scenario file.
type Problem struct {
	File string
	// Line and Col are 1-based; 0 when the problem has no position.
	Line, Col int
	// Path is the field path ("faults[2].node"); "" for a syntax error.
	Path string
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem of one file, in the order of the file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Options tune parsing.
type Options struct {
	// Catalog is the service catalog the scenario is validated against (nil: the default).
	Catalog map[string]scenarios.ServiceFactory
	// Limits bound the file's size and the counts it asks for (zero fields: the defaults).
	Limits scenarios.Limits
	// Tier is the tier the file is meant for ("": the simulator): what that tier cannot
	// carry out is refused too (scenarios.TierProblems), at the line of the fault or check.
	Tier string
}

// TooLarge is the problem of a file over the size limit: it is not decoded at all, as a
// 60 MB file of products would take minutes and gigabytes to.
func TooLarge(name string, size, limit int64) *Error {
	return &Error{File: name, Problems: []Problem{{File: name, Line: 1, Col: 1,
		Msg: fmt.Sprintf("the file is %s, over the cap of %s for scenario files (raise it with %s)",
			humanBytes(size), humanBytes(limit), scenarios.LimitFlags["file-size"])}}}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MB"
	case n >= 1<<10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<10)), ".0") + " KB"
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadLimited reads a scenario file of at most limit bytes (0: the default); a larger one
// is a *Error, found without reading it whole.
func ReadLimited(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = scenarios.DefaultLimits.FileSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, TooLarge(path, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, TooLarge(path, int64(len(data)), limit)
	}
	return data, nil
}

// Load reads, decodes and validates a scenario file. Any error it returns for the file's
// content is an *Error.
func Load(path string) (*scenarios.Scenario, error) {
	data, err := ReadLimited(path, 0)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario file's content; name is used in messages.
func Parse(name string, data []byte) (*scenarios.Scenario, error) {
	return ParseWith(name, data, Options{})
}

// ParseWith is Parse with options.
func ParseWith(name string, data []byte, o Options) (*scenarios.Scenario, error) {
	limits := o.Limits.WithDefaults()
	if int64(len(data)) > limits.FileSize {
		return nil, TooLarge(name, int64(len(data)), limits.FileSize)
	}
	s, locs, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	resolveDir(s, name)
	cat := o.Catalog
	if cat == nil {
		cat = scenarios.DefaultCatalog()
	}
	err = scenarios.ValidateWith(s, cat, limits)
	if err == nil {
		if problems := scenarios.TierProblems(s, o.Tier); len(problems) > 0 {
			err = &scenarios.ValidationError{Scenario: s.Name, Problems: problems}
		}
	}
	if err != nil {
		var ve *scenarios.ValidationError
		if !errors.As(err, &ve) {
			return nil, &Error{File: name, Problems: []Problem{{File: name, Msg: err.Error()}}}
		}
		fe := &Error{File: name}
		for _, p := range ve.Problems {
			pos := locs.find(p.Path)
			fe.Problems = append(fe.Problems, Problem{File: name, Line: pos.line, Col: pos.col, Path: p.Path, Msg: p.Msg})
		}
		sortProblems(fe.Problems)
		return nil, fe
	}
	return s, nil
}

// sortProblems orders problems by position; the engine's validator may list some in map
// order, and a file's messages must not change from one run to the next.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Col, b.Col); c != 0 {
			return c
		}
		return cmp.Compare(a.Path+a.Msg, b.Path+b.Msg)
	})
}

// Digest is the SHA-256 of a file's content, in hex: journals record it to name the exact
// scenario source they were produced from.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Description returns the scenario's description, or the first comment block of the file
// when it has none, without decoding the whole file (for listings of files that may be
// invalid).
func Description(data []byte) string {
	s, _, err := decode("", data)
	if err == nil && s.Description != "" {
		return strings.Join(strings.Fields(s.Description), " ")
	}
	var lines []string
	for line := range bytes.Lines(data) {
		t := strings.TrimSpace(string(line))
		if strings.HasPrefix(t, "# yaml-language-server:") {
			continue
		}
		if !strings.HasPrefix(t, "#") {
			if len(lines) > 0 || t != "" {
				break
			}
			continue
		}
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(t, "#")))
	}
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}

// resolveDir replaces {{dir}} in external nodes' commands and environments with the
// directory of the scenario file, so that a file can name the program next to it wherever
// faultline runs from.
func resolveDir(s *scenarios.Scenario, name string) {
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		for j, a := range n.Command {
			n.Command[j] = strings.ReplaceAll(a, "{{dir}}", dir)
		}
		for k, v := range n.Env {
			n.Env[k] = strings.ReplaceAll(v, "{{dir}}", dir)
		}
	}
}
