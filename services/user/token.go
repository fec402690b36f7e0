package user

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/faultline/faultline/broker/errs"
)

// MetaToken is the ctx.Meta key that carries the caller's JWT, as an API gateway would
// forward it from the Authorization header (a "Bearer " prefix is accepted).
const MetaToken = "token"

// Claims are the claims of the tokens login issues: the user's id (also as "sub") and email,
// iat and exp. Times come from the runtime's clock, so tokens are deterministic in a
// simulation and expire in virtual time.
type Claims struct {
	UserID int64  `json:"id"`
	Email  string `json:"email"`
	jwt.RegisteredClaims
}

// IssueToken signs an HS256 token for a user, valid for ttl from now.
func IssueToken(secret []byte, ttl time.Duration, now time.Time, userID int64, email string) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("user: empty JWT secret")
	}
	claims := Claims{UserID: userID, Email: email, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// ParseToken verifies a token (HS256 only, signature, exp required, iat not in the future)
// at instant now. Any failure is MoleculerClientError 401 INVALID_TOKEN.
func ParseToken(secret []byte, token string, now time.Time) (*Claims, error) {
	token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, InvalidToken(err.Error())
	}
	if c.UserID <= 0 {
		return nil, InvalidToken("token has no user id")
	}
	return &c, nil
}

// Authenticate reads the token in meta (MetaToken) and verifies it: no token is
// MoleculerClientError 401 NO_TOKEN, a bad one 401 INVALID_TOKEN.
func Authenticate(secret []byte, meta map[string]any, now time.Time) (*Claims, error) {
	tok, _ := meta[MetaToken].(string)
	if strings.TrimSpace(tok) == "" {
		return nil, NoToken()
	}
	return ParseToken(secret, tok, now)
}

// NoToken is MoleculerClientError 401 NO_TOKEN.
func NoToken() *errs.Error {
	return errs.Client("Authentication required: no token in ctx.meta."+MetaToken, 401, "NO_TOKEN", nil)
}

// InvalidToken is MoleculerClientError 401 INVALID_TOKEN.
func InvalidToken(reason string) *errs.Error {
	return errs.Client(fmt.Sprintf("Invalid token: %s", reason), 401, "INVALID_TOKEN", nil)
}
