package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFormatIDMatchesFmt: the hand-written formatting gives exactly the UUID-shaped IDs fmt
// gave, so the journals of a seed stay byte-identical.
func TestFormatIDMatchesFmt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{{0, 0}, {^uint64(0), ^uint64(0)}}
	for range 1000 {
		cases = append(cases, [2]uint64{r.Uint64(), r.Uint64()})
	}
	for _, c := range cases {
		hi, lo := c[0], c[1]
		want := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0x0fff, (lo>>48)&0x3fff|0x8000, lo&0xffffffffffff)
		assert.Equal(t, want, formatID(hi, lo))
	}
}
