package mailer

import (
	"sort"
	"sync"
	"time"
)

// Message is one message a service sent (or tried to).
type Message struct {
	Seq int `json:"seq"`
	// Service is "email" or "notification".
	Service string `json:"service"`
	// Event is the event that caused the message.
	Event string `json:"event"`
	// Key identifies the message: "<service>:<event>:<entity id>[:<status>]". A message is
	// sent at most once per key, so a redelivered event sends nothing new.
	Key string `json:"key"`
	// To is an email address (email) or "user:<id>" (notification).
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Node is the node whose handler sent it.
	Node string    `json:"node"`
	At   time.Time `json:"at"`
	// Attempts is how many send attempts it took.
	Attempts int `json:"attempts"`
}

// Failure is a message whose every attempt failed.
type Failure struct {
	Message
	Error string `json:"error"`
}

// Outbox records what was sent. It stands for the mail or push provider, outside the
// cluster: nodes share it and it survives their crashes. It is safe for concurrent use.
type Outbox struct {
	mu         sync.Mutex
	sent       []Message
	failed     []Failure
	duplicates int
	keys       map[string]bool // sent or in flight
	seq        int
}

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox { return &Outbox{keys: map[string]bool{}} }

// reserve claims key for a send; false means it was sent or is being sent (a duplicate).
func (o *Outbox) reserve(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys[key] {
		o.duplicates++
		return false
	}
	o.keys[key] = true
	return true
}

func (o *Outbox) commit(m Message) Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	m.Seq = o.seq
	o.sent = append(o.sent, m)
	return m
}

func (o *Outbox) fail(m Message, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.keys, m.Key) // a later delivery of the event may try again
	o.seq++
	m.Seq = o.seq
	o.failed = append(o.failed, Failure{Message: m, Error: err.Error()})
}

// Sent returns the sent messages, in sending order.
func (o *Outbox) Sent() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.sent...)
}

// Failed returns the messages given up on, in order.
func (o *Outbox) Failed() []Failure {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Failure(nil), o.failed...)
}

// Duplicates returns how many deliveries were not sent because their message already was.
func (o *Outbox) Duplicates() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.duplicates
}

// Count returns how many messages were sent for an event ("" for all).
func (o *Outbox) Count(event string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.sent {
		if event == "" || m.Event == event {
			n++
		}
	}
	return n
}

// Keys returns the keys of the sent messages, sorted.
func (o *Outbox) Keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.sent))
	for _, m := range o.sent {
		out = append(out, m.Key)
	}
	sort.Strings(out)
	return out
}

// Reset empties the outbox.
func (o *Outbox) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent, o.failed, o.duplicates, o.keys, o.seq = nil, nil, 0, map[string]bool{}, 0
}
