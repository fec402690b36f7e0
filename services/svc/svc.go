// Package svc holds what Faultline's e-commerce services share: the narrow Caller interface
// their logic talks to other services through, and small helpers for handlers.
//
// Every service splits an action in two: a thin broker handler that decodes params, reads
// the caller's token and the runtime's clock from the *broker.Context, and a logic method
// that takes a Caller. *broker.Context satisfies Caller, so the handler passes its own
// context; unit tests pass the mockery mock in package svcmock instead and assert exactly
// which calls and events the logic makes.
package svc

//go:generate sh -c "cd ../.. && go run github.com/vektra/mockery/v2@v2.53.7 --config .mockery.yaml"

import (
	"context"
	"time"

	"github.com/faultline/faultline/broker"
)

// Caller is what service logic may do to the rest of the cluster: call actions, emit
// events (once per group) and broadcast them (to every subscriber). *broker.Context
// implements it; so does the generated svcmock.Caller.
type Caller interface {
	Call(action string, params any, opts ...broker.CallOption) (any, error)
	Emit(event string, data any, opts ...broker.EmitOption) error
	Broadcast(event string, data any, opts ...broker.EmitOption) error
}

var _ Caller = (*broker.Context)(nil)

// Storage returns ctx for storage calls: cancelled when ctx is, but without a deadline.
// A broker context's deadline is on the runtime's clock, which in a simulation is virtual;
// database drivers that compare a deadline with the wall clock (network dialers, pool
// acquisition) would see it as long past. Cancellation still reaches them through Done.
func Storage(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		return ctx
	}
	return noDeadline{ctx}
}

type noDeadline struct{ context.Context }

func (noDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// Decode converts params or a call result into out (a pointer to a struct, usually),
// through JSON, so that local results (Go values) and remote or cached ones (decoded JSON)
// read alike.
func Decode(v any, out any) error { return broker.Decode(v, out) }
