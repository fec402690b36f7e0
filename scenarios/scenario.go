// Package scenarios is Faultline's scenario engine. A Scenario names a cluster (nodes, the
// services each runs, broker options per node), a workload (who calls what, how often, for
// how long), a fault schedule and checks, plus a seed. Run executes it in the simulated
// runtime and returns a verdict, the journal and each check's outcome. The same Scenario
// value is what a YAML scenario file decodes into, so Go and YAML scenarios run through one
// engine.
package scenarios

import (
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/scenarios/check"
	"github.com/faultline/faultline/testutil"
)

// Scenario is one scripted experiment.
type Scenario struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Seed        uint64 `yaml:"seed" json:"seed"`
	// Duration is how much virtual time the run lasts (workload and faults are cut there).
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Network is the simulated network: realistic (0.5 ms + up to 1.5 ms of seeded jitter)
	// unless the scenario sets its latency and jitter or asks for an ideal one.
	Network  NetworkSpec    `yaml:"network,omitempty" json:"network"`
	Nodes    []NodeSpec     `yaml:"nodes" json:"nodes"`
	Workload []WorkloadSpec `yaml:"workload,omitempty" json:"workload,omitempty"`
	Faults   []FaultSpec    `yaml:"faults,omitempty" json:"faults,omitempty"`
	// Nemesis draws more faults from the seed (see NemesisSpec); nil: none.
	Nemesis *NemesisSpec `yaml:"nemesis,omitempty" json:"nemesis,omitempty"`
	Checks  []CheckSpec  `yaml:"checks,omitempty" json:"checks,omitempty"`
	// Services declares services in data (stubs of the parts of a topology not run for real);
	// nodes name them like catalog services.
	Services []ServiceSpec `yaml:"services,omitempty" json:"services,omitempty"`
	// SetupCalls run in order after the seeded users and products and before the workload
	// (fixtures: more products, an order to update, a cache to warm).
	SetupCalls []CallSpec `yaml:"setup,omitempty" json:"setup,omitempty"`
	// Config configures the services (JWT secret, outbox latency, ...).
	Config ServiceConfig `yaml:"config,omitempty" json:"config"`
	// Plants are deliberate bugs planted in the services (see Plants), so a test can prove
	// that a check, the nemesis and shrinking find them.
	Plants []string `yaml:"plants,omitempty" json:"plants,omitempty"`

	// Go-only extensions (not expressible in a file).
	// ExtraServices adds services by name to the catalog for this scenario.
	ExtraServices map[string]ServiceFactory `yaml:"-" json:"-"`
	// ExtraChecks are checkers written in Go.
	ExtraChecks []check.Checker `yaml:"-" json:"-"`
	// Setup runs inside the simulation after the cluster started and before the workload,
	// with the running cluster (for example to seed data).
	Setup func(c *testutil.Cluster) error `yaml:"-" json:"-"`
}

// NetworkSpec configures the simulated network, as testutil.NetworkSpec does. The zero value
// is the realistic network: every packet takes testutil.DefaultLatency plus a uniform jitter
// in [0, testutil.DefaultJitter), drawn from the scenario's seed, so two packets from
// different senders do not land at the same instant and a breaker's timer never ties with a
// call. Ideal is the zero-latency network, where such ties happen and the scheduler's coin
// decides them.
type NetworkSpec struct {
	// Latency is the one-way base latency; Jitter the width of the uniform extra delay.
	// Both zero (and not Ideal) means the defaults; otherwise they are taken as given.
	Latency time.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter  time.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Ideal is a zero-latency, zero-jitter network.
	Ideal bool `yaml:"ideal,omitempty" json:"ideal,omitempty"`
}

// NodeSpec is one node of the cluster.
type NodeSpec struct {
	ID       string      `yaml:"id" json:"id"`
	Services []string    `yaml:"services,omitempty" json:"services,omitempty"`
	Options  NodeOptions `yaml:"options,omitempty" json:"options"`
	// Command, when set, makes the node external (tiers process and containers): any
	// process that joins the cluster over NATS, started with this program and arguments
	// ({{nats}} and {{id}} replaced), such as a team's Moleculer JS service. Services then
	// names the catalog services it stands in for (what the workload may call on it); Env is
	// added to its environment. The harness kills, pauses and partitions it like its own.
	Command []string          `yaml:"command,omitempty" json:"command,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

// NodeOptions are the broker options a scenario can set, in data form.
type NodeOptions struct {
	RequestTimeout    time.Duration  `yaml:"requestTimeout,omitempty" json:"requestTimeout,omitempty"`
	HeartbeatInterval time.Duration  `yaml:"heartbeatInterval,omitempty" json:"heartbeatInterval,omitempty"`
	HeartbeatTimeout  time.Duration  `yaml:"heartbeatTimeout,omitempty" json:"heartbeatTimeout,omitempty"`
	Strategy          string         `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	PreferLocal       *bool          `yaml:"preferLocal,omitempty" json:"preferLocal,omitempty"`
	MaxCallLevel      int            `yaml:"maxCallLevel,omitempty" json:"maxCallLevel,omitempty"`
	Retry             *RetrySpec     `yaml:"retryPolicy,omitempty" json:"retryPolicy,omitempty"`
	CircuitBreaker    *BreakerSpec   `yaml:"circuitBreaker,omitempty" json:"circuitBreaker,omitempty"`
	Bulkhead          *BulkheadSpec  `yaml:"bulkhead,omitempty" json:"bulkhead,omitempty"`
	Cacher            string         `yaml:"cacher,omitempty" json:"cacher,omitempty"` // "", "memory", "memory-lru", "redis" (one shared miniredis)
	CacherMaxEntries  int            `yaml:"cacherMaxEntries,omitempty" json:"cacherMaxEntries,omitempty"`
	Metadata          map[string]any `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	// EndpointOrder is "nodeID" (the default: round robin starts at the lowest node ID,
	// whatever the seed) or "discovery" (the order nodes were discovered in, which the seed
	// decides).
	EndpointOrder string `yaml:"endpointOrder,omitempty" json:"endpointOrder,omitempty"`
	// DisableValidator turns params validation off on this node.
	DisableValidator bool `yaml:"disableValidator,omitempty" json:"disableValidator,omitempty"`
}

// The broker-level specs below merge over Moleculer's defaults field by field: a field the
// file does not give takes the default, and a given zero is a value (retries: 0 retries,
// maxQueueSize: 0 no queue, delay: 0s no wait). Hence the pointer fields.

// RetrySpec is Moleculer's retryPolicy.
type RetrySpec struct {
	Enabled  bool           `yaml:"enabled" json:"enabled"`
	Retries  *int           `yaml:"retries,omitempty" json:"retries,omitempty"`
	Delay    *time.Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	MaxDelay *time.Duration `yaml:"maxDelay,omitempty" json:"maxDelay,omitempty"`
	Factor   *float64       `yaml:"factor,omitempty" json:"factor,omitempty"`
}

// Overrides returns the spec as the broker's retry options.
func (r *RetrySpec) Overrides() retry.Overrides {
	return retry.Overrides{Enabled: broker.Bool(r.Enabled), Retries: r.Retries, Delay: r.Delay, MaxDelay: r.MaxDelay, Factor: r.Factor}
}

// BreakerSpec is Moleculer's circuitBreaker.
type BreakerSpec struct {
	Enabled         bool     `yaml:"enabled" json:"enabled"`
	Threshold       *float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	MinRequestCount *int     `yaml:"minRequestCount,omitempty" json:"minRequestCount,omitempty"`
	// WindowTime is a duration ("60s"), where Moleculer takes seconds.
	WindowTime   *time.Duration `yaml:"windowTime,omitempty" json:"windowTime,omitempty"`
	HalfOpenTime *time.Duration `yaml:"halfOpenTime,omitempty" json:"halfOpenTime,omitempty"`
}

// Options returns the spec as the broker's circuit-breaker options.
func (cb *BreakerSpec) Options() broker.CircuitBreakerOptions {
	return broker.CircuitBreakerOptions{Enabled: broker.Bool(cb.Enabled), Threshold: cb.Threshold, MinRequestCount: cb.MinRequestCount,
		WindowTime: cb.WindowTime, HalfOpenTime: cb.HalfOpenTime}
}

// BulkheadSpec is Moleculer's bulkhead.
type BulkheadSpec struct {
	Enabled      bool `yaml:"enabled" json:"enabled"`
	Concurrency  *int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	MaxQueueSize *int `yaml:"maxQueueSize,omitempty" json:"maxQueueSize,omitempty"`
}

// Options returns the spec as the broker's bulkhead options.
func (bh *BulkheadSpec) Options() broker.BulkheadOptions {
	return broker.BulkheadOptions{Enabled: broker.Bool(bh.Enabled), Concurrency: bh.Concurrency, MaxQueueSize: bh.MaxQueueSize}
}

// WorkloadSpec is a group of clients calling one action.
type WorkloadSpec struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// From is the node the calls are made on.
	From   string         `yaml:"from" json:"from"`
	Action string         `yaml:"action" json:"action"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	Meta   map[string]any `yaml:"meta,omitempty" json:"meta,omitempty"`
	// Call options.
	Timeout  *time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Retries  *int           `yaml:"retries,omitempty" json:"retries,omitempty"`
	Fallback any            `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	NodeID   string         `yaml:"nodeID,omitempty" json:"nodeID,omitempty"`
	// Clients run concurrently (default 1: one sequential client).
	Clients int `yaml:"clients,omitempty" json:"clients,omitempty"`
	// Rate is calls per second per client, on a fixed schedule (open loop); 0 means each
	// client calls back to back, waiting Think between calls (closed loop).
	Rate  float64       `yaml:"rate,omitempty" json:"rate,omitempty"`
	Think time.Duration `yaml:"think,omitempty" json:"think,omitempty"`
	// Start and Duration bound the workload in virtual time (Duration 0: until the end).
	Start    time.Duration `yaml:"start,omitempty" json:"start,omitempty"`
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Count is the number of calls per client (0: until the workload ends).
	Count int `yaml:"count,omitempty" json:"count,omitempty"`
	// HTTP makes the workload's clients HTTP clients of gateway nodes instead of callers of
	// Action (see HTTPSpec, http.go).
	HTTP *HTTPSpec `yaml:"http,omitempty" json:"http,omitempty"`
	// ParamsFunc builds params for call i of client c (Go only; overrides Params).
	ParamsFunc func(client, i int) map[string]any `yaml:"-" json:"-"`
}

// FaultSpec is one scheduled fault, in data form. Kind selects the fault; the fields it
// uses are documented per kind in the faults package and the README.
type FaultSpec struct {
	Name     string        `yaml:"name,omitempty" json:"name,omitempty"`
	Kind     string        `yaml:"kind" json:"kind"`
	Start    time.Duration `yaml:"start,omitempty" json:"start,omitempty"`
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Every    time.Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Count    int           `yaml:"count,omitempty" json:"count,omitempty"`

	// Network targets.
	From   []string `yaml:"from,omitempty" json:"from,omitempty"`
	To     []string `yaml:"to,omitempty" json:"to,omitempty"`
	Types  []string `yaml:"types,omitempty" json:"types,omitempty"`
	A      []string `yaml:"a,omitempty" json:"a,omitempty"`
	B      []string `yaml:"b,omitempty" json:"b,omitempty"`
	Bridge string   `yaml:"bridge,omitempty" json:"bridge,omitempty"`
	// Node targets (crash, pause, restart, skew, isolate) and action targets.
	Node   string `yaml:"node,omitempty" json:"node,omitempty"`
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Model targets a database fault: a model name ("products"; empty: every model).
	Model string `yaml:"model,omitempty" json:"model,omitempty"`

	// Parameters.
	Rate   float64       `yaml:"rate,omitempty" json:"rate,omitempty"`
	FirstN int           `yaml:"firstN,omitempty" json:"firstN,omitempty"`
	Delay  time.Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	Jitter time.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Dist   string        `yaml:"dist,omitempty" json:"dist,omitempty"`
	Skew   time.Duration `yaml:"skew,omitempty" json:"skew,omitempty"`
	Error  *ErrorSpec    `yaml:"error,omitempty" json:"error,omitempty"`
	// Toxic and Attributes are a toxic fault's Toxiproxy toxic (bandwidth, slow_close,
	// reset_peer, timeout) and its attributes as Toxiproxy names them (rate in KB/s, delay
	// and timeout in ms), on the routes between the nodes of A and B (B empty: every other
	// node; A empty: every route). The process tier only.
	Toxic      string             `yaml:"toxic,omitempty" json:"toxic,omitempty"`
	Attributes map[string]float64 `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// ErrorSpec is the error an action fault returns.
type ErrorSpec struct {
	Name      string `yaml:"name,omitempty" json:"name,omitempty"`
	Message   string `yaml:"message,omitempty" json:"message,omitempty"`
	Code      int    `yaml:"code,omitempty" json:"code,omitempty"`
	Type      string `yaml:"type,omitempty" json:"type,omitempty"`
	Retryable bool   `yaml:"retryable,omitempty" json:"retryable,omitempty"`
}

// CheckSpec is one check, in data form; Kind selects the checker.
type CheckSpec struct {
	Kind  string `yaml:"kind" json:"kind"`
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// Window for steady-state checks.
	From time.Duration `yaml:"from,omitempty" json:"from,omitempty"`
	To   time.Duration `yaml:"to,omitempty" json:"to,omitempty"`
	// Targets.
	Action   string `yaml:"action,omitempty" json:"action,omitempty"`
	Node     string `yaml:"node,omitempty" json:"node,omitempty"`
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Event    string `yaml:"event,omitempty" json:"event,omitempty"`
	// Thresholds.
	MinSuccessRate float64         `yaml:"minSuccessRate,omitempty" json:"minSuccessRate,omitempty"`
	MaxP99         time.Duration   `yaml:"maxP99,omitempty" json:"maxP99,omitempty"`
	MinCalls       int             `yaml:"minCalls,omitempty" json:"minCalls,omitempty"`
	Transitions    []TransitionAt  `yaml:"transitions,omitempty" json:"transitions,omitempty"`
	Tolerance      time.Duration   `yaml:"tolerance,omitempty" json:"tolerance,omitempty"` // on every expected instant (transitions, timeouts, skips)
	Budget         time.Duration   `yaml:"budget,omitempty" json:"budget,omitempty"`
	Count          *int            `yaml:"count,omitempty" json:"count,omitempty"`
	At             []time.Duration `yaml:"at,omitempty" json:"at,omitempty"`
	Max            *float64        `yaml:"max,omitempty" json:"max,omitempty"`
	Delays         []time.Duration `yaml:"delays,omitempty" json:"delays,omitempty"`
	Groups         []string        `yaml:"groups,omitempty" json:"groups,omitempty"`
	MaxStale       time.Duration   `yaml:"maxStale,omitempty" json:"maxStale,omitempty"`
	// Peer is the watched node (membership).
	Peer string `yaml:"peer,omitempty" json:"peer,omitempty"`
	// Error is the error name counted (errors); Min the least count.
	Error string `yaml:"error,omitempty" json:"error,omitempty"`
	Min   int    `yaml:"min,omitempty" json:"min,omitempty"`
	// Entry is the journal kind counted (journal) and Where the attribute values an entry
	// must have; From/To, Node, Min and Max bound it.
	Entry string         `yaml:"entry,omitempty" json:"entry,omitempty"`
	Where map[string]any `yaml:"where,omitempty" json:"where,omitempty"`
	// Fields are the modelled fields of a linearizable check: price, stock (default both).
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
	// Shared: the nodes share one cacher (cache-coherence).
	Shared bool `yaml:"shared,omitempty" json:"shared,omitempty"`
	// Metric, Labels, Op, Value and Every describe a metric check (see MetricCheck): the
	// series of Metric with Labels on Node compared by Op with Value at each At, every Every
	// from From to To, or at the end. A trace check takes Action, Budget (the longest span),
	// Max (attempts per call) and Min (spans). See observe.go.
	Metric string            `yaml:"metric,omitempty" json:"metric,omitempty"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Op     string            `yaml:"op,omitempty" json:"op,omitempty"`
	Value  *float64          `yaml:"value,omitempty" json:"value,omitempty"`
	Every  time.Duration     `yaml:"every,omitempty" json:"every,omitempty"`
}

// CallSpec is one call of a scenario's setup.
type CallSpec struct {
	From   string         `yaml:"from" json:"from"`
	Action string         `yaml:"action" json:"action"`
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	Meta   map[string]any `yaml:"meta,omitempty" json:"meta,omitempty"`
	// Expect is the error name the call must fail with; empty means it must succeed.
	Expect string `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// TransitionAt is an expected breaker or membership transition.
type TransitionAt struct {
	To string        `yaml:"to" json:"to"`
	At time.Duration `yaml:"at" json:"at"`
	// Tolerance, when set, replaces the check's tolerance for this transition.
	Tolerance time.Duration `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
}

// ServiceConfig configures the e-commerce services of a scenario.
type ServiceConfig struct {
	JWTSecret       string        `yaml:"jwtSecret,omitempty" json:"jwtSecret,omitempty"`
	MailLatency     time.Duration `yaml:"mailLatency,omitempty" json:"mailLatency,omitempty"`
	MailFailureRate float64       `yaml:"mailFailureRate,omitempty" json:"mailFailureRate,omitempty"`
	CacheTTL        time.Duration `yaml:"cacheTTL,omitempty" json:"cacheTTL,omitempty"`
	Products        []Product     `yaml:"products,omitempty" json:"products,omitempty"`
	// Users are registered and logged in before the workload; a workload's meta or params
	// value "{{token}}" is the first user's JWT, "{{token:<email>}}" a given user's.
	Users []User `yaml:"users,omitempty" json:"users,omitempty"`
}

// Product is a product seeded before the workload starts.
type Product struct {
	Name  string  `yaml:"name" json:"name"`
	Price float64 `yaml:"price" json:"price"`
	Stock int     `yaml:"stock" json:"stock"`
}

// User is a user seeded before the workload starts.
type User struct {
	Email    string `yaml:"email" json:"email"`
	Password string `yaml:"password" json:"password"`
	Name     string `yaml:"name" json:"name"`
}
