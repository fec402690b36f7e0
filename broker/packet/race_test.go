//go:build race

package packet

// raceEnabled: the race detector makes sync.Pool drop entries at random, so allocation
// counts of pooled paths are asserted only without it.
const raceEnabled = true
