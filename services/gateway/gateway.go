package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
)

// DefaultName is the gateway service's name.
const DefaultName = "api"

// DefaultBodyLimit bounds request bodies when BodyParsers.Limit is 0.
const DefaultBodyLimit = 1 << 20

// Settings configure a gateway.
type Settings struct {
	// Name is the service name (default "api").
	Name string
	// Path prefixes every route's path.
	Path string
	// Routes are matched by path prefix, longest first; aliases of every route are matched
	// before any prefix.
	Routes []Route
	// CORS and RateLimit apply to routes that set none of their own.
	CORS      *CORS
	RateLimit *RateLimit
	// TrustedProxies are addresses or CIDR prefixes whose X-Forwarded-For is believed when
	// the rate limiter names the client.
	TrustedProxies []string
	// StatusOf maps an error to its HTTP status; nil is Status, moleculer-web's rule (see
	// OpenCircuitStatus for an alternative).
	StatusOf func(e *errs.Error) int
	// Addr, when set, makes the service listen there when it starts and shut the server down
	// when it stops (real runtime only). ":0" picks a port; see Gateway.Addr.
	Addr string
	// Server timeouts of the server Addr starts (and of Gateway.Server): defaults 5 s to
	// read the headers, 30 s for the whole request, 30 s to write, 120 s idle.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Route is a group of endpoints under a path prefix, with its own policies.
type Route struct {
	// Name identifies the route in listAliases (default: its path).
	Name string
	// Path is the route's prefix.
	Path string
	// Aliases map "METHOD /path" (or "/path" for every method) to an action name; ":name"
	// segments become params, a final "*" matches the rest. "REST /products": "product"
	// expands to list, get, create, update, patch and remove of product.
	Aliases map[string]string
	// AutoAliases adds an alias for each action (of every node) that has a Rest definition.
	AutoAliases bool
	// Whitelist, when not nil, lists the action names (globs: "product.*", "**") the route
	// may call; Blacklist those it may not. Internal "$node.*" actions are blacklisted unless
	// ExposeInternal is set. A call outside them is 404 ServiceNotFoundError.
	Whitelist, Blacklist []string
	ExposeInternal       bool
	// MappingPolicy "all" also maps "/route/svc/action" to svc.action; "restrict" serves
	// aliases only. Default: restrict when the route has aliases or AutoAliases, else all.
	MappingPolicy string
	// BodyParsers select the body formats; nil parses JSON with DefaultBodyLimit.
	BodyParsers *BodyParsers
	// MergeParams false passes params as {body, query, params} instead of merging body,
	// query and URL params (in that order, later ones win) into one object.
	MergeParams *bool
	// MetaHeaders copy request headers into ctx.meta: header name → meta key.
	MetaHeaders map[string]string
	// Authenticate, when set, runs before each call; what it returns is ctx.meta.user (nil:
	// anonymous), an error rejects the request. See JWT.
	Authenticate func(c *Call) (any, error)
	// Authorize, when set, runs after Authenticate; an error rejects the request (use
	// Forbidden for 403).
	Authorize func(c *Call) error
	// OnBeforeCall runs before authentication and may change c.Params and c.Meta;
	// OnAfterCall may replace the result (c.ResponseMeta holds the meta the action set).
	OnBeforeCall func(c *Call) error
	OnAfterCall  func(c *Call, data any) (any, error)
	// CORS and RateLimit replace the gateway's for this route.
	CORS      *CORS
	RateLimit *RateLimit
	// CallOptions are added to every call of the route (timeout, retries).
	CallOptions []broker.CallOption
}

// BodyParsers select which request bodies are parsed. A body of another type is not read.
type BodyParsers struct {
	JSON       bool
	URLEncoded bool
	// Limit bounds the body size in bytes (0: DefaultBodyLimit); larger is 413.
	Limit int64
}

// Mapping policies.
const (
	MappingAll      = "all"
	MappingRestrict = "restrict"
)

// Call is one request on its way to an action, as the hooks see it.
type Call struct {
	Request *http.Request
	// Header are the response headers (hooks may add to them).
	Header http.Header
	Broker *broker.Broker
	// Route is the matched route's name; Alias the matched alias ("" for a mapped call).
	Route, Alias string
	// Action is the action to call.
	Action string
	Params map[string]any
	Meta   map[string]any
	// User is what Authenticate returned.
	User any
	// ResponseMeta is the meta after the call (for OnAfterCall).
	ResponseMeta map[string]any
}

// route is a compiled Route.
type route struct {
	Route
	name     string
	path     string
	segs     []string
	restrict bool
	parsers  BodyParsers
	merge    bool
	cors     *CORS
	limit    *RateLimit
	store    RateStore
	black    []string
}

// Gateway is an HTTP API gateway in front of a broker: a service of the broker (Schema)
// and an http.Handler.
type Gateway struct {
	settings Settings
	routes   []*route // longest prefix first
	proxies  proxies
	statusOf func(e *errs.Error) int
	log      *slog.Logger

	b atomic.Pointer[broker.Broker]

	mu      sync.RWMutex
	aliases []*alias // sorted, static and generated
	dirty   atomic.Bool

	srvMu sync.Mutex
	srv   *http.Server
	addr  net.Addr
}

// New compiles the settings. Errors name the bad alias or option.
func New(s Settings) (*Gateway, error) {
	g := &Gateway{settings: s, statusOf: s.StatusOf, log: slog.New(slog.DiscardHandler)}
	if g.settings.Name == "" {
		g.settings.Name = DefaultName
	}
	if g.statusOf == nil {
		g.statusOf = Status
	}
	var err error
	if g.proxies, err = parseProxies(s.TrustedProxies); err != nil {
		return nil, fmt.Errorf("gateway: TrustedProxies: %w", err)
	}
	for i := range s.Routes {
		r, err := g.compileRoute(s.Routes[i])
		if err != nil {
			return nil, err
		}
		g.routes = append(g.routes, r)
	}
	// Longest prefix first, so "/api/admin" is tried before "/api".
	slices.SortStableFunc(g.routes, func(a, b *route) int { return len(b.segs) - len(a.segs) })
	g.dirty.Store(true)
	return g, nil
}

// MustNew is New that panics on bad settings.
func MustNew(s Settings) *Gateway {
	g, err := New(s)
	if err != nil {
		panic(err)
	}
	return g
}

func (g *Gateway) compileRoute(rs Route) (*route, error) {
	r := &route{Route: rs, path: joinPath(g.settings.Path, rs.Path)}
	r.segs = splitPath(r.path)
	r.name = rs.Name
	if r.name == "" {
		r.name = r.path
	}
	switch rs.MappingPolicy {
	case "":
		r.restrict = len(rs.Aliases) > 0 || rs.AutoAliases
	case MappingAll:
	case MappingRestrict:
		r.restrict = true
	default:
		return nil, fmt.Errorf("gateway: route %s: MappingPolicy %q (want %q or %q)", r.name, rs.MappingPolicy, MappingAll, MappingRestrict)
	}
	if rs.BodyParsers == nil {
		r.parsers = BodyParsers{JSON: true}
	} else {
		r.parsers = *rs.BodyParsers
	}
	if r.parsers.Limit <= 0 {
		r.parsers.Limit = DefaultBodyLimit
	}
	r.merge = rs.MergeParams == nil || *rs.MergeParams
	r.cors = rs.CORS
	if r.cors == nil {
		r.cors = g.settings.CORS
	}
	r.limit = rs.RateLimit
	if r.limit == nil {
		r.limit = g.settings.RateLimit
	}
	if r.limit != nil {
		l := *r.limit
		if l.Window <= 0 {
			l.Window = time.Minute
		}
		if l.Limit <= 0 {
			l.Limit = 30
		}
		r.limit = &l
	}
	r.black = append([]string(nil), rs.Blacklist...)
	if !rs.ExposeInternal {
		r.black = append(r.black, "$node.*")
	}
	for _, key := range sortedKeys(rs.Aliases) {
		if _, err := expandAlias(r, key, rs.Aliases[key]); err != nil {
			return nil, fmt.Errorf("gateway: route %s: %w", r.name, err)
		}
	}
	return r, nil
}

// allowed applies the route's whitelist and blacklist to an action name.
func (r *route) allowed(action string) bool {
	if r.Whitelist != nil && !slices.ContainsFunc(r.Whitelist, func(p string) bool { return cache.Match(p, action) }) {
		return false
	}
	return !slices.ContainsFunc(r.black, func(p string) bool { return cache.Match(p, action) })
}

// Schema is the gateway's broker service: it learns its broker when started, rebuilds
// autoAliases when the registry changes, and serves listAliases.
func (g *Gateway) Schema() *broker.Service {
	return &broker.Service{
		Name:     g.settings.Name,
		Metadata: map[string]any{"$category": "gateway"},
		Actions: map[string]broker.Action{
			"listAliases": {Rest: "GET /list-aliases", Handler: func(ctx *broker.Context) (any, error) { return g.ListAliases(), nil }},
		},
		Events: map[string]broker.Event{
			"$services.changed": {Handler: func(*broker.Context) error { g.dirty.Store(true); return nil }},
		},
		Started: func(s *broker.ServiceInstance) error { return g.start(s.Broker) },
		Stopped: func(*broker.ServiceInstance) error { return g.stop() },
	}
}

// Attach binds the gateway to a broker without adding it as a service (no autoAliases
// refresh on registry changes: call Refresh). Schema's Started does this.
func (g *Gateway) Attach(b *broker.Broker) {
	g.b.Store(b)
	attached.Store(b, g)
	g.log = b.Logger().With("service", g.settings.Name)
	for _, r := range g.routes {
		if r.limit != nil {
			newStore := r.limit.NewStore
			if newStore == nil {
				newStore = NewMemoryStore
			}
			r.store = newStore(r.limit.Window, b.Runtime())
		}
	}
	g.dirty.Store(true)
}

// Refresh makes the next request rebuild the aliases from the registry.
func (g *Gateway) Refresh() { g.dirty.Store(true) }

func (g *Gateway) start(b *broker.Broker) error {
	g.Attach(b)
	if g.settings.Addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", g.settings.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", g.settings.Addr, err)
	}
	srv := g.Server("")
	g.srvMu.Lock()
	g.srv, g.addr = srv, ln.Addr()
	g.srvMu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("gateway server stopped", "err", err)
		}
	}()
	return nil
}

// attached maps a broker to the gateway attached to it (Of).
var attached sync.Map

// Of returns the gateway attached to a broker (by Schema's start or Attach), or nil. A
// simulated HTTP client finds the handler of a gateway node through it.
func Of(b *broker.Broker) *Gateway {
	if g, ok := attached.Load(b); ok {
		return g.(*Gateway)
	}
	return nil
}

func (g *Gateway) stop() error {
	if b := g.b.Load(); b != nil {
		attached.CompareAndDelete(b, g)
	}
	g.srvMu.Lock()
	srv := g.srv
	g.srv = nil
	g.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// Addr is the address the service listens on (Settings.Addr), nil before it starts.
func (g *Gateway) Addr() net.Addr {
	g.srvMu.Lock()
	defer g.srvMu.Unlock()
	return g.addr
}

// Server returns an http.Server for the gateway with the settings' timeouts, so a slow
// client (slowloris) cannot hold a connection: headers must arrive within
// ReadHeaderTimeout, the whole request within ReadTimeout.
func (g *Gateway) Server(addr string) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	s := g.settings
	return &http.Server{
		Addr: addr, Handler: g,
		ReadHeaderTimeout: or(s.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       or(s.ReadTimeout, 30*time.Second),
		WriteTimeout:      or(s.WriteTimeout, 30*time.Second),
		IdleTimeout:       or(s.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    64 << 10,
	}
}

// currentAliases returns the aliases, rebuilding them first when the registry changed.
func (g *Gateway) currentAliases() []*alias {
	if g.dirty.Load() {
		g.rebuild()
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.aliases
}

func (g *Gateway) rebuild() {
	if !g.dirty.Swap(false) {
		return
	}
	var all []*alias
	b := g.b.Load()
	for _, r := range g.routes {
		for _, key := range sortedKeys(r.Aliases) {
			as, _ := expandAlias(r, key, r.Aliases[key]) // checked by New
			all = append(all, as...)
		}
		if r.AutoAliases && b != nil {
			all = append(all, autoAliases(r, b.ServiceList())...)
		}
	}
	sortAliases(all)
	g.mu.Lock()
	g.aliases = all
	g.mu.Unlock()
}

// AliasInfo describes one alias (listAliases).
type AliasInfo struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Action string `json:"action"`
	Route  string `json:"route"`
	Auto   bool   `json:"auto,omitempty"`
}

// ListAliases returns the aliases in matching order.
func (g *Gateway) ListAliases() []AliasInfo {
	var out []AliasInfo
	for _, a := range g.currentAliases() {
		out = append(out, AliasInfo{Method: a.method, Path: a.path, Action: a.action, Route: a.route.name, Auto: a.generated})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// trimPrefix reports whether segs start with the route's segments.
func (r *route) matches(segs []string) bool {
	if len(segs) < len(r.segs) {
		return false
	}
	for i, s := range r.segs {
		if !strings.EqualFold(s, segs[i]) {
			return false
		}
	}
	return true
}
