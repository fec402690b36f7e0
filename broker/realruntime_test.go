package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/rt"
)

// TestRealRuntimeLocalTimeout: on the real runtime a local call's deadline is one timer for
// both the caller's RequestTimeoutError and the handler's ctx.Done; both still happen, and a
// handler that finished in time never sees its context expire.
func TestRealRuntimeLocalTimeout(t *testing.T) {
	sawDone := make(chan error, 1)
	quickCtx := make(chan *broker.Context, 1)
	n := broker.MustNew(broker.Options{Runtime: rt.NewReal(), NodeID: "a", RequestTimeout: 20 * time.Millisecond})
	n.MustAddService(&broker.Service{Name: "s", Actions: map[string]broker.Action{
		"hang": {Handler: func(ctx *broker.Context) (any, error) {
			err := ctx.WaitDone()
			sawDone <- err
			return nil, err
		}},
		"quick": {Handler: func(ctx *broker.Context) (any, error) { quickCtx <- ctx; return "ok", nil }},
	}})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	_, err := n.Call("s.hang", nil)
	if got := errs.Name(err); got != "RequestTimeoutError" || errs.Code(err) != 504 {
		t.Fatalf("hang: error %q code %d, want RequestTimeoutError 504 (%v)", got, errs.Code(err), err)
	}
	if err := <-sawDone; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: the handler's WaitDone returned %v, want context.DeadlineExceeded", err)
	}
	res, err := n.Call("s.quick", nil)
	if err != nil || res != "ok" {
		t.Fatalf("quick: %v, %v", res, err)
	}
	ctx := <-quickCtx
	// Past the deadline the call would have had: its context must not have expired.
	done := rt.NewReal().NewSignal("past the deadline")
	rt.NewReal().AfterFunc(40*time.Millisecond, done.Fire)
	done.Wait()
	if err := ctx.Err(); err != nil {
		t.Fatalf("quick: ctx.Err() after the call = %v, want nil", err)
	}
}
