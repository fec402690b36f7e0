package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeShopOverHTTP builds faultline, starts `faultline serve` on a free port and walks
// the shop over real HTTP: list products, register, login, order; then SIGTERM stops it
// cleanly with exit 0.
func TestServeShopOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "faultline")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "shop.db"))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer // read while serve runs, if it fails to start
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var base string
	urlRe := regexp.MustCompile(`listening on (http://\S+)`)
	for base == "" {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "serve ended before listening: %s", stderr.String())
			if m := urlRe.FindStringSubmatch(l); m != nil {
				base = m[1]
			}
		case <-time.After(time.Minute): // set-up bound, not an assertion on timing
			t.Fatalf("serve did not start: %s", stderr.String())
		}
	}

	call := func(method, path, body, token string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
		return res.StatusCode, m
	}

	st, list := call("GET", "/api/products", "", "")
	require.Equal(t, 200, st, "%v", list)
	assert.EqualValues(t, 3, list["total"], "the demo products")
	st, m := call("POST", "/api/auth/register", `{"email":"ada@example.com","password":"s3cret-pass","name":"Ada"}`, "")
	require.Equal(t, 200, st, "%v", m)
	st, m = call("POST", "/api/auth/login", `{"email":"ada@example.com","password":"s3cret-pass"}`, "")
	require.Equal(t, 200, st, "%v", m)
	tok, _ := m["token"].(string)
	require.NotEmpty(t, tok)
	st, m = call("POST", "/api/orders", `{"productId":1,"quantity":2}`, "")
	assert.Equal(t, 401, st)
	assert.Equal(t, "NO_TOKEN", m["type"])
	st, m = call("POST", "/api/orders", `{"productId":1,"quantity":2}`, tok)
	require.Equal(t, 200, st, "%v", m)
	assert.Equal(t, 5.0, m["totalPrice"])
	st, m = call("GET", "/api/products/1", "", "")
	require.Equal(t, 200, st, "%v", m)
	assert.EqualValues(t, 98, m["stock"])

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	require.NoError(t, cmd.Wait(), "exit after SIGTERM; stderr: %s", stderr.String())
	assert.Equal(t, []string{"faultline serve: stopping", "faultline serve: stopped"}, rest[len(rest)-2:])
}
