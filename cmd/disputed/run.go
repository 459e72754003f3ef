package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/state"
)

func runCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig("run", defaultConfig(), args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return runService(ctx, cfg, newLogger(stderr, cfg), nil)
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
	httpAddr  string // bound address of the metrics and probes
	kafka     *consumer.Kafka
	transport *kafka.Transport
	nc        *nats.Conn
}

// runService runs the stream processor on cfg until ctx ends, or until job
// (if any) returns; then it drains everything within cfg.ShutdownGrace. It
// returns nil on a clean shutdown. Without servers in cfg, it first starts
// in-process ones and stops them last.
func runService(ctx context.Context, cfg Config, log *slog.Logger, job func(context.Context, *node) error) error {
	inProcess := cfg.embedded()
	if inProcess {
		emb, err := startEmbedded(cfg.Kafka)
		if err != nil {
			return err
		}
		defer emb.Close()
		cfg = emb.use(cfg)
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

	rdb, err := newRedisClient(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := state.NewRedis(rdb, state.Config{Prefix: cfg.Redis.Prefix, Retention: cfg.Retention})

	nc, closed, err := connectNATS(cfg.NATS, cfg.ShutdownGrace, log.With("component", "nats"))
	if err != nil {
		return err
	}
	defer drainNATS(nc, closed, cfg.ShutdownGrace, log)
	pub, err := producer.NewNATS(nc, producer.Config{
		DisputesStream: cfg.NATS.DisputesStream, FinanceStream: cfg.NATS.FinanceStream, Duplicates: cfg.NATS.Duplicates,
		Replicas: cfg.NATS.Replicas,
	})
	if err != nil {
		return err
	}

	dialer, transport, err := kafkaClients(cfg.Kafka)
	if err != nil {
		return err
	}
	defer transport.CloseIdleConnections()
	dlq := consumer.NewKafkaDeadLetters(cfg.Kafka.Brokers, cfg.Kafka.DLQTopic, transport)
	defer closeLogged(log, "dead-letter writer", dlq.Close)

	proc := &consumer.Processor{Policy: cfg.Policy, Store: store, DeadLetters: dlq, Metrics: metrics, Logger: log.With("component", "processor")}
	kcfg := consumer.Config{
		Brokers: cfg.Kafka.Brokers, Group: cfg.Kafka.Group, Topics: cfg.Kafka.Topics,
		Dialer: dialer, Transport: transport, MaxBatch: cfg.MaxBatch, Skew: cfg.Skew,
		FlushTimeout: min(cfg.ShutdownGrace/2, 5*time.Second),
		BatchTimeout: min(cfg.ShutdownGrace/2, 30*time.Second),

		HeartbeatInterval: cfg.Kafka.HeartbeatInterval,
		SessionTimeout:    cfg.Kafka.SessionTimeout,
		RebalanceTimeout:  cfg.Kafka.RebalanceTimeout,
	}
	if inProcess {
		// One member on a local broker: rejoin after a restart in a second
		// or two, not the ten seconds a production session needs.
		kcfg.HeartbeatInterval, kcfg.SessionTimeout, kcfg.RebalanceTimeout = 250*time.Millisecond, 2*time.Second, 2*time.Second
	}
	k := consumer.NewKafka(kcfg, proc, store, pub, metrics, log)

	ready := &readiness{joined: k.Joined, checks: map[string]func(context.Context) error{
		"redis": store.Ping, "nats": pub.Ping, "outbox": k.OutboxHealthy,
	}}
	partitions := partitionCount(cfg.Kafka.Brokers, cfg.Kafka.Topics.Orders, transport)
	api := newAPI(store, cfg.Policy, partitions, cfg.APIToken, inProcess, reg)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, ln, newMux(reg, ready, api), cfg.ShutdownGrace) })
	if cfg.NATS.CreateStreams {
		// Until the streams exist, publishing fails and the outboxes keep
		// the commands: deciding need not wait for NATS.
		g.Go(func() error {
			ensureStreams(gctx, pub, log)
			return nil
		})
	}
	g.Go(func() error { return k.Run(gctx) })
	if job != nil {
		g.Go(func() error {
			defer cancel() // the job is the reason to run: its end is the shutdown
			return job(gctx, &node{cfg: cfg, httpAddr: ln.Addr().String(), kafka: k, transport: transport, nc: nc})
		})
	}
	return waitGrace(gctx, g, cfg.ShutdownGrace)
}

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
		"version", buildVersion(),
		"kafka_brokers", strings.Join(k.Brokers, ","), "group", k.Group,
		"topics", strings.Join([]string{k.Topics.Orders, k.Topics.Deliveries, k.Topics.Chats, k.Topics.RefundRequests}, ","),
		"dlq_topic", k.DLQTopic, "kafka_tls", k.TLS, "kafka_sasl", k.SASLMechanism,
		"redis_url", redactURL(r.URL), "redis_cluster", r.Cluster, "redis_prefix", r.Prefix,
		"nats_url", redactNATSURLs(n.URL), "streams", n.DisputesStream+","+n.FinanceStream, "create_streams", n.CreateStreams,
		"evidence_window", cfg.Policy.EvidenceWindow, "modification_window", cfg.Policy.ModificationWindow,
		"retention", cfg.Retention, "skew", cfg.Skew, "duplicate_window", n.Duplicates,
		"max_batch", cfg.MaxBatch, "shutdown_grace", cfg.ShutdownGrace)
}

func redactNATSURLs(s string) string {
	urls := strings.Split(s, ",")
	for i, u := range urls {
		urls[i] = redactURL(strings.TrimSpace(u))
	}
	return strings.Join(urls, ",")
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// newRegistry returns a registry with the runtime's collectors and
// disputed_build_info; the processor adds its own metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Name: "disputed_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"}).WithLabelValues(buildVersion(), runtime.Version()).Set(1)
	return reg
}

func closeLogged(log *slog.Logger, what string, close func() error) {
	if err := close(); err != nil {
		log.Warn("close "+what, "err", err)
	}
}

// newRedisClient returns a client for the URL: a single server, or a
// cluster seeded by the URL's host and the further addresses.
func newRedisClient(c RedisConfig) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url %s: %w", redactURL(c.URL), err)
	}
	if c.TLSCA != "" {
		pool, err := loadCAs(c.TLSCA, "redis-tls-ca")
		if err != nil {
			return nil, err
		}
		opts.TLSConfig.RootCAs = pool // ParseURL sets TLSConfig for rediss://
	}
	opts.ClientName = "disputed"
	if !c.Cluster {
		return redis.NewClient(opts), nil
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      append([]string{opts.Addr}, c.ClusterAddrs...),
		ClientName: opts.ClientName,
		Username:   opts.Username,
		Password:   opts.Password,
		TLSConfig:  opts.TLSConfig,
	}), nil
}

// connectNATS connects to NATS, and keeps reconnecting forever: an outage
// grows the outbox, it does not stop the processor. closed is closed once
// the connection is.
func connectNATS(c NATSConfig, grace time.Duration, log *slog.Logger) (nc *nats.Conn, closed chan struct{}, err error) {
	closed = make(chan struct{})
	opts := []nats.Option{
		nats.Name("disputed"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// Start while NATS is down; /readyz says so until it is up.
		nats.RetryOnFailedConnect(true),
		nats.DrainTimeout(grace),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "nats_url", nc.ConnectedUrlRedacted()) }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.NKey != "":
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, nil, fmt.Errorf("--nats-nkey: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSFiles.CA != "" {
		opts = append(opts, nats.RootCAs(c.TLSFiles.CA))
	}
	if c.TLSFiles.Cert != "" {
		opts = append(opts, nats.ClientCert(c.TLSFiles.Cert, c.TLSFiles.Key))
	}
	nc, err = nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", redactNATSURLs(c.URL), err)
	}
	return nc, closed, nil
}

// drainNATS lets pending publishes and subscriptions finish, then closes.
func drainNATS(nc *nats.Conn, closed <-chan struct{}, grace time.Duration, log *slog.Logger) {
	if err := nc.Drain(); err != nil {
		log.Debug("nats drain", "err", err) // not connected: nothing to drain
		nc.Close()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
		log.Warn("nats drain did not finish within the shutdown grace")
		nc.Close()
	}
}

// ensureStreams creates the JetStream streams, retrying until it works; false
// when ctx ended first.
func ensureStreams(ctx context.Context, pub *producer.NATS, log *slog.Logger) {
	wait := 250 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := pub.EnsureStreams(cctx)
		cancel()
		if err == nil {
			log.Info("streams ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("create streams failed; retrying", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// kafkaClients returns the dialer (group coordination) and the transport
// (fetches, dead letters, the demo's writer) with the TLS and SASL settings.
func kafkaClients(c KafkaConfig) (*kafka.Dialer, *kafka.Transport, error) {
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = tlsConfig(c.TLSFiles, "kafka-tls"); err != nil {
			return nil, nil, err
		}
		tc.InsecureSkipVerify = c.TLSInsecure
	}
	mech, err := saslMechanism(c)
	if err != nil {
		return nil, nil, err
	}
	d := &kafka.Dialer{ClientID: "disputed", Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}
	t := &kafka.Transport{ClientID: "disputed", DialTimeout: 10 * time.Second, TLS: tc, SASL: mech}
	return d, t, nil
}

func saslMechanism(c KafkaConfig) (sasl.Mechanism, error) {
	var algo scram.Algorithm
	switch c.SASLMechanism {
	case "":
		return nil, nil
	case saslPlain:
		return plain.Mechanism{Username: c.SASLUser, Password: c.SASLPassword}, nil
	case saslSCRAMSHA256:
		algo = scram.SHA256
	case saslSCRAMSHA512:
		algo = scram.SHA512
	default:
		return nil, fmt.Errorf("--kafka-sasl-mechanism %q: unknown", c.SASLMechanism)
	}
	m, err := scram.Mechanism(algo, c.SASLUser, c.SASLPassword)
	if err != nil {
		return nil, fmt.Errorf("--kafka-sasl-mechanism %s: %w", c.SASLMechanism, err)
	}
	return m, nil
}

// tlsConfig loads the files; flag names them in errors.
func tlsConfig(f TLSFiles, flag string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := loadCAs(f.CA, flag+"-ca")
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("--%s-cert, --%s-key: %w", flag, flag, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func loadCAs(file, flag string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--%s %s: no PEM certificate found", flag, file)
	}
	return pool, nil
}

// newMux serves the metrics, the probes and the inspection API.
func newMux(reg *prometheus.Registry, ready *readiness, api *api) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /readyz", ready)
	api.register(mux)
	return mux
}

// readiness answers /readyz: ready when the member is in a group
// generation and every dependency answers within a second.
type readiness struct {
	joined func() bool
	checks map[string]func(context.Context) error
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		notReady = make(map[string]string)
		wg       sync.WaitGroup
	)
	if !rd.joined() {
		notReady["kafka"] = "not a member of a consumer group generation"
	}
	for name, check := range rd.checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				mu.Lock()
				notReady[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(notReady) == 0 {
		io.WriteString(w, "ok\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(map[string]any{"ready": false, "not_ready": notReady})
}

// serveHTTP serves on ln until ctx ends, then shuts down within grace.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}
