package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// external is a valid configuration with all three servers given.
func external() Config {
	c := defaultConfig()
	c.Kafka.Brokers = []string{"kafka-0:9092", "kafka-1:9092"}
	c.Redis.URL = "redis://:secret@redis:6379/0"
	c.NATS.URL = "nats://nats:4222"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults run embedded, on loopback", modify: func(c *Config) { *c = defaultConfig(); c.HTTPAddr = "127.0.0.1:8080" }},
		{
			name:   "embedded on every interface without a token",
			modify: func(c *Config) { *c = defaultConfig(); c.HTTPAddr = ":8080" },
			want:   []string{`--http-addr: ":8080" is reachable from other hosts`},
		},
		{name: "embedded on every interface with a token", modify: func(c *Config) { *c = defaultConfig(); c.APIToken = "t" }},
		{name: "all servers given", modify: func(*Config) {}},
		{
			name:   "only redis given",
			modify: func(c *Config) { c.Kafka.Brokers, c.NATS.URL = nil, "" },
			want:   []string{"missing --kafka-brokers, --nats-url"},
		},
		{
			name:   "broker without port",
			modify: func(c *Config) { c.Kafka.Brokers = []string{"kafka-0"} },
			want:   []string{`--kafka-brokers: "kafka-0" is not host:port`},
		},
		{
			name:   "empty topic",
			modify: func(c *Config) { c.Kafka.Topics.Chats = "" },
			want:   []string{`--topic-chats: "" is not a Kafka topic name`},
		},
		{
			name:   "duplicate topics",
			modify: func(c *Config) { c.Kafka.Topics.Deliveries = "orders"; c.Kafka.DeadLetterTopic = "chats" },
			want:   []string{`--topic-deliveries: "orders" is also --topic-orders`, `--topic-dlq: "chats" is also --topic-chats`},
		},
		{
			name:   "topic with a space",
			modify: func(c *Config) { c.Kafka.Topics.Orders = "my orders" },
			want:   []string{"--topic-orders"},
		},
		{
			name:   "empty group",
			modify: func(c *Config) { c.Kafka.Group = " " },
			want:   []string{"--group: must not be empty"},
		},
		{
			name:   "not a redis URL",
			modify: func(c *Config) { c.Redis.URL = "http://redis:6379" },
			want:   []string{"--redis-url: http://redis:6379: must be a redis:// or rediss:// URL"},
		},
		{
			name:   "redis URL password is not echoed",
			modify: func(c *Config) { c.Redis.URL = "redis://:hunter2@redis:6379/notanumber" },
			want:   []string{"--redis-url: redis://:xxxxx@redis:6379/notanumber"},
		},
		{
			name:   "redis CA without TLS",
			modify: func(c *Config) { c.Redis.TLSCA = "ca.pem" },
			want:   []string{"--redis-tls-ca: needs a rediss:// URL"},
		},
		{
			name:   "rediss with CA",
			modify: func(c *Config) { c.Redis.URL, c.Redis.TLSCA = "rediss://redis:6380", "ca.pem" },
		},
		{
			name:   "cluster addresses without cluster",
			modify: func(c *Config) { c.Redis.ClusterAddrs = []string{"redis-1:6379"} },
			want:   []string{"--redis-cluster-addrs: needs --redis-cluster"},
		},
		{
			name:   "prefix with a hash tag",
			modify: func(c *Config) { c.Redis.Prefix = "a{b}" },
			want:   []string{"--redis-prefix"},
		},
		{
			name:   "bad nats URL",
			modify: func(c *Config) { c.NATS.URL = "nats://a:4222,http://b" },
			want:   []string{"--nats-url: http://b"},
		},
		{
			name:   "nats password without user",
			modify: func(c *Config) { c.NATS.Password = "pw" },
			want:   []string{"--nats-user: required by --nats-password"},
		},
		{
			name:   "nats creds and user",
			modify: func(c *Config) { c.NATS.Creds, c.NATS.User = "x.creds", "u" },
			want:   []string{"exclude one another"},
		},
		{
			name:   "nats TLS cert without key",
			modify: func(c *Config) { c.NATS.TLSCert = "cert.pem" },
			want:   []string{"--nats-tls-key: required by --nats-tls-cert"},
		},
		{
			name:   "same stream twice",
			modify: func(c *Config) { c.NATS.FinanceStream = c.NATS.DisputesStream },
			want:   []string{"--stream-finance"},
		},
		{
			name:   "kafka TLS key without cert",
			modify: func(c *Config) { c.Kafka.TLS, c.Kafka.TLSKey = true, "key.pem" },
			want:   []string{"--kafka-tls-cert: required by --kafka-tls-key"},
		},
		{
			name:   "kafka TLS files without TLS",
			modify: func(c *Config) { c.Kafka.TLSCA = "ca.pem" },
			want:   []string{"need --kafka-tls"},
		},
		{
			name:   "unknown SASL mechanism",
			modify: func(c *Config) { c.Kafka.SASLMechanism = "gssapi" },
			want:   []string{`--kafka-sasl-mechanism: "gssapi"`},
		},
		{
			name:   "SASL without user",
			modify: func(c *Config) { c.Kafka.SASLMechanism, c.Kafka.SASLPasswd = "scram-sha-512", "pw" },
			want:   []string{"--kafka-sasl-user: required"},
		},
		{
			name:   "SASL user without mechanism",
			modify: func(c *Config) { c.Kafka.SASLUser = "u" },
			want:   []string{"--kafka-sasl-mechanism: must be set"},
		},
		{
			name: "negative durations",
			modify: func(c *Config) {
				c.Redis.Retention, c.Kafka.Skew, c.ShutdownGrace, c.NATS.DisputesDuplicates = -time.Hour, -1, 0, -time.Minute
				c.Policy.EvidenceWindow = -time.Hour
			},
			want: []string{"--retention", "--skew", "--shutdown-grace", "--duplicate-window", "--evidence-window"},
		},
		{
			name:   "max batch zero",
			modify: func(c *Config) { c.Kafka.MaxBatch = 0 },
			want:   []string{"--max-batch"},
		},
		{
			name:   "unknown log format and level",
			modify: func(c *Config) { c.LogFormat, c.LogLevel = "xml", "trace" },
			want:   []string{`--log-format: "xml"`, `--log-level: "trace"`},
		},
		{
			name:   "http address without port",
			modify: func(c *Config) { c.HTTPAddr = "localhost" },
			want:   []string{"--http-addr"},
		},
		{
			name:   "SASL without password",
			modify: func(c *Config) { c.Kafka.SASLMechanism, c.Kafka.SASLUser = "plain", "u" },
			want:   []string{"--kafka-sasl-password: required by --kafka-sasl-mechanism plain (env DISPUTED_KAFKA_SASL_PASSWORD)"},
		},
		{
			name:   "heartbeat not shorter than the session",
			modify: func(c *Config) { c.Kafka.HeartbeatInterval = c.Kafka.SessionTimeout },
			want:   []string{"--group-heartbeat: 10s: must be shorter than --group-session-timeout 10s"},
		},
		{
			name: "durability replicas without replicas",
			modify: func(c *Config) {
				c.Redis.Durability.Mode, c.Redis.Durability.Replicas, c.Redis.Durability.Timeout = "replicas", 0, 0
			},
			want: []string{"--redis-wait-replicas: 0: --redis-durability replicas needs at least 1", "--redis-wait-timeout: 0s: must be positive"},
		},
		{
			name:   "unknown durability",
			modify: func(c *Config) { c.Redis.Durability.Mode = "always" },
			want:   []string{`--redis-durability: "always": must be fsync, replicas or unsafe`},
		},
		{
			name:   "stream replicas",
			modify: func(c *Config) { c.NATS.Replicas = 6 },
			want:   []string{"--stream-replicas: 6: must be 1 to 5"},
		},
		{
			name:   "modification window too long",
			modify: func(c *Config) { c.Policy.ModificationWindow = 100_000 * time.Hour },
			want:   []string{"--modification-window: 100000h0m0s: must be positive and at most 10 years"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := external()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate() = %v: leaks a password", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "--") {
					t.Errorf("Validate() = %v\n%q does not start with the flag it is about", err, line)
				}
			}
		})
	}
}

// TestConfigFlagsNameEveryFlag checks that the packages' errors, which name
// the fields of their configs, can name each flag in Config.
func TestConfigFlagsNameEveryFlag(t *testing.T) {
	c := defaultConfig()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.register(fs, env(nil))
	named := make(map[string]bool)
	for _, f := range configFlags().byField {
		named[f] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !named[f.Name] {
			t.Errorf("--%s names no field of Config", f.Name)
		}
	})
	for field, want := range map[string]string{
		"Kafka.Config.Topics.Orders":       "topic-orders",
		"Kafka.Config.DeadLetterTopic":     "topic-dlq",
		"Kafka.ClientConfig.SASLPasswd":    "kafka-sasl-password",
		"Redis.Config.Durability.Replicas": "redis-wait-replicas",
		"Redis.ClientConfig.URL":           "redis-url",
		"NATS.Config.DisputesDuplicates":   "duplicate-window",
		"NATS.ConnConfig.TLSKey":           "nats-tls-key",
		"Policy.EvidenceWindow":            "evidence-window",
		"EmbeddedPorts.Redis":              "embedded-redis-port",
	} {
		if got := configFlags().byField[field]; got != want {
			t.Errorf("flag of %s = %q, want %q", field, got, want)
		}
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c Config) {
				if c.Kafka.Group != "disputed" || c.Kafka.Topics.RefundRequests != "refund-requests" || c.Kafka.DeadLetterTopic != "disputes.dlq" ||
					c.Redis.Retention != 2160*time.Hour || c.Kafka.Skew != 5*time.Minute || c.NATS.DisputesDuplicates != 10*time.Minute || c.NATS.FinanceDuplicates != 6*time.Hour ||
					!c.NATS.CreateStreams || c.Kafka.MaxBatch != 500 || c.ShutdownGrace != 15*time.Second || c.HTTPAddr != "127.0.0.1:8080" {
					t.Errorf("defaults: %+v", c)
				}
				if !c.embedded() {
					t.Error("defaults are not embedded")
				}
			},
		},
		{
			name: "env gives the value",
			env: map[string]string{
				"DISPUTED_KAFKA_BROKERS": "k1:9092, k2:9092", "DISPUTED_REDIS_URL": "redis://r:6379",
				"DISPUTED_NATS_URL": "nats://n:4222", "DISPUTED_GROUP": "g-env", "DISPUTED_TOPIC_ORDERS": "o-env",
				"DISPUTED_CREATE_STREAMS": "false", "DISPUTED_MAX_BATCH": "7", "DISPUTED_EVIDENCE_WINDOW": "1h",
				"DISPUTED_NATS_USER": "u", "DISPUTED_NATS_PASSWORD": "pw-env",
			},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) || c.Kafka.Group != "g-env" ||
					c.Kafka.Topics.Orders != "o-env" || c.NATS.CreateStreams || c.Kafka.MaxBatch != 7 ||
					c.Policy.EvidenceWindow != time.Hour || c.NATS.Password != "pw-env" {
					t.Errorf("from env: %+v", c)
				}
			},
		},
		{
			name: "flag wins over env",
			args: []string{
				"--kafka-brokers", "k3:9092", "--redis-url", "redis://r2:6379", "--nats-url", "nats://n2:4222",
				"--group", "g-flag", "--create-streams=true", "--max-batch", "9", "--evidence-window", "2h",
				"--nats-user", "u", "--nats-password", "pw-flag",
			},
			env: map[string]string{
				"DISPUTED_KAFKA_BROKERS": "k1:9092", "DISPUTED_GROUP": "g-env", "DISPUTED_CREATE_STREAMS": "false",
				"DISPUTED_MAX_BATCH": "7", "DISPUTED_EVIDENCE_WINDOW": "1h", "DISPUTED_NATS_PASSWORD": "pw-env",
			},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Kafka.Brokers, []string{"k3:9092"}) || c.Kafka.Group != "g-flag" || !c.NATS.CreateStreams ||
					c.Kafka.MaxBatch != 9 || c.Policy.EvidenceWindow != 2*time.Hour || c.NATS.Password != "pw-flag" {
					t.Errorf("flags over env: %+v", c)
				}
			},
		},
		{
			name: "with servers the API listens on every interface",
			args: []string{"--kafka-brokers", "k:9092", "--redis-url", "redis://r:6379", "--nats-url", "nats://n:4222"},
			check: func(t *testing.T, c Config) {
				if c.HTTPAddr != ":8080" {
					t.Errorf("HTTPAddr = %q, want :8080", c.HTTPAddr)
				}
			},
		},
		{
			name: "embedded on every interface with a token",
			args: []string{"--http-addr", ":9090"},
			env:  map[string]string{"DISPUTED_API_TOKEN": "t"},
			check: func(t *testing.T, c Config) {
				if c.HTTPAddr != ":9090" {
					t.Errorf("HTTPAddr = %q, want :9090", c.HTTPAddr)
				}
			},
		},
		{
			name: "a flag overrides a bad env value",
			args: []string{"--max-batch", "3"},
			env:  map[string]string{"DISPUTED_MAX_BATCH": "lots"},
			check: func(t *testing.T, c Config) {
				if c.Kafka.MaxBatch != 3 {
					t.Errorf("MaxBatch = %d", c.Kafka.MaxBatch)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig("run", defaultConfig(), tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: []string{"flag provided but not defined: -nope"}},
		{name: "bad duration flag", args: []string{"--retention", "forever"}, want: []string{"retention"}},
		{name: "argument", args: []string{"extra"}, want: []string{"takes no arguments"}},
		{name: "embedded API open to the network", args: []string{"--http-addr", "0.0.0.0:8080"}, want: []string{"reachable from other hosts", "--api-token"}},
		{
			name: "bad env values",
			env:  map[string]string{"DISPUTED_MAX_BATCH": "lots", "DISPUTED_KAFKA_TLS": "maybe", "DISPUTED_SKEW": "soon"},
			want: []string{`DISPUTED_MAX_BATCH="lots"`, `DISPUTED_KAFKA_TLS="maybe"`, `DISPUTED_SKEW="soon"`},
		},
		{name: "embedded port out of range", args: []string{"--embedded-kafka-port", "70000"}, want: []string{"--embedded-kafka-port: 70000: must be a port"}},
		{
			name: "embedded port with servers",
			args: []string{"--kafka-brokers", "k:9092", "--redis-url", "redis://r:6379", "--nats-url", "nats://n:4222", "--embedded-nats-port", "4222"},
			want: []string{"--embedded-nats-port: 4222: only the embedded default"},
		},
		{
			name: "validation after parsing",
			args: []string{"--nats-url", "nats://n:4222", "--log-format", "xml"},
			want: []string{"missing --kafka-brokers, --redis-url", "--log-format"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("run", defaultConfig(), tt.args, env(tt.env), io.Discard)
			if !errors.Is(err, errUsage) {
				t.Fatalf("parseConfig = %v, want errUsage (exit 2)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parseConfig = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigHelpHidesSecrets(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig("run", defaultConfig(), []string{"-h"}, env(map[string]string{
		"DISPUTED_NATS_PASSWORD": "pw-env", "DISPUTED_KAFKA_SASL_PASSWORD": "sasl-env",
	}), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig -h = %v", err)
	}
	if strings.Contains(out.String(), "pw-env") || strings.Contains(out.String(), "sasl-env") {
		t.Errorf("-h shows a password from the environment:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "DISPUTED_KAFKA_SASL_PASSWORD") {
		t.Errorf("-h does not name the environment variables:\n%s", out.String())
	}
}

// TestReadmeListsEveryFlag keeps the README's flag table whole: an operator
// reads it, not the source.
func TestReadmeListsEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	c := defaultConfig()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.register(fs, env(nil))
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(readme, "`--"+f.Name+"`") {
			t.Errorf("README.md does not list --%s", f.Name)
		}
	})
}
