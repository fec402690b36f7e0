package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport/memnet"
)

// A benchCase builds one side-by-side case on the real runtime. interop/node/bench.js builds
// the same services with the same options on Moleculer JS; keep the two in step.
type benchCase struct {
	name  string // the case argument of bench.js
	title string
	setup func() (*fixture, error)
}

// fixture is a started case: call performs one call with caller-built params (the JS twin
// builds an object literal per call too), stop tears the brokers down.
type fixture struct {
	call  func(params map[string]any) error
	make  func() map[string]any
	stops []*broker.Broker
}

func (f *fixture) stop() {
	for _, b := range f.stops {
		_ = b.Stop()
	}
}

var cases = []benchCase{
	{"local", "local call, default stack", setupLocal},
	{"ft", "local call + breaker, retry, timeout, bulkhead", setupFT},
	{"remote", "two brokers in one process (memnet vs Fake transporter)", setupRemote},
	{"cached", "cached hit, memory cacher", setupCached},
}

// mathService is math.add {a, b}, validated like the JS twin's.
func mathService() *broker.Service {
	return &broker.Service{Name: "math", Actions: map[string]broker.Action{
		"add": {Params: map[string]any{"a": "number", "b": "number"},
			Handler: func(ctx *broker.Context) (any, error) {
				return ctx.Params["a"].(float64) + ctx.Params["b"].(float64), nil
			}},
	}}
}

func addParams() map[string]any { return map[string]any{"a": 1.0, "b": 2.0} }

// Logger off (the broker's default is a discarding logger), no journal, no metrics or
// tracing (Faultline has none), validator on (the default).
func localFixture(opts broker.Options, svc *broker.Service, action string, params func() map[string]any) (*fixture, error) {
	opts.Runtime = rt.NewReal()
	if opts.NodeID == "" {
		opts.NodeID = "a"
	}
	b, err := broker.New(opts)
	if err != nil {
		return nil, err
	}
	if _, err := b.AddService(svc); err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	return &fixture{
		call:  func(p map[string]any) error { _, err := b.Call(action, p); return err },
		make:  params,
		stops: []*broker.Broker{b},
	}, nil
}

func setupLocal() (*fixture, error) {
	return localFixture(broker.Options{}, mathService(), "math.add", addParams)
}

func setupFT() (*fixture, error) {
	return localFixture(broker.Options{
		RequestTimeout: 5 * time.Second,
		Retry:          retry.Overrides{Enabled: broker.Bool(true), Retries: broker.Int(3)},
		CircuitBreaker: broker.CircuitBreakerOptions{Enabled: broker.Bool(true)},
		Bulkhead:       broker.BulkheadOptions{Enabled: broker.Bool(true), Concurrency: broker.Int(10), MaxQueueSize: broker.Int(100)},
	}, mathService(), "math.add", addParams)
}

func setupCached() (*fixture, error) {
	r := rt.NewReal()
	svc := &broker.Service{Name: "product", Actions: map[string]broker.Action{
		"get": {Params: map[string]any{"id": "number"},
			Cache: &broker.CacheOptions{Keys: []string{"id"}, TTL: broker.Dur(time.Hour)},
			Handler: func(ctx *broker.Context) (any, error) {
				return map[string]any{"id": ctx.Params["id"], "name": "Widget", "price": 10.5, "tags": []any{"tools", "metal"}}, nil
			}},
	}}
	f, err := localFixture(broker.Options{Cacher: cache.NewMemory(r)}, svc, "product.get",
		func() map[string]any { return map[string]any{"id": 5.0} })
	if err != nil {
		return nil, err
	}
	return f, f.call(f.make()) // fills the cache
}

func setupRemote() (*fixture, error) {
	r := rt.NewReal()
	net := memnet.New(r)
	server, err := broker.New(broker.Options{Runtime: r, NodeID: "server", Transporter: net.Transport()})
	if err != nil {
		return nil, err
	}
	if _, err := server.AddService(mathService()); err != nil {
		return nil, err
	}
	caller, err := broker.New(broker.Options{Runtime: r, NodeID: "caller", Transporter: net.Transport()})
	if err != nil {
		return nil, err
	}
	if err := server.Start(); err != nil {
		return nil, err
	}
	if err := caller.Start(); err != nil {
		return nil, err
	}
	f := &fixture{
		call:  func(p map[string]any) error { _, err := caller.Call("math.add", p); return err },
		make:  addParams,
		stops: []*broker.Broker{caller, server},
	}
	// Discovery runs on the wall clock: wait until the caller knows the server's action.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f.call(addParams())
		if err == nil {
			return f, nil
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, errors.Join(fmt.Errorf("remote case: server not discovered in 5 s"), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
