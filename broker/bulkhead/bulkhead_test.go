package bulkhead

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// admitAll admits ids 1..n and returns the decisions by kind.
func admitAll(b *Bulkhead, n int) map[Decision][]uint64 {
	got := map[Decision][]uint64{}
	for id := uint64(1); id <= uint64(n); id++ {
		d := b.Admit(id)
		got[d] = append(got[d], id)
	}
	return got
}

func TestAdmitThreeTenTwenty(t *testing.T) {
	b := New(3, 10)
	got := admitAll(b, 20)
	assert.Equal(t, []uint64{1, 2, 3}, got[Run])
	assert.Equal(t, []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, got[Queued])
	assert.Equal(t, []uint64{14, 15, 16, 17, 18, 19, 20}, got[Rejected])
	assert.Equal(t, 3, b.Running())
	assert.Equal(t, 10, b.Queued())
}

func TestDoneIsFIFO(t *testing.T) {
	b := New(3, 10)
	admitAll(b, 20)
	var order []uint64
	for range 10 {
		next, ok := b.Done()
		require.True(t, ok)
		order = append(order, next)
		assert.Equal(t, 3, b.Running(), "the freed slot is taken at once")
	}
	assert.Equal(t, []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, order)
	assert.Equal(t, 0, b.Queued())

	for want := 2; want >= 0; want-- {
		_, ok := b.Done()
		assert.False(t, ok)
		assert.Equal(t, want, b.Running())
	}
	assert.Equal(t, Run, b.Admit(99), "empty again")
}

func TestQueueRoomFreedByDone(t *testing.T) {
	b := New(1, 1)
	assert.Equal(t, Run, b.Admit(1))
	assert.Equal(t, Queued, b.Admit(2))
	assert.Equal(t, Rejected, b.Admit(3))
	next, ok := b.Done()
	require.True(t, ok)
	assert.Equal(t, uint64(2), next)
	assert.Equal(t, Queued, b.Admit(4), "2 left the queue, so 4 fits")
	assert.Equal(t, Rejected, b.Admit(5))
}

func TestCancel(t *testing.T) {
	b := New(1, 3)
	require.Equal(t, Run, b.Admit(1))
	require.Equal(t, Queued, b.Admit(2))
	require.Equal(t, Queued, b.Admit(3))
	require.Equal(t, Queued, b.Admit(4))
	require.Equal(t, Rejected, b.Admit(5))

	assert.True(t, b.Cancel(3))
	assert.False(t, b.Cancel(3), "already gone")
	assert.False(t, b.Cancel(1), "running calls cannot be cancelled")
	assert.False(t, b.Cancel(42), "unknown")
	assert.Equal(t, 2, b.Queued())
	assert.Equal(t, Queued, b.Admit(6), "the cancelled place is free again")

	var order []uint64
	for {
		next, ok := b.Done()
		if !ok {
			break
		}
		order = append(order, next)
	}
	assert.Equal(t, []uint64{2, 4, 6}, order, "FIFO order survives a cancel")
	assert.Equal(t, 0, b.Running())
}

func TestCancelHeadAndLast(t *testing.T) {
	b := New(1, 3)
	b.Admit(1)
	b.Admit(2)
	b.Admit(3)
	assert.True(t, b.Cancel(2), "head")
	assert.True(t, b.Cancel(3), "last")
	assert.Equal(t, 0, b.Queued())
	_, ok := b.Done()
	assert.False(t, ok)
}

func TestZeroSizes(t *testing.T) {
	b := New(2, 0)
	assert.Equal(t, Run, b.Admit(1))
	assert.Equal(t, Run, b.Admit(2))
	assert.Equal(t, Rejected, b.Admit(3), "no queue")

	b = New(0, 2)
	assert.Equal(t, Queued, b.Admit(1), "no slot: everything waits")
	assert.Equal(t, Queued, b.Admit(2))
	assert.Equal(t, Rejected, b.Admit(3))
}

func TestMisuse(t *testing.T) {
	assert.Panics(t, func() { New(-1, 0) })
	assert.Panics(t, func() { New(1, -1) })
	assert.Panics(t, func() { New(1, 1).Done() })
}

func TestDecisionString(t *testing.T) {
	assert.Equal(t, "run", Run.String())
	assert.Equal(t, "queued", Queued.String())
	assert.Equal(t, "rejected", Rejected.String())
	assert.Equal(t, "Decision(7)", Decision(7).String())
}

func TestSteadyStreamReusesQueue(t *testing.T) {
	// A long stream through a busy bulkhead keeps FIFO order while the queue's storage
	// is compacted and reused rather than growing.
	b := New(2, 4)
	var id uint64
	admit := func() {
		id++
		require.NotEqual(t, Rejected, b.Admit(id))
	}
	for range 6 {
		admit()
	}
	want := uint64(3)
	for range 1000 {
		next, ok := b.Done()
		require.True(t, ok)
		require.Equal(t, want, next)
		want++
		admit()
	}
	assert.LessOrEqual(t, cap(b.queue), 8)
}

func BenchmarkAdmitDone(b *testing.B) {
	bh := New(10, 100)
	var id uint64
	for range 60 {
		id++
		bh.Admit(id)
	}
	b.ReportAllocs()
	for b.Loop() {
		bh.Done()
		id++
		bh.Admit(id)
	}
}
