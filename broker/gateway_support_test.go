package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/testutil"
)

// TestResponseMetaAndRestAcrossNodes: WithResponseMeta receives the meta a remote action
// set (on success and on failure), and an action's Rest travels in INFO to ServiceList.
func TestResponseMetaAndRestAcrossNodes(t *testing.T) {
	c := testutil.NewSim(1)
	defer c.Close()
	caller := c.MustAddNode("caller", broker.Options{})
	c.MustAddNode("svc-1", broker.Options{}, &broker.Service{Name: "svc", Settings: map[string]any{"rest": "/s"}, Actions: map[string]broker.Action{
		"ok": {Rest: "GET /ok", Handler: func(ctx *broker.Context) (any, error) {
			ctx.Meta["$statusCode"] = 201
			return "done", nil
		}},
		"bad": {Handler: func(ctx *broker.Context) (any, error) {
			ctx.Meta["$responseHeaders"] = map[string]any{"X-Why": "because"}
			return nil, errs.Client("no", 409, "NO", nil)
		}},
	}})
	c.Run(t, func() {
		require.NoError(t, c.Start())
		meta := map[string]any{}
		res, err := caller.Call("svc.ok", nil, broker.WithMeta(map[string]any{"in": "x"}), broker.WithResponseMeta(meta))
		require.NoError(t, err)
		assert.Equal(t, "done", res)
		assert.Equal(t, map[string]any{"in": "x", "$statusCode": 201.0}, meta, "numbers come back as JSON numbers")

		meta = map[string]any{}
		_, err = caller.Call("svc.bad", nil, broker.WithResponseMeta(meta))
		require.Error(t, err)
		assert.Equal(t, map[string]any{"$responseHeaders": map[string]any{"X-Why": "because"}}, meta)
	})
	var found bool
	for _, s := range caller.ServiceList() {
		if s.FullName == "svc" {
			found = true
			assert.Equal(t, "GET /ok", s.Actions["svc.ok"].Rest)
			assert.Nil(t, s.Actions["svc.bad"].Rest)
			assert.Equal(t, "/s", s.Settings["rest"])
		}
	}
	assert.True(t, found, "the remote service is listed")
}
