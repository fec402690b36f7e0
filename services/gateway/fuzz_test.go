package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/gateway"
)

// FuzzRequest drives the request path (route and alias matching, query and body parsing,
// the Authorization header) with arbitrary input: never a panic, and every error a JSON
// body with a name and the status its code gives.
func FuzzRequest(f *testing.F) {
	b := broker.MustNew(broker.Options{NodeID: "fuzz", Runtime: rt.NewReal()})
	s := testSettings()
	s.Routes = append(s.Routes, gateway.Shop(gateway.ShopConfig{JWTSecret: []byte(catalog.DefaultJWTSecret)}).Routes...)
	g := gateway.MustNew(s)
	b.MustAddService(g.Schema())
	b.MustAddService(echoService())
	if err := b.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = b.Stop() })

	f.Add("GET", "/api/items/1?x=1", "", "", "")
	f.Add("POST", "/api/say", "application/json", `{"a":[1,{"b":null}]}`, "")
	f.Add("POST", "/api/say", "application/x-www-form-urlencoded", "a=1&a=2&b=%20", "")
	f.Add("PUT", "/api/Items/%2F/", "application/json", `[`, "Bearer x.y.z")
	f.Add("GET", "/api/me", "", "", "Bearer eyJhbGciOiJub25lIn0.eyJpZCI6MX0.")
	f.Add("OPTIONS", "/raw/~node/list", "text/plain", "x", "Basic Zm9v")
	f.Fuzz(func(t *testing.T, method, path, ctype, body, authz string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://gw"+path, strings.NewReader(body))
		if err != nil {
			return // not a request net/http would hand to a handler
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", authz)
		req.Header.Set("Access-Control-Request-Method", authz)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code >= 400 {
			var e gateway.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Name == "" {
				t.Fatalf("status %d with a body that is not a JSON error: %q", rec.Code, rec.Body.String())
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
