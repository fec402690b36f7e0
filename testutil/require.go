package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireEnv lists the outside programs (comma-separated keys: chromium, xmllint, redis,
// node) that must be present. CI sets it, so that a test which would skip for want of one
// fails there instead.
const RequireEnv = "FAULTLINE_REQUIRE"

// Required reports whether FAULTLINE_REQUIRE lists key.
func Required(key string) bool {
	for _, k := range strings.Split(os.Getenv(RequireEnv), ",") {
		if strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// RequireProgram returns the path of an outside program a test needs, looked up on PATH
// under names (key itself when none are given). When it is missing the test skips with one
// line naming it and how to install it, or fails when FAULTLINE_REQUIRE lists key: a
// developer machine with only Go passes, CI cannot skip silently.
func RequireProgram(t testing.TB, key, installHint string, names ...string) string {
	t.Helper()
	if p := LookProgram(key, names...); p != "" {
		return p
	}
	Missing(t, key, installHint)
	return ""
}

// LookProgram returns the path of the first of names (or key) found on PATH, or "".
func LookProgram(key string, names ...string) string {
	if len(names) == 0 {
		names = []string{key}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Missing ends a test for want of an outside program: a one-line skip, or a failure when
// FAULTLINE_REQUIRE lists key.
func Missing(t testing.TB, key, installHint string) {
	t.Helper()
	if Required(key) {
		t.Fatalf("%s not found: %s (%s=%s requires it)", key, installHint, RequireEnv, os.Getenv(RequireEnv))
	}
	t.Skipf("%s not found: %s (CI requires it via %s)", key, installHint, RequireEnv)
}

// RequiredKeys are the keys FAULTLINE_REQUIRE understands.
var RequiredKeys = []string{"chromium", "xmllint", "redis", "node"}

// UnknownRequired returns the keys of FAULTLINE_REQUIRE that name no known program, so a
// typo in CI's setting is caught rather than silently requiring nothing.
func UnknownRequired() []string {
	var bad []string
	for _, k := range strings.Split(os.Getenv(RequireEnv), ",") {
		if k = strings.TrimSpace(k); k != "" && !slices.Contains(RequiredKeys, k) {
			bad = append(bad, k)
		}
	}
	return bad
}

// RedisURL returns the URL of a real Redis server for a test: REDIS_URL when set, else a
// redis-server started on a free local port for this test (stopped at its end). With
// neither, the test skips in one line, or fails when FAULTLINE_REQUIRE lists redis.
func RedisURL(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("REDIS_URL"); url != "" {
		return url
	}
	bin := RequireProgram(t, "redis", "apt-get install redis-server, or set REDIS_URL", "redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redis-server: no free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Waiting for a process to listen is set-up, not a timing assertion: poll up to 10 s.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s within 10 s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr + "/0"
}
