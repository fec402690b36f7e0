package broker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/testutil"
)

// listenerMark is what the test listeners journal when they see an internal event.
const listenerMark = "test.listener"

// watcher is a service whose listeners of internal events journal that they ran.
func watcher(events ...string) *broker.Service {
	s := &broker.Service{Name: "watcher", Events: map[string]broker.Event{}}
	for _, ev := range events {
		s.Events[ev] = broker.Event{Handler: func(ctx *broker.Context) error {
			ctx.Broker().Journal().Record(ctx.Broker().NodeID(), listenerMark, map[string]any{"event": ctx.Event})
			return nil
		}}
	}
	return s
}

// indexOf returns the position of the first entry after from (by index) that matches.
func indexOf(es []journal.Entry, from int, match func(journal.Entry) bool) int {
	for i := from; i < len(es); i++ {
		if match(es[i]) {
			return i
		}
	}
	return -1
}

// TestInternalEventListenersObservedInCausalOrder: a $circuit-breaker.opened listener on the
// caller's node journals its line after the transition and before the result of the call
// whose failure opened the breaker, at the same instant, for every seed; so does a
// $node.disconnected listener before the RequestRejectedError of a call pending to the lost
// node.
func TestInternalEventListenersObservedInCausalOrder(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		c := testutil.NewSim(seed)
		client := c.MustAddNode("client", broker.Options{CircuitBreaker: breakerOpts, HeartbeatTimeout: 3 * time.Second},
			watcher("$circuit-breaker.opened", "$node.disconnected"))
		broken := true
		c.MustAddNode("inv", broker.Options{}, invService(&broken))
		c.MustAddNode("hang", broker.Options{}, &broker.Service{Name: "slow", Actions: map[string]broker.Action{
			"wait": {Handler: func(ctx *broker.Context) (any, error) { return nil, ctx.WaitDone() }},
		}})
		c.Run(t, func() {
			require.NoError(t, c.Start())
			for range 3 {
				_, err := client.Call("inv.get", nil)
				require.Equal(t, "MoleculerError", errs.NameOf(err))
			}
			// The hung node falls silent: it is lost while a call to it waits.
			c.Net.Pause("hang")
			_, err := client.Call("slow.wait", nil)
			assert.Equal(t, "RequestRejectedError", errs.NameOf(err), "seed %d", seed)
			c.Sim.Sleep(time.Millisecond) // any listener left behind runs too: only order is checked
		})
		es := c.Journal.Entries()
		opened := indexOf(es, 0, func(e journal.Entry) bool { return e.Kind == journal.BreakerChange && e.Str("to") == "open" })
		require.NotEqual(t, -1, opened, "seed %d", seed)
		mark := indexOf(es, opened, func(e journal.Entry) bool {
			return e.Kind == listenerMark && e.Str("event") == "$circuit-breaker.opened"
		})
		result := indexOf(es, opened, func(e journal.Entry) bool { return e.Kind == journal.CallFinished && e.Node == "client" })
		require.NotEqual(t, -1, mark, "seed %d: the listener ran", seed)
		assert.Less(t, mark, result, "seed %d: the opened listener precedes the result of the call that opened the breaker", seed)
		assert.Equal(t, es[opened].T, es[result].T, "seed %d: same instant", seed)

		lost := indexOf(es, 0, func(e journal.Entry) bool { return e.Kind == journal.NodeLost && e.Node == "client" })
		require.NotEqual(t, -1, lost, "seed %d", seed)
		mark = indexOf(es, lost, func(e journal.Entry) bool {
			return e.Kind == listenerMark && e.Str("event") == "$node.disconnected"
		})
		result = indexOf(es, lost, func(e journal.Entry) bool {
			return e.Kind == journal.CallFinished && e.Str("action") == "slow.wait"
		})
		require.NotEqual(t, -1, mark, "seed %d: the listener ran", seed)
		assert.Less(t, mark, result, "seed %d: the disconnected listener precedes the rejected call's result", seed)
		assert.Equal(t, es[lost].T, es[result].T, "seed %d: same instant", seed)
		c.Close()
	}
}
