package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/embedded"
	"github.com/disputed/disputed/internal/netaddr"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// Config is everything `disputed run` and `disputed demo` are told, from
// flags and their environment equivalents. It is parsed and validated here,
// in cmd, into the packages' own typed configs, which it holds.
type Config struct {
	Kafka  KafkaConfig
	Redis  RedisConfig
	NATS   NATSConfig
	Policy rules.Policy

	// HTTPAddr serves /metrics, /healthz, /readyz and the /v1 API.
	HTTPAddr string
	// APIToken is the bearer token of the /v1 API; without one the API
	// answers 403, except on the embedded default.
	APIToken string
	// Pprof serves the Go profiler on the HTTP listener.
	Pprof         bool
	ShutdownGrace time.Duration
	LogFormat     string // text or json
	LogLevel      string // debug, info, warn or error

	// EmbeddedPorts fixes the ports of the embedded default's servers
	// (0: any free port), so that commands written down beforehand can
	// name them.
	EmbeddedPorts embedded.Ports
}

// KafkaConfig is the stream processor's configuration, and how to reach
// the brokers (TLS, SASL).
type KafkaConfig struct {
	consumer.Config
	consumer.ClientConfig
}

// RedisConfig is the store of record's configuration, and how to reach it.
type RedisConfig struct {
	state.Config
	state.ClientConfig
}

// NATSConfig is how commands are published and into which streams, and how
// to reach NATS.
type NATSConfig struct {
	producer.Config
	producer.ConnConfig
	// CreateStreams creates or updates the streams on start.
	CreateStreams bool
}

// conn is how run and tail connect: the server and its credentials,
// draining for at most drain when the connection closes.
func (n NATSConfig) conn(drain time.Duration) producer.ConnConfig {
	c := n.ConnConfig
	c.DrainTimeout = drain
	return c
}

// defaultConfig holds the defaults that flags and environment override:
// each package's own, and the few that are cmd's (the HTTP listener,
// shutdown, logging).
func defaultConfig() Config {
	return Config{
		Kafka:         KafkaConfig{Config: consumer.DefaultConfig()},
		Redis:         RedisConfig{Config: state.DefaultConfig()},
		NATS:          NATSConfig{Config: producer.DefaultConfig(), CreateStreams: true},
		Policy:        rules.DefaultPolicy(),
		HTTPAddr:      ":8080",
		ShutdownGrace: 15 * time.Second,
		LogFormat:     "text",
		LogLevel:      "info",
	}
}

// parseConfig parses args into a copy of def. The environment gives each
// flag its default; a flag on the command line wins. Errors wrap errUsage;
// -h prints the flags and returns flag.ErrHelp.
func parseConfig(name string, def Config, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := def
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	e := c.register(fs, getenv)
	if err := parseFlags(fs, args, stderr, func(w io.Writer) {
		fmt.Fprintf(w, "usage: disputed %s [flags]\n", name)
		fmt.Fprintln(w, "Without --kafka-brokers, --redis-url and --nats-url, in-process servers are started.")
		fmt.Fprintln(w, "Every flag can also be set by its environment variable; the flag wins.")
	}); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, name, fs.Args())
	}
	errs := []error{e.check(fs)}
	// The embedded default serves the API without a token: unless told
	// otherwise it listens on loopback only.
	if c.embedded() && !flagSet(fs, "http-addr") && getenv(envName("http-addr")) == "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err == nil {
			c.HTTPAddr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	errs = append(errs, c.Validate())
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	return c, nil
}

// parseFlags parses args. -h prints head and the flags on stderr and
// returns flag.ErrHelp; a bad flag or value returns an error that says so
// and where the flags are listed, and prints nothing: the list is long, and
// would bury the one line that matters.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, head func(io.Writer)) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stderr)
		head(stderr)
		fs.PrintDefaults()
		return err
	case err != nil:
		return fmt.Errorf("%v (\"disputed %s -h\" lists the flags)", err, fs.Name())
	}
	return nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// register defines the flags on fs, with the current values of c as
// defaults unless the environment has others. The envDefaults returned
// know which field each flag sets, and report the environment values that
// did not parse.
func (c *Config) register(fs *flag.FlagSet, getenv func(string) string) *envDefaults {
	e := &envDefaults{}
	e.policy(fs, &c.Policy, getenv)
	str := func(p *string, name, help string) { e.string(fs, p, name, getenv, help) }
	dur := func(p *time.Duration, name, help string) { e.duration(fs, p, name, envName(name), getenv, help) }
	boolean := func(p *bool, name, help string) { e.bool(fs, p, name, getenv, help) }

	k := &c.Kafka
	e.list(fs, &k.Brokers, "kafka-brokers", getenv, "comma-separated Kafka `host:port` list")
	str(&k.Group, "group", "Kafka consumer `group` ID")
	str(&k.Topics.Orders, "topic-orders", "input `topic` of order events")
	str(&k.Topics.Deliveries, "topic-deliveries", "input `topic` of delivery events")
	str(&k.Topics.Chats, "topic-chats", "input `topic` of chat messages")
	str(&k.Topics.RefundRequests, "topic-refund-requests", "input `topic` of refund events")
	str(&k.DeadLetterTopic, "topic-dlq", "dead-letter `topic` for malformed input")
	dur(&k.HeartbeatInterval, "group-heartbeat", "consumer group heartbeat interval")
	dur(&k.SessionTimeout, "group-session-timeout", "how long the group waits for a silent member before moving its partitions")
	dur(&k.RebalanceTimeout, "group-rebalance-timeout", "how long a rebalance may take")
	boolean(&k.TLS, "kafka-tls", "connect to Kafka with TLS")
	e.tlsFiles(fs, &k.TLSCA, &k.TLSCert, &k.TLSKey, "kafka-tls", "the Kafka brokers", getenv)
	boolean(&k.TLSInsecure, "kafka-tls-insecure", "do not verify the Kafka brokers' certificates (testing only)")
	str(&k.SASLMechanism, "kafka-sasl-mechanism", "Kafka SASL `mechanism`: plain, scram-sha-256 or scram-sha-512")
	str(&k.SASLUser, "kafka-sasl-user", "Kafka SASL `user`")
	e.secret(fs, &k.SASLPasswd, "kafka-sasl-password", getenv, "Kafka SASL `password`")

	r := &c.Redis
	str(&r.URL, "redis-url", "Redis `URL`: redis://[user:password@]host:port[/db] or rediss://...")
	boolean(&r.Cluster, "redis-cluster", "Redis is a cluster: the URL's host and --redis-cluster-addrs are its seeds")
	e.list(fs, &r.ClusterAddrs, "redis-cluster-addrs", getenv, "comma-separated further Redis Cluster seed `host:port` list")
	str(&r.Prefix, "redis-prefix", "`prefix` of every Redis key")
	str(&r.TLSCA, "redis-tls-ca", "PEM `file` of the CAs that sign Redis's certificate (rediss:// only)")
	str(&r.Durability.Mode, "redis-durability", "what a save makes sure of before its commands are published: fsync (every primary runs appendfsync always; checked at start), replicas (each save waits for --redis-wait-replicas), or unsafe")
	e.int(fs, &r.Durability.Replicas, "redis-wait-replicas", getenv, "with --redis-durability replicas: replicas that must have each save")
	dur(&r.Durability.Timeout, "redis-wait-timeout", "with --redis-durability replicas: how long one WAIT waits before it is asked again")

	n := &c.NATS
	n.register(fs, e, getenv)
	boolean(&n.CreateStreams, "create-streams", "create or update the JetStream streams on start")
	dur(&n.DisputesDuplicates, "duplicate-window", "JetStream duplicate window of the disputes stream")
	dur(&n.FinanceDuplicates, "finance-duplicate-window", "JetStream duplicate window of the finance and guard streams: an outage of Redis or NATS shorter than it cannot store a transfer twice")
	str(&n.GuardStream, "stream-guard", "JetStream `stream` of disputed.guard.>, which refuses a second final ruling of an order")
	e.int(fs, &n.Replicas, "stream-replicas", getenv, "replicas of each JetStream stream (1, 3 or 5 on a NATS cluster)")

	str(&c.HTTPAddr, "http-addr", "`address` serving /metrics, /healthz, /readyz and the /v1 API")
	e.secret(fs, &c.APIToken, "api-token", getenv, "bearer `token` of the /v1 inspection API")
	boolean(&c.Pprof, "pprof", "serve the Go profiler at /debug/pprof/ on --http-addr (it shows the process's internals: a trusted network only)")
	dur(&r.Retention, "retention", "how long a closed order is kept in Redis")
	dur(&k.Skew, "skew", "an event stamped further ahead of the clock is malformed")
	dur(&k.Idle, "idle", "how long a topic read to its end holds back the partition's event time (and its deadlines) for events of other topics still on their way")
	e.int(fs, &k.MaxBatch, "max-batch", getenv, "most events applied in one atomic step")
	dur(&c.ShutdownGrace, "shutdown-grace", "time to finish in-flight work on SIGTERM")
	str(&c.LogFormat, "log-format", "log `format`: text or json")
	str(&c.LogLevel, "log-level", "log `level`: debug, info, warn or error")
	e.int(fs, &c.EmbeddedPorts.Kafka, "embedded-kafka-port", getenv, "on the embedded default: the in-process Kafka's `port` on 127.0.0.1 (0: any free one)")
	e.int(fs, &c.EmbeddedPorts.NATS, "embedded-nats-port", getenv, "on the embedded default: the in-process NATS's `port` on 127.0.0.1 (0: any free one)")
	e.int(fs, &c.EmbeddedPorts.Redis, "embedded-redis-port", getenv, "on the embedded default: the in-process Redis's `port` on 127.0.0.1 (0: any free one)")
	return e
}

// envName is the environment variable of a flag: --kafka-brokers is
// DISPUTED_KAFKA_BROKERS.
func envName(flagName string) string {
	return "DISPUTED_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// register defines the flags of a connection to NATS and of the two
// streams' names, which run and tail share.
func (n *NATSConfig) register(fs *flag.FlagSet, e *envDefaults, getenv func(string) string) {
	str := func(p *string, name, help string) { e.string(fs, p, name, getenv, help) }
	str(&n.URL, "nats-url", "NATS server `URL` (comma-separated for several)")
	str(&n.Creds, "nats-creds", "NATS credentials `file`")
	str(&n.NKey, "nats-nkey", "NATS nkey seed `file`")
	str(&n.User, "nats-user", "NATS `user`")
	e.secret(fs, &n.Password, "nats-password", getenv, "NATS `password`")
	e.tlsFiles(fs, &n.TLSCA, &n.TLSCert, &n.TLSKey, "nats-tls", "the NATS server", getenv)
	str(&n.DisputesStream, "stream-disputes", "JetStream `stream` of disputes.> (rulings, notices, rejections)")
	str(&n.FinanceStream, "stream-finance", "JetStream `stream` of finance.> (transfers)")
}

// The methods below extend envDefaults (policy.go) to the other flag types.

// tlsFiles defines the three flags prefix-ca, prefix-cert and prefix-key
// of a client's TLS files for what it connects to.
func (e *envDefaults) tlsFiles(fs *flag.FlagSet, ca, cert, key *string, prefix, what string, getenv func(string) string) {
	e.string(fs, ca, prefix+"-ca", getenv, "PEM `file` of the CAs to trust for "+what+" (default: the system's)")
	e.string(fs, cert, prefix+"-cert", getenv, "PEM `file` of the client certificate for "+what)
	e.string(fs, key, prefix+"-key", getenv, "PEM `file` of the client certificate's key for "+what)
}

func (e *envDefaults) string(fs *flag.FlagSet, p *string, name string, getenv func(string) string, help string) {
	env := envName(name)
	def := *p
	if v := getenv(env); v != "" {
		def = v
	}
	fs.StringVar(p, name, def, help+" (env "+env+")")
	e.defines(p, name)
}

// secret is string for passwords: the environment value is not shown as the
// flag's default in -h.
func (e *envDefaults) secret(fs *flag.FlagSet, p *string, name string, getenv func(string) string, help string) {
	env := envName(name)
	fs.StringVar(p, name, "", help+" (env "+env+"; prefer it to the flag, which ps shows)")
	e.defines(p, name)
	e.secrets = append(e.secrets, name)
	if v := getenv(env); v != "" {
		*p = v // after StringVar, which resets *p to the shown default
	}
}

func (e *envDefaults) bool(fs *flag.FlagSet, p *bool, name string, getenv func(string) string, help string) {
	env := envName(name)
	def := *p
	if v := getenv(env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.fail(name, env, v, errors.New("not a boolean (true or false)"))
		} else {
			def = b
		}
	}
	fs.BoolVar(p, name, def, help+" (env "+env+")")
	e.defines(p, name)
}

func (e *envDefaults) int(fs *flag.FlagSet, p *int, name string, getenv func(string) string, help string) {
	env := envName(name)
	def := *p
	if v := getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.fail(name, env, v, errors.New("not an integer"))
		} else {
			def = n
		}
	}
	fs.IntVar(p, name, def, help+" (env "+env+")")
	e.defines(p, name)
}

func (e *envDefaults) list(fs *flag.FlagSet, p *[]string, name string, getenv func(string) string, help string) {
	env := envName(name)
	if v := getenv(env); v != "" {
		*p = netaddr.SplitList(v)
	}
	e.defines(p, name)
	fs.Func(name, help+" (env "+env+")", func(v string) error {
		*p = netaddr.SplitList(v)
		return nil
	})
}

// embedded reports whether no server is configured, so that run starts its
// own in-process ones.
func (c Config) embedded() bool {
	return len(c.Kafka.Brokers) == 0 && c.Redis.URL == "" && c.NATS.URL == ""
}
