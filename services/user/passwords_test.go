package user_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/faultline/faultline/services/user"
)

// A remembering bcrypt answers as bcrypt does, the first time and every time after: its
// hashes are bcrypt hashes of their passwords, and a password hashed twice gets the one hash.
func TestRememberingBcryptAnswersAsBcrypt(t *testing.T) {
	p := user.RememberingBcrypt(bcrypt.MinCost)
	h, err := p.Hash([]byte("pa55word"))
	require.NoError(t, err)
	require.NoError(t, bcrypt.CompareHashAndPassword(h, []byte("pa55word")))
	cost, err := bcrypt.Cost(h)
	require.NoError(t, err)
	assert.Equal(t, bcrypt.MinCost, cost)

	again, err := p.Hash([]byte("pa55word"))
	require.NoError(t, err)
	assert.Equal(t, h, again)
	again[0] = 'x' // the caller's copy: what is remembered stays intact
	third, err := p.Hash([]byte("pa55word"))
	require.NoError(t, err)
	assert.Equal(t, h, third)

	for range 2 {
		assert.NoError(t, p.Compare(h, []byte("pa55word")))
		assert.ErrorIs(t, p.Compare(h, []byte("wrong")), bcrypt.ErrMismatchedHashAndPassword)
		assert.Error(t, p.Compare([]byte("not a hash"), []byte("pa55word")))
	}
	other, err := p.Hash([]byte("another"))
	require.NoError(t, err)
	assert.NotEqual(t, h, other)
	assert.NoError(t, p.Compare(other, []byte("another")))
}
