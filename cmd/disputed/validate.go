package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/state"
	"github.com/redis/go-redis/v9"
)

// Validate reports every value that is wrong, naming its flag, before
// anything is dialled.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flagName, fmt.Sprintf(format, args...)))
	}
	c.validateServers(bad)
	c.Kafka.validate(bad)
	c.Redis.validate(bad)
	c.NATS.validate(bad)

	if c.Policy.EvidenceWindow <= 0 {
		bad("evidence-window", "%v: must be positive", c.Policy.EvidenceWindow)
	}
	if c.Policy.ModificationWindow <= 0 {
		bad("modification-window", "%v: must be positive", c.Policy.ModificationWindow)
	}
	if c.Policy.EvidenceWindow > 0 && c.Policy.ModificationWindow > 0 {
		if err := c.Policy.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("policy: %w", err))
		}
	}
	if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http-addr", "%q is not host:port (e.g. :8080)", c.HTTPAddr)
	} else if c.embedded() && c.APIToken == "" && !loopback(host) {
		bad("http-addr", "%q is reachable from other hosts, and the embedded default serves the API without a token: set --api-token (DISPUTED_API_TOKEN), or listen on 127.0.0.1", c.HTTPAddr)
	}
	positive("group-heartbeat", c.Kafka.HeartbeatInterval, bad)
	positive("group-session-timeout", c.Kafka.SessionTimeout, bad)
	positive("group-rebalance-timeout", c.Kafka.RebalanceTimeout, bad)
	if c.Kafka.HeartbeatInterval >= c.Kafka.SessionTimeout {
		bad("group-heartbeat", "%v: must be shorter than --group-session-timeout %v", c.Kafka.HeartbeatInterval, c.Kafka.SessionTimeout)
	}
	positive("retention", c.Retention, bad)
	positive("skew", c.Skew, bad)
	positive("idle", c.Idle, bad)
	positive("shutdown-grace", c.ShutdownGrace, bad)
	if c.MaxBatch <= 0 || c.MaxBatch > 100_000 {
		bad("max-batch", "%d: must be between 1 and 100000", c.MaxBatch)
	}
	if _, ok := logFormats[c.LogFormat]; !ok {
		bad("log-format", "%q: must be text or json", c.LogFormat)
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		bad("log-level", "%q: must be debug, info, warn or error", c.LogLevel)
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"embedded-kafka-port", c.EmbeddedPorts.Kafka}, {"embedded-nats-port", c.EmbeddedPorts.NATS}, {"embedded-redis-port", c.EmbeddedPorts.Redis}} {
		switch {
		case p.port < 0 || p.port > 65535:
			bad(p.flag, "%d: must be a port, 1 to 65535 (0: any free one)", p.port)
		case p.port != 0 && !c.embedded():
			bad(p.flag, "%d: only the embedded default starts servers of its own; drop it with --kafka-brokers, --redis-url and --nats-url", p.port)
		}
	}
	return errors.Join(errs...)
}

var logFormats = map[string]bool{"text": true, "json": true}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

func positive(flagName string, d time.Duration, bad func(string, string, ...any)) {
	if d <= 0 {
		bad(flagName, "%v: must be positive", d)
	}
}

// validateServers checks that the three servers are either all given or
// all left to the embedded default: half an embedded deployment would
// silently keep state in memory.
func (c Config) validateServers(bad func(string, string, ...any)) {
	if c.embedded() {
		return
	}
	var missing []string
	if len(c.Kafka.Brokers) == 0 {
		missing = append(missing, "--kafka-brokers")
	}
	if c.Redis.URL == "" {
		missing = append(missing, "--redis-url")
	}
	if c.NATS.URL == "" {
		missing = append(missing, "--nats-url")
	}
	if len(missing) > 0 {
		bad(strings.TrimPrefix(missing[0], "--"), "missing %s (give all of --kafka-brokers, --redis-url and --nats-url, or none to run on in-process servers)",
			strings.Join(missing, ", "))
	}
}

func (k KafkaConfig) validate(bad func(string, string, ...any)) {
	for _, b := range k.Brokers {
		if !netaddr.HostPort(b) {
			bad("kafka-brokers", "%q is not host:port", b)
		}
	}
	if strings.TrimSpace(k.Group) == "" {
		bad("group", "must not be empty")
	}
	seen := make(map[string]string)
	for _, t := range []struct{ flag, name string }{
		{"topic-orders", k.Topics.Orders}, {"topic-deliveries", k.Topics.Deliveries},
		{"topic-chats", k.Topics.Chats}, {"topic-refund-requests", k.Topics.RefundRequests},
		{"topic-dlq", k.DLQTopic},
	} {
		switch {
		case !validTopic(t.name):
			bad(t.flag, "%q is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", t.name)
		case seen[t.name] != "":
			bad(t.flag, "%q is also --%s: each topic must be different", t.name, seen[t.name])
		default:
			seen[t.name] = t.flag
		}
	}
	tlsSet := k.TLSFiles != (TLSFiles{}) || k.TLSInsecure
	if tlsSet && !k.TLS {
		bad("kafka-tls", "--kafka-tls-ca, --kafka-tls-cert, --kafka-tls-key and --kafka-tls-insecure need --kafka-tls")
	}
	k.TLSFiles.validate("kafka-tls", bad)
	switch k.SASLMechanism {
	case "":
		if k.SASLUser != "" || k.SASLPassword != "" {
			bad("kafka-sasl-mechanism", "must be set when a SASL user or password is given")
		}
	case consumer.SASLPlain, consumer.SASLSCRAMSHA256, consumer.SASLSCRAMSHA512:
		if k.SASLUser == "" {
			bad("kafka-sasl-user", "required by --kafka-sasl-mechanism %s", k.SASLMechanism)
		}
		if k.SASLPassword == "" {
			bad("kafka-sasl-password", "required by --kafka-sasl-mechanism %s (env DISPUTED_KAFKA_SASL_PASSWORD)", k.SASLMechanism)
		}
	default:
		bad("kafka-sasl-mechanism", "%q: must be plain, scram-sha-256 or scram-sha-512", k.SASLMechanism)
	}
}

// validTopic follows Kafka's own rule for topic names.
func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (t TLSFiles) validate(prefix string, bad func(string, string, ...any)) {
	if t.Cert != "" && t.Key == "" {
		bad(prefix+"-key", "required by --%s-cert", prefix)
	}
	if t.Key != "" && t.Cert == "" {
		bad(prefix+"-cert", "required by --%s-key", prefix)
	}
}

func (r RedisConfig) validate(bad func(string, string, ...any)) {
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss"):
			bad("redis-url", "%s: must be a redis:// or rediss:// URL", netaddr.Redact(r.URL))
		default:
			if _, err := redis.ParseURL(r.URL); err != nil {
				bad("redis-url", "%s: %v", netaddr.Redact(r.URL), err)
			}
			if r.TLSCA != "" && u.Scheme != "rediss" {
				bad("redis-tls-ca", "needs a rediss:// URL")
			}
		}
	}
	if r.Cluster && r.URL == "" {
		bad("redis-cluster", "needs --redis-url (a seed of the cluster)")
	}
	if len(r.ClusterAddrs) > 0 && !r.Cluster {
		bad("redis-cluster-addrs", "needs --redis-cluster")
	}
	for _, a := range r.ClusterAddrs {
		if !netaddr.HostPort(a) {
			bad("redis-cluster-addrs", "%q is not host:port", a)
		}
	}
	switch r.Durability {
	case state.DurabilityFsync, state.DurabilityUnsafe:
	case state.DurabilityReplicas:
		if r.WaitReplicas < 1 {
			bad("redis-wait-replicas", "%d: --redis-durability replicas needs at least 1", r.WaitReplicas)
		}
		positive("redis-wait-timeout", r.WaitTimeout, bad)
	default:
		bad("redis-durability", "%q: must be fsync, replicas or unsafe", r.Durability)
	}
	// Braces would break the {partition} hash tag that keeps a partition's
	// keys in one cluster slot.
	if r.Prefix == "" || strings.ContainsAny(r.Prefix, "{} \t\n") {
		bad("redis-prefix", "%q: must be non-empty, without braces or spaces", r.Prefix)
	}
}

func (n NATSConfig) validate(bad func(string, string, ...any)) {
	if n.URL != "" {
		for _, s := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
				bad("nats-url", "%s: must be a nats://, tls://, ws:// or wss:// URL with a host", netaddr.Redact(s))
			}
		}
	}
	auth := 0
	for _, set := range []bool{n.Creds != "", n.NKey != "", n.User != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		bad("nats-creds", "--nats-creds, --nats-nkey and --nats-user exclude one another")
	}
	if n.Password != "" && n.User == "" {
		bad("nats-user", "required by --nats-password")
	}
	n.TLSFiles.validate("nats-tls", bad)
	seen := make(map[string]string)
	for _, s := range []struct{ flag, name string }{{"stream-disputes", n.DisputesStream}, {"stream-finance", n.FinanceStream}, {"stream-guard", n.GuardStream}} {
		switch {
		case s.name == "" || strings.ContainsAny(s.name, ".*> \t\n/\\"):
			bad(s.flag, "%q is not a JetStream stream name", s.name)
		case seen[s.name] != "":
			bad(s.flag, "%q is also --%s: the streams must differ", s.name, seen[s.name])
		default:
			seen[s.name] = s.flag
		}
	}
	positive("duplicate-window", n.Duplicates, bad)
	positive("finance-duplicate-window", n.FinanceDuplicates, bad)
	if n.Replicas < 1 || n.Replicas > 5 {
		bad("stream-replicas", "%d: must be 1 to 5", n.Replicas)
	}
}

// loopback reports whether a listen host reaches this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
