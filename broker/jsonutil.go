package broker

import (
	"encoding/json"

	"github.com/faultline/faultline/broker/packet"
)

// jsonMarshal is json.Marshal, byte for byte, through the packet codec's fast path.
func jsonMarshal(v any) (json.RawMessage, error) { return packet.AppendValue(nil, v) }

func jsonUnmarshal(raw []byte, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if m, ok := v.(*map[string]any); ok && *m == nil {
		var err error
		*m, err = packet.DecodeObject(raw) // json.Unmarshal's result, through the fast path
		return err
	}
	return json.Unmarshal(raw, v)
}

// Decode converts a call result (a value of a local handler, or JSON-decoded maps from a
// remote one or the cache) into out, through JSON.
func Decode(result any, out any) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
