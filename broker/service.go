package broker

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/faultline/faultline/broker/retry"
	"github.com/faultline/faultline/broker/validator"
)

// Handler serves an action.
type Handler func(ctx *Context) (any, error)

// EventFunc handles an event.
type EventFunc func(ctx *Context) error

// Service is a service schema, Moleculer's in Go.
type Service struct {
	Name string
	// Version prefixes the full name: "2" (or "v2") gives "v2.<name>", "staging" gives
	// "staging.<name>".
	Version      string
	Settings     map[string]any
	Metadata     map[string]any
	Dependencies []string
	Actions      map[string]Action
	Events       map[string]Event
	// Methods can be named by an action's Fallback; a fallback method has the signature
	// func(ctx *Context, err error) (any, error).
	Methods map[string]func(ctx *Context, err error) (any, error)

	Created func(s *ServiceInstance)
	Started func(s *ServiceInstance) error
	Stopped func(s *ServiceInstance) error
}

// Action is an action definition.
type Action struct {
	Handler Handler
	// Params is a validator schema (Moleculer shorthand).
	Params map[string]any
	// Timeout overrides the broker's request timeout for this action; Dur(0) disables it.
	Timeout *time.Duration
	// Retry, CircuitBreaker and Bulkhead override the broker's options field by field: a nil
	// field keeps the broker's value (Enabled included), as Moleculer merges an action's
	// options over the broker's.
	Retry          *retry.Overrides
	CircuitBreaker *CircuitBreakerOptions
	Bulkhead       *BulkheadOptions
	// Cache opts the action into the broker's cacher.
	Cache *CacheOptions
	// Fallback answers when the handler fails: a func(ctx, err) (any, error), or the name
	// of a method of the service.
	Fallback any
	// Rest is the action's REST route for an API gateway's autoAliases, as in Moleculer: a
	// string ("GET /:id", or "/path" for every method), a map {method, path, basePath}, or a
	// list of those. It is advertised in INFO; the broker does not read it.
	Rest any
}

// CacheOptions opt an action into caching (Action.Cache), and are the broker's defaults for
// every cached action (Options.CacheDefaults: Moleculer's cacher options). A nil field is not
// given: it takes the broker's default on an action.
type CacheOptions struct {
	// Keys nil caches on every param; Keys empty (but non-nil) caches on the action name
	// alone. Keys starting with '#' read ctx.Meta. Per action only.
	Keys []string
	// TTL is on the runtime's clock; Dur(0) and not given anywhere: never expires.
	TTL *time.Duration
	// KeyFunc replaces the key generator.
	KeyFunc func(action string, params map[string]any, meta map[string]any) string
	// MaxParamsLength hashes long keys (0 and not given anywhere: never).
	MaxParamsLength *int
}

// Event is an event subscription.
type Event struct {
	Handler EventFunc
	// Group defaults to the service name: emit delivers once per group.
	Group string
	// Bulkhead overrides the broker's bulkhead field by field (nil fields keep the broker's).
	Bulkhead *BulkheadOptions
}

// ServiceInstance is a running service on a broker.
type ServiceInstance struct {
	Name     string
	FullName string
	Version  string
	Settings map[string]any
	Metadata map[string]any
	Broker   *Broker
	Logger   *slog.Logger
	schema   *Service
	actions  map[string]*actionDef
}

// actionDef is a compiled local action.
type actionDef struct {
	name      string // full action name, e.g. "v2.greeter.hello"
	nameAttr  any    // name as a journal attribute, boxed once (action.run, on every run)
	rawName   string
	service   *ServiceInstance
	def       Action
	validator *validator.Validator
	fallback  func(ctx *Context, err error) (any, error)
}

// fullName computes Moleculer's service full name.
func fullName(name, version string) string {
	if version == "" {
		return name
	}
	if _, err := strconv.Atoi(version); err == nil {
		return "v" + version + "." + name
	}
	return version + "." + name
}

func (b *Broker) compileService(s *Service) (*ServiceInstance, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("service schema: name is required")
	}
	si := &ServiceInstance{
		Name: s.Name, FullName: fullName(s.Name, s.Version), Version: s.Version,
		Settings: s.Settings, Metadata: s.Metadata, Broker: b, schema: s,
		actions: map[string]*actionDef{},
	}
	si.Logger = b.log.With("service", si.FullName)
	for _, raw := range sortedKeys(s.Actions) {
		a := s.Actions[raw]
		if a.Handler == nil {
			return nil, fmt.Errorf("service %s: action %q has no handler", si.FullName, raw)
		}
		d := &actionDef{name: si.FullName + "." + raw, rawName: raw, service: si, def: a}
		d.nameAttr = d.name
		if a.Params != nil && !b.opts.DisableValidator {
			v, err := validator.Compile(a.Params)
			if err != nil {
				return nil, fmt.Errorf("service %s: action %q params: %w", si.FullName, raw, err)
			}
			d.validator = v
		}
		switch fb := a.Fallback.(type) {
		case nil:
		case func(ctx *Context, err error) (any, error):
			d.fallback = fb
		case string:
			m := s.Methods[fb]
			if m == nil {
				return nil, fmt.Errorf("service %s: action %q fallback names unknown method %q", si.FullName, raw, fb)
			}
			d.fallback = m
		default:
			return nil, fmt.Errorf("service %s: action %q fallback must be a func(ctx, err) (any, error) or a method name, not %T", si.FullName, raw, a.Fallback)
		}
		si.actions[d.name] = d
	}
	for name, e := range s.Events {
		if e.Handler == nil {
			return nil, fmt.Errorf("service %s: event %q has no handler", si.FullName, name)
		}
	}
	return si, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
