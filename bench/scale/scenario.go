package main

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// Scenario is the generated cluster of the scale benchmark: one gateway node (no services)
// in front of n product nodes, and 10 clients on the gateway calling product.get at 10
// calls/s each (open loop) for 60 s of virtual time, on the realistic network and the
// broker's default heartbeats (every 10 s to every node, Moleculer's protocol). Its checks
// hold whatever n is: every call answered, and the gateway sees the last product node.
func Scenario(n int) scenarios.Scenario {
	nodes := []scenarios.NodeSpec{{ID: "gateway"}}
	for i := 1; i <= n; i++ {
		nodes = append(nodes, scenarios.NodeSpec{ID: fmt.Sprintf("product-%04d", i), Services: []string{"product"}})
	}
	return scenarios.Scenario{
		Name:        fmt.Sprintf("scale-%d", n),
		Description: fmt.Sprintf("one gateway, %d product nodes, 10 clients × 10 calls/s for 60 s", n),
		Seed:        1,
		Duration:    60 * time.Second,
		Nodes:       nodes,
		Config:      scenarios.ServiceConfig{Products: []scenarios.Product{{Name: "widget", Price: 10, Stock: 100}}},
		Workload: []scenarios.WorkloadSpec{{Name: "reads", From: "gateway", Action: "product.get",
			Params: map[string]any{"id": 1}, Clients: 10, Rate: 10}},
		Checks: []scenarios.CheckSpec{{Kind: "steady-state", Label: "whole run", MinSuccessRate: 1}},
	}
}

// Limits lets the generated scenario exceed the defaults made for hand-written files (256
// nodes); the event and memory budgets stay on, high enough for 1,000 nodes.
func Limits(n int) scenarios.Limits {
	return scenarios.Limits{Nodes: n + 1, Events: 1 << 40, Memory: 16 << 30}
}
