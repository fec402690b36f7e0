package scenarios

import (
	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/scenarios/check"
)

// The history of a run is every client operation on the product register, as Jepsen records
// one: its invoke and complete instants, its input, and its output, or "unknown" when the
// caller cannot tell whether it took effect (a timeout, a lost node). It is journaled as
// check.ClientOp entries, one per completed call, and the linearizable check reads it back.
// It is recorded only when the scenario has a linearizable check, so every other journal
// stays as it was.

// recordsHistory tells whether a run journals its client operations.
func recordsHistory(s *Scenario) bool {
	for _, c := range s.Checks {
		if c.Kind == "linearizable" {
			return true
		}
	}
	return false
}

// definite are the errors after which the caller knows the operation did not happen (the
// request was refused before it reached a handler, or the handler refused it); after any
// other error, the outcome is unknown.
var definite = map[string]bool{
	errs.NameValidation: true, errs.NameServiceNotFound: true, errs.NameServiceNotAvailable: true,
	errs.NameRequestSkipped: true, errs.NameQueueIsFull: true, errs.NameMaxCallLevel: true,
	"EntityNotFoundError": true,
}

// recordOp journals one client operation on a modelled action (others are not recorded).
func (c *conductor) recordOp(node string, client int, action string, params map[string]any, invoked, completed int64, res any, err error) {
	if !check.ModelledAction(action) {
		return
	}
	attrs := map[string]any{"client": client, "action": action, "invoke": invoked, "complete": completed}
	for _, k := range []string{"id", "price", "stock", "quantity"} {
		if v, ok := params[k]; ok {
			attrs["in."+k] = v
		}
	}
	switch {
	case err == nil:
		var out struct {
			Price    *float64 `json:"price"`
			Stock    *int64   `json:"stock"`
			Replayed bool     `json:"replayed"`
		}
		if broker.Decode(res, &out) != nil {
			attrs["unknown"] = true
			break
		}
		attrs["ok"] = true
		if out.Price != nil {
			attrs["out.price"] = *out.Price
		}
		if out.Stock != nil {
			attrs["out.stock"] = *out.Stock
		}
		if out.Replayed {
			attrs["replayed"] = true
		}
	case errs.From(err).Type == "INSUFFICIENT_STOCK":
		// A definite answer of the counter: not enough stock, nothing taken.
		attrs["ok"] = false
		attrs["error"] = errs.NameOf(err)
		if data, isMap := errs.From(err).Data.(map[string]any); isMap {
			if v, has := data["available"]; has {
				attrs["out.stock"] = v
			}
		}
	case definite[errs.NameOf(err)]:
		return // it did not happen: no constraint on the register
	default:
		attrs["unknown"] = true
		attrs["error"] = errs.NameOf(err)
	}
	c.c.Journal.Record(node, check.ClientOp, attrs)
}
