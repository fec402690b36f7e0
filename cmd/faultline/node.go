package main

// faultline node and faultline call: a real node on the real runtime, joined to a NATS
// cluster (Faultline's or Moleculer's), and a one-shot caller of any action in it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/broker/cache"
	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/packet"
	"github.com/faultline/faultline/broker/rt"
	"github.com/faultline/faultline/broker/transport"
	"github.com/faultline/faultline/broker/transport/cut"
	fnats "github.com/faultline/faultline/broker/transport/nats"
	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/services/catalog"
	"github.com/faultline/faultline/services/db"
)

// natsFlags are the connection flags node and call share.
type natsFlags struct {
	url, namespace string
	connectTimeout time.Duration
}

func (f *natsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "nats", "nats://127.0.0.1:4222", "NATS server URL (several separated by commas)")
	cmd.Flags().StringVar(&f.namespace, "namespace", "", "Moleculer namespace (subjects MOL-<namespace>.*)")
	cmd.Flags().DurationVar(&f.connectTimeout, "connect-timeout", 2*time.Second, "bound on connecting to NATS (and Redis)")
}

func (f *natsFlags) transport(log *slog.Logger) *fnats.Transport {
	return fnats.New(fnats.Options{URL: f.url, Namespace: f.namespace, ConnectTimeout: f.connectTimeout, Logger: log})
}

func (a *app) nodeCommand() *cobra.Command {
	var (
		nf                 natsFlags
		id, services, db   string
		cacherURL          string
		heartbeat, timeout time.Duration
		heartbeatTimeout   time.Duration
		requestTimeout     time.Duration
		optionsJSON        string
		configJSON         string
		journalSubject     string
		metricsSubject     string
		spansSubject       string
		controlSubject     string
	)
	cmd := &cobra.Command{
		Use:   "node --nats URL --id ID --services NAME,...",
		Short: "Run a broker node with Faultline's services on NATS until SIGINT or SIGTERM",
		Long: `node runs one broker node on the real runtime, joined over NATS to a Moleculer 0.15
cluster (Faultline or Moleculer JS nodes), serving the named services of the catalog
(` + strings.Join(catalog.Names(), ", ") + `). It logs to stderr. On SIGINT or SIGTERM it stops
gracefully: services stop, a DISCONNECT is sent, the connection is flushed; exit 0.
It exits 1 with a message when NATS, Redis or the database cannot be reached, 2 on bad flags.

--db: memory (default; data lives as long as the process), sqlite:PATH, postgres:DSN.
--cacher: none (default), memory, or a redis:// URL (Moleculer's key layout, MOL-[ns-] prefix).
The JWT secret of user and order is FAULTLINE_JWT_SECRET (a development default otherwise).`,
		Example: `  faultline node --nats nats://127.0.0.1:4222 --id product-1 --services product,order \
    --cacher redis://127.0.0.1:6379/0 --db sqlite:shop.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return invalid("faultline node: --id is required")
			}
			names := splitList(services)
			if len(names) == 0 {
				return invalid("faultline node: --services is required (one or more of %s)", strings.Join(catalog.Names(), ","))
			}
			for _, n := range names {
				if _, ok := catalog.Lookup(n); !ok {
					return invalid("faultline node: unknown service %q (have %s)", n, strings.Join(catalog.Names(), ","))
				}
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c := nodeConfig{nats: nf, id: id, services: names, db: db, cacher: cacherURL,
				heartbeat: heartbeat, heartbeatTimeout: heartbeatTimeout, requestTimeout: requestTimeout, stopTimeout: timeout,
				journalSubject: journalSubject, controlSubject: controlSubject, metricsSubject: metricsSubject, spansSubject: spansSubject}
			if optionsJSON != "" {
				if err := json.Unmarshal([]byte(optionsJSON), &c.options); err != nil {
					return invalid("faultline node: --options: %v", err)
				}
			}
			if configJSON != "" {
				if err := json.Unmarshal([]byte(configJSON), &c.config); err != nil {
					return invalid("faultline node: --config: %v", err)
				}
			}
			return runNode(ctx, log, c)
		},
	}
	nf.add(cmd)
	cmd.Flags().StringVar(&id, "id", "", "node ID, unique in the cluster (required)")
	cmd.Flags().StringVar(&services, "services", "", "comma-separated services to run (required)")
	cmd.Flags().StringVar(&db, "db", "memory", "storage: memory, sqlite:PATH or postgres:DSN")
	cmd.Flags().StringVar(&cacherURL, "cacher", "", "cacher: memory or redis://HOST:PORT/DB (default none)")
	cmd.Flags().DurationVar(&heartbeat, "heartbeat-interval", 10*time.Second, "heartbeat interval (Moleculer's default)")
	cmd.Flags().DurationVar(&heartbeatTimeout, "heartbeat-timeout", 30*time.Second, "a silent node is lost after this")
	cmd.Flags().DurationVar(&requestTimeout, "request-timeout", 0, "default call timeout (0: none)")
	cmd.Flags().DurationVar(&timeout, "stop-timeout", 10*time.Second, "bound on the graceful stop")
	cmd.Flags().StringVar(&optionsJSON, "options", "", "broker options as a scenario node's options, in JSON (e.g. {\"retryPolicy\":{\"enabled\":true}}); they win over the flags")
	cmd.Flags().StringVar(&configJSON, "config", "", "the services' configuration as a scenario's config, in JSON (cacheTTL, mail latency, JWT secret)")
	cmd.Flags().StringVar(&journalSubject, "journal-subject", "", "publish every journal entry, as JSON, on this NATS subject (the process tier collects them)")
	cmd.Flags().StringVar(&controlSubject, "control-subject", "", "apply and heal the faults sent on this NATS subject (the process tier's action faults)")
	cmd.Flags().StringVar(&metricsSubject, "metrics-subject", "", "answer requests on this NATS subject with the node's metrics (the real tier's metric checks)")
	cmd.Flags().StringVar(&spansSubject, "spans-subject", "", "publish every span the node ends on this NATS subject (the real tier's trace checks)")
	return cmd
}

type nodeConfig struct {
	nats                        natsFlags
	id                          string
	services                    []string
	db, cacher                  string
	heartbeat, heartbeatTimeout time.Duration
	requestTimeout, stopTimeout time.Duration
	// options and config are a scenario node's options and the scenario's service config
	// (the process tier passes them); journalSubject, when set, is where entries go.
	options        scenarios.NodeOptions
	config         scenarios.ServiceConfig
	journalSubject string
	controlSubject string
	metricsSubject string
	spansSubject   string
}

// runNode starts the node, waits for ctx to end, and stops it. Every resource it could not
// reach is an exit-1 error naming it.
func runNode(ctx context.Context, log *slog.Logger, c nodeConfig) error {
	stores, err := openStores(c.db)
	if err != nil {
		return failed("faultline node: database %s: %v", c.db, err)
	}
	res := &catalog.Resources{Stores: stores, JWTSecret: []byte(os.Getenv("FAULTLINE_JWT_SECRET"))}
	scenarios.ApplyConfig(res, c.config)
	defer res.Close()

	// go-redis logs every failed dial on its own; the error returned says it once.
	redis.SetLogger(redisLog{log})
	cacher, err := openCacher(ctx, c.cacher, c.nats.namespace, c.nats.connectTimeout)
	if err != nil {
		return failed("faultline node: cacher %s: %v", c.cacher, err)
	}
	if cacher != nil {
		defer cacher.Close()
	}

	runtime := rt.NewReal()
	// Under a harness (the process tier), the node's cacher and database adapters get fault
	// seams, as a simulated node's do, so that the harness can take them down.
	var targets faults.Targets
	if c.controlSubject != "" {
		targets.Databases = map[string]*faults.FlakyAdapter{}
		res.WrapAdapters(func(m db.Model, a db.Adapter) db.Adapter {
			fa := faults.NewFlakyAdapter(a, runtime)
			targets.Databases[m.Name] = fa
			return fa
		})
		if cacher != nil {
			fc := faults.NewFlakyCacher(cacher, runtime)
			targets.Cachers = map[string]*faults.FlakyCacher{c.id: fc}
			cacher = fc
		}
	}
	// The services are built first: building them opens their adapters, and the fault
	// targets must be complete before the harness may send a fault.
	var services []*broker.Service
	for _, name := range c.services {
		s, err := catalog.New(name, res)
		if err != nil {
			return failed("faultline node: service %s: %v", name, err)
		}
		services = append(services, s)
	}

	opts := c.options.BrokerOptions()
	opts.NodeID, opts.Namespace, opts.Runtime, opts.Transporter, opts.Logger, opts.Cacher = c.id, c.nats.namespace, runtime,
		c.nats.transport(log), log, cacher
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = c.heartbeat
	}
	if opts.HeartbeatTimeout == 0 {
		opts.HeartbeatTimeout = c.heartbeatTimeout
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = c.requestTimeout
	}
	if c.journalSubject != "" || c.controlSubject != "" || c.metricsSubject != "" || c.spansSubject != "" {
		h, err := linkHarness(runtime, c.nats, c.journalSubject, c.controlSubject, targets, log)
		if err != nil {
			return failed("faultline node: --journal-subject/--control-subject: cannot reach NATS at %s: %v", c.nats.url, err)
		}
		defer h.close()
		if c.metricsSubject != "" || c.spansSubject != "" {
			o, err := observe(h.nc, c.metricsSubject, c.spansSubject, &opts)
			if err != nil {
				return failed("faultline node: --metrics-subject/--spans-subject: %v", err)
			}
			defer o.close()
		}
		opts.Journal = h.journal
		if h.faults != nil {
			opts.Middlewares = append(opts.Middlewares, h.faults.Middleware())
			opts.Transporter = h.wrap(c.id, opts.Transporter)
		}
	}
	b, err := broker.New(opts)
	if err != nil {
		return invalid("faultline node: %v", err)
	}
	for i, s := range services {
		if _, err := b.AddService(s); err != nil {
			return failed("faultline node: service %s: %v", c.services[i], err)
		}
	}
	if err := b.Start(); err != nil {
		return failed("faultline node: cannot join NATS at %s: %v", c.nats.url, err)
	}
	log.Info("node started", "node", c.id, "nats", c.nats.url, "namespace", c.nats.namespace,
		"services", strings.Join(c.services, ","), "db", c.db, "cacher", noneIfEmpty(c.cacher), "instance", instanceOf(b))

	<-ctx.Done()
	log.Info("stopping", "node", c.id)
	done := make(chan error, 1)
	go func() { done <- b.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			return failed("faultline node: stop: %v", err)
		}
	case <-time.After(c.stopTimeout):
		return failed("faultline node: stop did not finish within %s", c.stopTimeout)
	}
	log.Info("stopped", "node", c.id)
	return nil
}

// openStores opens the --db storage.
func openStores(spec string) (*catalog.Stores, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "" || spec == "memory":
		return catalog.MemoryStores(), nil
	case kind == "sqlite" && arg != "":
		dsn := arg
		if !strings.HasPrefix(dsn, "file:") {
			dsn = "file:" + dsn
		}
		return catalog.OpenSQLite(dsn)
	case (kind == "postgres" || kind == "postgresql") && arg != "":
		if kind == "postgresql" || strings.HasPrefix(arg, "//") {
			arg = spec // a postgres:// URL as a whole
		}
		return catalog.OpenPostgres(arg, "")
	}
	return nil, fmt.Errorf("want memory, sqlite:PATH or postgres:DSN")
}

// openCacher opens the --cacher, checking that a Redis answers before the node joins.
func openCacher(ctx context.Context, spec, namespace string, timeout time.Duration) (broker.Cacher, error) {
	switch {
	case spec == "" || spec == "none":
		return nil, nil
	case spec == "memory":
		return cache.NewMemory(rt.NewReal()), nil
	case strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://"):
		opts, err := redis.ParseURL(spec)
		if err != nil {
			return nil, err
		}
		opts.DialTimeout = timeout
		client := redis.NewClient(opts)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			client.Close()
			return nil, fmt.Errorf("cannot reach Redis: %w", err)
		}
		c, err := cache.NewRedis(cache.RedisOptions{Client: client, Prefix: cache.NewRedisPrefix(namespace)})
		if err != nil {
			client.Close()
			return nil, err
		}
		return &ownedRedis{Redis: c, client: client}, nil
	}
	return nil, fmt.Errorf("want none, memory or a redis:// URL")
}

// ownedRedis closes the client it was given (cache.Redis leaves a given client open).
type ownedRedis struct {
	*cache.Redis
	client *redis.Client
}

func (o *ownedRedis) Close() error { return errors.Join(o.Redis.Close(), o.client.Close()) }

// redisLog takes go-redis's own messages into the node's log, at debug level.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

func (a *app) callCommand() *cobra.Command {
	var (
		nf          natsFlags
		meta        string
		id          string
		wait, tmout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "call --nats URL ACTION [PARAMS-JSON]",
		Short: "Call an action of a NATS cluster (Faultline or Moleculer JS nodes) and print the result",
		Long: `call joins the cluster as a short-lived node, waits up to --wait for a node serving ACTION,
calls it with PARAMS-JSON (an object; default {}) and --meta, prints the result as JSON on
stdout and leaves (DISCONNECT). A failed call prints the error as JSON on stderr
({"name","message","code","type","data","nodeID"}) and exits 1; bad arguments exit 2.`,
		Example: `  faultline call --nats nats://127.0.0.1:4222 product.get '{"id":1}'
  faultline call --nats nats://127.0.0.1:4222 order.create '{"items":[]}' --meta '{"token":"..."}'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			action := args[0]
			params := map[string]any{}
			if len(args) == 2 {
				if err := json.Unmarshal([]byte(args[1]), &params); err != nil || params == nil {
					return invalid("faultline call: PARAMS-JSON must be a JSON object: %s", firstErr(err, "null"))
				}
			}
			var m map[string]any
			if meta != "" {
				if err := json.Unmarshal([]byte(meta), &m); err != nil || m == nil {
					return invalid("faultline call: --meta must be a JSON object: %s", firstErr(err, "null"))
				}
			}
			if id == "" {
				host, _ := os.Hostname()
				id = fmt.Sprintf("cli-%s-%d", host, os.Getpid())
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			b, err := broker.New(broker.Options{NodeID: id, Namespace: nf.namespace, Runtime: rt.NewReal(),
				Transporter: nf.transport(log), Logger: log})
			if err != nil {
				return invalid("faultline call: %v", err)
			}
			if err := b.Start(); err != nil {
				return failed("faultline call: cannot join NATS at %s: %v", nf.url, err)
			}
			defer b.Stop()
			// Discovery is asynchronous: the INFO of the serving node arrives after ours.
			for deadline := time.Now().Add(wait); len(b.Endpoints(action)) == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			res, err := b.Call(action, params, broker.WithMeta(m), broker.WithTimeout(tmout))
			if err != nil {
				out, _ := json.Marshal(errorJSON(err))
				return failed("%s", out)
			}
			out, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				return failed("faultline call: result is not JSON: %v", err)
			}
			fmt.Fprintln(a.stdout, string(out))
			return nil
		},
	}
	nf.add(cmd)
	cmd.Flags().StringVar(&meta, "meta", "", "call meta, a JSON object")
	cmd.Flags().StringVar(&id, "id", "", "this caller's node ID (default cli-<host>-<pid>)")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Second, "how long to wait for a node serving ACTION")
	cmd.Flags().DurationVar(&tmout, "timeout", 10*time.Second, "call timeout")
	return cmd
}

// errorJSON is a failed call as call prints it: Moleculer's error fields.
func errorJSON(err error) map[string]any {
	var e *errs.Error
	if !errors.As(err, &e) {
		return map[string]any{"name": "Error", "message": err.Error()}
	}
	return map[string]any{"name": e.Name, "message": e.Message, "code": e.Code, "type": e.Type, "data": e.Data, "nodeID": e.NodeID}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func firstErr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

func instanceOf(b *broker.Broker) string {
	for _, n := range b.Nodes() {
		if n.Local {
			return n.InstanceID
		}
	}
	return ""
}

// harnessLink is a process node's link to the harness of the process tier, over a NATS
// connection of its own (not the transporter's: the journal is the harness's view, and
// must not queue behind, or be cut with, the cluster's traffic).
type harnessLink struct {
	nc      *nats.Conn
	journal *journal.Journal
	faults  *faults.Injector
	// cut drops what arrives from the peers of the one-way partitions the harness sent.
	cut *cut.Filter
}

// wrap puts the node's transporter behind the link's filter of one-way partitions; the
// packets it drops are journaled as memnet's are.
func (h *harnessLink) wrap(nodeID string, tr transport.Transporter) transport.Transporter {
	h.cut = cut.Wrap(tr, func(m packet.Message, rule string) { cut.Record(h.journal, nodeID, m, rule) })
	return h.cut
}

// linkHarness publishes every journal entry on journalSubject, and applies and heals the
// faults sent on controlSubject (scenarios.ControlMessage) with an injector of its own.
func linkHarness(clock rt.Runtime, nf natsFlags, journalSubject, controlSubject string, targets faults.Targets, log *slog.Logger) (*harnessLink, error) {
	nc, err := nats.Connect(nf.url, nats.Timeout(nf.connectTimeout), nats.Name("faultline-harness-link"))
	if err != nil {
		return nil, err
	}
	h := &harnessLink{nc: nc, journal: journal.New(clock)}
	if journalSubject != "" {
		origin := h.journal.Origin()
		h.journal.Subscribe(func(e journal.Entry) {
			switch e.Kind {
			case journal.FaultApplied, journal.FaultHealed:
				return // the harness journals its faults once, where it applies them
			}
			data, err := json.Marshal(journal.Message{At: origin.Add(e.T).UnixNano(), Node: e.Node, Kind: e.Kind, Attrs: e.Attrs})
			if err == nil {
				_ = nc.Publish(journalSubject, data)
			}
		})
	}
	if controlSubject != "" {
		h.faults = faults.New(clock, h.journal, targets)
		_, err := nc.Subscribe(controlSubject, func(m *nats.Msg) {
			var msg scenarios.ControlMessage
			if err := json.Unmarshal(m.Data, &msg); err != nil {
				log.Warn("bad control message dropped", "subject", m.Subject, "err", err)
				return
			}
			switch msg.Op {
			case "apply":
				if msg.Fault.Kind == "asymmetric" {
					// this node is on the receiving side: it drops what the cut peers send
					if h.cut != nil {
						h.cut.Drop(msg.Name, msg.Fault.From, scenarios.PacketTypes(msg.Fault.Types))
					}
					return
				}
				f, err := scenarios.FaultOf(msg.Fault)
				if err == nil {
					err = h.faults.Add(faults.Spec{Name: msg.Name, Fault: f})
				}
				if err != nil {
					log.Warn("fault not applied", "fault", msg.Name, "err", err)
				}
			case "heal":
				if h.cut != nil {
					h.cut.Heal(msg.Name)
				}
				h.faults.Heal(msg.Name)
			default:
				log.Warn("bad control message dropped", "subject", m.Subject, "op", msg.Op)
			}
		})
		if err == nil {
			err = nc.Flush() // subscribed before the node says it has started
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
	}
	return h, nil
}

func (h *harnessLink) close() {
	if h.faults != nil {
		h.faults.Stop()
	}
	_ = h.nc.Flush()
	h.nc.Close()
}
