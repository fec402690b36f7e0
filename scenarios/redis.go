package scenarios

import (
	"github.com/alicebob/miniredis/v2"

	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/testutil"
)

// sharedRedis is the cluster's one Redis-protocol cacher (embedded miniredis, its TTLs on
// the simulated clock), used by every node whose options say cacher: redis.
type sharedRedis struct {
	*testutil.SimRedis
	mr *miniredis.Miniredis
}

func newSharedRedis(clock rt.Clock) (*sharedRedis, error) {
	mr, err := testutil.NewSimMiniredis(clock)
	if err != nil {
		return nil, err
	}
	r, err := testutil.NewSimRedis(mr, clock)
	if err != nil {
		mr.Close()
		return nil, err
	}
	return &sharedRedis{SimRedis: r, mr: mr}, nil
}

func (s *sharedRedis) Close() error {
	err := s.SimRedis.Close()
	s.mr.Close()
	return err
}
