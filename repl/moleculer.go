package repl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/breaker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/metrics"
	"github.com/faultline/faultline/broker/packet"
)

func moleculerCommands() map[string]*command {
	return map[string]*command{
		"call": {usage: "call ACTION [JSON] [--meta JSON]", help: "call an action and print the response",
			run: (*Session).call, complete: completeAt(0, actionNames)},
		"dcall": {usage: "dcall NODE ACTION [JSON] [--meta JSON]", help: "call an action on one node",
			run: (*Session).dcall, complete: func(s *Session, i int) []string {
				switch i {
				case 0:
					return s.nodeIDs()
				case 1:
					return s.actionNames()
				}
				return nil
			}},
		"emit":      {usage: "emit EVENT [JSON] [--meta JSON]", help: "emit an event (one handler per group)", run: (*Session).emit, complete: completeAt(0, eventNames)},
		"broadcast": {usage: "broadcast EVENT [JSON] [--meta JSON]", help: "broadcast an event to every handler", run: (*Session).broadcast, complete: completeAt(0, eventNames)},
		"nodes":     {usage: "nodes", help: "list the nodes", run: (*Session).nodes},
		"services":  {usage: "services", help: "list the services and the nodes serving them", run: (*Session).services},
		"actions":   {usage: "actions", help: "list the actions and their endpoints", run: (*Session).actions},
		"events":    {usage: "events", help: "list the event subscriptions", run: (*Session).events},
		"info":      {usage: "info", help: "this node's broker information", run: (*Session).info},
		"cache": {usage: "cache keys [PATTERN] | get KEY | del KEY | clear [PATTERN]", help: "inspect or clean this node's cacher",
			run: (*Session).cache, complete: func(s *Session, i int) []string {
				if i == 0 {
					return []string{"keys", "get", "del", "clear"}
				}
				return s.cacheKeys()
			}},
		"metrics": {usage: "metrics [NAME]", help: "this node's metrics (Prometheus text), those whose name starts with NAME", run: (*Session).metrics},
		"bench": {usage: "bench ACTION [JSON] [--time 5s] [--num N] [--meta JSON]", help: "call an action in a loop; print requests/s and latency percentiles",
			run: (*Session).bench, complete: completeAt(0, actionNames)},
	}
}

func completeAt(pos int, f func(*Session) []string) func(*Session, int) []string {
	return func(s *Session, i int) []string {
		if i == pos {
			return f(s)
		}
		return nil
	}
}

func actionNames(s *Session) []string { return s.actionNames() }
func eventNames(s *Session) []string  { return s.eventNames() }

func (s *Session) call(line string, a *args) error {
	action, err := a.need("ACTION")
	if err != nil {
		return err
	}
	return s.doCall(line, a, "", action)
}

func (s *Session) dcall(line string, a *args) error {
	node, err := a.need("NODE")
	if err != nil {
		return err
	}
	action, err := a.need("ACTION")
	if err != nil {
		return err
	}
	return s.doCall(line, a, node, action)
}

func (s *Session) doCall(line string, a *args, nodeID, action string) error {
	params, err := a.object("params")
	if err != nil {
		return err
	}
	fl, err := a.flags(map[string]string{"meta": "json"})
	if err != nil {
		return err
	}
	meta, _ := fl["meta"].(map[string]any)
	opts := []broker.CallOption{broker.WithMeta(meta)}
	on := ""
	if nodeID != "" {
		opts = append(opts, broker.WithNodeID(nodeID))
		on = " on " + nodeID
	}
	fmt.Fprintf(s.out, ">> Call '%s'%s with params: %s", action, on, compact(params))
	if meta != nil {
		fmt.Fprintf(s.out, " with meta: %s", compact(meta))
	}
	fmt.Fprintln(s.out)
	if l, ok := s.target.(Live); ok {
		l.awaitAction(action)
	}
	b := s.target.Node()
	var (
		res     any
		callErr error
		took    time.Duration
	)
	if err := s.target.Do(line, func() {
		start := b.Runtime().Now()
		res, callErr = b.Call(action, params, opts...)
		took = b.Runtime().Now().Sub(start)
	}); err != nil {
		return err
	}
	fmt.Fprintf(s.out, ">> Execution time: %s\n", humanize(took))
	if callErr != nil {
		printError(s.out, callErr)
		return &callFailed{callErr}
	}
	fmt.Fprintln(s.out, ">> Response:")
	fmt.Fprintln(s.out, pretty(res))
	return nil
}

func (s *Session) emit(line string, a *args) error      { return s.doEmit(line, a, false) }
func (s *Session) broadcast(line string, a *args) error { return s.doEmit(line, a, true) }

func (s *Session) doEmit(line string, a *args, all bool) error {
	event, err := a.need("EVENT")
	if err != nil {
		return err
	}
	var payload any = map[string]any{}
	if !a.done() && !a.peekFlag() {
		if payload, err = a.json("payload"); err != nil {
			return err
		}
	}
	fl, err := a.flags(map[string]string{"meta": "json"})
	if err != nil {
		return err
	}
	meta, _ := fl["meta"].(map[string]any)
	var opts []broker.EmitOption
	if meta != nil {
		opts = append(opts, broker.WithEventMeta(meta))
	}
	verb, send := "Emit", s.target.Node().Emit
	if all {
		verb, send = "Broadcast", s.target.Node().Broadcast
	}
	fmt.Fprintf(s.out, ">> %s '%s' with payload: %s\n", verb, event, compact(payload))
	var sendErr error
	if err := s.target.Do(line, func() { sendErr = send(event, payload, opts...) }); err != nil {
		return err
	}
	if sendErr != nil {
		printError(s.out, sendErr)
		return &callFailed{sendErr}
	}
	return nil
}

// nodeServices is one node with the services its INFO lists (this node's: its own).
type nodeServices struct {
	node     broker.Node
	services []packet.ServiceInfo
}

// registry is the cluster as the current node knows it, in node ID order.
func (s *Session) registry() []nodeServices {
	b := s.target.Node()
	var out []nodeServices
	for _, n := range b.Nodes() {
		ns := nodeServices{node: n, services: n.Services}
		if n.Local {
			ns.services = b.LocalServiceInfo()
		}
		out = append(out, ns)
	}
	return out
}

func (s *Session) nodeIDs() []string {
	var out []string
	for _, n := range s.target.Node().Nodes() {
		out = append(out, n.ID)
	}
	return out
}

func (s *Session) actionNames() []string {
	return s.names(func(svc packet.ServiceInfo) []string { return sortedNames(svc.Actions) })
}

func (s *Session) eventNames() []string {
	return s.names(func(svc packet.ServiceInfo) []string { return sortedNames(svc.Events) })
}

// names gathers what of picks from every known service, sorted, once each.
func (s *Session) names(of func(packet.ServiceInfo) []string) []string {
	var out []string
	for _, ns := range s.registry() {
		for _, svc := range ns.services {
			out = append(out, of(svc)...)
		}
	}
	sort.Strings(out)
	return slicesCompact(out)
}

func noArgs(a *args, verb string) error {
	if !a.done() {
		return fmt.Errorf("%s takes no arguments", verb)
	}
	return nil
}

func (s *Session) nodes(_ string, a *args) error {
	if err := noArgs(a, "nodes"); err != nil {
		return err
	}
	b := s.target.Node()
	w := table(s.out)
	fmt.Fprintln(w, "Node ID\tServices\tVersion\tClient\tIP\tState\tCPU")
	for _, ns := range s.registry() {
		n := ns.node
		id, client, ips := n.ID, n.Client, n.IPList
		if n.Local {
			id += " (*)"
			client, ips, _ = b.LocalClient()
		}
		state := "ONLINE"
		if !n.Available {
			state = "OFFLINE"
		}
		cpu := "?"
		if n.CPU > 0 {
			cpu = fmt.Sprintf("%.0f%%", n.CPU)
		}
		ip := ""
		if len(ips) > 0 {
			ip = ips[0]
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", id, len(ns.services), orDash(client.Version), orDash(client.Type), orDash(ip), state, cpu)
	}
	return w.Flush()
}

func (s *Session) services(_ string, a *args) error {
	if err := noArgs(a, "services"); err != nil {
		return err
	}
	type row struct {
		version        string
		actions, evnts int
		nodes          []string
		ok             bool
	}
	rows := map[string]*row{}
	for _, ns := range s.registry() {
		for _, svc := range ns.services {
			r := rows[svc.FullName]
			if r == nil {
				v := ""
				if svc.Version != nil {
					v = fmt.Sprint(svc.Version)
				}
				r = &row{version: v, actions: len(svc.Actions), evnts: len(svc.Events)}
				rows[svc.FullName] = r
			}
			r.nodes = append(r.nodes, s.nodeLabel(ns.node))
			r.ok = r.ok || ns.node.Available
		}
	}
	w := table(s.out)
	fmt.Fprintln(w, "Service\tVersion\tState\tActions\tEvents\tNodes")
	for _, name := range sortedNames(rows) {
		r := rows[name]
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", name, orDash(r.version), okFailed(r.ok), r.actions, r.evnts, strings.Join(r.nodes, ", "))
	}
	return w.Flush()
}

// nodeLabel is a node ID, with Moleculer's mark for the REPL's own node.
func (s *Session) nodeLabel(n broker.Node) string {
	if n.Local {
		return n.ID + " (*)"
	}
	return n.ID
}

func okFailed(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Session) actions(_ string, a *args) error {
	if err := noArgs(a, "actions"); err != nil {
		return err
	}
	b := s.target.Node()
	type row struct {
		info  packet.ActionInfo
		nodes []string
	}
	rows := map[string]*row{}
	for _, ns := range s.registry() {
		if !ns.node.Available {
			continue
		}
		for _, svc := range ns.services {
			for name, ai := range svc.Actions {
				r := rows[name]
				if r == nil {
					r = &row{info: ai}
					rows[name] = r
				}
				r.nodes = append(r.nodes, ns.node.ID)
			}
		}
	}
	w := table(s.out)
	fmt.Fprintln(w, "Action\tNodes\tState\tCached\tParams")
	for _, name := range sortedNames(rows) {
		r := rows[name]
		avail := b.Endpoints(name)
		states := make([]string, len(r.nodes))
		ok := false
		for i, id := range r.nodes {
			states[i] = endpointState(b, id, name, avail[id])
			ok = ok || states[i] != "FAILED"
		}
		cached := "No"
		if c := r.info.Cache; c != nil && c != false {
			cached = "Yes"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", name, len(r.nodes), okFailed(ok), cached, joinOrDash(sortedNames(r.info.Params)))
		for i, id := range r.nodes {
			label := id
			if id == b.NodeID() {
				label = "<local>"
			}
			fmt.Fprintf(w, "  %s\t\t%s\t\t\n", label, states[i])
		}
	}
	return w.Flush()
}

// endpointState is one endpoint's state as Moleculer's REPL shows it: OK, TRYING while its
// breaker is half-open, FAILED while it is open or the node is unavailable.
func endpointState(b *broker.Broker, nodeID, action string, available bool) string {
	switch b.BreakerState(nodeID, action) {
	case breaker.Open:
		return "FAILED"
	case breaker.HalfOpen, breaker.HalfOpenWait:
		return "TRYING"
	}
	return okFailed(available)
}

func (s *Session) events(_ string, a *args) error {
	if err := noArgs(a, "events"); err != nil {
		return err
	}
	type key struct{ event, group string }
	rows := map[key][]string{}
	var keys []key
	for _, ns := range s.registry() {
		if !ns.node.Available {
			continue
		}
		for _, svc := range ns.services {
			for name, ei := range svc.Events {
				group := ei.Group
				if group == "" {
					group = svc.Name
				}
				k := key{name, group}
				if rows[k] == nil {
					keys = append(keys, k)
				}
				rows[k] = append(rows[k], ns.node.ID)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].event != keys[j].event {
			return keys[i].event < keys[j].event
		}
		return keys[i].group < keys[j].group
	})
	w := table(s.out)
	fmt.Fprintln(w, "Event\tGroup\tState\tNodes")
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\tOK\t%s\n", k.event, k.group, strings.Join(rows[k], ", "))
	}
	return w.Flush()
}

func (s *Session) info(_ string, a *args) error {
	if err := noArgs(a, "info"); err != nil {
		return err
	}
	b := s.target.Node()
	o := b.Options()
	client, _, _ := b.LocalClient()
	var nActions, nEvents int
	local := b.LocalServiceInfo()
	for _, svc := range local {
		nActions += len(svc.Actions)
		nEvents += len(svc.Events)
	}
	runtime := "real (wall clock)"
	if s.debug != nil {
		runtime = fmt.Sprintf("simulated, seed %d, at %s", s.debug.Scenario().Seed, Stamp(s.debug.Now()))
	}
	transporter := "none"
	if o.Transporter != nil {
		transporter = typeName(o.Transporter)
	}
	cacher := "none"
	if o.Cacher != nil {
		cacher = typeName(o.Cacher)
	}
	w := table(s.out)
	fmt.Fprintln(w, "Broker information")
	for _, kv := range [][2]string{
		{"Namespace", orDash(o.Namespace)},
		{"Node ID", b.NodeID()},
		{"Client", client.Type + " " + client.Version},
		{"Runtime", runtime},
		{"Services", fmt.Sprint(len(local))},
		{"Actions", fmt.Sprint(nActions)},
		{"Events", fmt.Sprint(nEvents)},
		{"Nodes", fmt.Sprint(len(b.Nodes()))},
		{"Transporter", transporter},
		{"Cacher", cacher},
		{"Strategy", orDash(o.Strategy)},
		{"Request timeout", durOrNone(o.RequestTimeout)},
		{"Retry policy", onOff(o.Retry.Enabled)},
		{"Circuit breaker", onOff(o.CircuitBreaker.Enabled)},
		{"Bulkhead", onOff(o.Bulkhead.Enabled)},
		{"Pending requests", fmt.Sprint(b.PendingRequests())},
	} {
		fmt.Fprintf(w, "  %s:\t%s\n", kv[0], kv[1])
	}
	return w.Flush()
}

func typeName(v any) string {
	t := fmt.Sprintf("%T", v)
	return strings.TrimPrefix(t, "*")
}

func onOff(b *bool) string {
	if b != nil && *b {
		return "on"
	}
	return "off"
}

func durOrNone(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	return d.String()
}

// inspectable is the cacher to read without side effects: a fault-injecting wrapper's inner
// cacher, so that looking at a cacher that is "down" still shows what it holds.
func inspectable(c cache.Cacher) cache.Cacher {
	if w, ok := c.(interface{ Inner() cache.Cacher }); ok {
		return w.Inner()
	}
	return c
}

func (s *Session) cacheKeys() []string {
	c := s.target.Node().Cacher()
	if c == nil {
		return nil
	}
	keys, _ := inspectable(c).Keys(context.Background())
	return keys
}

func (s *Session) cache(line string, a *args) error {
	b := s.target.Node()
	c := b.Cacher()
	sub := a.word()
	if c == nil {
		return fmt.Errorf("no cacher on node %s", b.NodeID())
	}
	ctx := context.Background()
	switch sub {
	case "keys":
		pattern := ""
		if !a.done() {
			pattern = a.word()
		}
		if err := noArgs(a, "cache keys PATTERN"); err != nil {
			return err
		}
		keys, err := inspectable(c).Keys(ctx)
		if err != nil {
			return fmt.Errorf("cache keys: %v", err)
		}
		w := table(s.out)
		fmt.Fprintln(w, "Key")
		n := 0
		for _, k := range keys {
			if pattern == "" || cache.Match(pattern, k) {
				fmt.Fprintln(w, k)
				n++
			}
		}
		fmt.Fprintf(w, "(%d keys)\n", n)
		return w.Flush()
	case "get":
		key, err := a.need("KEY")
		if err != nil {
			return err
		}
		if err := noArgs(a, "cache get KEY"); err != nil {
			return err
		}
		v, ok, err := inspectable(c).Get(ctx, key)
		switch {
		case err != nil:
			return fmt.Errorf("cache get: %v", err)
		case !ok:
			return fmt.Errorf("no key %q in the cache", key)
		}
		fmt.Fprintln(s.out, prettyBytes(v))
		return nil
	case "del", "clear":
		var keys []string
		for !a.done() {
			keys = append(keys, a.word())
		}
		if sub == "del" && len(keys) == 0 {
			return fmt.Errorf("missing KEY")
		}
		var opErr error
		if err := s.target.Do(line, func() {
			if sub == "del" {
				opErr = c.Del(ctx, keys...)
			} else {
				opErr = b.CleanCache(keys...)
			}
		}); err != nil {
			return err
		}
		if opErr != nil {
			return fmt.Errorf("cache %s: %v", sub, opErr)
		}
		if sub == "del" {
			fmt.Fprintf(s.out, ">> Deleted %s\n", strings.Join(keys, ", "))
		} else {
			fmt.Fprintf(s.out, ">> Cleaned %s\n", joinOrDash(keys))
		}
		return nil
	case "":
		return fmt.Errorf("missing cache command: keys, get, del or clear")
	default:
		return fmt.Errorf("unknown cache command %q (keys, get, del, clear)", sub)
	}
}

func prettyBytes(v []byte) string {
	var x any
	if err := jsonUnmarshal(v, &x); err != nil {
		return string(v)
	}
	return pretty(x)
}

func (s *Session) metrics(_ string, a *args) error {
	prefix := ""
	if !a.done() {
		prefix = a.word()
	}
	if err := noArgs(a, "metrics NAME"); err != nil {
		return err
	}
	b := s.target.Node()
	m := metrics.Of(b)
	if m == nil {
		return fmt.Errorf("metrics are off on node %s", b.NodeID())
	}
	var sb strings.Builder
	if err := m.WriteText(&sb); err != nil {
		return err
	}
	n := 0
	for _, l := range strings.SplitAfter(sb.String(), "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(l, "# HELP "), "# TYPE ")
		if l != "" && strings.HasPrefix(name, prefix) {
			fmt.Fprint(s.out, l)
			if !strings.HasPrefix(l, "#") {
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("no metric named %s*", prefix)
	}
	return nil
}
