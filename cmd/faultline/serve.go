package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/faultline/faultline/broker"
	fnats "github.com/faultline/faultline/broker/transport/nats"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/gateway"
	"github.com/faultline/faultline/testutil"
)

// serveOptions are the flags of serve.
type serveOptions struct {
	addr      string
	db        string
	admins    []string
	demo      bool
	rateLimit int
	secret    string
	// nats, when set, joins the nodes over that NATS server instead of the in-memory
	// transport, so other processes (faultline repl, faultline call, Moleculer nodes) see them.
	nats, namespace string
}

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the shop (user, product, order, email, notification) behind its HTTP gateway",
		Long: `serve runs the whole shop in this process on the real runtime: five service nodes
joined by an in-memory transport (or, with --nats URL, over that NATS server, where
faultline repl and faultline call reach them), and the HTTP API gateway on --addr. It stops cleanly
(the HTTP server drains, then the nodes leave) on SIGINT or SIGTERM.

The API (see package services/gateway, Shop):
  POST /api/auth/register  {email, password, name}
  POST /api/auth/login     {email, password}          → {token, user}
  GET  /api/products[?page=&pageSize=]  GET /api/products/:id
  GET  /api/me   GET /api/orders   POST /api/orders {productId, quantity}   (Authorization: Bearer <token>)
  REST /api/admin/products, PUT /api/admin/orders/:id/status                 (an --admin's token)`,
		Example: `  faultline serve
  faultline serve --addr 127.0.0.1:8080 --db shop.db --admin boss@example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.serve(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":3000", "address of the HTTP gateway")
	f.StringVar(&o.db, "db", "memory", `storage: "memory", or a SQLite file path`)
	f.StringSliceVar(&o.admins, "admin", nil, "email of an admin (may access /api/admin); repeatable")
	f.BoolVar(&o.demo, "demo", true, "create three demo products at start (when the product table is empty)")
	f.IntVar(&o.rateLimit, "rate-limit", 600, "requests per client IP per minute and route (0: no limit; counted in Redis when $REDIS_URL is set)")
	f.StringVar(&o.secret, "jwt-secret", "", "JWT secret (default: $FAULTLINE_JWT_SECRET, else an insecure development secret)")
	f.StringVar(&o.nats, "nats", "", "join the nodes over this NATS server (default: an in-memory transport, invisible to other processes)")
	f.StringVar(&o.namespace, "namespace", "", "Moleculer namespace on NATS (with --nats)")
	return cmd
}

// serve runs the shop until ctx ends.
func (a *app) serve(ctx context.Context, o serveOptions) error {
	res := &catalog.Resources{}
	secret := o.secret
	if secret == "" {
		secret = os.Getenv("FAULTLINE_JWT_SECRET")
	}
	if secret == "" {
		fmt.Fprintln(a.stderr, "faultline serve: using the insecure development JWT secret (set --jwt-secret or FAULTLINE_JWT_SECRET)")
		secret = catalog.DefaultJWTSecret
	}
	res.JWTSecret = []byte(secret)
	switch o.db {
	case "", "memory":
		res.Stores = catalog.MemoryStores()
	default:
		s, err := catalog.OpenSQLite("file:" + o.db)
		if err != nil {
			return invalid("faultline serve: --db %s: %v", o.db, err)
		}
		res.Stores = s
	}
	defer res.Close()

	cfg := gateway.ShopConfig{JWTSecret: res.JWTSecret, Admins: o.admins, Addr: o.addr, CORS: &gateway.CORS{}}
	if o.rateLimit > 0 {
		cfg.RateLimit = &gateway.RateLimit{Limit: o.rateLimit, Window: time.Minute, Headers: true}
		if u := os.Getenv("REDIS_URL"); u != "" {
			// Several `faultline serve` processes on one Redis share one limit per client.
			ro, err := redis.ParseURL(u)
			if err != nil {
				return invalid("faultline serve: REDIS_URL: %v", err)
			}
			rc := redis.NewClient(ro)
			defer rc.Close()
			cfg.RateLimit.NewStore = gateway.RedisStore(rc, "faultline:ratelimit:", 0)
			fmt.Fprintf(a.stdout, "faultline serve: rate limit counted in Redis at %s\n", ro.Addr)
		}
	}
	g, err := gateway.New(gateway.Shop(cfg))
	if err != nil {
		return invalid("faultline serve: %v", err)
	}
	gwOpts := broker.Options{RequestTimeout: 10 * time.Second}
	spec := testutil.Spec{Tier: testutil.TierWall, Resources: res, Cacher: testutil.CacherMemory, Nodes: []testutil.NodeSpec{
		{ID: "gateway", Options: gwOpts, Define: func() []*broker.Service { return []*broker.Service{g.Schema()} }},
		{ID: "users", Services: []string{"user", "email"}},
		{ID: "products", Services: []string{"product"}},
		{ID: "orders", Services: []string{"order", "notification"}},
	}}
	if o.nats != "" {
		log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		for i := range spec.Nodes {
			spec.Nodes[i].Options.Namespace = o.namespace
			spec.Nodes[i].Options.Transporter = fnats.New(fnats.Options{URL: o.nats, Namespace: o.namespace, ConnectTimeout: 2 * time.Second, Logger: log})
		}
	}
	c, err := testutil.Build(spec)
	if err != nil {
		return invalid("faultline serve: %v", err)
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			return invalid("faultline serve: %v", err)
		}
		return failed("faultline serve: %v", err)
	}
	if err := c.WaitForServices("user", "product", "order", "email", "notification"); err != nil {
		return failed("faultline serve: %v", err)
	}
	if o.demo {
		if err := seedProducts(c.Node("gateway")); err != nil {
			return failed("faultline serve: demo products: %v", err)
		}
	}
	url := "http://" + displayAddr(g.Addr())
	fmt.Fprintf(a.stdout, "faultline serve: the shop is listening on %s\n", url)
	fmt.Fprintf(a.stdout, "  try:  curl %s/api/products\n", url)
	fmt.Fprintf(a.stdout, "        curl -X POST %s/api/auth/register -H 'Content-Type: application/json' -d '{\"email\":\"ada@example.com\",\"password\":\"s3cret-pass\",\"name\":\"Ada\"}'\n", url)
	if o.nats != "" {
		fmt.Fprintf(a.stdout, "  the nodes are on NATS at %s: faultline repl --nats %s\n", o.nats, o.nats)
	}
	fmt.Fprintln(a.stdout, "  Ctrl-C stops it.")

	<-ctx.Done()
	fmt.Fprintln(a.stdout, "faultline serve: stopping")
	// The gateway node first: its server drains in-flight requests while the services are
	// still there to answer them; then the rest of the cluster.
	if err := c.Stop("gateway"); err != nil {
		fmt.Fprintf(a.stderr, "faultline serve: stopping the gateway: %v\n", err)
	}
	c.Close()
	fmt.Fprintln(a.stdout, "faultline serve: stopped")
	return nil
}

// seedProducts creates demo products in an empty catalog.
func seedProducts(b *broker.Broker) error {
	n, err := b.Call("product.count", nil)
	if err != nil {
		return err
	}
	var count int
	if err := broker.Decode(n, &count); err != nil {
		return err
	}
	if count > 0 {
		return nil
	}
	for _, p := range []map[string]any{
		{"name": "Widget", "price": 2.5, "stock": 100},
		{"name": "Gadget", "price": 12.0, "stock": 20},
		{"name": "Gizmo", "price": 99.99, "stock": 5},
	} {
		if _, err := b.Call("product.create", p); err != nil {
			return err
		}
	}
	return nil
}

// displayAddr turns a listener address into one to type: an unspecified host is localhost.
func displayAddr(a net.Addr) string {
	if a == nil {
		return "localhost"
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}
