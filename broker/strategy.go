package broker

import (
	"fmt"

	"github.com/faultline/faultline/broker/rt"
)

// Strategy picks one endpoint among available candidates (never empty).
type Strategy interface {
	Select(candidates []*Endpoint, list *endpointList) *Endpoint
}

func newStrategy(name string, r rt.Runtime) (Strategy, error) {
	switch name {
	case "RoundRobin":
		return roundRobin{}, nil
	case "Random":
		return random{r}, nil
	case "CpuUsage":
		return sampled{r: r, key: func(e *Endpoint) float64 { return e.node.cpu }}, nil
	case "Latency":
		return sampled{r: r, key: func(e *Endpoint) float64 { return float64(e.node.latency()) }}, nil
	}
	return nil, fmt.Errorf("unknown registry strategy %q (RoundRobin, Random, CpuUsage, Latency)", name)
}

// roundRobin cycles through the candidates, per action.
type roundRobin struct{}

func (roundRobin) Select(c []*Endpoint, l *endpointList) *Endpoint {
	if l.counter >= len(c) {
		l.counter = 0
	}
	e := c[l.counter]
	l.counter++
	return e
}

type random struct{ r rt.Runtime }

func (s random) Select(c []*Endpoint, _ *endpointList) *Endpoint { return c[s.r.Rand().IntN(len(c))] }

// sampled is Moleculer's CpuUsage/Latency approach: look at a few random candidates (3)
// and take the one with the lowest key (CPU, or ping latency).
type sampled struct {
	r   rt.Runtime
	key func(*Endpoint) float64
}

func (s sampled) Select(c []*Endpoint, _ *endpointList) *Endpoint {
	if len(c) == 1 {
		return c[0]
	}
	const sampleCount = 3
	var best *Endpoint
	for i := 0; i < sampleCount && i < len(c); i++ {
		e := c[s.r.Rand().IntN(len(c))]
		if best == nil || s.key(e) < s.key(best) {
			best = e
		}
	}
	return best
}
