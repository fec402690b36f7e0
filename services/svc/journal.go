package svc

import (
	"context"

	"github.com/faultline/faultline/broker"
)

// Record writes a domain entry (journal.DomainStock, journal.DomainOrder, ...) to the
// journal of the broker serving ctx, so scenario checkers can verify business invariants.
// Outside a broker context (unit tests with plain contexts) it does nothing.
func Record(ctx context.Context, kind string, attrs map[string]any) {
	if bc, ok := ctx.(*broker.Context); ok {
		b := bc.Broker()
		b.Journal().Record(b.NodeID(), kind, attrs)
	}
}
