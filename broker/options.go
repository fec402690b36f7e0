package broker

import (
	"log/slog"
	"time"

	"github.com/faultline/faultline/broker/errs"
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
	// PreferLocal makes a local endpoint win over remote ones (default true).
	PreferLocal *bool
	// MaxCallLevel bounds nested call depth; 0 means no bound.
	MaxCallLevel int

	// Retry is the broker-wide retry policy (disabled by default).
	Retry retry.Policy
	// CircuitBreaker is the broker-wide breaker (disabled by default).
	CircuitBreaker CircuitBreakerOptions
	// Bulkhead is the broker-wide bulkhead (disabled by default).
	Bulkhead BulkheadOptions
	// Cacher caches action results for actions that opt in; nil disables caching.
	Cacher Cacher

	// Middlewares are added inside the built-in ones, in order (the first is outermost).
	Middlewares []Middleware
	// Metadata is published in this node's INFO.
	Metadata map[string]any
	// CPU reports this node's CPU usage (0-100) for heartbeats and the CpuUsage strategy.
	CPU func() float64
	// DisableValidator turns off params validation.
	DisableValidator bool
}

// CircuitBreakerOptions are Moleculer's circuitBreaker options.
type CircuitBreakerOptions struct {
	Enabled         bool
	Threshold       float64       // default 0.5
	MinRequestCount int           // default 20
	WindowTime      time.Duration // default 60 s
	HalfOpenTime    time.Duration // default 10 s
	// Check decides which errors count as failures; default: code >= 500.
	Check func(err error) bool
}

// BulkheadOptions are Moleculer's bulkhead options.
type BulkheadOptions struct {
	Enabled      bool
	Concurrency  int // default 10
	MaxQueueSize int // default 100
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
	o.Retry = retryDefaults(o.Retry)
	cb := &o.CircuitBreaker
	if cb.Threshold == 0 {
		cb.Threshold = 0.5
	}
	if cb.MinRequestCount == 0 {
		cb.MinRequestCount = 20
	}
	if cb.WindowTime == 0 {
		cb.WindowTime = 60 * time.Second
	}
	if cb.HalfOpenTime == 0 {
		cb.HalfOpenTime = 10 * time.Second
	}
	if cb.Check == nil {
		cb.Check = DefaultBreakerCheck
	}
	bh := &o.Bulkhead
	if bh.Concurrency == 0 {
		bh.Concurrency = 10
	}
	if bh.MaxQueueSize == 0 {
		bh.MaxQueueSize = 100
	}
}

// Bool returns a pointer to b, for optional boolean options.
func Bool(b bool) *bool { return &b }

// Dur returns a pointer to d, for optional duration options where 0 means "none".
func Dur(d time.Duration) *time.Duration { return &d }

// Int returns a pointer to n, for optional count options.
func Int(n int) *int { return &n }

// retryDefaults fills the unset fields of a broker retry policy from Moleculer's defaults.
// Retries stays as given when the policy is enabled (0 retries is a valid choice).
func retryDefaults(p retry.Policy) retry.Policy {
	d := retry.Default()
	if !p.Enabled && p.Retries == 0 {
		p.Retries = d.Retries
	}
	if p.Delay == 0 {
		p.Delay = d.Delay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.Factor == 0 {
		p.Factor = d.Factor
	}
	if p.Check == nil {
		p.Check = errs.IsRetryable
	}
	return p
}
