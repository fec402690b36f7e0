package broker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCleanDebt(t *testing.T) {
	var d cleanDebt
	assert.False(t, d.pending.Load())
	d.owe([]string{"product.**"})
	d.owe([]string{"user.*", "product.**"})
	p, gen := d.owed()
	assert.Equal(t, []string{"product.**", "user.*"}, p, "sorted, each once")
	assert.True(t, d.pending.Load())

	// A clean fails while the retry of gen is under way: settling gen leaves the debt.
	d.owe([]string{"order.**"})
	d.settle(gen)
	assert.True(t, d.pending.Load(), "a clean failed since the retry began: still owed")
	p, gen = d.owed()
	assert.Equal(t, []string{"order.**", "product.**", "user.*"}, p)
	d.settle(gen)
	assert.False(t, d.pending.Load())
	p, _ = d.owed()
	assert.Empty(t, p)

	// Past maxOwedPatterns distinct patterns, or a clean of everything, everything is owed:
	// owed hands back no pattern (Clean's "every entry").
	for i := range maxOwedPatterns + 1 {
		d.owe([]string{fmt.Sprintf("s%d.**", i)})
	}
	p, gen = d.owed()
	assert.Equal(t, []string{}, p)
	d.owe([]string{"more.**"})
	p, _ = d.owed()
	assert.Equal(t, []string{}, p, "once everything is owed, a pattern adds nothing")
	d.settle(gen + 1) // the generation of the "more" failure: settled
	assert.False(t, d.pending.Load())
	d.owe(nil)
	p, _ = d.owed()
	assert.Equal(t, []string{}, p)
}
