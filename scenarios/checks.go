package scenarios

import (
	"time"

	"github.com/faultline/faultline/scenarios/check"
)

// buildChecks turns the scenario's check specs into checkers (plus its Go checkers). The
// metric and trace checks were built by the run's observation, which fed them. floor is
// the least tolerance of every expected instant (Options.Tolerance, for runs off the
// simulator); a larger tolerance of the file's own stands.
func buildChecks(s *Scenario, ob *observation, floor time.Duration) []check.Checker {
	tol := func(d time.Duration) time.Duration { return max(d, floor) }
	var out []check.Checker
	for i, c := range s.Checks {
		count := -1
		if c.Count != nil {
			count = *c.Count
		}
		switch c.Kind {
		case "steady-state":
			out = append(out, check.SteadyState{Label: c.Label, Window: check.Window{From: c.From, To: c.To}, Action: c.Action,
				From: c.Node, MinSuccessRate: c.MinSuccessRate, MaxP99: c.MaxP99, MinCalls: c.MinCalls, Tolerance: floor})
		case "breaker":
			ts := make([]check.Transition, len(c.Transitions))
			for i, t := range c.Transitions {
				ts[i] = check.Transition{To: t.To, At: t.At, Tolerance: t.Tolerance}
				if t.Tolerance != 0 {
					ts[i].Tolerance = tol(t.Tolerance)
				}
			}
			out = append(out, check.BreakerSequence{Endpoint: c.Endpoint, Observer: c.Node, Expected: ts, Tolerance: tol(c.Tolerance)})
		case "timeout", "skip":
			out = append(out, check.Timeouts{Action: c.Action, Kind: c.Kind, Budget: c.Budget, Count: count, At: c.At, Tolerance: tol(c.Tolerance)})
		case "retries":
			maxRetries := -1
			if c.Max != nil {
				maxRetries = int(*c.Max)
			}
			out = append(out, check.Retries{Action: c.Action, Max: maxRetries, Delays: c.Delays})
		case "amplification":
			m := 1.0
			if c.Max != nil {
				m = *c.Max
			}
			out = append(out, check.Amplification{Action: c.Action, Max: m})
		case "cache-coherence":
			out = append(out, check.CacheCoherence{Action: c.Action, MaxStale: c.MaxStale, Shared: c.Shared})
		case "membership":
			ts := make([]check.Transition, len(c.Transitions))
			for i, t := range c.Transitions {
				ts[i] = check.Transition{To: t.To, At: t.At, Tolerance: t.Tolerance}
				if t.Tolerance != 0 {
					ts[i].Tolerance = tol(t.Tolerance)
				}
			}
			out = append(out, check.Membership{Observer: c.Node, Peer: c.Peer, Expected: ts, Tolerance: tol(c.Tolerance)})
		case "errors":
			maxErrs := -1
			if c.Max != nil {
				maxErrs = int(*c.Max)
			}
			out = append(out, check.Errors{Action: c.Action, Error: c.Error, Min: c.Min, Max: maxErrs})
		case "journal":
			maxN := -1
			if c.Max != nil {
				maxN = int(*c.Max)
			}
			out = append(out, check.JournalCount{Label: c.Label, Kind: c.Entry, Node: c.Node, Window: check.Window{From: c.From, To: c.To},
				Where: c.Where, Min: c.Min, Max: maxN})
		case "linearizable":
			out = append(out, check.Linearizable{Fields: c.Fields, Initial: initialRegisters(s)})
		case "stock-never-negative":
			out = append(out, check.StockNeverNegative{})
		case "order-stock-reduction":
			out = append(out, check.OrderHasStockReduction{})
		case "no-duplicate-orders":
			out = append(out, check.NoDuplicateOrders{})
		case "handled-once-per-group":
			out = append(out, check.HandledOncePerGroup{Event: c.Event, Groups: c.Groups})
		case "metric", "trace":
			out = append(out, ob.spec[i])
		}
	}
	return append(out, s.ExtraChecks...)
}

// initialRegisters are the seeded products' values (ids 1, 2, ... in order), when nothing
// runs between seeding and the workload that could change them; otherwise none, and each
// product's first observed value is its initial one.
func initialRegisters(s *Scenario) map[int64]check.Register {
	if len(s.SetupCalls) > 0 || s.Setup != nil {
		return nil
	}
	out := map[int64]check.Register{}
	for i, p := range s.Config.Products {
		out[int64(i+1)] = check.Register{Price: p.Price, Stock: int64(p.Stock), PriceKnown: true, StockKnown: true}
	}
	return out
}
