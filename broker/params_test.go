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
