package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/netaddr"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/inspect"
	"github.com/disputed/disputed/inspect/console"
	"github.com/disputed/disputed/internal/embedded"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/state"
)

func runCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("run", defaultConfig(), args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var job func(context.Context, *node) error
	if cfg.embedded() {
		job = quickstart(stdout) // commands to try it with, on stdout
	}
	return runService(ctx, cfg, newLogger(stderr, cfg), job)
}

func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevels[cfg.LogLevel]}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// node is the running stream processor, for a job that runs beside it.
type node struct {
	cfg       Config // pointing at the servers in use, embedded or not
	httpAddr  string // bound address of the metrics, probes and API
	kafka     *consumer.Kafka
	transport *kafka.Transport
	nc        *producer.Conn
}

// runService runs the stream processor on cfg until ctx ends, or until job
// (if any) returns; then it drains everything within cfg.ShutdownGrace. It
// returns nil on a clean shutdown. Without servers in cfg, it first starts
// in-process ones and stops them last.
func runService(ctx context.Context, cfg Config, log *slog.Logger, job func(context.Context, *node) error) error {
	state.SetLogger(log)
	inProcess := cfg.embedded()
	if inProcess {
		k := cfg.Kafka
		emb, err := embedded.Start(embedded.KafkaConfig{
			Partitions: embeddedPartitions,
			Topics:     []string{k.Topics.Orders, k.Topics.Deliveries, k.Topics.Chats, k.Topics.RefundRequests},
			Single:     []string{k.DeadLetterTopic},
		}, cfg.EmbeddedPorts)
		if err != nil {
			return err
		}
		defer emb.Close()
		cfg.Kafka.Brokers, cfg.Redis.URL, cfg.NATS.URL = emb.Brokers, emb.RedisURL, emb.NATSURL
		log.Info("running on embedded in-process servers; all state is lost on exit",
			"kafka_brokers", strings.Join(emb.Brokers, ","), "nats_url", emb.NATSURL, "redis_addr", strings.TrimPrefix(emb.RedisURL, "redis://"))
	}
	logStart(log, cfg)

	// Listen before dialling anything: a busy port is a mistake to report at
	// once, and the bound address (port 0 picks one) goes in the log.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	defer ln.Close()
	log.Info("http listening", "http_addr", ln.Addr().String())

	reg := newRegistry()
	metrics := consumer.NewMetrics(reg)

	rdb, err := state.NewClient(cfg.Redis.ClientConfig)
	if err != nil {
		return err
	}
	defer rdb.Close()
	scfg := cfg.Redis.Config
	if inProcess {
		scfg.Durability.Mode = state.DurabilityUnsafe // in memory: nothing outlives the process anyway
	}
	store := state.NewRedis(rdb, scfg)
	if err := checkDurability(ctx, store, scfg.Durability, log); err != nil {
		return err
	}

	n := cfg.NATS
	nc, err := producer.Connect(n.conn(cfg.ShutdownGrace), log)
	if err != nil {
		return err
	}
	defer nc.Close()
	pub, err := producer.NewNATS(nc.Conn, n.Config)
	if err != nil {
		return err
	}

	k := cfg.Kafka
	dialer, transport, err := consumer.Clients(k.ClientConfig)
	if err != nil {
		return err
	}
	defer transport.CloseIdleConnections()
	dlq := consumer.NewKafkaDeadLetters(k.Brokers, k.DeadLetterTopic, transport)
	defer closeLogged(log, "dead-letter writer", dlq.Close)

	kcfg := k.Config
	kcfg.Dialer, kcfg.Transport = dialer, transport
	kcfg.FlushTimeout = min(cfg.ShutdownGrace/2, kcfg.FlushTimeout)
	kcfg.BatchTimeout = min(cfg.ShutdownGrace/2, kcfg.BatchTimeout)
	if inProcess {
		// One member on a local broker: rejoin after a restart in a second
		// or two, not the ten seconds a production session needs.
		kcfg.HeartbeatInterval, kcfg.SessionTimeout, kcfg.RebalanceTimeout = 250*time.Millisecond, 2*time.Second, 2*time.Second
	}
	// The processor's clock and deadline limit are the consumer's; zero
	// ones are the processor's defaults, which are the same.
	proc := &consumer.Processor{
		Policy: cfg.Policy, Store: store, Deadlines: store, DeadLetters: dlq, Metrics: metrics, Logger: log.With("component", "processor"),
		DueLimit: kcfg.DueLimit, Now: kcfg.Now,
	}
	// The relay of each partition runs on that partition's worker, which
	// the consumer starts and waits for: the relay is the consumer's to run.
	relay := consumer.NewRelay(kcfg, store, pub, metrics, log)
	kc := consumer.NewKafka(kcfg, proc, relay, metrics, log)

	ready := &inspect.Readiness{Joined: kc.Joined, Checks: map[string]func(context.Context) error{
		"redis": store.Ping, "nats": pub.Ping, "outbox": relay.Healthy,
	}}
	partitions := consumer.PartitionCount(k.Brokers, k.Topics.Orders, transport)
	api := inspect.NewAPI(store, cfg.Policy, partitions, inspect.Config{Token: cfg.APIToken, Open: inProcess}, reg)
	// The reviewers' console, at /console/: it reads through the API and
	// writes decisions to the input topics with the consumer's transport.
	events := consumer.NewEventWriter(k.Brokers, k.Topics, transport)
	defer closeLogged(log, "console event writer", events.Close)
	con := console.New(console.Config{Token: cfg.APIToken, Open: inProcess}, api.Trusted(), store, partitions, events, log.With("component", "console"))
	handler := http.NewServeMux()
	handler.Handle("/", inspect.Handler(reg, ready, api, cfg.Pprof))
	con.Register(handler)
	if cfg.APIToken != "" || inProcess {
		log.Info("reviewers' console at /console/ on the http address", "http_addr", ln.Addr().String())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return inspect.Serve(gctx, ln, handler, cfg.ShutdownGrace)
	})
	if n.CreateStreams {
		g.Go(func() error {
			pub.KeepStreams(gctx, log)
			return nil
		})
	}
	g.Go(func() error { return kc.Run(gctx) })
	if job != nil {
		g.Go(func() error {
			defer cancel() // the job is the reason to run: its end is the shutdown
			return job(gctx, &node{cfg: cfg, httpAddr: ln.Addr().String(), kafka: kc, transport: transport, nc: nc})
		})
	}
	return waitGrace(gctx, g, cfg.ShutdownGrace)
}

// checkDurability refuses to start on a Redis that cannot give the
// durability asked for. It retries while Redis cannot be reached, and starts
// while some primaries of a cluster miss their replicas: those are outages,
// not settings.
func checkDurability(ctx context.Context, store *state.Redis, d state.Durability, log *slog.Logger) error {
	if d.Mode == state.DurabilityUnsafe {
		log.Warn("redis durability unsafe: a write Redis acknowledged and then lost (a failover to an asynchronous replica, a crash without appendfsync always) is decided again; the guard stream refuses a second final ruling of an order, which then waits for a person")
		return nil
	}
	wait := 250 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := store.CheckDurability(cctx)
		cancel()
		if errors.Is(err, state.ErrReplicasDown) {
			// Some shards of a cluster are without their replicas for now
			// (one took over from a failed primary): their saves wait for
			// them, the other shards' partitions go on.
			log.Error("redis shards without the replicas every save waits for: their partitions' saves wait until the replicas are back", "err", err)
			return nil
		}
		if err == nil || errors.Is(err, state.ErrNotDurable) {
			if err != nil {
				return fmt.Errorf("--redis-durability %s: %w", d.Mode, err)
			}
			return nil
		}
		log.Warn("cannot check redis durability yet; retrying", "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil // stopped while starting: the rest winds down at once
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// embeddedPartitions is the partition count of the embedded input topics:
// more than one, so the demo exercises the co-partitioning.
const embeddedPartitions = 4

// waitGrace waits for g, but no longer than grace after ctx ends: a
// component stuck on a dead server must not keep the process from exiting
// (an orchestrator would kill it anyway, without saying why).
func waitGrace(ctx context.Context, g *errgroup.Group, grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("shutdown took longer than --shutdown-grace %v; stopping anyway", grace)
	}
}

func logStart(log *slog.Logger, cfg Config) {
	k, r, n := cfg.Kafka, cfg.Redis, cfg.NATS
	log.Info("starting disputed",
		"version", version(),
		"kafka_brokers", strings.Join(k.Brokers, ","), "group", k.Group,
		"topics", strings.Join([]string{k.Topics.Orders, k.Topics.Deliveries, k.Topics.Chats, k.Topics.RefundRequests}, ","),
		"dlq_topic", k.DeadLetterTopic, "kafka_tls", k.TLS, "kafka_sasl", k.SASLMechanism,
		"redis_url", netaddr.Redact(r.URL), "redis_cluster", r.Cluster, "redis_prefix", r.Prefix,
		"nats_url", netaddr.RedactList(n.URL), "streams", n.DisputesStream+","+n.FinanceStream, "create_streams", n.CreateStreams,
		"evidence_window", cfg.Policy.EvidenceWindow, "modification_window", cfg.Policy.ModificationWindow,
		"retention", r.Retention, "skew", k.Skew, "idle", k.Idle, "duplicate_window", n.DisputesDuplicates,
		"max_batch", k.MaxBatch, "shutdown_grace", cfg.ShutdownGrace)
}

// newRegistry returns a registry with the runtime's collectors and
// disputed_build_info; the processor adds its own metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Name: "disputed_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"}).WithLabelValues(version(), runtime.Version()).Set(1)
	return reg
}

func closeLogged(log *slog.Logger, what string, close func() error) {
	if err := close(); err != nil {
		log.Warn("close "+what, "err", err)
	}
}
