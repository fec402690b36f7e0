package scenarios_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

func loadNemesis(t *testing.T) *scenarios.Scenario {
	t.Helper()
	s, err := file.Load("testdata/nemesis/order-flow.yaml")
	require.NoError(t, err)
	return s
}

// TestNemesisDrawsExactSchedule: a seed draws one schedule, always the same.
func TestNemesisDrawsExactSchedule(t *testing.T) {
	s := loadNemesis(t)
	s.Seed = 7
	var got []string
	for _, f := range s.Schedule() {
		got = append(got, fmt.Sprintf("%s @%s for %s delay %s", f.Name, f.Start, f.Duration, f.Delay))
	}
	assert.Equal(t, []string{
		"nemesis 1: crash product-2 @6.873s for 2.916s delay 0s",
		"nemesis 2: pause order-2 @9.659s for 3.004s delay 0s",
		"nemesis 3: crash product-2 @12.274s for 1.173s delay 0s",
		"nemesis 4: partition product-1 | order-1,order-2,product-2 @17.577s for 3.581s delay 0s",
		"nemesis 5: pause order-2 @21.091s for 1.377s delay 0s",
		"nemesis 6: delay product.reduceStock @25.497s for 776ms delay 1.356s",
	}, got)
	for _, f := range s.Schedule() {
		assert.Less(t, f.Start+f.Duration, s.Nemesis.QuietAfter+1, "%s ends by quietAfter", f.Name)
	}
	assert.Equal(t, s.Schedule(), s.Schedule())
	before := s.Schedule()
	s.Seed = 8
	assert.NotEqual(t, before, s.Schedule(), "another seed, another schedule")
}

// TestNemesisReplaysAsFixedFaults: the drawn faults written out as a fixed schedule give the
// very same run, entry for entry, and the journal of the nemesis run ends with the drawn
// faults.
func TestNemesisReplaysAsFixedFaults(t *testing.T) {
	s := loadNemesis(t)
	s.Seed = 7
	gen, err := scenarios.Run(*s, scenarios.Options{})
	require.NoError(t, err)
	m := s.Materialize()
	require.Nil(t, m.Nemesis)
	// Through the file format, as --print-schedule hands it over.
	body, err := file.Marshal(&m)
	require.NoError(t, err)
	fixed, err := file.Parse("materialized.yaml", body)
	require.NoError(t, err)
	rep, err := scenarios.Run(*fixed, scenarios.Options{})
	require.NoError(t, err)

	var drawn []journal.Entry
	cut := len(gen.Journal)
	for i, e := range gen.Journal {
		if e.Kind == scenarios.NemesisFault {
			if len(drawn) == 0 {
				cut = i
			}
			drawn = append(drawn, e)
		}
	}
	require.Len(t, drawn, len(m.Faults))
	for i, e := range drawn {
		assert.Equal(t, m.Faults[i].Name, e.Str("name"))
		assert.Equal(t, m.Faults[i].Start, e.Attrs["start"])
	}
	runEnd := func(es []journal.Entry) []journal.Entry {
		for i, e := range es {
			if e.Kind == journal.Check {
				return es[:i]
			}
		}
		return es
	}
	a := (&scenarios.Result{Journal: gen.Journal[:cut]}).JournalBytes()
	b := (&scenarios.Result{Journal: runEnd(rep.Journal)}).JournalBytes()
	assert.True(t, bytes.Equal(a, b), "journals differ")
	assert.Equal(t, gen.Pass, rep.Pass)
}

// TestNemesisFindsPlantedBug: over seeds 1-6 the nemesis passes every invariant on the
// correct services and breaks "one stock reduction per order" on the planted
// non-idempotent reduceStock for exactly the seeds listed.
func TestNemesisFindsPlantedBug(t *testing.T) {
	s := loadNemesis(t)
	var clean, planted []uint64
	for seed := uint64(1); seed <= 6; seed++ {
		res, err := scenarios.Run(*s, scenarios.Options{Seed: &seed})
		require.NoError(t, err)
		if !res.Pass {
			clean = append(clean, seed)
		}
		p := *s
		p.Plants = []string{"non-idempotent-stock"}
		res, err = scenarios.Run(p, scenarios.Options{Seed: &seed})
		require.NoError(t, err)
		for _, c := range res.Checks {
			if !c.Pass {
				require.Equal(t, "invariant: one stock reduction per order", c.Name, c.Message())
				planted = append(planted, seed)
			}
		}
	}
	assert.Empty(t, clean, "seeds failing without the plant")
	assert.Equal(t, []uint64{2, 3, 4, 6}, planted)
}

func TestNemesisValidation(t *testing.T) {
	src := `name: t
duration: 10s
nodes:
  - id: gateway
  - id: product-1
    services: [product]
nemesis:
  kinds: [crash, delay, flood]
  nodes: [product-9]
  every: 5s..1s
  lasts: 2x
  rate: 2
  max: 5000
`
	_, err := file.Parse("t.yaml", []byte(src))
	require.Error(t, err)
	assert.Equal(t, `t.yaml:8:18: nemesis.kinds[1]: a delay fault targets an action: give nemesis.actions
t.yaml:8:25: nemesis.kinds[2]: unknown nemesis fault kind "flood" (crash, pause, isolate, partition, asymmetric, loss, duplicate, latency, error, delay, hang, cacher-down, cacher-slow)
t.yaml:9:11: nemesis.nodes[0]: unknown node "product-9"
t.yaml:10:10: nemesis.every: duration range "5s..1s" must satisfy 0 ≤ min ≤ max
t.yaml:11:10: nemesis.lasts: invalid duration range "2x": write "5s..15s" or "5s"
t.yaml:12:9: nemesis.rate: must be between 0 and 1, got 2
t.yaml:13:8: nemesis.max: 5000 faults exceed the cap of 1000 a nemesis draws`, err.Error())
}
