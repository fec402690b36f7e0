package file_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/scenarios/file"
)

// TestProductDBSlowScenario runs the database dependency fault's scenario file: every
// check in it (exact timeout times, breaker transitions, 15 fallbacks, 0 errors, 6 late
// answers) passes, and the same file without its fault is a failure of those checks.
func TestProductDBSlowScenario(t *testing.T) {
	s, err := file.Load("../testdata/dependencies/product-db-slow.yaml")
	require.NoError(t, err)
	res, err := scenarios.Run(*s, scenarios.Options{})
	require.NoError(t, err)
	require.Len(t, res.Checks, 6)
	for _, c := range res.Checks {
		assert.True(t, c.Pass, "%s: %s", c.Name, c.Actual)
	}
	require.True(t, res.Pass)

	healthy := *s
	healthy.Faults = nil
	res, err = scenarios.Run(healthy, scenarios.Options{})
	require.NoError(t, err)
	require.False(t, res.Pass, "without the slow database nothing times out")

	wrong := *s
	wrong.Faults = append([]scenarios.FaultSpec(nil), s.Faults...)
	wrong.Faults[0].Model = "nope"
	res, err = scenarios.Run(wrong, scenarios.Options{})
	require.NoError(t, err)
	require.False(t, res.Pass)
	require.Equal(t, `faults: faults[0] (products db slow): faults: spec "products db slow": no database for model nope in Targets.Databases`, res.Error)
}
