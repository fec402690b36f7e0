package scenarios

import (
	"fmt"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/testutil"
)

// clusterSpec turns a scenario into the spec of its cluster: one testutil cluster, the same
// API the Go tests use, with the fault seams installed on every node.
func clusterSpec(s *Scenario, cat map[string]ServiceFactory, res *catalog.Resources) testutil.Spec {
	spec := testutil.Spec{
		Seed: s.Seed, Network: s.Network.spec(), Resources: res, Services: cat, InjectFaults: true,
	}
	for _, n := range s.Nodes {
		spec.Nodes = append(spec.Nodes, testutil.NodeSpec{
			ID: n.ID, Services: n.Services, Options: n.Options.brokerOptions(),
			Cacher: n.Options.Cacher, CacherMaxEntries: n.Options.CacherMaxEntries,
		})
	}
	return spec
}

// asProcesses marks the scenario's process nodes for the process tier.
func asProcesses(spec *testutil.Spec, s *Scenario) error {
	procs := processNodes(s)
	for i, n := range s.Nodes {
		if !procs[n.ID] {
			continue
		}
		if len(n.Command) > 0 {
			spec.Nodes[i].Process = &testutil.ProcessSpec{Command: n.Command, Env: n.Env}
			continue
		}
		args, err := processArgs(s, n)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
		spec.Nodes[i].Process = &testutil.ProcessSpec{Args: args}
	}
	return nil
}

// spec is the scenario's network in the cluster API's terms.
func (n NetworkSpec) spec() testutil.NetworkSpec {
	return testutil.NetworkSpec{Latency: n.Latency, Jitter: n.Jitter, Ideal: n.Ideal}
}

// BrokerOptions are a node's options as broker options (what a process node builds its
// broker from).
func (o NodeOptions) BrokerOptions() broker.Options { return o.brokerOptions() }

// brokerOptions are a node's options as broker options.
func (o NodeOptions) brokerOptions() broker.Options {
	opts := broker.Options{
		RequestTimeout: o.RequestTimeout, HeartbeatInterval: o.HeartbeatInterval, HeartbeatTimeout: o.HeartbeatTimeout,
		Strategy: o.Strategy, PreferLocal: o.PreferLocal, MaxCallLevel: o.MaxCallLevel, Metadata: o.Metadata,
		DisableValidator: o.DisableValidator,
	}
	if o.EndpointOrder == "discovery" {
		opts.EndpointOrder = broker.EndpointsByDiscovery
	}
	if r := o.Retry; r != nil {
		opts.Retry = r.Overrides()
	}
	if cb := o.CircuitBreaker; cb != nil {
		opts.CircuitBreaker = cb.Options()
	}
	if bh := o.Bulkhead; bh != nil {
		opts.Bulkhead = bh.Options()
	}
	return opts
}
