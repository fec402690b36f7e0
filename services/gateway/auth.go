package gateway

import (
	"strings"

	"github.com/faultline/faultline/services/user"
)

// BearerToken returns the token of an "Authorization: Bearer <token>" header ("" when the
// header is absent or uses another scheme).
func BearerToken(c *Call) string {
	h := strings.TrimSpace(c.Request.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// JWTOptions configure JWT.
type JWTOptions struct {
	// Optional lets requests without a token through as anonymous (meta.user nil); a bad
	// token is still rejected.
	Optional bool
}

// JWT returns an Authenticate hook that verifies the Bearer token with HS256 and the given
// secret (package user's tokens, as user.login issues them), on the gateway broker's clock:
// tokens expire in virtual time in a simulation. The user it returns, and the gateway puts
// in meta.user, is {id, email}.
//
// No token is 401 UnAuthorizedError NO_TOKEN; a token that is malformed, expired, signed
// with another secret or another algorithm (alg "none" included), is 401 UnAuthorizedError
// INVALID_TOKEN.
func JWT(secret []byte, opts JWTOptions) func(c *Call) (any, error) {
	return func(c *Call) (any, error) {
		tok := BearerToken(c)
		if tok == "" {
			if opts.Optional && c.Request.Header.Get("Authorization") == "" {
				return nil, nil
			}
			return nil, Unauthorized(ErrNoToken, nil)
		}
		claims, err := user.ParseToken(secret, tok, c.Broker.Runtime().Now())
		if err != nil {
			return nil, Unauthorized(ErrInvalidToken, nil)
		}
		return map[string]any{"id": claims.UserID, "email": claims.Email}, nil
	}
}
