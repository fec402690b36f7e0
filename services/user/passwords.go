package user

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Passwords hashes passwords and checks a password against a hash.
type Passwords interface {
	Hash(password []byte) ([]byte, error)
	Compare(hash, password []byte) error
}

// bcryptPasswords is bcrypt at a cost: the default Passwords.
type bcryptPasswords struct{ cost int }

func (p bcryptPasswords) Hash(password []byte) ([]byte, error) {
	return bcrypt.GenerateFromPassword(password, p.cost)
}

func (p bcryptPasswords) Compare(hash, password []byte) error {
	return bcrypt.CompareHashAndPassword(hash, password)
}

// rememberLimit bounds what a RememberingBcrypt keeps: past it, it hashes and compares anew.
const rememberLimit = 10_000

// RememberingBcrypt returns bcrypt at cost that remembers the hash it made for each password
// and the outcome of each comparison, and answers a repeated one from memory. Simulations and
// tests register and log in the same few users run after run, and even at bcrypt.MinCost a
// hash or a comparison costs ~0.3 ms: most of the wall time of a short simulated scenario.
// Answers are bcrypt's (a remembered hash is a bcrypt hash of its password, with its random
// salt: it just is the same one for every registration of that password). It keeps passwords
// in memory: never use it for a service that holds real ones.
func RememberingBcrypt(cost int) Passwords {
	return &rememberingBcrypt{bcrypt: bcryptPasswords{cost: cost}, hashes: map[string][]byte{}, outcomes: map[string]error{}}
}

type rememberingBcrypt struct {
	bcrypt   bcryptPasswords
	mu       sync.Mutex
	hashes   map[string][]byte // password → its hash
	outcomes map[string]error  // hash + "\x00" + password → Compare's answer
}

func (p *rememberingBcrypt) Hash(password []byte) ([]byte, error) {
	p.mu.Lock()
	h, ok := p.hashes[string(password)]
	p.mu.Unlock()
	if ok {
		return append([]byte(nil), h...), nil
	}
	h, err := p.bcrypt.Hash(password)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if len(p.hashes) < rememberLimit {
		p.hashes[string(password)] = append([]byte(nil), h...)
	}
	p.mu.Unlock()
	return h, nil
}

func (p *rememberingBcrypt) Compare(hash, password []byte) error {
	key := string(hash) + "\x00" + string(password) // a bcrypt hash holds no NUL
	p.mu.Lock()
	err, ok := p.outcomes[key]
	p.mu.Unlock()
	if ok {
		return err
	}
	err = p.bcrypt.Compare(hash, password)
	p.mu.Lock()
	if len(p.outcomes) < rememberLimit {
		p.outcomes[key] = err
	}
	p.mu.Unlock()
	return err
}
