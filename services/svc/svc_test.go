package svc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/services/svc"
)

func TestStorageDropsTheDeadlineOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	s := svc.Storage(ctx)
	_, has := s.Deadline()
	assert.False(t, has)
	assert.NoError(t, s.Err())
	cancel()
	<-s.Done()
	assert.ErrorIs(t, s.Err(), context.Canceled)

	plain := context.Background()
	assert.Equal(t, plain, svc.Storage(plain))
	assert.NotNil(t, svc.Storage(nil)) //nolint:staticcheck // nil is handled
}
