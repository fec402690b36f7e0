package file_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// TestDeclaredServicesSetupAndJournalChecks: what used to be Go-only — a service of the
// scenario's own, setup before the workload, a check with parameters of its own — is said in
// a file, and runs with exact outcomes.
func TestDeclaredServicesSetupAndJournalChecks(t *testing.T) {
	s, err := file.Load("../testdata/examples/payment-stub.yaml")
	require.NoError(t, err)
	res, err := scenarios.Run(*s, scenarios.Options{CheckDeterminism: true})
	require.NoError(t, err)
	require.Empty(t, res.Error)
	var got []string
	for _, c := range res.Checks {
		got = append(got, c.Message())
	}
	assert.Equal(t, []string{
		"PASS RequestTimeoutError of payment.charge: 3",
		"PASS journal charges run: 8",
		"PASS journal paid before +10s: 5",
	}, got)
	require.NotNil(t, res.Deterministic)
	assert.True(t, *res.Deterministic)
	assert.True(t, res.Pass)
}

func TestSetupCallFailureStopsTheRun(t *testing.T) {
	s, err := file.Load("../testdata/examples/payment-stub.yaml")
	require.NoError(t, err)
	s.SetupCalls[0].Expect = "" // refund always fails: the run must stop, naming the call
	res, err := scenarios.Run(*s, scenarios.Options{})
	require.NoError(t, err)
	assert.False(t, res.Pass)
	assert.Equal(t, "setup: setup[0] payment.refund: PaymentError: refunds are offline", res.Error)
}

func TestDeclaredServiceErrors(t *testing.T) {
	_, err := file.Parse("bad.yaml", []byte(`name: bad
duration: 1s
services:
  - name: product
  - name: pay
    actions:
      "a.b": {latency: -1s}
      c: {echo: true, result: 1}
nodes: [{id: n, services: [pay]}]
setup: [{from: ghost, action: pay.nope}]
checks: [{kind: journal}]
`))
	require.Error(t, err)
	assert.Equal(t, `bad.yaml:4:11: services[0].name: "product" is a catalog service: declare another name
bad.yaml:7:7: services[1].actions.a.b: an action name has no dots or spaces
bad.yaml:7:24: services[1].actions.a.b.latency: must not be negative, got -1s
bad.yaml:8:7: services[1].actions.c: give one of result, echo and error
bad.yaml:10:16: setup[0].from: unknown node "ghost"
bad.yaml:10:31: setup[0].action: unknown action "pay.nope": no node of the cluster serves it
bad.yaml:11:11: checks[0].entry: is required: the journal entry kind to count (req.error, cache.clean, packet.invalid, ...)`, err.Error())
}

func TestDeclaredServicesRoundTrip(t *testing.T) {
	s, err := file.Load("../testdata/examples/payment-stub.yaml")
	require.NoError(t, err)
	b, err := file.Marshal(s)
	require.NoError(t, err)
	again, err := file.Parse("again.yaml", b)
	require.NoError(t, err, string(b))
	assert.Equal(t, *s, *again)
}
