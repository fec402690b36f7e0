// Package natsmesh runs a NATS cluster of one embedded nats-server per node whose routes
// pass through Toxiproxy proxies, one proxy per pair of servers, so that network faults
// between two nodes are faults on one TCP route and nothing else.
//
// NATS forwards a message one route hop only, so cutting the route A–B partitions A from B
// while both still reach C. Two details make the proxies the only paths:
//
//   - servers gossip their cluster addresses and would open direct routes around the
//     proxies; every server advertises an unreachable address and does not advertise its
//     own, so a gossiped route fails and only the configured ones stand;
//   - each pair's route is configured on one side only (the server that comes first by
//     name solicits it), through that pair's proxy, so a pair has exactly one way to talk.
//
// A route is one TCP connection carrying both directions: a one-way partition cannot hold
// at this layer, and belongs in the node's transporter instead.
package natsmesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// unreachable is the cluster address every server advertises: nothing listens on port 1 of
// the loopback, so a route gossiped to it fails at once instead of bypassing a proxy.
const unreachable = "127.0.0.1:1"

// Options configure a mesh.
type Options struct {
	// ClusterName names the NATS cluster (default "faultline").
	ClusterName string
	// ReadyTimeout bounds how long Start waits for every server and route (default 10 s).
	ReadyTimeout time.Duration
	// Edit, when set, adjusts each server's options before it starts.
	Edit func(node string, o *server.Options)
}

// A Mesh is the running cluster: servers by node, proxies by pair.
type Mesh struct {
	opts    Options
	api     *toxiproxy.ApiServer
	mu      sync.Mutex
	nodes   []string
	servers map[string]*server.Server
	routes  map[Pair]*toxiproxy.Proxy
	proxies map[string]*toxiproxy.Proxy // other proxies (Redis and the like), by name
}

// Pair names the route between two nodes, in name order.
type Pair struct{ A, B string }

// PairOf returns the pair of a and b in canonical order.
func PairOf(a, b string) Pair {
	if b < a {
		a, b = b, a
	}
	return Pair{a, b}
}

func (p Pair) String() string { return p.A + "~" + p.B }

// Start starts one server per node and a proxied route between every pair, and returns
// when every route is up.
func Start(nodes []string, opts Options) (*Mesh, error) {
	if opts.ClusterName == "" {
		opts.ClusterName = "faultline"
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	nodes = slices.Clone(nodes)
	sort.Strings(nodes)
	if len(slices.Compact(slices.Clone(nodes))) != len(nodes) {
		return nil, fmt.Errorf("natsmesh: duplicate node in %v", nodes)
	}
	m := &Mesh{
		opts:    opts,
		api:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		nodes:   nodes,
		servers: map[string]*server.Server{},
		routes:  map[Pair]*toxiproxy.Proxy{},
		proxies: map[string]*toxiproxy.Proxy{},
	}
	// Every server's cluster port is chosen before any server starts, because a server's
	// route list must name its peers' proxies, and a proxy its upstream's port.
	clusterPort := map[string]int{}
	for _, n := range nodes {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		clusterPort[n] = p
	}
	solicit := map[string][]*url.URL{}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			pair := Pair{a, b}
			px := toxiproxy.NewProxy(m.api, "route "+pair.String(), "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", clusterPort[b]))
			if err := px.Start(); err != nil {
				m.Close()
				return nil, fmt.Errorf("natsmesh: proxy %s: %w", pair, err)
			}
			m.routes[pair] = px
			solicit[a] = append(solicit[a], &url.URL{Scheme: "nats-route", Host: px.Listen})
		}
	}
	for _, n := range nodes {
		o := &server.Options{
			ServerName: n,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			NoLog:      true,
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name:        opts.ClusterName,
				Host:        "127.0.0.1",
				Port:        clusterPort[n],
				NoAdvertise: true,
				Advertise:   unreachable,
				// One connection per route: a pool or per-account routes would still pass
				// through the proxy, but one is easier to reason about in faults.
				PoolSize: -1,
			},
			Routes: solicit[n],
		}
		if opts.Edit != nil {
			opts.Edit(n, o)
		}
		s, err := server.NewServer(o)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("natsmesh: server %s: %w", n, err)
		}
		go s.Start()
		if !s.ReadyForConnections(opts.ReadyTimeout) {
			m.Close()
			return nil, fmt.Errorf("natsmesh: server %s not ready after %s", n, opts.ReadyTimeout)
		}
		m.servers[n] = s
	}
	if err := m.WaitRoutes(opts.ReadyTimeout); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Nodes lists the mesh's nodes in name order.
func (m *Mesh) Nodes() []string { return slices.Clone(m.nodes) }

// ClientURL is the URL a node's transporter connects to: its own server.
func (m *Mesh) ClientURL(node string) string {
	s := m.servers[node]
	if s == nil {
		return ""
	}
	return s.ClientURL()
}

// Server returns a node's server (for its monitoring data), or nil.
func (m *Mesh) Server(node string) *server.Server { return m.servers[node] }

// Connected reports whether the route between a and b is up, as both servers see it.
func (m *Mesh) Connected(a, b string) bool {
	return m.routedTo(a, b) && m.routedTo(b, a)
}

// routedTo reports whether a's server has a route to b's.
func (m *Mesh) routedTo(a, b string) bool {
	s := m.servers[a]
	if s == nil {
		return false
	}
	rz, err := s.Routez(nil)
	if err != nil {
		return false
	}
	for _, r := range rz.Routes {
		if r.RemoteName == b {
			return true
		}
	}
	return false
}

// WaitRoutes waits until every pair whose proxy is enabled is routed, within d.
func (m *Mesh) WaitRoutes(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		var missing []string
		m.mu.Lock()
		for pair, px := range m.routes {
			if px.Enabled && !m.Connected(pair.A, pair.B) {
				missing = append(missing, pair.String())
			}
		}
		m.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			return fmt.Errorf("natsmesh: routes %v not up after %s", missing, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitCut waits until neither server of the pair has a route to the other, within d.
func (m *Mesh) WaitCut(a, b string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for m.routedTo(a, b) || m.routedTo(b, a) {
		if time.Now().After(deadline) {
			return fmt.Errorf("natsmesh: route %s still up after %s", PairOf(a, b), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (m *Mesh) route(a, b string) (*toxiproxy.Proxy, error) {
	px := m.routes[PairOf(a, b)]
	if px == nil {
		return nil, fmt.Errorf("natsmesh: no route between %q and %q (nodes %v)", a, b, m.nodes)
	}
	return px, nil
}

// Cut disables the route between a and b: its connections close and reconnects are
// refused until Heal. Messages between a and b stop; both still reach every other node.
func (m *Mesh) Cut(a, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	px, err := m.route(a, b)
	if err != nil {
		return err
	}
	px.Stop()
	return nil
}

// Heal re-enables the route between a and b; the soliciting server reconnects on its own
// (WaitRoutes waits for it).
func (m *Mesh) Heal(a, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	px, err := m.route(a, b)
	if err != nil {
		return err
	}
	if px.Enabled {
		return nil
	}
	return px.Start()
}

// Partition cuts every route between a node of side and a node of other.
func (m *Mesh) Partition(side, other []string) error {
	for _, a := range side {
		for _, b := range other {
			if err := m.Cut(a, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// HealAll re-enables every route.
func (m *Mesh) HealAll() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, px := range m.routes {
		if !px.Enabled {
			if err := px.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// A Toxic is a Toxiproxy toxic on one route or proxy, in both directions unless Stream
// says "upstream" or "downstream".
type Toxic struct {
	// Name identifies the toxic for RemoveToxic (default: Type, per stream).
	Name string
	// Type is a Toxiproxy toxic: latency, bandwidth, slow_close, timeout, reset_peer,
	// slicer, limit_data.
	Type string
	// Stream is "upstream", "downstream" or "" for both.
	Stream string
	// Toxicity is the share of connections affected (0 means 1: all).
	Toxicity float32
	// Attributes are the toxic's own, as Toxiproxy names them (latency and jitter in ms,
	// rate in KB/s, delay and timeout in ms, ...).
	Attributes map[string]any
}

func (t Toxic) streams() []string {
	if t.Stream != "" {
		return []string{t.Stream}
	}
	return []string{"upstream", "downstream"}
}

func (t Toxic) name(stream string) string {
	n := t.Name
	if n == "" {
		n = t.Type
	}
	return n + "_" + stream
}

// AddToxic puts a toxic on the route between a and b.
func (m *Mesh) AddToxic(a, b string, t Toxic) error {
	m.mu.Lock()
	px, err := m.route(a, b)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return addToxic(px, t)
}

// RemoveToxic takes a toxic off the route between a and b.
func (m *Mesh) RemoveToxic(a, b string, t Toxic) error {
	m.mu.Lock()
	px, err := m.route(a, b)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return removeToxic(px, t)
}

func addToxic(px *toxiproxy.Proxy, t Toxic) error {
	tox := t.Toxicity
	if tox == 0 {
		tox = 1
	}
	for _, stream := range t.streams() {
		body, err := json.Marshal(map[string]any{"name": t.name(stream), "type": t.Type, "stream": stream,
			"toxicity": tox, "attributes": t.Attributes})
		if err != nil {
			return err
		}
		if _, err := px.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("natsmesh: toxic %s on %s: %w", t.name(stream), px.Name, err)
		}
	}
	return nil
}

func removeToxic(px *toxiproxy.Proxy, t Toxic) error {
	var errs []error
	for _, stream := range t.streams() {
		if err := px.Toxics.RemoveToxic(context.Background(), t.name(stream)); err != nil {
			errs = append(errs, fmt.Errorf("natsmesh: remove %s from %s: %w", t.name(stream), px.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Proxy starts a named proxy in front of upstream (a node's Redis, say) and returns its
// address; DisableProxy / EnableProxy and ProxyToxic act on it.
func (m *Mesh) Proxy(name, upstream string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.proxies[name]; dup {
		return "", fmt.Errorf("natsmesh: proxy %q exists", name)
	}
	px := toxiproxy.NewProxy(m.api, name, "127.0.0.1:0", upstream)
	if err := px.Start(); err != nil {
		return "", fmt.Errorf("natsmesh: proxy %q: %w", name, err)
	}
	m.proxies[name] = px
	return px.Listen, nil
}

func (m *Mesh) proxy(name string) (*toxiproxy.Proxy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	px := m.proxies[name]
	if px == nil {
		return nil, fmt.Errorf("natsmesh: no proxy %q", name)
	}
	return px, nil
}

// DisableProxy closes a named proxy's connections and refuses new ones.
func (m *Mesh) DisableProxy(name string) error {
	px, err := m.proxy(name)
	if err == nil {
		px.Stop()
	}
	return err
}

// EnableProxy lets a named proxy accept connections again, on the same address.
func (m *Mesh) EnableProxy(name string) error {
	px, err := m.proxy(name)
	if err != nil || px.Enabled {
		return err
	}
	return px.Start()
}

// ProxyToxic adds a toxic to a named proxy; RemoveProxyToxic takes it off.
func (m *Mesh) ProxyToxic(name string, t Toxic) error {
	px, err := m.proxy(name)
	if err != nil {
		return err
	}
	return addToxic(px, t)
}

// RemoveProxyToxic takes a toxic off a named proxy.
func (m *Mesh) RemoveProxyToxic(name string, t Toxic) error {
	px, err := m.proxy(name)
	if err != nil {
		return err
	}
	return removeToxic(px, t)
}

// Close stops every proxy and server.
func (m *Mesh) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, px := range m.routes {
		px.Stop()
	}
	for _, px := range m.proxies {
		px.Stop()
	}
	for _, s := range m.servers {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// freePort asks the kernel for a free loopback port. Another program could take it before
// the server binds it; on a test machine that is rare enough, and Start then fails clearly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("natsmesh: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
