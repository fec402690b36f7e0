package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/faultline/faultline/services/gateway"
)

// HTTPSpec makes a workload's clients HTTP clients of the shop's gateway (catalog service
// "gateway") instead of broker callers. Each request is handed to a gateway node's handler
// inside the simulation, so it runs in virtual time and replays from the seed like any call.
// Every request the client makes ends in one journal entry of kind "http.response" (see
// HTTPResponse), which the "journal" check counts: status counts per window, for instance
// no status 500 during an outage.
type HTTPSpec struct {
	// Method defaults to GET.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Path is the request's path and query ("/api/products/{{i}}").
	Path string `yaml:"path" json:"path"`
	// Body is sent as JSON when set.
	Body any `yaml:"body,omitempty" json:"body,omitempty"`
	// Headers are sent with each request ("Authorization: Bearer {{token}}").
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Gateways are the gateway nodes the client knows, tried in order: on a refused
	// connection (the node is down) or, with Retries, a 502, 503 or 504 answer, the client
	// tries the next one (wrapping around), up to Retries more times.
	Gateways []string `yaml:"gateways" json:"gateways"`
	Retries  int      `yaml:"retries,omitempty" json:"retries,omitempty"`
	// ClientIP is the client's address as the gateway sees it (default 10.0.<w>.<client>,
	// one address per client); the rate limit counts per address.
	ClientIP string `yaml:"clientIP,omitempty" json:"clientIP,omitempty"`
}

// HTTPResponse is the journal kind of one HTTP request of a workload. Its attributes:
// workload, client, method, path, gateway (the node that answered, "" when none did),
// status (0 when no gateway took the connection), error (the JSON error's name, or
// "ECONNREFUSED"), attempts and latency (virtual time from the first attempt).
const HTTPResponse = "http.response"

// httpCall runs one request of an HTTP client, with its retries over the gateways.
func (c *conductor) httpCall(w *WorkloadSpec, client, i int) {
	h := w.HTTP
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}
	path := c.expandString(h.Path, client, i)
	var body []byte
	if h.Body != nil {
		body, _ = json.Marshal(c.expand(h.Body, client, i))
	}
	ip := fmt.Sprintf("10.0.%d.%d", c.workloadIndex(w), client+1)
	if h.ClientIP != "" {
		ip = c.expandString(h.ClientIP, client, i)
	}
	start := c.c.Runtime.Now()
	var (
		status   int
		errName  = "ECONNREFUSED"
		answered string
		attempts int
	)
	for attempt := 0; attempt <= h.Retries; attempt++ {
		attempts++
		gw := h.Gateways[(client+i+attempt)%len(h.Gateways)]
		b := c.c.Node(gw)
		var g *gateway.Gateway
		if b != nil && b.Started() {
			g = gateway.Of(b)
		}
		if g == nil {
			status, errName, answered = 0, "ECONNREFUSED", ""
			continue // nothing listens there: try the next gateway
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		req.RemoteAddr = ip + ":40000"
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range h.Headers {
			req.Header.Set(k, c.expandString(v, client, i))
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		status, answered, errName = rec.Code, gw, ""
		if status >= 400 {
			var e gateway.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Name == "" {
				errName = "NOT_JSON" // a gateway bug: every error must be a JSON body
			} else {
				errName = e.Name
			}
		}
		if status != 502 && status != 503 && status != 504 {
			break
		}
	}
	attrs := map[string]any{"workload": w.Name, "client": client, "method": method, "path": path, "gateway": answered,
		"status": status, "attempts": attempts, "latency": c.c.Runtime.Now().Sub(start)}
	if errName != "" {
		attrs["error"] = errName
	}
	node := answered
	if node == "" {
		node = h.Gateways[0]
	}
	c.c.Journal.Record(node, HTTPResponse, attrs)
}

// expandString expands {{i}}, {{client}} and {{token}} / {{token:<email>}} anywhere in s.
func (c *conductor) expandString(s string, client, i int) string {
	if v, ok := c.expand(s, client, i).(string); ok {
		s = v
	}
	for {
		at := strings.Index(s, "{{token")
		if at < 0 {
			return s
		}
		end := strings.Index(s[at:], "}}")
		if end < 0 {
			return s
		}
		email := strings.TrimPrefix(s[at+len("{{token"):at+end], ":")
		s = s[:at] + c.tokens[email] + s[at+end+2:]
	}
}

func (c *conductor) workloadIndex(w *WorkloadSpec) int {
	for i := range c.scenario.Workload {
		if &c.scenario.Workload[i] == w {
			return i
		}
	}
	return 0
}

// validateHTTP checks an HTTP workload.
func validateHTTP(v *validator, p string, w *WorkloadSpec, nodes map[string]bool) {
	h := w.HTTP
	if w.Action != "" {
		v.add(p+".action", "an HTTP workload calls no action (its requests go through http.gateways)")
	}
	if !strings.HasPrefix(h.Path, "/") {
		v.add(p+".http.path", "must start with '/', got %q", h.Path)
	}
	if h.Method != "" && strings.ToUpper(h.Method) != h.Method {
		v.add(p+".http.method", "must be upper case, got %q", h.Method)
	}
	if len(h.Gateways) == 0 {
		v.add(p+".http.gateways", "is required: the gateway nodes the client sends to")
	}
	for j, g := range h.Gateways {
		if !nodes[g] {
			v.add(fmt.Sprintf("%s.http.gateways[%d]", p, j), "unknown node %q", g)
		}
	}
	if h.Retries < 0 {
		v.add(p+".http.retries", "must not be negative, got %d", h.Retries)
	}
}
