package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Slots added unordered while a list is not read come out in node ID order, merged with the
// ones already there, as inserting each in place would have put them.
func TestPendingSlotsSettleInNodeIDOrder(t *testing.T) {
	r := &registry{b: &Broker{}, actions: map[string]*endpointList{}}
	slot := func(id string) endpointSlot { return endpointSlot{node: &member{id: id}} }
	l := r.listFor("a.b")
	for _, id := range []string{"n3", "n1", "n5"} {
		r.addNewSlot(l, slot(id))
	}
	r.addSlot(l, slot("n4")) // settles first, then inserts in place
	for _, id := range []string{"n6", "n0", "n2"} {
		r.addNewSlot(l, slot(id))
	}
	var ids []string
	for _, s := range r.list("a.b").slots {
		ids = append(ids, s.node.id)
	}
	assert.Equal(t, []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6"}, ids)
	assert.Nil(t, l.pending, "the pending slice is dropped once merged")
}
