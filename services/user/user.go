// Package user is the user service: register (bcrypt), login (an HS256 JWT), me, and the
// read-only CRUD actions find, count, list and get (which never return password hashes).
//
// Actions:
//
//	register {email, password, name}  → user; emits "user.registered" {user}
//	login    {email, password}        → {token, user}
//	me       (ctx.meta.token)         → user
//	find, count, list, get            → see package crud
//
// Errors (name, code, type):
//
//	register: email already registered       MoleculerClientError  422  EMAIL_EXISTS        data {email}
//	login: unknown email or wrong password    MoleculerClientError  401  INVALID_CREDENTIALS
//	me: no token in ctx.meta.token            MoleculerClientError  401  NO_TOKEN
//	me: bad, expired or foreign token         MoleculerClientError  401  INVALID_TOKEN
//	me: the token's user no longer exists     EntityNotFoundError   404  ENTITY_NOT_FOUND    data {id}
//	missing or malformed params               ValidationError       422  VALIDATION_ERROR    data [{type, field, message, ...}]
//
// Tokens carry {id, email, sub, iat, exp}; iat and exp come from the runtime's clock
// (ctx.Now()), never the wall clock. Emails are stored trimmed and lower-cased.
package user

import (
	"context"
	"errors"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/crud"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/svc"
)

// Name is the service name.
const Name = "user"

// Model is the users table.
var Model = db.Model{Name: "users", Fields: []db.Field{
	{Name: "email", Type: db.TypeString},
	{Name: "passwordHash", Type: db.TypeString},
	{Name: "name", Type: db.TypeString},
	{Name: "createdAt", Type: db.TypeTime},
}, Unique: [][]string{{"email"}}}

// PublicFields are the fields actions return.
var PublicFields = []string{"id", "email", "name", "createdAt"}

// Config configures the service.
type Config struct {
	// Adapter stores Model; nodes of a cluster share one.
	Adapter db.Adapter
	// JWTSecret signs and verifies tokens. Required.
	JWTSecret []byte
	// TokenTTL is how long a token is valid (default 24 h).
	TokenTTL time.Duration
	// BcryptCost is the password hashing cost (default bcrypt.DefaultCost; tests and
	// simulations use bcrypt.MinCost).
	BcryptCost int
	// Passwords hashes and checks passwords (default: bcrypt at BcryptCost).
	Passwords Passwords
}

// Service is the user service.
type Service struct {
	cfg  Config
	crud *crud.Mixin
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Adapter == nil {
		return nil, errors.New("user: Config.Adapter is required")
	}
	if len(cfg.JWTSecret) == 0 {
		return nil, errors.New("user: Config.JWTSecret is required")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.Passwords == nil {
		cfg.Passwords = bcryptPasswords{cost: cfg.BcryptCost}
	}
	return &Service{cfg: cfg, crud: crud.New(crud.Config{Name: Name, Adapter: cfg.Adapter, Fields: PublicFields})}, nil
}

// Crud returns the service's data mixin.
func (s *Service) Crud() *crud.Mixin { return s.crud }

// Schema returns the broker service.
func (s *Service) Schema() *broker.Service {
	return s.crud.Merge(&broker.Service{
		Name: Name,
		Actions: map[string]broker.Action{
			"register": {
				Params: map[string]any{
					"email":    "email",
					"password": "string|min:6|max:72",
					"name":     "string|min:1|max:100",
				},
				Handler: func(ctx *broker.Context) (any, error) {
					var in RegisterInput
					if err := svc.Decode(ctx.Params, &in); err != nil {
						return nil, errs.Validation(err.Error(), nil)
					}
					return s.Register(ctx, ctx, ctx.Now(), in)
				},
			},
			"login": {
				Params: map[string]any{"email": "string|min:1", "password": "string|min:1"},
				Handler: func(ctx *broker.Context) (any, error) {
					var in LoginInput
					if err := svc.Decode(ctx.Params, &in); err != nil {
						return nil, errs.Validation(err.Error(), nil)
					}
					return s.Login(ctx, ctx.Now(), in)
				},
			},
			"me": {Handler: func(ctx *broker.Context) (any, error) {
				claims, err := user(s.cfg.JWTSecret, ctx)
				if err != nil {
					return nil, err
				}
				return s.Me(ctx, claims)
			}},
		},
	}, "find", "count", "list", "get")
}

func user(secret []byte, ctx *broker.Context) (*Claims, error) {
	return Authenticate(secret, ctx.Meta, ctx.Now())
}

// RegisterInput are register's params.
type RegisterInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// LoginInput are login's params.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResult is what login returns.
type LoginResult struct {
	Token string    `json:"token"`
	User  db.Entity `json:"user"`
}

// EmailExists is MoleculerClientError 422 EMAIL_EXISTS.
func EmailExists(email string) *errs.Error {
	return errs.Client("Email is already registered.", 422, "EMAIL_EXISTS", map[string]any{"email": email})
}

// InvalidCredentials is MoleculerClientError 401 INVALID_CREDENTIALS.
func InvalidCredentials() *errs.Error {
	return errs.Client("Wrong email or password.", 401, "INVALID_CREDENTIALS", nil)
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Register stores a new user with a bcrypt hash of the password and emits "user.registered"
// {user}. The email is unique in Model, so of two concurrent registrations of one email,
// from any nodes or processes sharing the database, the store keeps one and the other is
// EMAIL_EXISTS.
func (s *Service) Register(ctx context.Context, c svc.Caller, now time.Time, in RegisterInput) (db.Entity, error) {
	email := normEmail(in.Email)
	if email == "" {
		return nil, crud.Invalid("email", "The 'email' field must not be empty.", in.Email)
	}
	hash, err := s.cfg.Passwords.Hash([]byte(in.Password))
	if err != nil {
		return nil, crud.Invalid("password", "The password cannot be hashed: "+err.Error(), nil)
	}
	u, err := s.crud.Insert(ctx, db.Entity{"email": email, "passwordHash": string(hash), "name": in.Name, "createdAt": now})
	if errors.Is(err, crud.ErrDuplicateKey) {
		return nil, EmailExists(email)
	}
	if err != nil {
		return nil, err
	}
	pub := s.crud.Transform(u)
	if err := c.Emit("user.registered", map[string]any{"user": pub}); err != nil {
		return nil, err
	}
	return pub, nil
}

// dummyHash is compared against when the email is unknown, so both failures cost the same.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("faultline-no-such-user"), bcrypt.MinCost)

// Login checks the credentials and returns a token valid for TokenTTL from now.
func (s *Service) Login(ctx context.Context, now time.Time, in LoginInput) (LoginResult, error) {
	u, err := s.crud.FindOne(ctx, db.Query{"email": normEmail(in.Email)})
	if errors.Is(err, crud.ErrEntityNotFound) {
		_ = s.cfg.Passwords.Compare(dummyHash, []byte(in.Password))
		return LoginResult{}, InvalidCredentials()
	}
	if err != nil {
		return LoginResult{}, err
	}
	hash, _ := u["passwordHash"].(string)
	if s.cfg.Passwords.Compare([]byte(hash), []byte(in.Password)) != nil {
		return LoginResult{}, InvalidCredentials()
	}
	id, _ := u[db.IDField].(int64)
	email, _ := u["email"].(string)
	tok, err := IssueToken(s.cfg.JWTSecret, s.cfg.TokenTTL, now, id, email)
	if err != nil {
		return LoginResult{}, errs.New(err.Error(), 500, "TOKEN_ERROR", nil)
	}
	return LoginResult{Token: tok, User: s.crud.Transform(u)}, nil
}

// Me returns the authenticated user.
func (s *Service) Me(ctx context.Context, claims *Claims) (db.Entity, error) {
	u, err := s.crud.FindByID(ctx, claims.UserID)
	if err != nil {
		return nil, err
	}
	return s.crud.Transform(u), nil
}
