package scenarios_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/scenarios"
)

// The streamed digest is the one of the journal's bytes: reports and the scale bench print it
// instead of hashing JournalBytes, and the suite's recorded digests must not move.
func TestJournalDigestIsTheDigestOfTheJournalBytes(t *testing.T) {
	res, err := scenarios.Run(scenarios.BreakerCycle(), scenarios.Options{})
	require.NoError(t, err)
	sum := sha256.Sum256(res.JournalBytes())
	assert.Equal(t, hex.EncodeToString(sum[:]), res.JournalDigest())
	empty := sha256.Sum256(nil)
	assert.Equal(t, hex.EncodeToString(empty[:]), (&scenarios.Result{}).JournalDigest(), "an empty journal hashes no bytes")
}
