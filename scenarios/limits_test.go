package scenarios_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
)

// hotLoop is issue 12's silent hang in small: a closed loop with no think time on a network
// without latency makes its calls at one virtual instant, for ever.
func hotLoop() scenarios.Scenario {
	s := scenarios.BreakerCycle()
	s.Name = "hot-loop"
	s.Network = scenarios.NetworkSpec{Ideal: true}
	s.Workload = append(s.Workload, scenarios.WorkloadSpec{Name: "hot loop", From: "gateway", Action: "product.get",
		Params: map[string]any{"id": 1}, Start: 2 * time.Second})
	s.Checks = nil
	return s
}

// TestEventBudgetNamesTheHeaviestWorkload: a run over its budget of simulated events stops
// with an error naming the workload entry that produced most of them.
func TestEventBudgetNamesTheHeaviestWorkload(t *testing.T) {
	res, err := scenarios.Run(hotLoop(), scenarios.Options{Limits: scenarios.Limits{Events: 20_000}})
	require.NoError(t, err)
	assert.False(t, res.Pass)
	assert.Regexp(t, `^run stopped at \+2s: 2\d{4} simulated events exceed the budget of 20000 \(raise it with --max-events\); `+
		`most events came from workload\[1\] "hot loop" \(\d+ of 2\d{4}\)$`, res.Error)
	assert.Equal(t, 2*time.Second, res.VirtualTime, "the loop never lets virtual time pass its start")
	assert.NotEmpty(t, res.Journal, "the partial journal is kept")
}

// TestEventBudgetCatchesALoopOfInstantFailures: on the realistic network the same loop lets
// time pass until the breaker opens; from then each call fails without parking, and the
// loop must still yield to the scheduler so the budget sees it (it used to spin for ever
// inside one task).
func TestEventBudgetCatchesALoopOfInstantFailures(t *testing.T) {
	s := hotLoop()
	s.Network = scenarios.NetworkSpec{}
	res, err := scenarios.Run(s, scenarios.Options{Limits: scenarios.Limits{Events: 20_000}})
	require.NoError(t, err)
	assert.False(t, res.Pass)
	assert.Regexp(t, `^run stopped at \+\d+\.\d+s: 2\d{4} simulated events exceed the budget of 20000 \(raise it with --max-events\); `+
		`most events came from workload\[1\] "hot loop" \(\d+ of 2\d{4}\)$`, res.Error)
	assert.Greater(t, res.VirtualTime, 2*time.Second, "calls over the network take time until the breaker opens")
	assert.Less(t, res.VirtualTime, s.Duration)
}

// TestBudgetErrorNamesAFault: attribution covers faults, and what they start.
func TestBudgetErrorNamesAFault(t *testing.T) {
	e := &scenarios.BudgetError{What: "events", Used: 10, Limit: 9, At: time.Second, Total: 10}
	e.Top.Name, e.Top.Steps = `faults[0] "flap"`, 7
	assert.Equal(t, `run stopped at +1s: 10 simulated events exceed the budget of 9 (raise it with --max-events); most events came from faults[0] "flap" (7 of 10)`, e.Error())
	e.What, e.Used, e.Limit = "memory", 3<<30, 2<<30
	assert.True(t, strings.HasPrefix(e.Error(), "run stopped at +1s: 3072 MB of live memory exceed the budget of 2048 MB (raise it with --max-memory)"))
}

// TestInterruptStopsAtTheNextStep: a closed Interrupt stops the run at once; the result is
// marked, keeps its partial journal, and the determinism re-run is not attempted.
func TestInterruptStopsAtTheNextStep(t *testing.T) {
	stop := make(chan struct{})
	calls := 0
	res, err := scenarios.Run(scenarios.OrderFlow(), scenarios.Options{CheckDeterminism: true, Interrupt: stop,
		Progress: func(p scenarios.Progress) {
			calls++
			if p.Virtual >= 10*time.Second {
				select {
				case <-stop:
				default:
					close(stop)
				}
			}
		}})
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	assert.False(t, res.Pass)
	assert.Nil(t, res.Deterministic, "no second run after an interrupt")
	assert.GreaterOrEqual(t, res.VirtualTime, 10*time.Second)
	assert.Less(t, res.VirtualTime, 60*time.Second)
	assert.Positive(t, calls)
	var steps []string
	for _, e := range res.Journal {
		if e.Kind == "scenario.step" {
			steps = append(steps, e.Str("step"))
		}
	}
	assert.Equal(t, []string{"start", "workload", "interrupted"}, steps)
}

// TestValidateCapsAndIdentifiers: the caps and clean-text rules, in Go.
func TestValidateCapsAndIdentifiers(t *testing.T) {
	s := scenarios.BreakerCycle()
	s.Name = "bad\x00name"
	s.Nodes[0].ID = "gate\x1bway"
	s.Workload[0].Clients = 20_000
	err := scenarios.Validate(&s, scenarios.DefaultCatalog())
	var ve *scenarios.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Equal(t, []scenarios.FieldError{
		{Path: "name", Msg: `"bad\x00name" holds the control character U+0000 at byte 3: names must be printable text`},
		{Path: "nodes[0].id", Msg: `"gate\x1bway" holds the control character U+001B at byte 4: names must be printable text`},
		{Path: "workload[0].clients", Msg: "20000 clients exceed the cap of 10000 (raise it with --max-clients)"},
	}, ve.Problems)

	s = scenarios.BreakerCycle()
	s.Workload[0].Clients = 20_000
	assert.NoError(t, scenarios.ValidateWith(&s, scenarios.DefaultCatalog(), scenarios.Limits{Clients: 20_000}), "raised, it passes")
}
