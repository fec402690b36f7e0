package testutil

import (
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
	"github.com/faultline/faultline/broker/transport/memnet"
	natstransport "github.com/faultline/faultline/broker/transport/nats"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/realtier/natsmesh"
)

// TierNATS runs every node in this process on the wall-clock runtime, each connected to a
// nats-server of its own; the servers form one NATS cluster whose routes pass through a
// Toxiproxy proxy per pair (realtier/natsmesh). Packets cross real sockets and real NATS
// routing; a symmetric partition cuts the pairs' routes, a real network partition.
// Faults that need to see single packets (latency, loss, one-way partitions) and pauses
// are refused: they need the in-memory network or, for pauses, real processes.
const TierNATS = "nats"

func init() { RegisterTier(TierNATS, openNATSTier) }

type natsTier struct {
	runtime *rt.Real
	mesh    *natsmesh.Mesh
}

func openNATSTier(spec *Spec) (Tier, error) {
	if spec.Network != (NetworkSpec{}) {
		return nil, errors.New("tier nats: the network is real; a network spec (latency, jitter, ideal) applies to the in-memory tiers only")
	}
	ids := make([]string, len(spec.Nodes))
	for i, n := range spec.Nodes {
		ids[i] = n.ID
	}
	if len(ids) == 0 {
		return nil, errors.New("tier nats: the spec names no nodes (its mesh of servers is built for the spec's nodes)")
	}
	m, err := natsmesh.Start(ids, natsmesh.Options{})
	if err != nil {
		return nil, fmt.Errorf("tier nats: %w", err)
	}
	return &natsTier{runtime: rt.NewReal(), mesh: m}, nil
}

func (t *natsTier) Runtime() rt.Runtime     { return t.runtime }
func (t *natsTier) Sim() *rt.Sim            { return nil }
func (t *natsTier) Net() *memnet.Network    { return nil }
func (t *natsTier) Links() faults.Links     { return t.mesh }
func (t *natsTier) Mesh() *natsmesh.Mesh    { return t.mesh }
func (t *natsTier) PollStep() time.Duration { return 5 * time.Millisecond }

// Transporter connects a node to its own server. A node added after the spec has no server
// of its own; its transporter's connect fails, naming the node.
func (t *natsTier) Transporter(nodeID string) transport.Transporter {
	url := t.mesh.ClientURL(nodeID)
	if url == "" {
		return unreachableTransporter{node: nodeID}
	}
	return natstransport.New(natstransport.Options{URL: url, ReconnectWait: 100 * time.Millisecond})
}

func (t *natsTier) Pause(id string) error {
	return fmt.Errorf("tier nats: cannot pause %s: a node in this process has no process to stop (tiers sim and wall can)", id)
}

func (t *natsTier) Resume(id string) error { return t.Pause(id) }

func (t *natsTier) Close() { t.mesh.Close() }

// linkTier is a tier whose real links take symmetric partitions.
type linkTier interface{ Links() faults.Links }

// unreachableTransporter is the transporter of a node the tier has no server for.
type unreachableTransporter struct{ node string }

func (u unreachableTransporter) Connect(string, func(packet.Message)) error {
	return fmt.Errorf("tier nats: node %s was not in the spec, and the mesh of servers is built for the spec's nodes", u.node)
}
func (u unreachableTransporter) Disconnect() error { return nil }
func (u unreachableTransporter) Send(packet.Message) error {
	return errors.New("tier nats: not connected")
}
