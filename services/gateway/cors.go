package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CORS configures cross-origin requests. A route's CORS replaces the gateway's.
type CORS struct {
	// Origins allowed: "*" (the default when empty) or exact origins and globs with '*' and
	// '?' ("https://*.example.com"). A request from another origin is 403
	// ForbiddenError ORIGIN_NOT_ALLOWED.
	Origins []string
	// Methods answered to a preflight (default GET, HEAD, PUT, PATCH, POST, DELETE).
	Methods []string
	// AllowedHeaders answered to a preflight; empty echoes Access-Control-Request-Headers.
	AllowedHeaders []string
	// ExposedHeaders the browser may read.
	ExposedHeaders []string
	// Credentials sends Access-Control-Allow-Credentials: true. Browsers refuse "*" with
	// credentials, so with Credentials the allowed origin is echoed instead of "*".
	Credentials bool
	// MaxAge lets browsers cache a preflight answer (whole seconds).
	MaxAge time.Duration
}

var defaultCORSMethods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"}

// writeHeaders sets the CORS headers for a request carrying an Origin. It returns false
// when the origin is not allowed.
func (c *CORS) writeHeaders(h http.Header, r *http.Request, preflight bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // same-origin or not a browser: nothing to say
	}
	any := len(c.Origins) == 0
	ok := any
	for _, o := range c.Origins {
		if o == "*" {
			any, ok = true, true
			break
		}
		if globMatchOrigin(o, origin) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	if any && !c.Credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposedHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ", "))
	}
	if !preflight {
		return true
	}
	if len(c.AllowedHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowedHeaders, ", "))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && validHeaderValue(req) {
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Headers", req)
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if s := int64(c.MaxAge / time.Second); s > 0 {
		h.Set("Access-Control-Max-Age", strconv.FormatInt(s, 10))
	}
	return true
}

// isPreflight reports a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// globMatchOrigin matches an origin against a pattern where '*' is any run of characters
// and '?' one character.
func globMatchOrigin(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if globMatchOrigin(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}
