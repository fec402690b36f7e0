package broker

import (
	"testing"

	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// A caller yields on waking only where its transporter wakes callers in batches: the
// in-memory network does, a broker without a transporter (or over NATS) does not. The
// Real runtime's signals can wait fairly; the simulator's need not.
func TestFairWakeFollowsTheTransporter(t *testing.T) {
	real := rt.NewReal()
	over := MustNew(Options{NodeID: "a", Runtime: real, Transporter: memnet.New(real).Transport()})
	alone := MustNew(Options{NodeID: "b", Runtime: real})
	if !over.fairWake || alone.fairWake {
		t.Fatalf("fairWake over memnet %v, without a transporter %v; want true, false", over.fairWake, alone.fairWake)
	}
	if _, ok := real.NewSignal("x").(rt.FairWaiter); !ok {
		t.Fatal("a Real signal is not a FairWaiter")
	}
	if _, ok := rt.NewSim(1).NewSignal("x").(rt.FairWaiter); ok {
		t.Fatal("a Sim signal is a FairWaiter: the simulator must not yield")
	}
}
