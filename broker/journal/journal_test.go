package journal_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// TestEntriesAcrossChunks: a journal longer than one storage chunk (4,096 entries) returns
// every entry once, in order, numbered 1…n, stamped when recorded; Len agrees; an empty
// journal has no entries.
func TestEntriesAcrossChunks(t *testing.T) {
	s := rt.NewSim(1)
	defer s.Close()
	j := journal.New(s)
	assert.Nil(t, j.Entries())
	assert.Equal(t, 0, j.Len())
	const n = 2*4096 + 7
	require.NoError(t, s.Run(func() {
		for i := range n {
			if i == 4096 {
				s.Sleep(time.Second)
			}
			j.Record("a", journal.CallStarted, map[string]any{"i": i})
		}
	}))
	got := j.Entries()
	require.Len(t, got, n)
	assert.Equal(t, n, j.Len())
	for i, e := range got {
		require.Equal(t, uint64(i+1), e.Seq, "entry %d", i)
		require.Equal(t, i, e.Attrs["i"], "entry %d", i)
	}
	assert.Equal(t, time.Duration(0), got[4095].T)
	assert.Equal(t, time.Second, got[4096].T)
	got[0].Kind = "changed" // a copy: the journal keeps its own
	assert.Equal(t, journal.CallStarted, j.Entries()[0].Kind)
}
