//go:build !race

// The race detector adds allocations (and makes sync.Pool drop entries), so allocation
// counts are asserted only without it.

package validator

import "testing"

func TestValidateSharedAllocs(t *testing.T) {
	v := MustCompile(Schema{"a": "number", "b": map[string]any{"type": "number", "default": 7}})
	in := map[string]any{"a": 1.0, "b": 2.0}
	if n := testing.AllocsPerRun(1000, func() { _, _ = v.ValidateShared(in) }); n != 0 {
		t.Fatalf("valid params with nothing to write: %v allocs per call, want 0", n)
	}
	in = map[string]any{"a": 1.0}
	// The copy: a map and its one group of slots (the default is stored as it is).
	if n := testing.AllocsPerRun(1000, func() { _, _ = v.ValidateShared(in) }); n != 2 {
		t.Fatalf("a default to write: %v allocs per call, want 2", n)
	}
}
