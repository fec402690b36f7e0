package faults_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/faults"
)

// probe is a fault recording when it is applied and healed.
type probe struct {
	sim    *rt.Sim
	events *[]string
	fail   bool
}

func (p probe) Kind() string          { return "probe" }
func (p probe) Attrs() map[string]any { return map[string]any{"target": "x"} }
func (p probe) Apply(env *faults.Env) (func(), error) {
	if p.fail {
		return nil, errors.New("boom")
	}
	*p.events = append(*p.events, "apply "+env.Name+" "+p.sim.Elapsed().String())
	return func() { *p.events = append(*p.events, "heal "+env.Name+" "+p.sim.Elapsed().String()) }, nil
}

func TestScheduleAppliesAndHealsAtExactTimes(t *testing.T) {
	n := newRawNet(t, 1, "a", "b")
	n.inj.MustAdd(faults.Spec{Name: "cut", Fault: faults.Loss{Rate: 1}, Start: 2 * time.Second, Duration: 3 * time.Second})
	for _, at := range []time.Duration{time.Second, 2*time.Second - 1, 2 * time.Second, 3 * time.Second, 5*time.Second - 1, 5*time.Second + 1, 6 * time.Second} {
		n.sendAt(t, at, "a", "b", packet.Request, at.String())
	}
	n.runFor(t, 10*time.Second)
	var bodies []string
	for _, a := range n.received("a", "b") {
		bodies = append(bodies, a.Body)
	}
	assert.Equal(t, []string{"1s", "1.999999999s", "5.000000001s", "6s"}, bodies, "applied at 2s, healed at 5s")

	es := journal.Filter(n.j.Entries(), journal.FaultApplied, journal.FaultHealed)
	require.Len(t, es, 2)
	assert.Equal(t, journal.FaultApplied, es[0].Kind)
	assert.Equal(t, 2*time.Second, es[0].T)
	assert.Equal(t, 2*time.Second, es[0].Dur("at"))
	assert.Equal(t, "cut", es[0].Str("fault"))
	assert.Equal(t, "loss", es[0].Str("kind"))
	assert.Equal(t, 1.0, es[0].Num("rate"))
	assert.Equal(t, 1, es[0].Int("occurrence"))
	assert.Equal(t, journal.FaultHealed, es[1].Kind)
	assert.Equal(t, 5*time.Second, es[1].T)
	assert.Equal(t, faults.Counters{Applied: 1, Healed: 1, Matched: 3, Dropped: 3}, n.inj.Stats()["cut"])
}

func TestScheduleRepeats(t *testing.T) {
	sim := rt.NewSim(1)
	t.Cleanup(sim.Close)
	j := journal.New(sim)
	inj := faults.New(sim, j, faults.Targets{})
	var events []string
	inj.MustAdd(
		faults.Spec{Name: "r", Fault: probe{sim: sim, events: &events}, Start: time.Second, Duration: time.Second, Every: 5 * time.Second, Count: 3},
		faults.Spec{Name: "back-to-back", Fault: probe{sim: sim, events: &events}, Start: 20 * time.Second, Duration: 2 * time.Second, Every: 2 * time.Second, Count: 2},
	)
	require.NoError(t, sim.RunFor(time.Minute))
	assert.Equal(t, []string{
		"apply r 1s", "heal r 2s", "apply r 6s", "heal r 7s", "apply r 11s", "heal r 12s",
		"apply back-to-back 20s", "heal back-to-back 22s", "apply back-to-back 22s", "heal back-to-back 24s",
	}, events, "a heal due at the next application's instant comes first")
	applied := journal.Filter(j.Entries(), journal.FaultApplied)
	assert.Equal(t, []time.Duration{time.Second, 6 * time.Second, 11 * time.Second, 20 * time.Second, 22 * time.Second}, times(applied))
	assert.Equal(t, []int{1, 2, 3, 1, 2}, []int{applied[0].Int("occurrence"), applied[1].Int("occurrence"), applied[2].Int("occurrence"), applied[3].Int("occurrence"), applied[4].Int("occurrence")})
	assert.Equal(t, "x", applied[0].Str("target"))
	healed := journal.Filter(j.Entries(), journal.FaultHealed)
	assert.Equal(t, []time.Duration{2 * time.Second, 7 * time.Second, 12 * time.Second, 22 * time.Second, 24 * time.Second}, times(healed))
	assert.Equal(t, faults.Counters{Applied: 3, Healed: 3}, inj.Stats()["r"])

	a, h := faults.Spec{Start: time.Second, Duration: time.Second, Every: 5 * time.Second, Count: 3}.Occurrences(time.Hour)
	assert.Equal(t, []time.Duration{time.Second, 6 * time.Second, 11 * time.Second}, a)
	assert.Equal(t, []time.Duration{2 * time.Second, 7 * time.Second, 12 * time.Second}, h)
}

func TestUnboundedRepeatUntilStop(t *testing.T) {
	sim := rt.NewSim(1)
	t.Cleanup(sim.Close)
	j := journal.New(sim)
	inj := faults.New(sim, j, faults.Targets{})
	var events []string
	inj.MustAdd(
		faults.Spec{Name: "flap", Fault: probe{sim: sim, events: &events}, Duration: 2 * time.Second, Every: 10 * time.Second},
		faults.Spec{Name: "forever", Fault: probe{sim: sim, events: &events}, Start: 5 * time.Second},
	)
	require.NoError(t, sim.RunFor(31*time.Second))
	assert.Equal(t, []string{"flap", "forever"}, inj.Active())
	require.NoError(t, sim.Run(func() { inj.Stop() }))
	assert.Empty(t, inj.Active())
	require.NoError(t, sim.RunFor(time.Minute))
	assert.Equal(t, []string{
		"apply flap 0s", "heal flap 2s", "apply forever 5s", "apply flap 10s", "heal flap 12s",
		"apply flap 20s", "heal flap 22s", "apply flap 30s", "heal forever 31s", "heal flap 31s",
	}, events, "Stop heals in application order and nothing applies after it")
	healed := journal.Filter(j.Entries(), journal.FaultHealed)
	assert.True(t, healed[len(healed)-1].Bool("stopped"))
	assert.Error(t, inj.Add(faults.Spec{Name: "late", Fault: probe{sim: sim, events: &events}}))
}

func TestStartInThePastAppliesAtOnce(t *testing.T) {
	sim := rt.NewSim(1)
	t.Cleanup(sim.Close)
	inj := faults.New(sim, nil, faults.Targets{})
	require.NoError(t, sim.RunFor(10*time.Second))
	var events []string
	inj.MustAdd(faults.Spec{Name: "p", Fault: probe{sim: sim, events: &events}, Start: 3 * time.Second, Duration: time.Second})
	require.NoError(t, sim.RunFor(10*time.Second))
	assert.Equal(t, []string{"apply p 10s", "heal p 11s"}, events)
}

func TestFailedApplicationIsJournaled(t *testing.T) {
	sim := rt.NewSim(1)
	t.Cleanup(sim.Close)
	j := journal.New(sim)
	inj := faults.New(sim, j, faults.Targets{})
	inj.MustAdd(faults.Spec{Name: "bad", Fault: probe{sim: sim, fail: true}, Start: time.Second, Duration: time.Second})
	require.NoError(t, sim.RunFor(time.Minute))
	es := journal.Filter(j.Entries(), faults.FaultFailed, journal.FaultApplied, journal.FaultHealed)
	require.Len(t, es, 1)
	assert.Equal(t, faults.FaultFailed, es[0].Kind)
	assert.Equal(t, "boom", es[0].Str("error"))
	assert.Equal(t, "apply", es[0].Str("op"))
}

func TestSpecValidation(t *testing.T) {
	sim := rt.NewSim(1)
	t.Cleanup(sim.Close)
	noTargets := faults.New(sim, nil, faults.Targets{})
	n := newRawNet(t, 1, "a")
	loss := faults.Loss{Rate: 0.5}
	bad := []struct {
		inj  *faults.Injector
		spec faults.Spec
	}{
		{n.inj, faults.Spec{Fault: loss}},
		{n.inj, faults.Spec{Name: "x"}},
		{n.inj, faults.Spec{Name: "x", Fault: loss, Start: -1}},
		{n.inj, faults.Spec{Name: "x", Fault: loss, Every: time.Second}},
		{n.inj, faults.Spec{Name: "x", Fault: loss, Every: time.Second, Duration: 2 * time.Second}},
		{n.inj, faults.Spec{Name: "x", Fault: loss, Count: 2}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Loss{Rate: 1.5}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Loss{Rate: 0.1, Match: faults.Match{Types: []packet.Type{"NOPE"}}}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Latency{Base: -1}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Latency{Dist: "pareto"}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Symmetric{A: []string{"a"}, B: []string{"a"}}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Symmetric{}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Bridge{A: []string{"a"}}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Isolate{}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Crash{Node: "a"}}}, // no Nodes target
		{n.inj, faults.Spec{Name: "x", Fault: faults.CacherDown{}}},     // no cachers
		{n.inj, faults.Spec{Name: "x", Fault: faults.Error{Calls: faults.Calls{Rate: 2}}}},
		{n.inj, faults.Spec{Name: "x", Fault: faults.Delay{D: -1}}},
		{noTargets, faults.Spec{Name: "x", Fault: loss}}, // no network
	}
	for k, b := range bad {
		assert.Error(t, b.inj.Add(b.spec), "case %d", k)
	}
	require.NoError(t, n.inj.Add(faults.Spec{Name: "ok", Fault: loss}))
	assert.Error(t, n.inj.Add(faults.Spec{Name: "ok", Fault: loss}), "names are unique")
}
