package faults_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/testutil"
)

// shop is gateway (no services) and product-1 serving product.get, which takes 5 ms; runs
// counts the handler's executions.
type shop struct {
	*simNodes
	runs int
}

func newShop(t *testing.T, seed uint64, gatewayOpts, productOpts broker.Options, cached bool) *shop {
	s := &shop{simNodes: newSimNodes(t, seed)}
	cacher := testutil.CacherNone
	if cached {
		cacher = testutil.CacherMemory
	}
	s.add("gateway", gatewayOpts, nil)
	s.add("product-1", productOpts, func() []*broker.Service {
		a := broker.Action{Handler: func(ctx *broker.Context) (any, error) {
			s.runs++
			if err := ctx.Sleep(5 * ms); err != nil {
				return nil, err
			}
			return map[string]any{"id": ctx.Params["id"], "at": ctx.Now().Sub(s.c.Sim.Now()).String()}, nil
		}}
		if cached {
			a.Cache = &broker.CacheOptions{Keys: []string{"id"}}
		}
		return []*broker.Service{{Name: "product", Actions: map[string]broker.Action{"get": a}}}
	}, cacher)
	return s
}

func TestDropResponsesFromProductToGateway(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, false)
	s.run(func() {
		s.startAll()
		start := s.now()
		s.inj.MustAdd(faults.Spec{Name: "drop-res", Start: start, Fault: faults.Loss{Rate: 1, Match: faults.Match{
			From: []string{"product-1"}, To: []string{"gateway"}, Types: []packet.Type{packet.Response}}}})
		r := s.goCall("gateway", "product.get", map[string]any{"id": 1}, broker.WithTimeout(time.Second)).wait()
		require.Error(t, r.err)
		assert.True(t, errors.Is(r.err, errs.ErrRequestTimeout), "%v", r.err)
		assert.Equal(t, time.Second, r.end-r.start, "the caller times out exactly at its deadline")
	})
	received := s.kinds(journal.ReqReceived)
	require.Len(t, received, 1, "the REQ still arrives")
	assert.Equal(t, "product-1", received[0].Node)
	sent := s.kinds(journal.ResSent)
	require.Len(t, sent, 1)
	assert.True(t, sent[0].Bool("ok"), "product answered")
	drops := s.kinds(journal.PacketDropped)
	require.Len(t, drops, 1)
	assert.Equal(t, "RES", drops[0].Str("type"))
	assert.Equal(t, sent[0].T, drops[0].T)
	assert.Empty(t, s.kinds(journal.ResReceived))
}

func TestActionErrorForTheFirstNCalls(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, false)
	s.inj.MustAdd(faults.Spec{Name: "flaky", Fault: faults.Error{
		Calls: faults.Calls{Action: "product.*", Node: "product-1", FirstN: 2},
		Name:  "StockServiceError", Message: "stock backend down", Code: 503, Type: "STOCK_DOWN", Retryable: true,
	}})
	var results []error
	s.run(func() {
		s.startAll()
		for range 4 {
			results = append(results, s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait().err)
		}
	})
	require.Len(t, results, 4)
	for _, err := range results[:2] {
		var e *errs.Error
		require.True(t, errors.As(err, &e), "%v", err)
		assert.Equal(t, "StockServiceError", e.Name)
		assert.Equal(t, "stock backend down", e.Message)
		assert.Equal(t, 503, e.Code)
		assert.Equal(t, "STOCK_DOWN", e.Type)
		assert.True(t, e.Retryable)
		assert.Equal(t, "product-1", e.NodeID)
	}
	assert.NoError(t, results[2])
	assert.NoError(t, results[3])
	assert.Equal(t, 2, s.runs, "failed calls never reach the handler")
	fired := s.kinds(faults.FaultFired)
	require.Len(t, fired, 2)
	assert.Equal(t, "product-1", fired[0].Node)
	assert.Equal(t, "flaky", fired[0].Str("fault"))
	assert.Equal(t, "action.error", fired[0].Str("kind"))
	assert.Equal(t, "product.get", fired[0].Str("action"))
	assert.NotEmpty(t, fired[0].Str("call"))
	st := s.inj.Stats()["flaky"]
	assert.Equal(t, int64(2), st.Fired)
	assert.Equal(t, int64(2), st.Matched)
}

func errorRatePattern(t *testing.T, seed uint64) []bool {
	s := newShop(t, seed, broker.Options{}, broker.Options{}, false)
	s.inj.MustAdd(faults.Spec{Name: "half", Fault: faults.Error{Calls: faults.Calls{Action: "product.get", Rate: 0.4}}})
	var failed []bool
	s.run(func() {
		s.startAll()
		for range 300 {
			failed = append(failed, s.goCall("gateway", "product.get", nil).wait().err != nil)
		}
	})
	return failed
}

func TestActionErrorAtARate(t *testing.T) {
	got := errorRatePattern(t, 3)
	n := 0
	for _, f := range got {
		if f {
			n++
		}
	}
	assert.InDelta(t, 120, n, 45, "300 calls at 40 %%: %d failed", n)
	assert.Equal(t, got, errorRatePattern(t, 3), "same seed, same failures")
}

func TestActionDelayIgnoresTheDeadline(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, false)
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "slow", Start: s.now(), Duration: 10 * time.Second,
			Fault: faults.Delay{Calls: faults.Calls{Action: "product.get"}, D: 2 * time.Second}})
		r := s.goCall("gateway", "product.get", nil).wait()
		require.NoError(t, r.err)
		assert.Equal(t, 2*time.Second+5*ms, r.end-r.start)

		r = s.goCall("gateway", "product.get", nil, broker.WithTimeout(time.Second)).wait()
		assert.True(t, errors.Is(r.err, errs.ErrRequestTimeout))
		assert.Equal(t, time.Second, r.end-r.start)
		s.c.Sim.Sleep(2 * time.Second)
		assert.Equal(t, 2, s.runs, "the delayed handler still ran, after the caller gave up")

		s.c.Sim.Sleep(10 * time.Second) // healed
		r = s.goCall("gateway", "product.get", nil).wait()
		require.NoError(t, r.err)
		assert.Equal(t, 5*ms, r.end-r.start)
	})
	var orphans []journal.Entry
	for _, e := range s.kinds(journal.ResOrphan) {
		if e.Node == "gateway" {
			orphans = append(orphans, e)
		}
	}
	require.Len(t, orphans, 1, "the late answer finds nobody waiting")
}

func TestActionHangIsReleasedByItsHeal(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, false)
	s.run(func() {
		s.startAll()
		t0 := s.now()
		s.inj.MustAdd(faults.Spec{Name: "hang", Start: t0, Duration: 30 * time.Second,
			Fault: faults.Hang{Calls: faults.Calls{Action: "product.get"}}})
		hung := s.goCall("gateway", "product.get", nil)
		s.c.Sim.Sleep(ms)
		timed := s.goCall("gateway", "product.get", nil, broker.WithTimeout(2*time.Second)).wait()
		assert.True(t, errors.Is(timed.err, errs.ErrRequestTimeout))
		assert.Equal(t, 2*time.Second, timed.end-timed.start)
		hung.wait()
		require.NoError(t, hung.err)
		assert.Equal(t, t0+30*time.Second+5*ms, hung.end, "released at the heal, then the handler runs")
	})
	assert.Equal(t, 1, s.runs, "the call that timed out ended at its deadline without running the handler")
	assert.Equal(t, int64(2), s.inj.Stats()["hang"].Fired)
}

func TestActionPanicBecomesAnErrorAndTheBrokerKeepsServing(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, false)
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "boom", Start: s.now(), Duration: time.Second,
			Fault: faults.Panic{Calls: faults.Calls{Action: "product.get", FirstN: 1}}})
		for _, timeout := range []time.Duration{0, time.Second} { // without and with the timeout middleware's task
			r := s.goCall("gateway", "product.get", nil, broker.WithTimeout(timeout)).wait()
			if timeout == 0 {
				var e *errs.Error
				require.True(t, errors.As(r.err, &e), "%v", r.err)
				assert.Equal(t, 500, e.Code)
				assert.Contains(t, e.Message, "injected panic")
			} else {
				assert.NoError(t, r.err, "FirstN: 1")
			}
		}
		s.c.Sim.Sleep(time.Second)
		local := s.goCall("product-1", "product.get", nil).wait()
		assert.NoError(t, local.err)
	})
	assert.Equal(t, 2, s.runs)
}

func TestActionPanicUnderATimeoutBecomesAnError(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{RequestTimeout: time.Second}, false)
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "boom", Start: s.now(),
			Fault: faults.Panic{Calls: faults.Calls{Action: "product.get", FirstN: 1}}})
		r := s.goCall("product-1", "product.get", nil, broker.WithTimeout(time.Second)).wait()
		assert.Equal(t, 500, errs.CodeOf(r.err), "%v", r.err)
		r = s.goCall("gateway", "product.get", nil, broker.WithTimeout(time.Second)).wait()
		assert.NoError(t, r.err)
	})
}

func TestCacherDownFallsThroughToTheHandler(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, true)
	fc := s.c.FlakyCacher("product-1")
	s.run(func() {
		s.startAll()
		t0 := s.now()
		s.inj.MustAdd(faults.Spec{Name: "redis-down", Start: t0 + time.Second, Duration: time.Second,
			Fault: faults.CacherDown{Cacher: "product-1"}})
		for range 2 {
			require.NoError(t, s.goCall("gateway", "product.get", map[string]any{"id": 7}).wait().err)
		}
		assert.Equal(t, 1, s.runs, "second call is a hit")
		s.c.Sim.Sleep(time.Second)
		assert.True(t, fc.Down())
		for range 2 {
			require.NoError(t, s.goCall("gateway", "product.get", map[string]any{"id": 7}).wait().err)
		}
		assert.Equal(t, 3, s.runs, "cacher down: every call runs the handler")
		assert.Equal(t, int64(2), s.node("product-1").CacheErrors(), "one failed get per call; no set after a failed get")
		s.c.Sim.Sleep(time.Second)
		assert.False(t, fc.Down())
		require.NoError(t, s.goCall("gateway", "product.get", map[string]any{"id": 7}).wait().err)
		assert.Equal(t, 3, s.runs, "healed: a hit again")
	})
	assert.Len(t, s.kinds(journal.CacheError), 2)
	assert.Equal(t, int64(2), s.inj.Stats()["redis-down"].Fired)
}

func TestCacherSlowAddsDelayPerOperation(t *testing.T) {
	s := newShop(t, 1, broker.Options{}, broker.Options{}, true)
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "redis-slow", Start: s.now(), Fault: faults.CacherSlow{D: 100 * ms}})
		miss := s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait()
		require.NoError(t, miss.err)
		assert.Equal(t, 200*ms+5*ms, miss.end-miss.start, "get + handler + set")
		hit := s.goCall("gateway", "product.get", map[string]any{"id": 1}).wait()
		require.NoError(t, hit.err)
		assert.Equal(t, 100*ms, hit.end-hit.start, "one get")
	})
}

func TestCrashedNodeIsLostExactlyAHeartbeatTimeoutAfterItsLastPacket(t *testing.T) {
	opts := broker.Options{HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 6 * time.Second}
	s := newSimNodes(t, 4)
	s.add("a", opts, nil)
	s.add("b", opts, nil)
	s.add("c", opts, nil)
	crashAt := 20 * time.Second
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "kill-c", Start: crashAt, Fault: faults.Crash{Node: "c"}})
		s.c.Sim.Sleep(time.Minute)
	})
	lost := s.kinds(journal.NodeLost)
	require.Len(t, lost, 2, "a and b each lose c")
	for _, e := range lost {
		assert.Equal(t, "c", e.Str("peer"))
		last := e.Dur("lastSeen")
		assert.Equal(t, last+6*time.Second, e.T, "lost exactly heartbeatTimeout after the last packet")
		assert.LessOrEqual(t, last, crashAt)
		assert.Less(t, crashAt-last, 2500*ms, "the last packet was the last heartbeat before the crash")
	}
	assert.Empty(t, s.kinds(journal.NodeLeft), "no DISCONNECT")
	stopped := s.kinds(journal.NodeStopped)
	require.Len(t, stopped, 1)
	assert.Equal(t, crashAt, stopped[0].T)
	assert.False(t, stopped[0].Bool("graceful"))
}

func TestCrashThenRestartAfterADelay(t *testing.T) {
	opts := broker.Options{HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 6 * time.Second}
	s := newShop(t, 5, opts, opts, false)
	s.run(func() {
		s.startAll()
		t0 := s.now()
		s.inj.MustAdd(faults.Spec{Name: "restart", Start: t0 + time.Second, Duration: 20 * time.Second, Fault: faults.Crash{Node: "product-1"}})
		s.c.Sim.Sleep(10 * time.Second)
		r := s.goCall("gateway", "product.get", nil).wait()
		assert.True(t, errors.Is(r.err, errs.ErrServiceNotFound), "%v", r.err)
		s.c.Sim.Sleep(15 * time.Second)
		r = s.goCall("gateway", "product.get", nil).wait()
		assert.NoError(t, r.err, "restarted and rediscovered")
	})
	assert.Empty(t, s.restartFailures())
	joined := s.kinds(journal.NodeJoined)
	var rejoin []journal.Entry
	for _, e := range joined {
		if e.Node == "gateway" && e.T > 21*time.Second-time.Millisecond {
			rejoin = append(rejoin, e)
		}
	}
	require.NotEmpty(t, rejoin)
	assert.Equal(t, "product-1", rejoin[0].Str("peer"))
}

func TestPausedNodeIsLostThenRejoinsOnResume(t *testing.T) {
	opts := broker.Options{HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 6 * time.Second}
	s := newSimNodes(t, 6)
	s.add("a", opts, nil)
	s.add("b", opts, nil)
	var pausedAt, resumedAt time.Duration
	s.run(func() {
		s.startAll()
		pausedAt = s.now() + 10*time.Second
		resumedAt = pausedAt + 20*time.Second
		s.inj.MustAdd(faults.Spec{Name: "freeze-b", Start: pausedAt, Duration: 20 * time.Second, Fault: faults.Pause{Node: "b"}})
		s.c.Sim.Sleep(time.Minute)
		assert.Len(t, s.node("a").Nodes(), 2)
		for _, n := range s.node("a").Nodes() {
			assert.True(t, n.Available, n.ID)
		}
	})
	var lostByA, joinedByA []journal.Entry
	for _, e := range s.kinds(journal.NodeLost) {
		if e.Node == "a" {
			lostByA = append(lostByA, e)
		}
	}
	for _, e := range s.kinds(journal.NodeJoined) {
		if e.Node == "a" && e.T > pausedAt {
			joinedByA = append(joinedByA, e)
		}
	}
	require.Len(t, lostByA, 1)
	assert.Equal(t, "b", lostByA[0].Str("peer"))
	assert.Equal(t, lostByA[0].Dur("lastSeen")+6*time.Second, lostByA[0].T)
	assert.Less(t, lostByA[0].T, resumedAt)
	require.Len(t, joinedByA, 1)
	assert.Equal(t, "b", joinedByA[0].Str("peer"))
	assert.True(t, joinedByA[0].Bool("reconnected"))
	assert.GreaterOrEqual(t, joinedByA[0].T, resumedAt)
	assert.Empty(t, s.kinds(journal.NodeStopped), "pause is not a crash")
}

func TestClockSkewOnOneNode(t *testing.T) {
	s := newSimNodes(t, 1)
	var seen []time.Duration
	s.add("gateway", broker.Options{}, nil)
	s.add("clock", broker.Options{}, func() []*broker.Service {
		return []*broker.Service{{Name: "clock", Actions: map[string]broker.Action{"now": {Handler: func(ctx *broker.Context) (any, error) {
			seen = append(seen, ctx.Now().Sub(s.c.Sim.Now()))
			return nil, nil
		}}}}}
	})
	s.run(func() {
		s.startAll()
		s.inj.MustAdd(faults.Spec{Name: "skew", Start: s.now() + time.Second, Duration: time.Second,
			Fault: faults.ClockSkew{Node: "clock", Offset: -90 * time.Second}})
		for range 3 {
			require.NoError(t, s.goCall("gateway", "clock.now", nil).wait().err)
			assert.Zero(t, s.node("gateway").Runtime().Now().Sub(s.c.Sim.Now()), "other nodes keep the true time")
			s.c.Sim.Sleep(time.Second)
		}
	})
	assert.Equal(t, []time.Duration{0, -90 * time.Second, 0}, seen)
}

// A run with faults of every layer replays byte for byte from its seed.
func TestFaultyRunIsDeterministic(t *testing.T) {
	run := func(seed uint64) []byte {
		s := newShop(t, seed, broker.Options{}, broker.Options{HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 6 * time.Second}, false)
		s.inj.MustAdd(
			faults.Spec{Name: "jitter", Fault: faults.Latency{Base: 5 * ms, Jitter: 4 * ms, Dist: faults.Normal}},
			faults.Spec{Name: "loss", Start: time.Second, Duration: 3 * time.Second, Every: 5 * time.Second, Fault: faults.Loss{Rate: 0.2}},
			faults.Spec{Name: "dup", Fault: faults.Duplicate{Rate: 0.1}},
			faults.Spec{Name: "reorder", Fault: faults.Reorder{Rate: 0.1, MaxDelay: 10 * ms}},
			faults.Spec{Name: "errors", Fault: faults.Error{Calls: faults.Calls{Action: "product.get", Rate: 0.2}}},
			faults.Spec{Name: "slow", Start: 5 * time.Second, Duration: 2 * time.Second, Fault: faults.Delay{Calls: faults.Calls{Rate: 0.5}, D: 50 * ms}},
		)
		s.run(func() {
			s.startAll()
			for range 100 {
				s.goCall("gateway", "product.get", nil, broker.WithTimeout(500*ms))
				s.c.Sim.Sleep(100 * ms)
			}
			s.c.Sim.Sleep(time.Second)
			s.inj.Stop()
		})
		return s.c.Journal.Bytes()
	}
	a, b := run(21), run(21)
	require.NotEmpty(t, a)
	assert.True(t, bytes.Equal(a, b), "same seed, byte-identical journal")
	assert.False(t, bytes.Equal(a, run(22)))
}
