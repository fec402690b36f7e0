package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// FieldError is one problem in a scenario, at a field path such as "faults[2].node".
// The scenario file loader maps paths to file:line:column.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError lists every problem found in a scenario.
type ValidationError struct {
	Scenario string
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return fmt.Sprintf("scenario %q is invalid: %s", e.Scenario, strings.Join(parts, "; "))
}

type validator struct {
	problems []FieldError
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a scenario against the catalog: every node, service, action, fault and
// check it names must exist, every number must make sense and stay within DefaultLimits,
// and every identifier must be clean text.
func Validate(s *Scenario, catalog map[string]ServiceFactory) error {
	return ValidateWith(s, catalog, Limits{})
}

// ValidateWith is Validate with limits (zero fields: the defaults).
func ValidateWith(s *Scenario, catalog map[string]ServiceFactory, limits Limits) error {
	v := &validator{}
	cleanIdentifiers(v, s)
	validateLimits(v, s, limits.WithDefaults())
	if len(v.problems) > 0 {
		// Over a cap, the checks below could take as long as the run would (building
		// a million products' worth of services); dirty names are reported alone too.
		return &ValidationError{Scenario: s.Name, Problems: v.problems}
	}
	validateServices(v, s, catalog)
	catalog = withDeclared(catalog, s)
	if s.Name == "" {
		v.add("name", "is required")
	}
	if s.Duration <= 0 {
		v.add("duration", "must be a positive duration, got %s", s.Duration)
	}
	if s.Network.Latency < 0 {
		v.add("network.latency", "must not be negative, got %s", s.Network.Latency)
	}
	if s.Network.Jitter < 0 {
		v.add("network.jitter", "must not be negative, got %s", s.Network.Jitter)
	}
	nodes := map[string]bool{}
	actions := map[string]bool{}
	if len(s.Nodes) == 0 {
		v.add("nodes", "at least one node is required")
	}
	res := Resources(s.Config)
	defer res.Close()
	for i, n := range s.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if n.ID == "" {
			v.add(p+".id", "is required")
		} else if nodes[n.ID] {
			v.add(p+".id", "duplicate node id %q", n.ID)
		}
		nodes[n.ID] = true
		for j, svc := range n.Services {
			f := catalog[svc]
			if f == nil {
				v.add(fmt.Sprintf("%s.services[%d]", p, j), "unknown service %q (known: %s)", svc, strings.Join(sortedNames(catalog), ", "))
				continue
			}
			if schema, err := f(res); err == nil {
				full := schema.Name
				if schema.Version != "" {
					full = fullServiceName(schema.Name, schema.Version)
				}
				for a := range schema.Actions {
					actions[full+"."+a] = true
				}
			}
		}
		o := n.Options
		if o.Strategy != "" && !slices.Contains([]string{"RoundRobin", "Random", "CpuUsage", "Latency"}, o.Strategy) {
			v.add(p+".options.strategy", "unknown strategy %q (RoundRobin, Random, CpuUsage, Latency)", o.Strategy)
		}
		if o.EndpointOrder != "" && o.EndpointOrder != "nodeID" && o.EndpointOrder != "discovery" {
			v.add(p+".options.endpointOrder", "unknown endpoint order %q (nodeID, discovery)", o.EndpointOrder)
		}
		if o.Cacher != "" && !slices.Contains([]string{"memory", "memory-lru", "redis"}, o.Cacher) {
			v.add(p+".options.cacher", "unknown cacher %q (memory, memory-lru, redis)", o.Cacher)
		}
		for field, d := range map[string]int64{"requestTimeout": int64(o.RequestTimeout), "heartbeatInterval": int64(o.HeartbeatInterval), "heartbeatTimeout": int64(o.HeartbeatTimeout)} {
			if d < 0 {
				v.add(p+".options."+field, "must not be negative")
			}
		}
		if cb := o.CircuitBreaker; cb != nil && cb.Threshold != nil && (*cb.Threshold < 0 || *cb.Threshold > 1) {
			v.add(p+".options.circuitBreaker.threshold", "must be between 0 and 1, got %v", *cb.Threshold)
		}
	}
	for i, sc := range s.SetupCalls {
		p := fmt.Sprintf("setup[%d]", i)
		if !nodes[sc.From] {
			v.add(p+".from", "unknown node %q", sc.From)
		}
		if sc.Action == "" {
			v.add(p+".action", "is required")
		} else if !actions[sc.Action] && !strings.HasPrefix(sc.Action, "$") {
			v.add(p+".action", "unknown action %q: no node of the cluster serves it", sc.Action)
		}
	}
	for i, w := range s.Workload {
		p := fmt.Sprintf("workload[%d]", i)
		if !nodes[w.From] {
			v.add(p+".from", "unknown node %q", w.From)
		}
		if w.HTTP != nil {
			validateHTTP(v, p, &w, nodes)
		} else if w.Action == "" {
			v.add(p+".action", "is required")
		} else if !actions[w.Action] && !strings.HasPrefix(w.Action, "$") {
			v.add(p+".action", "unknown action %q: no node of the cluster serves it", w.Action)
		}
		if w.Rate < 0 {
			v.add(p+".rate", "must not be negative, got %v", w.Rate)
		}
		if w.Clients < 0 {
			v.add(p+".clients", "must not be negative, got %d", w.Clients)
		}
		if w.Count < 0 {
			v.add(p+".count", "must not be negative, got %d", w.Count)
		}
		if w.Start < 0 || w.Duration < 0 || w.Think < 0 {
			v.add(p, "start, duration and think must not be negative")
		}
		if w.NodeID != "" && !nodes[w.NodeID] {
			v.add(p+".nodeID", "unknown node %q", w.NodeID)
		}
	}
	for i, f := range s.Faults {
		validateFault(v, fmt.Sprintf("faults[%d]", i), f, nodes, actions)
	}
	if s.Nemesis != nil {
		validateNemesis(v, s.Nemesis, s, nodes, actions)
	}
	validatePlants(v, s)
	for i, c := range s.Checks {
		validateCheck(v, fmt.Sprintf("checks[%d]", i), c, nodes)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Scenario: s.Name, Problems: v.problems}
}

func fullServiceName(name, version string) string {
	if _, err := fmt.Sscanf(version, "%d", new(int)); err == nil && !strings.ContainsAny(version, ".-") {
		return "v" + version + "." + name
	}
	return version + "." + name
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkNodes(v *validator, path string, ids []string, nodes map[string]bool) {
	for i, id := range ids {
		if !nodes[id] {
			v.add(fmt.Sprintf("%s[%d]", path, i), "unknown node %q", id)
		}
	}
}

func validateCheck(v *validator, p string, c CheckSpec, nodes map[string]bool) {
	switch c.Kind {
	case "steady-state":
		if c.MinSuccessRate < 0 || c.MinSuccessRate > 1 {
			v.add(p+".minSuccessRate", "must be between 0 and 1, got %v", c.MinSuccessRate)
		}
	case "breaker":
		node, _, ok := strings.Cut(c.Endpoint, ":")
		if !ok {
			v.add(p+".endpoint", "must be \"node:action\", got %q", c.Endpoint)
		} else if !nodes[node] {
			v.add(p+".endpoint", "unknown node %q", node)
		}
		for i, t := range c.Transitions {
			if !slices.Contains([]string{"open", "half-open", "half-open-wait", "closed"}, t.To) {
				v.add(fmt.Sprintf("%s.transitions[%d].to", p, i), "unknown breaker state %q (open, half-open, half-open-wait, closed)", t.To)
			}
			if t.Tolerance < 0 {
				v.add(fmt.Sprintf("%s.transitions[%d].tolerance", p, i), "must not be negative, got %s", t.Tolerance)
			}
		}
	case "timeout", "skip", "retries", "amplification":
		if c.Action == "" {
			v.add(p+".action", "is required")
		}
	case "cache-coherence":
		if c.Action == "" {
			v.add(p+".action", "is required")
		}
	case "membership":
		if c.Node == "" || c.Peer == "" {
			v.add(p, "node (the observer) and peer are required")
		} else if !nodes[c.Peer] {
			v.add(p+".peer", "unknown node %q", c.Peer)
		}
		for i, t := range c.Transitions {
			if t.To != "lost" && t.To != "joined" {
				v.add(fmt.Sprintf("%s.transitions[%d].to", p, i), "must be lost or joined, got %q", t.To)
			}
			if t.Tolerance < 0 {
				v.add(fmt.Sprintf("%s.transitions[%d].tolerance", p, i), "must not be negative, got %s", t.Tolerance)
			}
		}
	case "errors":
		if c.Action == "" {
			v.add(p+".action", "is required")
		}
	case "journal":
		if c.Entry == "" {
			v.add(p+".entry", "is required: the journal entry kind to count (req.error, cache.clean, packet.invalid, ...)")
		}
		if c.Max != nil && (*c.Max < 0 || *c.Max != float64(int(*c.Max))) {
			v.add(p+".max", "must be a whole number ≥ 0 for a journal check, got %v", *c.Max)
		}
	case "metric":
		if c.Metric == "" {
			v.add(p+".metric", "is required: the metric's name (moleculer_request_total, ...)")
		}
		if c.Value == nil {
			v.add(p+".value", "is required")
		}
		if _, err := compare(c.Op, 0, 0); err != nil {
			v.add(p+".op", "%v", err)
		}
	case "trace":
		if c.Action == "" {
			v.add(p+".action", "is required")
		}
		if c.Max != nil && (*c.Max < 1 || *c.Max != float64(int(*c.Max))) {
			v.add(p+".max", "must be a whole number ≥ 1 (attempts per call), got %v", *c.Max)
		}
	case "linearizable":
		for i, f := range c.Fields {
			if f != "price" && f != "stock" {
				v.add(fmt.Sprintf("%s.fields[%d]", p, i), "unknown field %q (price, stock)", f)
			}
		}
	case "stock-never-negative", "order-stock-reduction", "no-duplicate-orders":
	case "handled-once-per-group":
		if c.Event == "" || len(c.Groups) == 0 {
			v.add(p, "event and groups are required")
		}
	case "":
		v.add(p+".kind", "is required")
	default:
		v.add(p+".kind", "unknown check kind %q (%s)", c.Kind, strings.Join(CheckKinds, ", "))
	}
	if c.Node != "" && !nodes[c.Node] {
		v.add(p+".node", "unknown node %q", c.Node)
	}
}

// CheckKinds lists the check kinds a scenario can use.
var CheckKinds = []string{"steady-state", "breaker", "membership", "errors", "journal", "timeout", "skip", "retries", "amplification", "cache-coherence",
	"stock-never-negative", "order-stock-reduction", "no-duplicate-orders", "handled-once-per-group", "metric", "trace", "linearizable"}
