package gateway_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/gateway"
	"github.com/faultline/faultline/testutil"
)

// echo returns what it was called with: its action, params and the meta keys "tenant" and
// "user".
func echo(ctx *broker.Context) (any, error) {
	return map[string]any{"action": ctx.Action, "params": ctx.Params, "tenant": ctx.Meta["tenant"], "user": ctx.Meta["user"], "secret": "s"}, nil
}

func echoService() *broker.Service {
	acts := map[string]broker.Action{
		"created": {Handler: func(ctx *broker.Context) (any, error) {
			ctx.Meta["$statusCode"], ctx.Meta["$location"] = 201, "/api/items/7"
			return map[string]any{"id": 7}, nil
		}},
		"text": {Handler: func(ctx *broker.Context) (any, error) {
			ctx.Meta["$responseType"] = "text/plain; charset=utf-8"
			return "hello", nil
		}},
		"headers": {Handler: func(ctx *broker.Context) (any, error) {
			ctx.Meta["$responseHeaders"] = map[string]any{"X-Custom": "yes", "X-Bad": "a\r\nInjected: 1", "Bad Name": "x"}
			return map[string]any{}, nil
		}},
		"nothing": {Handler: func(ctx *broker.Context) (any, error) { return nil, nil }},
		"fail": {Handler: func(ctx *broker.Context) (any, error) {
			switch ctx.Params["kind"] {
			case "validation":
				return nil, errs.Validation("", []any{map[string]any{"field": "x"}})
			case "plain":
				return nil, errors.New("disk on fire")
			case "code200":
				return nil, errs.New("odd", 200, "ODD", nil)
			case "busy":
				return nil, errs.Retryable("busy", 503, "BUSY", nil)
			case "unavailable":
				return nil, errs.ServiceNotAvailable("x.y", "")
			}
			return nil, errs.Client("teapot", 418, "TEAPOT", map[string]any{"k": "v"})
		}},
		"slow": {Handler: func(ctx *broker.Context) (any, error) { return nil, ctx.Sleep(2 * time.Second) }},
		"auto": {Rest: "GET /:id", Handler: echo},
		"any":  {Rest: "/any", Handler: echo},
		"make": {Rest: []any{map[string]any{"method": "POST", "path": "/make"}, "PUT /make"}, Handler: echo},
	}
	for _, n := range []string{"say", "list", "get", "create", "update", "patch", "remove"} {
		acts[n] = broker.Action{Handler: echo}
	}
	return &broker.Service{Name: "echo", Settings: map[string]any{"rest": "/things"}, Actions: acts}
}

func testSettings() gateway.Settings {
	no := false
	return gateway.Settings{
		CORS: &gateway.CORS{Origins: []string{"https://*.example.com"}, MaxAge: 10 * time.Minute, Credentials: true, ExposedHeaders: []string{"X-Custom"}},
		Routes: []gateway.Route{
			{
				Name: "rest", Path: "/api",
				Aliases: map[string]string{
					"REST /items":     "echo",
					"GET /say/:name":  "echo.say",
					"POST /say":       "echo.say",
					"GET /created":    "echo.created",
					"GET /text":       "echo.text",
					"GET /headers":    "echo.headers",
					"GET /nothing":    "echo.nothing",
					"GET /fail/:kind": "echo.fail",
					"GET /slow":       "echo.slow",
					"GET /ghost":      "ghost.action",
					"GET /files/*":    "echo.say",
				},
				MetaHeaders: map[string]string{"X-Tenant": "tenant"},
				BodyParsers: &gateway.BodyParsers{JSON: true, URLEncoded: true, Limit: 64},
				CallOptions: []broker.CallOption{broker.WithTimeout(100 * time.Millisecond)},
				OnAfterCall: func(c *gateway.Call, data any) (any, error) {
					if m, ok := data.(map[string]any); ok {
						delete(m, "secret")
					}
					return data, nil
				},
			},
			{Name: "auto", Path: "/api", AutoAliases: true, Whitelist: []string{"echo.*"}},
			{Name: "raw", Path: "/raw", MergeParams: &no},
			{Name: "white", Path: "/white", Whitelist: []string{"echo.s*", "$node.*"}},
			{Name: "internal", Path: "/internal", ExposeInternal: true},
			{Name: "hooks", Path: "/hooks", MappingPolicy: gateway.MappingAll,
				OnBeforeCall: func(c *gateway.Call) error {
					if c.Request.Header.Get("X-Panic") != "" {
						panic("hook bug")
					}
					c.Params["added"] = "by hook"
					return nil
				},
				Authenticate: func(c *gateway.Call) (any, error) { return map[string]any{"name": "anon"}, nil },
				Authorize: func(c *gateway.Call) error {
					if c.Action == "echo.remove" {
						return gateway.Forbidden("NO_REMOVE", nil)
					}
					return nil
				}},
		},
	}
}

// echoCluster runs the gateway on node "gw" and the echo service (and a "$node" service of
// its own) on node "svc", so every call and every Rest definition crosses the network.
func echoCluster(t *testing.T, s gateway.Settings) *httptest.Server {
	t.Helper()
	g := gateway.MustNew(s)
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Nodes: []testutil.NodeSpec{
		{ID: "gw", Define: func() []*broker.Service { return []*broker.Service{g.Schema()} }},
		{ID: "svc", Define: func() []*broker.Service {
			return []*broker.Service{echoService(), {Name: "$node", Actions: map[string]broker.Action{"list": {Handler: echo}}}}
		}},
	}})
	require.NoError(t, c.Start())
	require.NoError(t, c.WaitForServices("echo", "$node"))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func TestAliasesAndParams(t *testing.T) {
	srv := echoCluster(t, testSettings())
	for _, tc := range []struct{ method, path, action string }{
		{"GET", "/api/items", "echo.list"},
		{"GET", "/api/items/3", "echo.get"},
		{"POST", "/api/items", "echo.create"},
		{"PUT", "/api/items/3", "echo.update"},
		{"PATCH", "/api/items/3", "echo.patch"},
		{"DELETE", "/api/items/3", "echo.remove"},
		{"GET", "/API/Items/3/", "echo.get"},
		{"GET", "/api/things/5", "echo.auto"},
		{"DELETE", "/api/things/any", "echo.any"},
		{"POST", "/api/things/make", "echo.make"},
		{"PUT", "/api/things/make", "echo.make"},
		{"GET", "/raw/echo/say", "echo.say"},
		{"GET", "/white/echo/say", "echo.say"},
	} {
		r := do(t, srv, tc.method, tc.path, nil)
		require.Equal(t, 200, r.Status, "%s %s: %s", tc.method, tc.path, r.Raw)
		assert.Equal(t, tc.action, r.JSON["action"], "%s %s", tc.method, tc.path)
		// Only the rest route's onAfterCall strips the field.
		if strings.HasPrefix(strings.ToLower(tc.path), "/api/items") {
			assert.NotContains(t, r.JSON, "secret", "%s %s", tc.method, tc.path)
		} else {
			assert.Contains(t, r.JSON, "secret", "%s %s", tc.method, tc.path)
		}
	}

	// Body, then query, then URL params: later ones win.
	requireError(t, do(t, srv, "POST", "/api/items/3", nil), 404, gateway.NameNotFound, "NOT_FOUND") // no such alias
	r := do(t, srv, "PUT", "/api/items/3?q=1&id=fromquery&tag=a&tag=b", map[string]any{"id": "frombody", "b": true, "q": "body"}, "X-Tenant", "acme")
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": "3", "q": "1", "b": true, "tag": []any{"a", "b"}}, r.JSON["params"])
	assert.Equal(t, "acme", r.JSON["tenant"])
	r = do(t, srv, "GET", "/api/files/a/b%2Fc", nil)
	require.Equal(t, 200, r.Status, r.Raw)

	// urlencoded bodies.
	r = do(t, srv, "POST", "/api/say", "name=ada&x=1&x=2", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"name": "ada", "x": []any{"1", "2"}}, r.JSON["params"])

	// mergeParams false.
	r = do(t, srv, "POST", "/raw/echo/say?q=1", map[string]any{"a": 1})
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"body": map[string]any{"a": 1.0}, "query": map[string]any{"q": "1"}, "params": map[string]any{}}, r.JSON["params"])

	// Mapping policy, whitelist, internal services.
	requireError(t, do(t, srv, "GET", "/api/echo/say", nil), 404, gateway.NameNotFound, "NOT_FOUND")
	requireError(t, do(t, srv, "GET", "/white/echo/list", nil), 404, errs.NameServiceNotFound, "SERVICE_NOT_FOUND")
	requireError(t, do(t, srv, "GET", "/white/~node/list", nil), 404, errs.NameServiceNotFound, "SERVICE_NOT_FOUND")
	requireError(t, do(t, srv, "GET", "/raw/nosuch/action", nil), 404, errs.NameServiceNotFound, "SERVICE_NOT_FOUND")
	requireError(t, do(t, srv, "GET", "/raw/echo.say", nil), 404, gateway.NameNotFound, "NOT_FOUND")
	r = do(t, srv, "GET", "/internal/~node/list", nil)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, "$node.list", r.JSON["action"])
	r = do(t, srv, "GET", "/api/ghost", nil)
	requireError(t, r, 503, gateway.NameServiceUnavailable, "")
}

func TestResponseMeta(t *testing.T) {
	srv := echoCluster(t, testSettings())
	r := do(t, srv, "GET", "/api/created", nil)
	assert.Equal(t, 201, r.Status)
	assert.Equal(t, "/api/items/7", r.Header.Get("Location"))
	assert.Equal(t, map[string]any{"id": 7.0}, r.JSON)

	r = do(t, srv, "GET", "/api/text", nil)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Equal(t, "hello", r.Raw)

	r = do(t, srv, "GET", "/api/headers", nil)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "yes", r.Header.Get("X-Custom"))
	assert.Empty(t, r.Header.Get("X-Bad"), "a header value with CR LF is dropped")
	assert.Empty(t, r.Header.Get("Injected"))

	r = do(t, srv, "GET", "/api/nothing", nil)
	assert.Equal(t, 200, r.Status)
	assert.Empty(t, r.Raw)

	r = do(t, srv, "GET", "/api/say/x", nil, "X-Request-ID", "req-1")
	assert.Equal(t, "req-1", r.Header.Get("X-Request-ID"))
}

func TestErrorStatus(t *testing.T) {
	srv := echoCluster(t, testSettings())
	for _, tc := range []struct {
		kind       string
		status     int
		name, typ  string
		hasMessage string
	}{
		{"validation", 422, errs.NameValidation, "VALIDATION_ERROR", "Parameters validation error!"},
		{"plain", 500, "Error", "", "disk on fire"}, // a plain Go error crosses the wire as Moleculer's "Error"
		{"code200", 500, errs.NameMoleculerError, "ODD", "odd"},
		{"busy", 503, errs.NameRetryableError, "BUSY", "busy"},
		{"unavailable", 404, errs.NameServiceNotAvailable, "SERVICE_NOT_AVAILABLE", "Service 'x.y' is not available."},
		{"teapot", 418, errs.NameClientError, "TEAPOT", "teapot"},
	} {
		r := do(t, srv, "GET", "/api/fail/"+tc.kind, nil)
		requireError(t, r, tc.status, tc.name, tc.typ)
		assert.Equal(t, tc.hasMessage, r.JSON["message"], tc.kind)
	}
	r := do(t, srv, "GET", "/api/fail/teapot", nil)
	assert.Equal(t, map[string]any{"k": "v"}, r.JSON["data"])
	assert.NotContains(t, r.Raw, "stack")
	r = do(t, srv, "GET", "/api/fail/plain", nil)
	assert.EqualValues(t, 500, r.JSON["code"], "an error without a code reports the status")
	r = do(t, srv, "GET", "/api/fail/code200", nil)
	assert.EqualValues(t, 200, r.JSON["code"], "the error's own code is kept in the body")

	requireError(t, do(t, srv, "GET", "/api/slow", nil), 504, errs.NameRequestTimeout, "REQUEST_TIMEOUT")

	// The open-circuit option: ServiceNotAvailableError as 503.
	s := testSettings()
	s.StatusOf = gateway.OpenCircuitStatus
	srv2 := echoCluster(t, s)
	requireError(t, do(t, srv2, "GET", "/api/fail/unavailable", nil), 503, errs.NameServiceNotAvailable, "SERVICE_NOT_AVAILABLE")
	requireError(t, do(t, srv2, "GET", "/api/fail/teapot", nil), 418, errs.NameClientError, "TEAPOT")
}

func TestBadRequests(t *testing.T) {
	srv := echoCluster(t, testSettings())
	requireError(t, do(t, srv, "POST", "/api/say", `{"a":`), 400, gateway.NameInvalidRequestBody, "INVALID_REQUEST_BODY")
	requireError(t, do(t, srv, "POST", "/api/say", `{"a":1} {"b":2}`), 400, gateway.NameInvalidRequestBody, "INVALID_REQUEST_BODY")
	requireError(t, do(t, srv, "POST", "/api/say", `{"name":"`+strings.Repeat("x", 64)+`"}`), 413, gateway.NamePayloadTooLarge, "PAYLOAD_TOO_LARGE")
	requireError(t, do(t, srv, "GET", "/api/say/x?a=%zz", nil), 400, gateway.NameBadRequest, gateway.ErrUnableDecodeParam)
	requireError(t, do(t, srv, "POST", "/api/say", "a=%zz", "Content-Type", "application/x-www-form-urlencoded"), 400, gateway.NameInvalidRequestBody, "INVALID_REQUEST_BODY")
	// A body of a type no parser takes is not read.
	r := do(t, srv, "POST", "/api/say", "<xml/>", "Content-Type", "application/xml")
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{}, r.JSON["params"])
	// A JSON array body merges nothing (it is not an object).
	r = do(t, srv, "POST", "/api/say", `[1,2]`)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{}, r.JSON["params"])
	// A header value with CR LF never reaches the response.
	r = do(t, srv, "GET", "/api/say/x", nil, "X-Request-ID", strings.Repeat("r", 200))
	assert.Empty(t, r.Header.Get("X-Request-ID"))
}

func TestHooks(t *testing.T) {
	srv := echoCluster(t, testSettings())
	r := do(t, srv, "GET", "/hooks/echo/say?x=1", nil)
	require.Equal(t, 200, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"x": "1", "added": "by hook"}, r.JSON["params"])
	assert.Equal(t, map[string]any{"name": "anon"}, r.JSON["user"])
	requireError(t, do(t, srv, "GET", "/hooks/echo/remove", nil), 403, gateway.NameForbidden, "NO_REMOVE")
	r = do(t, srv, "GET", "/hooks/echo/say", nil, "X-Panic", "1")
	requireError(t, r, 500, errs.NameMoleculerError, "INTERNAL_ERROR")
	assert.NotContains(t, r.Raw, "hook bug")
}

func TestCORS(t *testing.T) {
	srv := echoCluster(t, testSettings())
	r := do(t, srv, "OPTIONS", "/api/items/1", nil, "Origin", "https://shop.example.com",
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "Authorization, Content-Type")
	assert.Equal(t, 204, r.Status)
	assert.Equal(t, "https://shop.example.com", r.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", r.Header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "GET, HEAD, PUT, PATCH, POST, DELETE", r.Header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "Authorization, Content-Type", r.Header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "600", r.Header.Get("Access-Control-Max-Age"))
	assert.Empty(t, r.Raw)

	r = do(t, srv, "GET", "/api/items/1", nil, "Origin", "https://shop.example.com")
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "https://shop.example.com", r.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "X-Custom", r.Header.Get("Access-Control-Expose-Headers"))
	assert.Empty(t, r.Header.Get("Access-Control-Max-Age"), "max-age is for preflights")

	requireError(t, do(t, srv, "GET", "/api/items/1", nil, "Origin", "https://evil.test"), 403, gateway.NameForbidden, gateway.ErrOriginNotAllowed)
	// A preflight for a path no route serves still gets the gateway's CORS answer.
	r = do(t, srv, "OPTIONS", "/nowhere", nil, "Origin", "https://a.example.com", "Access-Control-Request-Method", "GET")
	assert.Equal(t, 204, r.Status)
}

func TestNewRejectsBadSettings(t *testing.T) {
	for name, s := range map[string]gateway.Settings{
		"policy":     {Routes: []gateway.Route{{Path: "/a", MappingPolicy: "some"}}},
		"alias":      {Routes: []gateway.Route{{Path: "/a", Aliases: map[string]string{"GET /x extra": "a.b"}}}},
		"no action":  {Routes: []gateway.Route{{Path: "/a", Aliases: map[string]string{"GET /x": ""}}}},
		"star":       {Routes: []gateway.Route{{Path: "/a", Aliases: map[string]string{"GET /*/x": "a.b"}}}},
		"bare colon": {Routes: []gateway.Route{{Path: "/a", Aliases: map[string]string{"GET /:": "a.b"}}}},
		"proxy":      {TrustedProxies: []string{"not-an-ip"}},
	} {
		_, err := gateway.New(s)
		assert.Error(t, err, name)
	}
}
