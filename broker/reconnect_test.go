package broker_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// reconnecting is a memnet transport that records what its node sends and exposes the hook
// the broker registers through transport.Reconnecter.
type reconnecting struct {
	*memnet.Transport
	mu   sync.Mutex
	hook func()
	sent []string
}

func (r *reconnecting) OnReconnect(fn func()) { r.hook = fn }

func (r *reconnecting) Send(m packet.Message) error {
	r.mu.Lock()
	r.sent = append(r.sent, string(m.Type)+">"+m.Target)
	r.mu.Unlock()
	return r.Transport.Send(m)
}

func (r *reconnecting) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// After a reconnect the broker broadcasts its INFO, then a DISCOVER, and nothing else; a
// stopped broker sends nothing.
func TestReconnectReannounces(t *testing.T) {
	sim := rt.NewSim(1)
	net := memnet.New(sim)
	tr := &reconnecting{Transport: net.Transport()}
	a := broker.MustNew(broker.Options{NodeID: "a", Runtime: sim, Transporter: tr})
	peer := broker.MustNew(broker.Options{NodeID: "b", Runtime: sim, Transporter: net.Transport()})
	err := sim.Run(func() {
		if err := peer.Start(); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		if tr.hook == nil {
			t.Fatal("Start did not register a reconnect hook")
		}
		sim.Sleep(1) // let discovery settle
		tr.take()
		tr.hook()
		if got, want := tr.take(), []string{"INFO>", "DISCOVER>"}; !slices.Equal(got, want) {
			t.Fatalf("after reconnect sent %v, want %v", got, want)
		}
		if err := a.Stop(); err != nil {
			t.Fatal(err)
		}
		tr.take()
		tr.hook()
		if got := tr.take(); len(got) != 0 {
			t.Fatalf("a stopped broker sent %v on reconnect", got)
		}
		_ = peer.Stop()
	})
	if err != nil {
		t.Fatal(err)
	}
}
