// Package gateway is an HTTP API gateway with moleculer-web's semantics: a broker service
// (Schema) that is also an http.Handler, so it serves the same way on the real runtime (an
// http.Server: Settings.Addr or Server) and in tests (httptest).
//
// A request goes through moleculer-web's pipeline:
//
//  1. the alias of any route matching method and path (deeper paths first, fewer ":params"
//     first), else the route with the longest matching prefix; nothing: 404 NotFoundError;
//  2. CORS (a preflight OPTIONS is answered 204 here; a foreign origin is 403
//     ORIGIN_NOT_ALLOWED);
//  3. the action: the alias's, or with mapping policy "all" "/route/svc/act" → svc.act
//     ("~node" → "$node");
//  4. the body (json, urlencoded; over the limit 413, malformed 400) and the query;
//     params are body, then query, then URL params merged (later wins);
//  5. whitelist and blacklist ("$node.*" blacklisted by default): 404 ServiceNotFoundError;
//  6. the rate limit (429 RateLimitExceeded, X-Rate-Limit-* headers);
//  7. no node serves the action: an alias is 503 ServiceUnavailableError, a mapped call 404
//     ServiceNotFoundError;
//  8. OnBeforeCall, Authenticate (its result is ctx.meta.user), Authorize;
//  9. the call with the route's call options; OnAfterCall;
//  10. the response: $statusCode, $location, $responseType and $responseHeaders from the
//     meta the action left.
//
// Every error is JSON {name, message, code, type, data} with the status
// Settings.StatusOf gives (default Status: the code when it is 400..598, else 500). A
// panic in a hook is a 500 with a generic message.
//
// Shop returns the settings of the course's shop API; JWT is its Authenticate hook.
package gateway
