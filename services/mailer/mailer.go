// Package mailer implements the two messaging services, "email" and "notification". Both
// listen to order.created, order.statusUpdated and user.registered and record what they
// would send in an inspectable [Outbox]; they differ only in the recipient (an email
// address, or "user:<id>" for a push notification) and the wording.
//
// A send takes Config.Latency (plus up to Config.Jitter) on the runtime's clock and fails
// with probability Config.FailureRate (drawn from the runtime's seeded random source, so a
// simulation is reproducible), up to Config.Attempts attempts Config.RetryDelay apart; so
// a service can be made slow or flaky. A send that fails every attempt is recorded in
// Outbox.Failed and the event handler returns MoleculerRetryableError 503 SEND_FAILED
// (journaled as a failed event.handled).
//
// Each message has a key (service, event, entity id and, for status updates, the status):
// a redelivered event finds its key already sent and sends nothing (Outbox.Duplicates
// counts it). The outbox stands for the external provider, so it is shared by every node
// running the service and survives their crashes.
//
// order.created and order.statusUpdated payloads carry the order, whose userEmail is the
// recipient. When it is missing, the email service asks user.get for the user's email.
package mailer

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/services/svc"
)

// Service names.
const (
	Email        = "email"
	Notification = "notification"
)

// Events both services handle.
var Events = []string{"order.created", "order.statusUpdated", "user.registered"}

// Config shapes sending.
type Config struct {
	// Latency is how long one send attempt takes.
	Latency time.Duration
	// Jitter adds a uniform random [0, Jitter) to each attempt's latency.
	Jitter time.Duration
	// FailureRate is the probability (0..1) that an attempt fails.
	FailureRate float64
	// Attempts is how many attempts a message gets (default 1).
	Attempts int
	// RetryDelay is the wait between attempts.
	RetryDelay time.Duration
}

// Env is what sending needs of the runtime: a handler builds it from its context; unit
// tests from fakes.
type Env struct {
	// Sleep waits on the runtime's clock.
	Sleep func(d time.Duration) error
	Now   func() time.Time
	Rand  rt.Rand
	// Node is the sending node's ID.
	Node string
}

// EnvOf returns the Env of a broker context.
func EnvOf(ctx *broker.Context) Env {
	return Env{Sleep: ctx.Sleep, Now: ctx.Now, Rand: ctx.Broker().Runtime().Rand(), Node: ctx.Broker().NodeID()}
}

// Service is one messaging service.
type Service struct {
	name   string
	cfg    Config
	outbox *Outbox
}

// New returns the service name (Email or Notification) recording into outbox.
func New(name string, cfg Config, outbox *Outbox) (*Service, error) {
	if name != Email && name != Notification {
		return nil, fmt.Errorf("mailer: unknown service %q (want %q or %q)", name, Email, Notification)
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 1
	}
	if outbox == nil {
		outbox = NewOutbox()
	}
	return &Service{name: name, cfg: cfg, outbox: outbox}, nil
}

// Outbox returns the service's outbox.
func (s *Service) Outbox() *Outbox { return s.outbox }

// Schema returns the broker service.
func (s *Service) Schema() *broker.Service {
	events := map[string]broker.Event{}
	for _, ev := range Events {
		events[ev] = broker.Event{Handler: func(ctx *broker.Context) error {
			return s.Handle(ctx, EnvOf(ctx), ev, ctx.Params)
		}}
	}
	return &broker.Service{Name: s.name, Events: events}
}

// SendFailed is MoleculerRetryableError 503 SEND_FAILED.
func SendFailed(service, key string, attempts int) *errs.Error {
	return errs.Retryable(fmt.Sprintf("%s: sending %s failed after %d attempt(s)", service, key, attempts), 503, "SEND_FAILED",
		map[string]any{"key": key, "attempts": attempts})
}

// Handle turns an event into a message and sends it (see the package doc).
func (s *Service) Handle(c svc.Caller, env Env, event string, payload map[string]any) error {
	m, err := s.compose(c, event, payload)
	if err != nil {
		return err
	}
	return s.Send(env, m)
}

// compose builds the message of an event.
func (s *Service) compose(c svc.Caller, event string, payload map[string]any) (Message, error) {
	m := Message{Service: s.name, Event: event}
	switch event {
	case "order.created", "order.statusUpdated":
		var p struct {
			Order struct {
				ID         int64   `json:"id"`
				UserID     int64   `json:"userId"`
				UserEmail  string  `json:"userEmail"`
				Product    string  `json:"productName"`
				Quantity   int64   `json:"quantity"`
				TotalPrice float64 `json:"totalPrice"`
				Status     string  `json:"status"`
			} `json:"order"`
			Status string `json:"status"`
		}
		if err := svc.Decode(payload, &p); err != nil || p.Order.ID == 0 {
			return m, errs.Client(fmt.Sprintf("%s: %s payload has no order", s.name, event), 422, "BAD_PAYLOAD", nil)
		}
		o := p.Order
		m.Key = fmt.Sprintf("%s:%s:%d", s.name, event, o.ID)
		if event == "order.created" {
			m.Subject = fmt.Sprintf("Order #%d confirmed", o.ID)
			m.Body = fmt.Sprintf("%d × %s, total %.2f", o.Quantity, o.Product, o.TotalPrice)
		} else {
			m.Key += ":" + p.Status
			m.Subject = fmt.Sprintf("Order #%d is %s", o.ID, p.Status)
			m.Body = fmt.Sprintf("Your order #%d is now %s.", o.ID, p.Status)
		}
		if s.name == Notification {
			m.To = fmt.Sprintf("user:%d", o.UserID)
			return m, nil
		}
		m.To = o.UserEmail
		if m.To == "" {
			email, err := lookupEmail(c, o.UserID)
			if err != nil {
				return m, err
			}
			m.To = email
		}
	case "user.registered":
		var p struct {
			User struct {
				ID    int64  `json:"id"`
				Email string `json:"email"`
				Name  string `json:"name"`
			} `json:"user"`
		}
		if err := svc.Decode(payload, &p); err != nil || p.User.ID == 0 {
			return m, errs.Client(fmt.Sprintf("%s: %s payload has no user", s.name, event), 422, "BAD_PAYLOAD", nil)
		}
		m.Key = fmt.Sprintf("%s:%s:%d", s.name, event, p.User.ID)
		m.Subject = fmt.Sprintf("Welcome, %s", p.User.Name)
		m.Body = "Thanks for registering."
		m.To = p.User.Email
		if s.name == Notification {
			m.To = fmt.Sprintf("user:%d", p.User.ID)
		}
	default:
		return m, errs.Client(fmt.Sprintf("%s: no message for event %s", s.name, event), 422, "UNKNOWN_EVENT", nil)
	}
	return m, nil
}

func lookupEmail(c svc.Caller, userID int64) (string, error) {
	res, err := c.Call("user.get", map[string]any{"id": userID})
	if err != nil {
		return "", err
	}
	var u struct {
		Email string `json:"email"`
	}
	if err := svc.Decode(res, &u); err != nil || u.Email == "" {
		return "", errs.Client(fmt.Sprintf("user %d has no email", userID), 422, "NO_RECIPIENT", nil)
	}
	return u.Email, nil
}

// Send sends m unless its key was already sent: each attempt takes the configured latency
// and may fail at the configured rate.
func (s *Service) Send(env Env, m Message) error {
	if !s.outbox.reserve(m.Key) {
		return nil
	}
	for attempt := 1; ; attempt++ {
		m.Attempts = attempt
		err := s.attempt(env)
		if err == nil {
			m.Node, m.At = env.Node, env.Now()
			s.outbox.commit(m)
			return nil
		}
		if attempt >= s.cfg.Attempts {
			m.Node, m.At = env.Node, env.Now()
			ferr := SendFailed(s.name, m.Key, attempt)
			s.outbox.fail(m, ferr)
			return ferr
		}
		if s.cfg.RetryDelay > 0 {
			if err := env.Sleep(s.cfg.RetryDelay); err != nil {
				m.Node, m.At = env.Node, env.Now()
				s.outbox.fail(m, err)
				return err
			}
		}
	}
}

var errAttempt = fmt.Errorf("send attempt failed")

func (s *Service) attempt(env Env) error {
	d := s.cfg.Latency
	if s.cfg.Jitter > 0 && env.Rand != nil {
		d += time.Duration(env.Rand.Int64N(int64(s.cfg.Jitter)))
	}
	if d > 0 {
		if err := env.Sleep(d); err != nil {
			return err
		}
	}
	if s.cfg.FailureRate > 0 && env.Rand != nil && env.Rand.Float64() < s.cfg.FailureRate {
		return errAttempt
	}
	return nil
}
