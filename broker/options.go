package broker

import (
	"log/slog"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
)

// Options configures a Broker. Zero values take Moleculer 0.15's defaults.
type Options struct {
	// Namespace separates clusters sharing one transport.
	Namespace string
	// NodeID names this node; it must be unique in the cluster.
	NodeID string
	// Runtime is the broker's only source of time, concurrency and randomness. Required.
	Runtime rt.Runtime
	// Transporter joins the node to a cluster; nil runs the broker alone.
	Transporter transport.Transporter
	// Journal records every observable step; nil records nothing.
	Journal *journal.Journal
	// Logger is used for operational messages; nil discards them.
	Logger *slog.Logger

	// RequestTimeout is the default call timeout; 0 means none.
	RequestTimeout time.Duration
	// HeartbeatInterval is how often this node says it is alive (default 10 s).
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a silent node stays known (default 30 s).
	HeartbeatTimeout time.Duration
	// Strategy picks among endpoints: "RoundRobin" (default), "Random", "Latency", "CpuUsage".
	Strategy string
	// EndpointOrder is the order the balancer sees an action's endpoints in:
	// EndpointsByNodeID (the default) or EndpointsByDiscovery.
	EndpointOrder EndpointOrder
	// PreferLocal makes a local endpoint win over remote ones (default true).
	PreferLocal *bool
	// MaxCallLevel bounds nested call depth; 0 means no bound.
	MaxCallLevel int

	// The fault-tolerance options below are Moleculer's option objects: a nil field is "not
	// given" and takes Moleculer 0.15's default; an action's or event handler's options of the
	// same type then override these field by field, so a field it does not give keeps the
	// broker's value (enabled included). A given zero is a value: Int(0) retries, Int(0)
	// maxQueueSize (no queue), Dur(0) delay.

	// Retry is the broker-wide retry policy (retry.Default(): disabled, 5 retries, 100 ms
	// doubling up to 1 s).
	Retry retry.Overrides
	// CircuitBreaker is the broker-wide breaker (disabled by default).
	CircuitBreaker CircuitBreakerOptions
	// Bulkhead is the broker-wide bulkhead (disabled by default).
	Bulkhead BulkheadOptions
	// Cacher caches action results for actions that opt in; nil disables caching.
	Cacher Cacher
	// CacheDefaults are Moleculer's cacher options (ttl, maxParamsLength, keygen): each cached
	// action's CacheOptions merge over them. Keys are per action and must be nil here.
	CacheDefaults CacheOptions

	// Middlewares are added inside the built-in ones, in order (the first is outermost).
	Middlewares []Middleware
	// Observers wrap outside the built-in middlewares, in order (the first is outermost), as
	// Moleculer's Metrics and Tracing do: they see a call's final outcome, and each retry
	// again, nested in it (a retry re-enters the endpoint's chain).
	Observers []Middleware
	// Hooks tell observers about steps no middleware wraps (packets, emits, breaker
	// transitions, cacher operations). See Hooks.
	Hooks Hooks
	// Metadata is published in this node's INFO.
	Metadata map[string]any
	// CPU reports this node's CPU usage (0-100) for heartbeats and the CpuUsage strategy.
	CPU func() float64
	// DisableValidator turns off params validation.
	DisableValidator bool
}

// EndpointOrder is the order of an action's (and an event group's) endpoints for the balancer.
type EndpointOrder string

const (
	// EndpointsByNodeID sorts endpoints by node ID, so that RoundRobin's order is the same
	// for every seed and every discovery race ("call r1 first" holds). Faultline's default.
	EndpointsByNodeID EndpointOrder = ""
	// EndpointsByDiscovery keeps the order endpoints were registered in, as Moleculer does;
	// in a simulation the seed decides it, so each seed shuffles RoundRobin's order.
	EndpointsByDiscovery EndpointOrder = "discovery"
)

// CircuitBreakerOptions are Moleculer's circuitBreaker options, at broker level
// (Options.CircuitBreaker) and per action (Action.CircuitBreaker). A nil field is not given:
// it takes the broker's value on an action, Moleculer's default on the broker.
type CircuitBreakerOptions struct {
	Enabled         *bool    // default false
	Threshold       *float64 // failure rate that opens the breaker; default 0.5
	MinRequestCount *int     // default 20
	// WindowTime is the length of the tumbling window, a time.Duration: Moleculer's
	// windowTime is in seconds (windowTime: 60 is 60*time.Second here). Default 60 s. Broker
	// level only: one broker-wide timer tumbles every endpoint's window, so an action's
	// WindowTime is ignored, as in Moleculer.
	WindowTime *time.Duration
	// WindowStart sets the window's phase (Faultline; broker level only): window boundaries
	// fall at WindowStart + k·WindowTime. The zero time (not given) starts the first window at
	// Broker.Start, as Moleculer does. A test aligns the window by giving an instant on the
	// runtime's clock (in a simulation, rt.Epoch plus an offset), and brokers given the same
	// WindowStart tumble at the same instants whenever they start.
	WindowStart  time.Time
	HalfOpenTime *time.Duration // default 10 s
	// Check decides which errors count as failures; nil: not given (default code >= 500).
	Check func(err error) bool
}

// BulkheadOptions are Moleculer's bulkhead options, at broker level (Options.Bulkhead) and
// per action or event handler. A nil field is not given: it takes the broker's value on an
// action or event handler, Moleculer's default on the broker.
type BulkheadOptions struct {
	Enabled      *bool // default false
	Concurrency  *int  // default 10
	MaxQueueSize *int  // default 100; Int(0): no queue, overflow fails at once
}

func (o *Options) setDefaults() {
	if o.NodeID == "" {
		o.NodeID = "node"
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 10 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 30 * time.Second
	}
	if o.Strategy == "" {
		o.Strategy = "RoundRobin"
	}
	if o.PreferLocal == nil {
		t := true
		o.PreferLocal = &t
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("node", o.NodeID)
}

// Bool returns a pointer to b, for optional boolean options.
func Bool(b bool) *bool { return &b }

// Dur returns a pointer to d, for optional duration options where 0 means "none".
func Dur(d time.Duration) *time.Duration { return &d }

// Int returns a pointer to n, for optional count options.
func Int(n int) *int { return &n }

// Float returns a pointer to f, for optional rate and factor options.
func Float(f float64) *float64 { return &f }
