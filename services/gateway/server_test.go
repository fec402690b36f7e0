package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/gateway"
	"github.com/faultline/faultline/testutil"
)

// TestListenAndSlowClients starts the gateway's own server (Settings.Addr) and checks that a
// client dribbling its headers or its body is cut off by the server's read timeouts instead
// of holding the connection.
func TestListenAndSlowClients(t *testing.T) {
	s := testSettings()
	s.Addr = "127.0.0.1:0"
	s.ReadHeaderTimeout, s.ReadTimeout = 200*time.Millisecond, 300*time.Millisecond
	g := gateway.MustNew(s)
	c := testutil.MustBuild(t, testutil.Spec{Tier: testutil.TierWall, Nodes: []testutil.NodeSpec{
		{ID: "gw", Define: func() []*broker.Service { return []*broker.Service{g.Schema(), echoService()} }},
	}})
	require.NoError(t, c.Start())
	require.NoError(t, c.WaitForServices("echo"))
	addr := g.Addr().String()

	res, err := http.Get("http://" + addr + "/api/say/ada")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)

	// Headers never finished.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /api/say/ada HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(conn)
	require.NoError(t, err, "the server closes the connection (EOF), the client's deadline does not expire")

	// A body announced but never sent: the read fails and the answer is a JSON 400.
	conn2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn2.Close()
	_, err = io.WriteString(conn2, "POST /api/say HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"a\":")
	require.NoError(t, err)
	require.NoError(t, conn2.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn2), nil)
	if err == nil { // the server answered before closing
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, 400, resp.StatusCode)
		assert.True(t, strings.Contains(string(body), `"INVALID_REQUEST_BODY"`), string(body))
	}

	require.NoError(t, c.Stop("gw"))
	_, err = http.Get("http://" + addr + "/api/say/ada")
	assert.Error(t, err, "stopping the service shuts its server down")
}
