package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// resp is one HTTP exchange's outcome.
type resp struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

// do sends a request; body is JSON-encoded unless it is a string (sent as is).
func do(t *testing.T, srv *httptest.Server, method, path string, body any, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.JSON)
	}
	return out
}

// requireError asserts an error response: status, JSON body with name, code and type.
func requireError(t *testing.T, r resp, status int, name, typ string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Raw)
	require.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
	require.NotNil(t, r.JSON, "body: %s", r.Raw)
	require.Equal(t, name, r.JSON["name"], "body: %s", r.Raw)
	require.Equal(t, typ, r.JSON["type"], "body: %s", r.Raw)
	for _, k := range []string{"name", "message", "code", "type", "data"} {
		require.Contains(t, r.JSON, k)
	}
}
