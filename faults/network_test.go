package faults_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/faults"
)

const ms = time.Millisecond

// sendMany sends n REQ packets from → to, one every gap starting at gap.
func sendMany(t *testing.T, n *rawNet, from, to string, count int, gap time.Duration) {
	for k := range count {
		n.sendAt(t, time.Duration(k+1)*gap, from, to, packet.Request, fmt.Sprint(k))
	}
}

func TestLossRateOneDropsEverythingAndRateZeroNothing(t *testing.T) {
	n := newRawNet(t, 1, "a", "b")
	n.inj.MustAdd(
		faults.Spec{Name: "all", Fault: faults.Loss{Match: faults.Match{From: []string{"a"}}, Rate: 1}},
		faults.Spec{Name: "none", Fault: faults.Loss{Match: faults.Match{From: []string{"b"}}, Rate: 0}},
	)
	sendMany(t, n, "a", "b", 100, ms)
	sendMany(t, n, "b", "a", 100, ms)
	n.runFor(t, time.Second)
	assert.Empty(t, n.received("a", "b"))
	assert.Len(t, n.received("b", "a"), 100)
	st := n.inj.Stats()
	assert.Equal(t, int64(100), st["all"].Dropped)
	assert.Equal(t, int64(100), st["all"].Matched)
	assert.Equal(t, int64(0), st["none"].Dropped)
	assert.Equal(t, int64(100), st["none"].Matched)
	assert.Equal(t, map[packet.Type]int{packet.Request: 100}, n.inj.Network().Dropped())
}

// lossPattern sends 1000 packets under 30 % loss and returns which arrived.
func lossPattern(t *testing.T, seed uint64) []string {
	n := newRawNet(t, seed, "a", "b")
	n.inj.MustAdd(faults.Spec{Name: "loss", Fault: faults.Loss{Rate: 0.3}})
	sendMany(t, n, "a", "b", 1000, ms)
	n.runFor(t, 2*time.Second)
	var got []string
	for _, a := range n.received("a", "b") {
		got = append(got, a.Body)
	}
	return got
}

func TestLossThirtyPercentIsWithinBandAndReplaysFromSeed(t *testing.T) {
	first := lossPattern(t, 42)
	// 1000 Bernoulli(0.7) draws: mean 700, sd ≈ 14.5; ±5 sd.
	assert.InDelta(t, 700, len(first), 73, "arrived: %d", len(first))
	assert.Equal(t, first, lossPattern(t, 42), "same seed, same drops")
	assert.NotEqual(t, first, lossPattern(t, 43), "another seed, other drops")
}

func TestDroppedPacketsAreJournaledExceptHeartbeats(t *testing.T) {
	n := newRawNet(t, 1, "a", "b")
	n.inj.MustAdd(faults.Spec{Name: "cut", Fault: faults.Loss{Rate: 1}})
	n.sendAt(t, ms, "a", "b", packet.Heartbeat, "hb")
	n.sendAt(t, 2*ms, "a", "b", packet.Request, "req")
	n.sendAt(t, 3*ms, "a", "", packet.Event, "ev") // broadcast
	n.runFor(t, time.Second)
	drops := journal.Filter(n.j.Entries(), journal.PacketDropped)
	require.Len(t, drops, 2)
	assert.Equal(t, []time.Duration{2 * ms, 3 * ms}, times(drops))
	assert.Equal(t, "REQ", drops[0].Str("type"))
	assert.Equal(t, "cut", drops[0].Str("fault"))
	assert.Equal(t, "a", drops[0].Str("from"))
	assert.Equal(t, "b", drops[0].Str("to"))
	assert.True(t, drops[1].Bool("broadcast"))
	assert.Equal(t, int64(3), n.inj.Stats()["cut"].Dropped, "heartbeats are counted")
	assert.Equal(t, 1, n.inj.Network().Dropped()[packet.Heartbeat])
}

func TestPartitionShapes(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	type link struct{ from, to string }
	cases := []struct {
		name  string
		fault faults.Partition
		cut   []link // every other directed link stays open
	}{
		{"symmetric", faults.Symmetric{A: []string{"n1", "n2"}, B: []string{"n3", "n4"}}, []link{
			{"n1", "n3"}, {"n1", "n4"}, {"n2", "n3"}, {"n2", "n4"},
			{"n3", "n1"}, {"n4", "n1"}, {"n3", "n2"}, {"n4", "n2"}}},
		{"symmetric against the rest", faults.Symmetric{A: []string{"n1"}}, []link{
			{"n1", "n2"}, {"n1", "n3"}, {"n1", "n4"}, {"n1", "n5"},
			{"n2", "n1"}, {"n3", "n1"}, {"n4", "n1"}, {"n5", "n1"}}},
		{"asymmetric", faults.Asymmetric{From: []string{"n1", "n2"}, To: []string{"n3"}}, []link{
			{"n1", "n3"}, {"n2", "n3"}}},
		{"bridge", faults.Bridge{A: []string{"n1", "n2"}, B: []string{"n4", "n5"}, Bridge: "n3"}, []link{
			{"n1", "n4"}, {"n1", "n5"}, {"n2", "n4"}, {"n2", "n5"},
			{"n4", "n1"}, {"n5", "n1"}, {"n4", "n2"}, {"n5", "n2"}}},
		{"bridge listed on a side", faults.Bridge{A: []string{"n1", "n3"}, B: []string{"n4"}, Bridge: "n3"}, []link{
			{"n1", "n4"}, {"n4", "n1"}}},
		{"isolate", faults.Isolate{Node: "n3"}, []link{
			{"n3", "n1"}, {"n3", "n2"}, {"n3", "n4"}, {"n3", "n5"},
			{"n1", "n3"}, {"n2", "n3"}, {"n4", "n3"}, {"n5", "n3"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newRawNet(t, 3, nodes...)
			n.inj.MustAdd(faults.Spec{Name: "p", Fault: tc.fault, Start: time.Second, Duration: time.Second})
			for _, at := range []time.Duration{500 * ms, 1500 * ms, 2500 * ms} { // before, during, after
				for _, from := range nodes {
					for _, to := range nodes {
						if from != to {
							n.sendAt(t, at, from, to, packet.Request, at.String())
						}
					}
				}
			}
			n.runFor(t, 3*time.Second)
			for _, from := range nodes {
				for _, to := range nodes {
					if from == to {
						continue
					}
					cut := slices.Contains(tc.cut, link{from, to})
					assert.Equal(t, cut, tc.fault.Cuts(from, to), "Cuts(%s, %s)", from, to)
					var bodies []string
					for _, a := range n.received(from, to) {
						bodies = append(bodies, a.Body)
					}
					want := []string{"500ms", "1.5s", "2.5s"}
					if cut {
						want = []string{"500ms", "2.5s"}
					}
					assert.Equal(t, want, bodies, "%s → %s", from, to)
				}
			}
		})
	}
}

func TestPartitionLimitedToPacketTypes(t *testing.T) {
	n := newRawNet(t, 1, "a", "b")
	n.inj.MustAdd(faults.Spec{Name: "p", Fault: faults.Isolate{Node: "b", Types: []packet.Type{packet.Heartbeat}}})
	n.sendAt(t, ms, "a", "b", packet.Heartbeat, "hb")
	n.sendAt(t, ms, "a", "b", packet.Request, "req")
	n.sendAt(t, ms, "b", "a", packet.Heartbeat, "hb")
	n.runFor(t, time.Second)
	require.Len(t, n.received("a", "b"), 1)
	assert.Equal(t, packet.Request, n.received("a", "b")[0].Type)
	assert.Empty(t, n.received("b", "a"))
}

func TestLossLimitedToPacketTypeAndDirection(t *testing.T) {
	n := newRawNet(t, 1, "product-1", "gateway")
	n.inj.MustAdd(faults.Spec{Name: "drop-res", Fault: faults.Loss{Rate: 1, Match: faults.Match{
		From: []string{"product-1"}, To: []string{"gateway"}, Types: []packet.Type{packet.Response}}}})
	for _, typ := range []packet.Type{packet.Request, packet.Response, packet.Event} {
		n.sendAt(t, ms, "product-1", "gateway", typ, "")
		n.sendAt(t, ms, "gateway", "product-1", typ, "")
	}
	n.runFor(t, time.Second)
	var types []packet.Type
	for _, a := range n.received("product-1", "gateway") {
		types = append(types, a.Type)
	}
	assert.Equal(t, []packet.Type{packet.Request, packet.Event}, types)
	assert.Len(t, n.received("gateway", "product-1"), 3)
}

func TestLatencyWithoutJitterIsExact(t *testing.T) {
	n := newRawNet(t, 1, "a", "b")
	n.inj.MustAdd(
		faults.Spec{Name: "slow", Fault: faults.Latency{Match: faults.Match{To: []string{"b"}}, Base: 80 * ms}},
		faults.Spec{Name: "slower", Fault: faults.Latency{Match: faults.Match{To: []string{"b"}}, Base: 20 * ms}},
	)
	n.sendAt(t, 10*ms, "a", "b", packet.Request, "x")
	n.sendAt(t, 10*ms, "b", "a", packet.Request, "y")
	n.runFor(t, time.Second)
	require.Len(t, n.received("a", "b"), 1)
	assert.Equal(t, 110*ms, n.received("a", "b")[0].At, "latencies add up")
	require.Len(t, n.received("b", "a"), 1)
	assert.Equal(t, 10*ms, n.received("b", "a")[0].At)
	assert.Equal(t, int64(1), n.inj.Stats()["slow"].Delayed)
}

// latencySamples sends count packets one second apart (so FIFO never holds one behind
// another) and returns their one-way delays.
func latencySamples(t *testing.T, seed uint64, f faults.Latency, count int) []time.Duration {
	n := newRawNet(t, seed, "a", "b")
	n.inj.MustAdd(faults.Spec{Name: "lat", Fault: f})
	sendMany(t, n, "a", "b", count, time.Second)
	n.runFor(t, time.Duration(count+2)*time.Second)
	got := n.received("a", "b")
	require.Len(t, got, count)
	out := make([]time.Duration, count)
	for k, a := range got {
		out[k] = a.At - time.Duration(k+1)*time.Second
	}
	return out
}

func meanSD(ds []time.Duration) (float64, float64) {
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	mean := sum / float64(len(ds))
	var sq float64
	for _, d := range ds {
		sq += (float64(d) - mean) * (float64(d) - mean)
	}
	return mean, math.Sqrt(sq / float64(len(ds)))
}

func TestLatencyJitterDistributions(t *testing.T) {
	const count = 2000
	t.Run("uniform", func(t *testing.T) {
		f := faults.Latency{Base: 100 * ms, Jitter: 20 * ms}
		ds := latencySamples(t, 5, f, count)
		mean, sd := meanSD(ds)
		// U[80ms, 120ms]: mean 100 ms, sd 20/√3 ≈ 11.55 ms; the mean's sd is ≈ 0.26 ms.
		assert.InDelta(t, float64(100*ms), mean, float64(1500*time.Microsecond))
		assert.InDelta(t, float64(20*ms)/math.Sqrt(3), sd, float64(ms))
		assert.GreaterOrEqual(t, slices.Min(ds), 80*ms)
		assert.LessOrEqual(t, slices.Max(ds), 120*ms)
		assert.Equal(t, ds, latencySamples(t, 5, f, count), "same seed, same delays")
	})
	t.Run("normal", func(t *testing.T) {
		f := faults.Latency{Base: 100 * ms, Jitter: 10 * ms, Dist: faults.Normal}
		ds := latencySamples(t, 6, f, count)
		mean, sd := meanSD(ds)
		assert.InDelta(t, float64(100*ms), mean, float64(1500*time.Microsecond))
		assert.InDelta(t, float64(10*ms), sd, float64(ms))
		assert.Equal(t, ds, latencySamples(t, 6, f, count), "same seed, same delays")
		assert.NotEqual(t, ds, latencySamples(t, 7, f, count))
	})
	t.Run("never negative", func(t *testing.T) {
		ds := latencySamples(t, 8, faults.Latency{Base: ms, Jitter: 50 * ms, Dist: faults.Normal}, 200)
		assert.GreaterOrEqual(t, slices.Min(ds), time.Duration(0))
	})
}

func TestDuplicatesArriveAtTheReceiver(t *testing.T) {
	n := newRawNet(t, 9, "a", "b", "c")
	n.inj.MustAdd(
		faults.Spec{Name: "dup-all", Fault: faults.Duplicate{Match: faults.Match{To: []string{"b"}}, Rate: 1}},
		faults.Spec{Name: "dup-half", Fault: faults.Duplicate{Match: faults.Match{To: []string{"c"}}, Rate: 0.5}},
	)
	sendMany(t, n, "a", "b", 10, ms)
	sendMany(t, n, "a", "c", 400, ms)
	n.runFor(t, time.Second)
	var bodies []string
	for _, a := range n.received("a", "b") {
		bodies = append(bodies, a.Body)
	}
	assert.Equal(t, []string{"0", "0", "1", "1", "2", "2", "3", "3", "4", "4", "5", "5", "6", "6", "7", "7", "8", "8", "9", "9"}, bodies,
		"each copy arrives right after its original")
	got := len(n.received("a", "c"))
	assert.InDelta(t, 600, got, 60, "400 packets, half duplicated")
	assert.Equal(t, int64(got-400), n.inj.Stats()["dup-half"].Duplicated)
}

func TestReorderIsObservedAtTheReceiver(t *testing.T) {
	order := func(seed uint64, f *faults.Reorder) []string {
		n := newRawNet(t, seed, "a", "b")
		if f != nil {
			n.inj.MustAdd(faults.Spec{Name: "reorder", Fault: *f})
		}
		sendMany(t, n, "a", "b", 200, ms)
		n.runFor(t, time.Second)
		var out []string
		for _, a := range n.received("a", "b") {
			out = append(out, a.Body)
		}
		require.Len(t, out, 200, "reorder loses nothing")
		return out
	}
	inversions := func(bodies []string) int {
		c := 0
		for k := 1; k < len(bodies); k++ {
			var x, y int
			fmt.Sscan(bodies[k-1], &x)
			fmt.Sscan(bodies[k], &y)
			if y < x {
				c++
			}
		}
		return c
	}
	assert.Zero(t, inversions(order(1, nil)), "links are FIFO without the fault")
	f := &faults.Reorder{Rate: 0.2, MaxDelay: 20 * ms}
	got := order(1, f)
	assert.Greater(t, inversions(got), 10)
	assert.Equal(t, got, order(1, f), "same seed, same order")
}

// A delivery matching no active fault draws nothing from the runtime's random source, so
// adding an injector without faults does not change a run.
func TestNoActiveFaultDrawsNoRandomness(t *testing.T) {
	draw := func(withFault bool) uint64 {
		n := newRawNet(t, 11, "a", "b")
		if withFault {
			n.inj.MustAdd(faults.Spec{Name: "other", Fault: faults.Loss{Match: faults.Match{From: []string{"b"}}, Rate: 0.5}})
		}
		sendMany(t, n, "a", "b", 50, ms)
		n.runFor(t, time.Second)
		return n.sim.Rand().Uint64()
	}
	assert.Equal(t, draw(false), draw(true))
}
