package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// formatID must write exactly what the fmt version wrote: IDs are in every journal, and
// the journal digests of the suite must not change.
func TestFormatUUIDMatchesSprintf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{{0, 0}, {^uint64(0), ^uint64(0)}}
	for range 1000 {
		cases = append(cases, [2]uint64{r.Uint64(), r.Uint64()})
	}
	for _, c := range cases {
		hi, lo := c[0], c[1]
		want := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0x0fff, (lo>>48)&0x3fff|0x8000, lo&0xffffffffffff)
		if got := formatID(hi, lo); got != want {
			t.Fatalf("formatID(%#x, %#x) = %s, want %s", hi, lo, got, want)
		}
	}
}
