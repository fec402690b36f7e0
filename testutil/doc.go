// Package testutil is Faultline's one cluster API: it builds clusters of brokers for tests,
// scenarios and the CLI — one tier (where the nodes run), one network, one journal, shared
// resources, many nodes.
//
// Build places catalog services (user, product, order, email, notification, or your own
// through Spec.Services and NodeSpec.Define) on named nodes, on a tier: TierSim (seeded,
// virtual time; the default) or TierWall (the wall clock, in this process), or any tier
// registered with RegisterTier. The same methods drive every tier: AddNode (also after Start:
// a late join), Crash, Restart, Stop, Pause, Resume, SetSkew, Partition, WaitForServices, and
// Faults, the cluster's fault injector.
//
//	c := testutil.MustBuild(t, testutil.Spec{Seed: 1, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
//		{ID: "gateway"},
//		{ID: "products", Services: []string{"product"}},
//		{ID: "orders", Services: []string{"order", "email", "notification"}},
//	}})
//	c.Run(t, func() {
//		require.NoError(t, c.Start())
//		res, err := c.Node("gateway").Call("product.list", nil)
//		...
//	})
//
// NewSim is the short form for unit tests of the broker: an empty simulated cluster on an
// ideal (zero-latency) network, to which MustAddNode adds nodes with services of the test's own.
package testutil

import (
	"fmt"

	"github.com/faultline/faultline/broker/journal"
)

// Describe renders entries compactly, one per line: "+1.5s node kind k=v ...".
func Describe(es []journal.Entry, keys ...string) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		s := fmt.Sprintf("+%s %s %s", e.T, e.Node, e.Kind)
		for _, k := range keys {
			if v, ok := e.Attrs[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, s)
	}
	return out
}
