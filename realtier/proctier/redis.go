package proctier

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// sharedRedis is the one Redis every redis-cached node process shares, as the nodes of a
// Moleculer cluster share theirs: a redis-server on PATH started for the run, else
// miniredis (a Redis protocol server in this process). Not $REDIS_URL: the nodes use
// Moleculer's key layout (MOL-…), so two runs on one server would read each other's
// entries, and a stale entry from the last run would fail this one's coherence check.
type sharedRedis struct {
	url   string
	what  string
	close func()
}

func (t *tier) redisURL() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.redis == nil {
		r, err := t.newRedis()
		if err != nil {
			return "", fmt.Errorf("tier %s: redis: %w", t.name, err)
		}
		t.redis = r
	}
	return t.redis.url, nil
}

func startRedis() (*sharedRedis, error) {
	if bin, err := exec.LookPath("redis-server"); err == nil {
		if r, err := startRedisServer(bin); err == nil {
			return r, nil
		}
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, err
	}
	return &sharedRedis{url: "redis://" + mr.Addr() + "/0", what: "miniredis", close: mr.Close}, nil
}

// startRedisServer runs a throwaway redis-server on a free loopback port, without
// persistence, and waits until it accepts connections.
func startRedisServer(bin string) (*sharedRedis, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() { _ = cmd.Process.Kill(); <-done }
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &sharedRedis{url: "redis://" + addr + "/0", what: "redis-server", close: stop}, nil
		}
	}
	stop()
	return nil, fmt.Errorf("redis-server did not listen on %s", addr)
}
