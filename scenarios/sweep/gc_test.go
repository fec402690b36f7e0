package sweep

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// unsetenv removes key for the test and puts it back after.
func unsetenv(t *testing.T, key string) {
	if v, ok := os.LookupEnv(key); ok {
		t.Cleanup(func() { os.Setenv(key, v) })
	}
	os.Unsetenv(key)
}

func TestTuneGC(t *testing.T) {
	unsetenv(t, "GOGC")
	unsetenv(t, "GOMEMLIMIT")
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1) // a negative limit reads without changing

	restore := TuneGC(2 << 30)
	assert.Equal(t, BatchGCPercent, debug.SetGCPercent(BatchGCPercent))
	assert.Equal(t, int64(2<<30/10*9), debug.SetMemoryLimit(-1))
	restore()
	assert.Equal(t, percent, debug.SetGCPercent(percent), "restored")
	assert.Equal(t, limit, debug.SetMemoryLimit(-1), "restored")

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	restore = TuneGC(2 << 30)
	assert.Equal(t, percent, debug.SetGCPercent(percent), "the environment's GOGC wins")
	assert.Equal(t, limit, debug.SetMemoryLimit(-1), "the environment's GOMEMLIMIT wins")
	restore()
}
