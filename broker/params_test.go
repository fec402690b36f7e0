package broker_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/rt"
)

// A nil map[string]any given as params is no params: the handler sees {} and a REQ carries
// "params":{} (Moleculer's default), never null, which Moleculer keys as "<action>:null".
func TestNilMapParamsAreEmpty(t *testing.T) {
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	b.MustAddService(&broker.Service{Name: "p", Actions: map[string]broker.Action{
		"raw": {Handler: func(ctx *broker.Context) (any, error) {
			raw, err := json.Marshal(ctx.Params)
			return string(raw), err
		}},
	}})
	require.NoError(t, b.Start())
	defer b.Stop()
	var none map[string]any
	res, err := b.Call("p.raw", none)
	require.NoError(t, err)
	require.Equal(t, "{}", res)
}

// A local call's context carries the caller's map, as Moleculer's does: the broker never
// writes into it. Defaults and conversions of the action's schema go into a copy, which the
// handler sees; params the schema leaves alone are the caller's own map.
func TestLocalParamsAreTheCallersUntilTheValidatorWrites(t *testing.T) {
	b := broker.MustNew(broker.Options{Runtime: rt.NewReal()})
	var seen map[string]any
	b.MustAddService(&broker.Service{Name: "p", Actions: map[string]broker.Action{
		"get": {Params: map[string]any{"id": "number", "limit": map[string]any{"type": "number", "default": 10}, "q": "string|optional|trim"},
			Handler: func(ctx *broker.Context) (any, error) {
				seen = ctx.Params
				return nil, nil
			}},
	}})
	require.NoError(t, b.Start())
	defer b.Stop()

	in := map[string]any{"id": 5.0}
	_, err := b.Call("p.get", in)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": 5.0, "limit": 10}, seen, "the handler sees the default")
	require.Equal(t, map[string]any{"id": 5.0}, in, "the caller's map is not written")

	in = map[string]any{"id": 5.0, "limit": 3.0, "q": " widget "}
	_, err = b.Call("p.get", in)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": 5.0, "limit": 3.0, "q": "widget"}, seen, "the handler sees the trimmed value")
	require.Equal(t, " widget ", in["q"], "the caller keeps its own")

	in = map[string]any{"id": 5.0, "limit": 3.0}
	_, err = b.Call("p.get", in)
	require.NoError(t, err)
	seen["probe"] = true
	require.Equal(t, true, in["probe"], "nothing to write: the handler got the caller's map itself")
}
