package gateway

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/faultline/faultline/broker/packet"
)

// alias maps a method and a path pattern to an action.
type alias struct {
	route     *route
	method    string // upper case, "*" for every method
	path      string // the full pattern, route prefix included
	segs      []string
	action    string
	generated bool // from autoAliases
}

// parseAlias reads an alias key: "POST /auth/login", "/ping" (every method), "* /x".
func parseAlias(key string) (method, path string, err error) {
	f := strings.Fields(key)
	switch len(f) {
	case 1:
		return "*", f[0], nil
	case 2:
		m := strings.ToUpper(f[0])
		if m == "ALL" {
			m = "*"
		}
		return m, f[1], nil
	}
	return "", "", fmt.Errorf("gateway: alias %q: want \"[METHOD] /path\"", key)
}

// restActions are the aliases "REST /path" expands to, as moleculer-web generates them.
var restActions = []struct{ action, method, suffix string }{
	{"list", "GET", ""},
	{"get", "GET", "/:id"},
	{"create", "POST", ""},
	{"update", "PUT", "/:id"},
	{"patch", "PATCH", "/:id"},
	{"remove", "DELETE", "/:id"},
}

func newAlias(r *route, method, path, action string) (*alias, error) {
	full := joinPath(r.path, path)
	a := &alias{route: r, method: method, path: full, segs: splitPath(full), action: action}
	for i, s := range a.segs {
		if s == "*" && i != len(a.segs)-1 {
			return nil, fmt.Errorf("gateway: alias %s %s: '*' must be the last segment", method, path)
		}
		if s == ":" {
			return nil, fmt.Errorf("gateway: alias %s %s: a ':' parameter needs a name", method, path)
		}
	}
	return a, nil
}

// expand turns one configured alias into aliases: "REST /products": "product" gives six.
func expandAlias(r *route, key, action string) ([]*alias, error) {
	method, path, err := parseAlias(key)
	if err != nil {
		return nil, err
	}
	if action == "" {
		return nil, fmt.Errorf("gateway: alias %q has no action", key)
	}
	if method != "REST" {
		a, err := newAlias(r, method, path, action)
		if err != nil {
			return nil, err
		}
		return []*alias{a}, nil
	}
	base := strings.TrimSuffix(path, "/")
	var out []*alias
	for _, ra := range restActions {
		p := base + ra.suffix
		if p == "" {
			p = "/"
		}
		a, err := newAlias(r, ra.method, p, action+"."+ra.action)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// match reports whether the alias serves method and the path's segments, and the URL
// params it binds. Literal segments compare case-insensitively, as path-to-regexp does by
// default; ":name" binds one segment; a final "*" matches the rest.
func (a *alias) match(method string, segs []string) (map[string]string, bool) {
	if a.method != "*" && a.method != method && !(method == "HEAD" && a.method == "GET") {
		return nil, false
	}
	var params map[string]string
	for i, s := range a.segs {
		if s == "*" {
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(s, ":") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:]] = segs[i]
			continue
		}
		if !strings.EqualFold(s, segs[i]) {
			return nil, false
		}
	}
	if len(segs) != len(a.segs) {
		return nil, false
	}
	return params, true
}

// sortAliases orders aliases as moleculer-web's optimizeOrder does: deeper paths first,
// then fewer parameters first; ties keep a deterministic order (path, method).
func sortAliases(as []*alias) {
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if len(a.segs) != len(b.segs) {
			return len(a.segs) > len(b.segs)
		}
		pa, pb := strings.Count(a.path, ":"), strings.Count(b.path, ":")
		if pa != pb {
			return pa < pb
		}
		if a.path != b.path {
			return a.path < b.path
		}
		return a.method < b.method
	})
}

// autoAliases builds the aliases of a route from the actions' Rest definitions: a service's
// base path is its settings.rest (a string, or a list of them) or its full name with dots as
// slashes; an action's rest is "METHOD /path", "/path" (every method), a map {method, path,
// basePath} or a list of those. Each service full name is processed once (several nodes
// serve the same service).
func autoAliases(r *route, services []packet.ServiceInfo) []*alias {
	seen := map[string]bool{}
	var out []*alias
	for _, s := range services {
		if seen[s.FullName] {
			continue
		}
		seen[s.FullName] = true
		var bases []string
		switch v := s.Settings["rest"].(type) {
		case string:
			bases = []string{v}
		case []any:
			for _, b := range v {
				if bs, ok := b.(string); ok {
					bases = append(bases, bs)
				}
			}
		case []string:
			bases = v
		}
		if len(bases) == 0 {
			bases = []string{"/" + strings.ReplaceAll(s.FullName, ".", "/")}
		}
		names := make([]string, 0, len(s.Actions))
		for n := range s.Actions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, base := range bases {
			for _, name := range names {
				ai := s.Actions[name]
				if ai.Rest == nil || !r.allowed(name) {
					continue
				}
				for _, def := range restList(ai.Rest) {
					method, path, ok := restRoute(def, base, ai.RawName)
					if !ok {
						continue
					}
					a, err := newAlias(r, method, path, name)
					if err != nil {
						continue
					}
					a.generated = true
					out = append(out, a)
				}
			}
		}
	}
	return out
}

func restList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	}
	return []any{v}
}

func restRoute(def any, base, rawName string) (method, path string, ok bool) {
	switch d := def.(type) {
	case string:
		if strings.ContainsAny(strings.TrimSpace(d), " \t") {
			m, p, err := parseAlias(d)
			if err != nil {
				return "", "", false
			}
			return m, joinPath(base, p), true
		}
		return "*", joinPath(base, strings.TrimSpace(d)), true
	case map[string]any:
		m, _ := d["method"].(string)
		if m == "" {
			m = "*"
		}
		p, _ := d["path"].(string)
		if p == "" {
			p = rawName
		}
		if b, _ := d["basePath"].(string); b != "" {
			base = b
		}
		return strings.ToUpper(m), joinPath(base, p), true
	}
	return "", "", false
}

// joinPath joins URL path parts with single slashes; the result starts with '/' and has no
// trailing slash (but "/" itself).
func joinPath(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		for _, s := range strings.Split(p, "/") {
			if s != "" {
				b.WriteByte('/')
				b.WriteString(s)
			}
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// splitPath splits a normalized path into its segments ("/" has none).
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// requestSegments splits a request's escaped path into unescaped segments, ignoring empty
// segments (a trailing slash, doubled slashes). An escaped slash stays inside its segment.
func requestSegments(escaped string) ([]string, error) {
	raw := splitPath(escaped)
	out := raw[:0:0]
	for _, s := range raw {
		if s == "" {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
