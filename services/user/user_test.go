package user_test

import (
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/svc/svcmock"
	"github.com/faultline/faultline/services/user"
)

var (
	secret = []byte("test-secret")
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newService(t *testing.T) (*user.Service, db.Adapter) {
	t.Helper()
	a := db.NewMemory(user.Model)
	require.NoError(t, a.Connect(t.Context()))
	s, err := user.New(user.Config{Adapter: a, JWTSecret: secret, TokenTTL: time.Hour, BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	return s, a
}

func requireErr(t *testing.T, err error, name string, code int, typ string) *errs.Error {
	t.Helper()
	require.Error(t, err)
	e := errs.From(err)
	require.Equal(t, name, e.Name, "%v", err)
	require.Equal(t, code, e.Code, "%v", err)
	require.Equal(t, typ, e.Type, "%v", err)
	return e
}

func register(t *testing.T, s *user.Service, email string) db.Entity {
	t.Helper()
	c := svcmock.NewCaller(t)
	c.EXPECT().Emit("user.registered", mock.Anything).Return(nil).Once()
	u, err := s.Register(t.Context(), c, t0, user.RegisterInput{Email: email, Password: "pa55word", Name: "Ada"})
	require.NoError(t, err)
	return u
}

func TestRegisterEmitsAndHashes(t *testing.T) {
	s, a := newService(t)
	c := svcmock.NewCaller(t)
	want := db.Entity{"id": int64(1), "email": "ada@example.com", "name": "Ada", "createdAt": t0}
	c.EXPECT().Emit("user.registered", map[string]any{"user": want}).Return(nil).Once()
	u, err := s.Register(t.Context(), c, t0, user.RegisterInput{Email: "  Ada@Example.COM ", Password: "pa55word", Name: "Ada"})
	require.NoError(t, err)
	assert.Equal(t, want, u, "no password hash in the result")

	stored, err := a.FindByID(t.Context(), 1)
	require.NoError(t, err)
	hash := stored["passwordHash"].(string)
	assert.NotEqual(t, "pa55word", hash)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("pa55word")))
	cost, err := bcrypt.Cost([]byte(hash))
	require.NoError(t, err)
	assert.Equal(t, bcrypt.MinCost, cost)
}

func TestDuplicateEmail(t *testing.T) {
	s, a := newService(t)
	register(t, s, "ada@example.com")
	c := svcmock.NewCaller(t) // a duplicate emits nothing
	_, err := s.Register(t.Context(), c, t0, user.RegisterInput{Email: "ADA@example.com", Password: "other-pass", Name: "Eve"})
	e := requireErr(t, err, "MoleculerClientError", 422, "EMAIL_EXISTS")
	assert.Equal(t, map[string]any{"email": "ada@example.com"}, e.Data)
	assert.False(t, e.Retryable)
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestConcurrentRegistrationsStoreOneUser(t *testing.T) {
	s, a := newService(t)
	c := svcmock.NewCaller(t)
	c.EXPECT().Emit("user.registered", mock.Anything).Return(nil).Once()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for range 8 {
		wg.Go(func() {
			_, err := s.Register(t.Context(), c, t0, user.RegisterInput{Email: "race@example.com", Password: "pa55word", Name: "R"})
			if err != nil {
				assert.Equal(t, "EMAIL_EXISTS", errs.From(err).Type)
				mu.Lock()
				failures++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 7, failures)
	n, err := a.Count(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestLoginIssuesATokenOnTheRuntimeClock(t *testing.T) {
	s, _ := newService(t)
	register(t, s, "ada@example.com")
	res, err := s.Login(t.Context(), t0, user.LoginInput{Email: "ADA@example.com", Password: "pa55word"})
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", res.User["email"])
	assert.NotContains(t, res.User, "passwordHash")

	claims, err := user.ParseToken(secret, res.Token, t0.Add(59*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(1), claims.UserID)
	assert.Equal(t, "1", claims.Subject)
	assert.Equal(t, t0, claims.IssuedAt.Time.UTC(), "iat is the virtual now")
	assert.Equal(t, t0.Add(time.Hour), claims.ExpiresAt.Time.UTC())

	_, err = user.ParseToken(secret, res.Token, t0.Add(61*time.Minute))
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_TOKEN")
	_, err = user.ParseToken(secret, res.Token, t0.Add(-time.Minute))
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_TOKEN") // issued in the future
	_, err = user.ParseToken([]byte("other"), res.Token, t0)
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_TOKEN")

	// Unsigned tokens and other algorithms are refused.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"id": 1, "exp": t0.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = user.ParseToken(secret, none, t0)
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_TOKEN")
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"id": 1, "exp": t0.Add(time.Hour).Unix()}).SignedString(secret)
	require.NoError(t, err)
	_, err = user.ParseToken(secret, hs512, t0)
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_TOKEN")
}

func TestBadCredentials(t *testing.T) {
	s, _ := newService(t)
	register(t, s, "ada@example.com")
	_, err := s.Login(t.Context(), t0, user.LoginInput{Email: "ada@example.com", Password: "wrong"})
	e := requireErr(t, err, "MoleculerClientError", 401, "INVALID_CREDENTIALS")
	assert.False(t, e.Retryable)
	_, err = s.Login(t.Context(), t0, user.LoginInput{Email: "who@example.com", Password: "pa55word"})
	requireErr(t, err, "MoleculerClientError", 401, "INVALID_CREDENTIALS")
}

func TestAuthenticateAndMe(t *testing.T) {
	s, a := newService(t)
	register(t, s, "ada@example.com")
	res, err := s.Login(t.Context(), t0, user.LoginInput{Email: "ada@example.com", Password: "pa55word"})
	require.NoError(t, err)

	_, err = user.Authenticate(secret, map[string]any{}, t0)
	requireErr(t, err, "MoleculerClientError", 401, "NO_TOKEN")
	claims, err := user.Authenticate(secret, map[string]any{user.MetaToken: "Bearer " + res.Token}, t0)
	require.NoError(t, err)
	me, err := s.Me(t.Context(), claims)
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", me["email"])

	_, err = a.RemoveByID(t.Context(), 1)
	require.NoError(t, err)
	_, err = s.Me(t.Context(), claims)
	requireErr(t, err, "EntityNotFoundError", 404, "ENTITY_NOT_FOUND")
}

func TestNewNeedsASecret(t *testing.T) {
	_, err := user.New(user.Config{Adapter: db.NewMemory(user.Model)})
	assert.Error(t, err)
}
