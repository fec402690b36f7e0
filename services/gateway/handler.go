package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
)

// ServeHTTP routes a request to an action and writes its result or error. Whatever the
// request, the answer is a status and, for an error, a JSON body; a panic in a hook is a
// 500 with a generic message, never a crash or a stack.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &Call{Request: r, Header: w.Header()}
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("gateway: panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			g.writeError(w, c, errs.New("Internal server error", 500, "INTERNAL_ERROR", nil))
		}
	}()
	if err := g.serve(w, c); err != nil {
		g.writeError(w, c, toError(err))
	}
}

// serve is moleculer-web's request pipeline: resolve the alias or route, CORS, body and
// params, whitelist, rate limit, endpoint, onBeforeCall, authentication, authorization, the
// call, onAfterCall, the response.
func (g *Gateway) serve(w http.ResponseWriter, c *Call) error {
	r := c.Request
	c.Broker = g.b.Load()
	if c.Broker == nil {
		return ServiceUnavailable(g.settings.Name)
	}
	if id := requestID(r); id != "" {
		w.Header().Set("X-Request-ID", id)
	}
	segs, err := requestSegments(r.URL.EscapedPath())
	if err != nil {
		return BadRequest(ErrUnableDecodeParam, map[string]any{"reason": "malformed path escape"})
	}
	method := r.Method
	if isPreflight(r) {
		method = strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))
	}
	var (
		rt        *route
		a         *alias
		urlParams map[string]string
	)
	for _, al := range g.currentAliases() {
		if p, ok := al.match(method, segs); ok {
			a, rt, urlParams = al, al.route, p
			break
		}
	}
	if rt == nil {
		for _, cand := range g.routes {
			if cand.matches(segs) {
				rt = cand
				break
			}
		}
	}
	if rt == nil {
		if cors := g.settings.CORS; cors != nil {
			if !cors.writeHeaders(w.Header(), r, isPreflight(r)) {
				return Forbidden(ErrOriginNotAllowed, nil)
			}
			if isPreflight(r) {
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
		}
		return NotFound()
	}
	c.Route = rt.name
	if rt.cors != nil {
		if !rt.cors.writeHeaders(w.Header(), r, isPreflight(r)) {
			return Forbidden(ErrOriginNotAllowed, nil)
		}
		if isPreflight(r) {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}

	// The action: the alias's, or with mapping policy "all" the path after the prefix.
	if a != nil {
		c.Action, c.Alias = a.action, a.method+" "+a.path
	} else {
		if rt.restrict || len(segs) == len(rt.segs) {
			return NotFound()
		}
		rest := segs[len(rt.segs):]
		for i, s := range rest {
			if strings.Contains(s, ".") {
				return NotFound() // "/svc.action" or "/svc/a.b" is not a mapping
			}
			if i == 0 && strings.HasPrefix(s, "~") {
				rest[0] = "$" + s[1:] // moleculer-web's "~node/list" for "$node.list"
			}
		}
		c.Action = strings.Join(rest, ".")
	}

	body, err := rt.parseBody(w, r)
	if err != nil {
		return err
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return BadRequest(ErrUnableDecodeParam, map[string]any{"reason": "malformed query string"})
	}
	c.Params = mergeParams(rt.merge, body, query, urlParams)
	c.Meta = map[string]any{}
	for h, key := range rt.MetaHeaders {
		if v := r.Header.Get(h); v != "" {
			c.Meta[key] = v
		}
	}

	if !rt.allowed(c.Action) {
		return errs.ServiceNotFound(c.Action, "")
	}
	if rt.store != nil {
		if err := g.rateLimit(w, rt, r); err != nil {
			return err
		}
	}
	if len(c.Broker.Endpoints(c.Action)) == 0 {
		if a != nil {
			return ServiceUnavailable(c.Action)
		}
		return errs.ServiceNotFound(c.Action, "")
	}
	if rt.OnBeforeCall != nil {
		if err := rt.OnBeforeCall(c); err != nil {
			return err
		}
	}
	if rt.Authenticate != nil {
		u, err := rt.Authenticate(c)
		if err != nil {
			return err
		}
		c.User = u
		c.Meta["user"] = u
	}
	if rt.Authorize != nil {
		if err := rt.Authorize(c); err != nil {
			return err
		}
	}

	c.ResponseMeta = map[string]any{}
	opts := make([]broker.CallOption, 0, len(rt.CallOptions)+3)
	opts = append(opts, rt.CallOptions...)
	opts = append(opts, broker.WithMeta(c.Meta), broker.WithResponseMeta(c.ResponseMeta))
	if id := requestID(r); id != "" {
		opts = append(opts, broker.WithRequestID(id))
	}
	data, err := c.Broker.Call(c.Action, c.Params, opts...)
	if err != nil {
		return err
	}
	if rt.OnAfterCall != nil {
		if data, err = rt.OnAfterCall(c, data); err != nil {
			return err
		}
	}
	return g.writeResult(w, c, data)
}

// requestID is X-Correlation-ID or else X-Request-ID, when it is a sane header value.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Correlation-ID")
	if id == "" {
		id = r.Header.Get("X-Request-ID")
	}
	if len(id) > 128 || !validHeaderValue(id) {
		return ""
	}
	return id
}

func (g *Gateway) rateLimit(w http.ResponseWriter, rt *route, r *http.Request) error {
	ip := g.proxies.clientIP(r)
	key := ip
	if rt.limit.Key != nil {
		key = rt.limit.Key(r, ip)
	}
	if key == "" {
		return nil
	}
	n, reset, err := rt.store.Inc(key)
	if err != nil {
		// A store that cannot count (Redis down) must not take the API down with it.
		g.log.Warn("gateway: rate limit store failed; request let through", "err", err)
		return nil
	}
	remaining := rt.limit.Limit - n
	if rt.limit.Headers {
		h := w.Header()
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(rt.limit.Limit))
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(0, remaining)))
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
	}
	if remaining < 0 {
		return RateLimitExceeded()
	}
	return nil
}

// parseBody reads and parses the body when its Content-Type has an enabled parser. It
// returns nil for no body or a body no parser takes.
func (rt *route) parseBody(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil // not a type any parser takes
	}
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	isForm := mt == "application/x-www-form-urlencoded"
	if !(isJSON && rt.parsers.JSON) && !(isForm && rt.parsers.URLEncoded) {
		return nil, nil
	}
	limit := rt.parsers.Limit
	if r.ContentLength > limit {
		return nil, PayloadTooLarge(limit)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, PayloadTooLarge(limit)
		}
		return nil, InvalidRequestBody("the body could not be read")
	}
	if isForm {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, InvalidRequestBody("malformed urlencoded body")
		}
		return valuesToMap(vals), nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, InvalidRequestBody(jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, InvalidRequestBody("data after the JSON value")
	}
	return v, nil
}

// jsonReason describes a JSON error by position, without echoing the body.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "truncated JSON"
	}
	return "malformed JSON"
}

// valuesToMap turns query or form values into params: one value is a string, several a list.
func valuesToMap(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			l := make([]any, len(vs))
			for i, s := range vs {
				l[i] = s
			}
			out[k] = l
		}
	}
	return out
}

// mergeParams merges body (when an object), query and URL params, later ones winning, or
// with merge false returns {body, query, params}.
func mergeParams(merge bool, body any, query url.Values, urlParams map[string]string) map[string]any {
	if !merge {
		p := map[string]any{}
		for k, v := range urlParams {
			p[k] = v
		}
		return map[string]any{"body": body, "query": valuesToMap(query), "params": p}
	}
	out := map[string]any{}
	if m, ok := body.(map[string]any); ok {
		for k, v := range m {
			out[k] = v
		}
	}
	for k, v := range valuesToMap(query) {
		out[k] = v
	}
	for k, v := range urlParams {
		out[k] = v
	}
	return out
}

// writeResult writes an action's result as moleculer-web does: the meta's $statusCode,
// $location (for 201 and redirects), $responseType and $responseHeaders; objects as JSON,
// bytes as octet-stream, a string as JSON or raw with a $responseType; nil as no body.
func (g *Gateway) writeResult(w http.ResponseWriter, c *Call, data any) error {
	meta := c.ResponseMeta
	status := http.StatusOK
	if s, ok := metaInt(meta["$statusCode"]); ok && s >= 100 && s <= 599 {
		status = s
	}
	h := w.Header()
	if status == 201 || (status >= 300 && status < 400 && status != 304) {
		if loc, _ := meta["$location"].(string); loc != "" && validHeaderValue(loc) {
			h.Set("Location", loc)
		}
	}
	responseType, _ := meta["$responseType"].(string)
	if !validHeaderValue(responseType) {
		responseType = ""
	}
	responseType = applyHeaders(h, meta, responseType)
	var chunk []byte
	switch d := data.(type) {
	case nil:
		w.WriteHeader(status)
		return nil
	case []byte:
		chunk = d
		h.Set("Content-Type", or(responseType, "application/octet-stream"))
	case json.RawMessage:
		chunk = d
		h.Set("Content-Type", or(responseType, "application/json; charset=utf-8"))
	case string:
		if responseType == "" {
			chunk, _ = json.Marshal(d)
			h.Set("Content-Type", "application/json; charset=utf-8")
		} else {
			chunk = []byte(d)
			h.Set("Content-Type", responseType)
		}
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return errs.New("The response cannot be encoded as JSON", 500, "INVALID_RESPONSE_TYPE", nil)
		}
		chunk = b
		h.Set("Content-Type", or(responseType, "application/json; charset=utf-8"))
	}
	if status == 204 || status == 304 {
		h.Del("Content-Type")
		w.WriteHeader(status)
		return nil
	}
	h.Set("Content-Length", strconv.Itoa(len(chunk)))
	w.WriteHeader(status)
	if c.Request.Method != http.MethodHead {
		_, _ = w.Write(chunk)
	}
	return nil
}

// applyHeaders sets $responseHeaders (valid names and values only: no header injection),
// and returns the response type, which a Content-Type there provides when none is set.
func applyHeaders(h http.Header, meta map[string]any, responseType string) string {
	hs, _ := meta["$responseHeaders"].(map[string]any)
	for _, k := range sortedKeys(hs) {
		v := fmt.Sprint(hs[k])
		if !httpguts.ValidHeaderFieldName(k) || !validHeaderValue(v) {
			continue
		}
		if http.CanonicalHeaderKey(k) == "Content-Type" {
			if responseType == "" {
				responseType = v
			}
			continue
		}
		h.Set(k, v)
	}
	return responseType
}

// writeError writes an error as JSON {name, message, code, type, data}, with the status
// StatusOf gives it.
func (g *Gateway) writeError(w http.ResponseWriter, c *Call, e *errs.Error) {
	h := w.Header()
	for _, k := range []string{"Content-Length", "Location", "Content-Type"} {
		h.Del(k)
	}
	responseType := ""
	if c.ResponseMeta != nil {
		if rt, _ := c.ResponseMeta["$responseType"].(string); validHeaderValue(rt) {
			responseType = rt
		}
		responseType = applyHeaders(h, c.ResponseMeta, responseType)
	}
	status := g.statusOf(e)
	code := e.Code
	if code == 0 {
		code = status // a plain error has no code; moleculer-web reports it as a 500 MoleculerError
	}
	name := e.Name
	if name == "" {
		name = errs.NameMoleculerError
	}
	body, err := json.Marshal(ErrorBody{Name: name, Message: e.Message, Code: code, Type: e.Type, Data: e.Data})
	if err != nil { // data that cannot be encoded: drop it, keep the error
		body, _ = json.Marshal(ErrorBody{Name: name, Message: e.Message, Code: code, Type: e.Type})
	}
	h.Set("Content-Type", or(responseType, "application/json; charset=utf-8"))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if c.Request.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func metaInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e6 {
			return int(x), true
		}
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	}
	return 0, false
}

func validHeaderValue(v string) bool { return httpguts.ValidHeaderFieldValue(v) }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
