package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/testutil"
)

// conductor drives a scenario's workload on its cluster: the seeded users and products,
// then each workload's clients, open or closed loop.
type conductor struct {
	c        *testutil.Cluster
	scenario *Scenario
	tokens   map[string]string // seeded users' JWTs by email ("" = the first)
	// history: journal the client operations of modelled actions (see history.go).
	history bool
}

// start starts the clients of one workload.
func (c *conductor) start(w *WorkloadSpec, index int) {
	clients := max(w.Clients, 1)
	end := c.scenario.Duration
	if w.Duration > 0 {
		end = min(end, w.Start+w.Duration)
	}
	for ci := range clients {
		c.c.Runtime.Go(fmt.Sprintf("workload %d client %d", index, ci), func() {
			if wait := w.Start - c.c.Elapsed(); wait > 0 {
				c.c.Runtime.Sleep(wait)
			}
			if w.Rate > 0 {
				c.openLoop(w, ci, end)
			} else {
				c.closedLoop(w, ci, end)
			}
		})
	}
}

// closedLoop: one call at a time, Think between calls.
func (c *conductor) closedLoop(w *WorkloadSpec, client int, end time.Duration) {
	for i := 0; w.Count == 0 || i < w.Count; i++ {
		if c.c.Elapsed() >= end {
			return
		}
		c.call(w, client, i)
		// Sleep even without think time: a call that fails at once (an open breaker, a
		// validation error) never parks, so without this yield a loop with no think time
		// would spin inside one task where neither the scheduler nor the event budget
		// can see it.
		c.c.Runtime.Sleep(w.Think)
	}
}

// openLoop: calls arrive on a fixed schedule whatever the latency (each in its own task),
// as real traffic does — so a slow dependency piles up concurrent calls.
func (c *conductor) openLoop(w *WorkloadSpec, client int, end time.Duration) {
	interval := time.Duration(float64(time.Second) / w.Rate)
	first := c.c.Elapsed()
	for i := 0; w.Count == 0 || i < w.Count; i++ {
		at := first + time.Duration(i)*interval
		if at >= end {
			return
		}
		if wait := at - c.c.Elapsed(); wait > 0 {
			c.c.Runtime.Sleep(wait)
		}
		c.c.Runtime.Go(fmt.Sprintf("call %s #%d of client %d", w.Action, i, client), func() { c.call(w, client, i) })
	}
}

func (c *conductor) call(w *WorkloadSpec, client, i int) {
	if w.HTTP != nil {
		c.httpCall(w, client, i)
		return
	}
	b := c.c.Node(w.From)
	var params map[string]any
	if w.ParamsFunc != nil {
		params = w.ParamsFunc(client, i)
	} else {
		params = c.expand(w.Params, client, i).(map[string]any)
	}
	opts := []broker.CallOption{broker.WithMeta(c.expandMap(w.Meta, client, i))}
	if w.Timeout != nil {
		opts = append(opts, broker.WithTimeout(*w.Timeout))
	}
	if w.Retries != nil {
		opts = append(opts, broker.WithRetries(*w.Retries))
	}
	if w.Fallback != nil {
		opts = append(opts, broker.WithFallback(w.Fallback))
	}
	if w.NodeID != "" {
		opts = append(opts, broker.WithNodeID(w.NodeID))
	}
	if !c.history {
		_, _ = b.Call(w.Action, params, opts...)
		return
	}
	invoked := int64(c.c.Sim.Elapsed())
	res, err := b.Call(w.Action, params, opts...)
	c.recordOp(w.From, c.clientID(w, client), w.Action, params, invoked, int64(c.c.Sim.Elapsed()), res, err)
}

// clientID numbers the clients of all workload entries from 0, in order.
func (c *conductor) clientID(w *WorkloadSpec, client int) int {
	id := 0
	for i := range c.scenario.Workload {
		if &c.scenario.Workload[i] == w {
			return id + client
		}
		id += max(c.scenario.Workload[i].Clients, 1)
	}
	return id + client
}

func (c *conductor) expandMap(m map[string]any, client, i int) map[string]any {
	if m == nil {
		return nil
	}
	return c.expand(m, client, i).(map[string]any)
}

// expand substitutes {{client}} and {{i}} in string values of params; a value that is
// exactly "{{i}}" or "{{client}}" becomes the number, "{{token}}" / "{{token:<email>}}" a
// seeded user's JWT.
func (c *conductor) expand(v any, client, i int) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if val == nil {
				out[k] = nil
				continue
			}
			out[k] = c.expand(val, client, i)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for k, val := range x {
			out[k] = c.expand(val, client, i)
		}
		return out
	case string:
		switch x {
		case "{{i}}":
			return i
		case "{{client}}":
			return client
		}
		if email, ok := strings.CutPrefix(x, "{{token"); ok && strings.HasSuffix(email, "}}") {
			return c.tokens[strings.TrimPrefix(strings.TrimSuffix(email, "}}"), ":")]
		}
		x = strings.ReplaceAll(x, "{{i}}", strconv.Itoa(i))
		return strings.ReplaceAll(x, "{{client}}", strconv.Itoa(client))
	}
	return v
}

// seed registers and logs in the scenario's users, then creates its products (ids 1, 2, ...
// in order), through the cluster from the first node.
func (c *conductor) seed() error {
	c.tokens = map[string]string{}
	for _, u := range c.scenario.Config.Users {
		b := c.c.Node(c.c.NodeIDs()[0])
		if _, err := b.Call("user.register", map[string]any{"email": u.Email, "password": u.Password, "name": u.Name}); err != nil {
			return fmt.Errorf("register %s: %w", u.Email, err)
		}
		res, err := b.Call("user.login", map[string]any{"email": u.Email, "password": u.Password})
		if err != nil {
			return fmt.Errorf("login %s: %w", u.Email, err)
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := broker.Decode(res, &out); err != nil || out.Token == "" {
			return fmt.Errorf("login %s: no token in %v", u.Email, res)
		}
		c.tokens[u.Email] = out.Token
		if _, ok := c.tokens[""]; !ok {
			c.tokens[""] = out.Token
		}
	}
	for _, p := range c.scenario.Config.Products {
		b := c.c.Node(c.c.NodeIDs()[0])
		if _, err := b.Call("product.create", map[string]any{"name": p.Name, "price": p.Price, "stock": p.Stock}); err != nil {
			return err
		}
	}
	return nil
}

// setupCalls runs the scenario's setup calls in order; a call that does not end as expected
// stops the run.
func (c *conductor) setupCalls() error {
	for i, sc := range c.scenario.SetupCalls {
		params := c.expandMap(sc.Params, 0, i)
		_, err := c.c.Node(sc.From).Call(sc.Action, params, broker.WithMeta(c.expandMap(sc.Meta, 0, i)))
		switch got := errs.NameOf(err); {
		case sc.Expect == "" && err != nil:
			return fmt.Errorf("setup[%d] %s: %w", i, sc.Action, err)
		case sc.Expect != "" && got != sc.Expect:
			return fmt.Errorf("setup[%d] %s: expected %s, got %v", i, sc.Action, sc.Expect, err)
		}
	}
	return nil
}
