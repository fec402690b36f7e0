package check_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/scenarios/check"
)

func TestJournalCount(t *testing.T) {
	es := []journal.Entry{
		e(1*time.Second, "p1", journal.CacheClean, map[string]any{"pattern": "product.*"}),
		e(2*time.Second, "p2", journal.CacheClean, map[string]any{"pattern": "product.*"}),
		e(3*time.Second, "p1", journal.CacheClean, map[string]any{"pattern": "user.*"}),
		e(4*time.Second, "p1", journal.CacheClean, map[string]any{"pattern": "product.*"}),
	}
	c := check.JournalCount{Kind: journal.CacheClean, Node: "p1", Where: map[string]any{"pattern": "product.*"}, Min: 2, Max: 2}
	r := c.Check(es)
	assert.True(t, r.Pass, r.Message())
	assert.Equal(t, "PASS journal cache.clean: 2", r.Message())

	c.Max = 1
	r = c.Check(es)
	assert.Equal(t, "FAIL journal cache.clean: expected between 2 and 1 cache.clean entries (on p1, pattern=product.*), got 2 (first deviation at +4s)", r.Message())

	c = check.JournalCount{Label: "no invalid packets", Kind: journal.PacketBad, Max: 0}
	assert.True(t, c.Check(es).Pass)

	c = check.JournalCount{Kind: journal.CacheClean, Window: check.Window{From: 2 * time.Second, To: 4 * time.Second}, Min: 3, Max: -1}
	assert.Equal(t, "FAIL journal cache.clean: expected at least 3 cache.clean entries ([+2s, +4s)), got 2", c.Check(es).Message())
}
