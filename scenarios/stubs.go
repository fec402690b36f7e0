package scenarios

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/catalog"
)

// ServiceSpec declares a service in data, for the parts of a topology a scenario does not
// run for real (a payment provider, a legacy inventory system): its actions answer after a
// latency with a fixed result, the params echoed, or an error, and it subscribes to events
// (each delivery is journaled like any other). Nodes name it in their services like a catalog
// service. A service with code of its own is Go-only (Scenario.ExtraServices).
type ServiceSpec struct {
	Name    string                `yaml:"name" json:"name"`
	Version string                `yaml:"version,omitempty" json:"version,omitempty"`
	Actions map[string]ActionSpec `yaml:"actions,omitempty" json:"actions,omitempty"`
	// Events are the event names (wildcards allowed) the service listens to.
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
}

// ActionSpec is one action of a declared service.
type ActionSpec struct {
	// Params is the action's params schema, in the validator's shorthand ({id: number}).
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	// Latency is how long the action takes (on the runtime's clock; a call whose deadline
	// passes first fails with the caller's timeout and the handler stops).
	Latency time.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Result is the answer; Echo answers with the call's params instead.
	Result any  `yaml:"result,omitempty" json:"result,omitempty"`
	Echo   bool `yaml:"echo,omitempty" json:"echo,omitempty"`
	// Error makes every call fail with this error instead.
	Error *ErrorSpec `yaml:"error,omitempty" json:"error,omitempty"`
}

// factory builds the declared service.
func (sp ServiceSpec) factory() ServiceFactory {
	return func(*catalog.Resources) (*broker.Service, error) {
		svc := &broker.Service{Name: sp.Name, Version: sp.Version, Actions: map[string]broker.Action{}, Events: map[string]broker.Event{}}
		for name, a := range sp.Actions {
			svc.Actions[name] = broker.Action{Params: a.Params, Handler: a.handler()}
		}
		for _, ev := range sp.Events {
			svc.Events[ev] = broker.Event{Handler: func(*broker.Context) error { return nil }}
		}
		return svc, nil
	}
}

func (a ActionSpec) handler() broker.Handler {
	return func(ctx *broker.Context) (any, error) {
		if a.Latency > 0 {
			if err := ctx.Sleep(a.Latency); err != nil {
				return nil, err
			}
		}
		switch {
		case a.Error != nil:
			return nil, a.Error.err()
		case a.Echo:
			return ctx.Params, nil
		}
		return a.Result, nil
	}
}

// err is the Moleculer error an ErrorSpec describes (MoleculerError 500 by default).
func (e *ErrorSpec) err() *errs.Error {
	out := &errs.Error{Name: e.Name, Message: e.Message, Code: e.Code, Type: e.Type, Retryable: e.Retryable}
	if out.Name == "" {
		out.Name = errs.NameMoleculerError
		if out.Retryable {
			out.Name = errs.NameRetryableError
		}
	}
	if out.Code == 0 {
		out.Code = 500
	}
	if out.Message == "" {
		out.Message = "declared error"
	}
	return out
}

// withDeclared returns the catalog plus the scenario's Go services and declared services.
func withDeclared(cat map[string]ServiceFactory, s *Scenario) map[string]ServiceFactory {
	if len(s.ExtraServices) == 0 && len(s.Services) == 0 {
		return cat
	}
	cat = maps.Clone(cat)
	maps.Copy(cat, s.ExtraServices)
	for _, sp := range s.Services {
		if sp.Name != "" {
			cat[sp.Name] = sp.factory()
		}
	}
	return cat
}

func validateServices(v *validator, s *Scenario, base map[string]ServiceFactory) {
	seen := map[string]bool{}
	for i, sp := range s.Services {
		p := fmt.Sprintf("services[%d]", i)
		switch {
		case sp.Name == "":
			v.add(p+".name", "is required")
		case base[sp.Name] != nil || s.ExtraServices[sp.Name] != nil:
			v.add(p+".name", "%q is a catalog service: declare another name", sp.Name)
		case seen[sp.Name]:
			v.add(p+".name", "duplicate service %q", sp.Name)
		}
		seen[sp.Name] = true
		names := make([]string, 0, len(sp.Actions))
		for n := range sp.Actions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			a := sp.Actions[n]
			ap := p + ".actions." + n
			if strings.ContainsAny(n, ". ") || n == "" {
				v.add(ap, "an action name has no dots or spaces")
			}
			if a.Latency < 0 {
				v.add(ap+".latency", "must not be negative, got %s", a.Latency)
			}
			if a.Echo && (a.Result != nil || a.Error != nil) || a.Result != nil && a.Error != nil {
				v.add(ap, "give one of result, echo and error")
			}
			if a.Error != nil && a.Error.Code < 0 {
				v.add(ap+".error.code", "must not be negative")
			}
		}
	}
}
