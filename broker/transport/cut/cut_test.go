package cut_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/transport/cut"
)

// fake delivers what the test hands it to the connected receiver.
type fake struct{ recv func(packet.Message) }

func (f *fake) Connect(_ string, recv func(packet.Message)) error { f.recv = recv; return nil }
func (f *fake) Disconnect() error                                 { return nil }
func (f *fake) Send(packet.Message) error                         { return nil }

func TestDropsWhatComesFromACutPeerUntilHealed(t *testing.T) {
	inner := &fake{}
	var dropped []string
	f := cut.Wrap(inner, func(m packet.Message, rule string) {
		dropped = append(dropped, m.Sender+"/"+string(m.Type)+" by "+rule)
	})
	var got []string
	require.NoError(t, f.Connect("b", func(m packet.Message) { got = append(got, m.Sender+"/"+string(m.Type)) }))
	deliver := func(from string, t packet.Type) { inner.recv(packet.Message{Type: t, Sender: from, Target: "b"}) }

	deliver("a", packet.Request)
	f.Drop("a-to-b", []string{"a"}, nil)
	f.Drop("c-res", []string{"c"}, []packet.Type{packet.Response})
	deliver("a", packet.Request)
	deliver("a", packet.Heartbeat)
	deliver("c", packet.Response)
	deliver("c", packet.Heartbeat)
	f.Heal("a-to-b")
	deliver("a", packet.Request)

	assert.Equal(t, []string{"a/REQ", "c/HEARTBEAT", "a/REQ"}, got)
	assert.Equal(t, []string{"a/REQ by a-to-b", "a/HEARTBEAT by a-to-b", "c/RES by c-res"}, dropped)
}
