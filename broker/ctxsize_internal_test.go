package broker

import (
	"testing"
	"unsafe"
)

// A Context is allocated on every call that runs a handler; 576 bytes is the largest size
// of its malloc size class (the next one is 640). Adding a field that pushes it over costs
// every call 64 bytes more: group flags with the others, or move rarely used state out.
func TestContextFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Context{}); n > 576 {
		t.Fatalf("Context is %d bytes, over the 576-byte size class", n)
	}
}
