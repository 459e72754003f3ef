package consumer

import (
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/configtest"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults", modify: func(*Config) {}},
		{name: "brokers", modify: func(c *Config) { c.Brokers = []string{"kafka-0:9092", "[::1]:9092"} }},
		{
			name:   "broker without port",
			modify: func(c *Config) { c.Brokers = []string{"kafka-0:9092", "kafka-1"} },
			want:   []string{`Brokers: "kafka-1" is not host:port`},
		},
		{name: "blank group", modify: func(c *Config) { c.Group = " " }, want: []string{"Group: must not be empty"}},
		{
			name:   "topic names",
			modify: func(c *Config) { c.Topics.Chats, c.Topics.Orders, c.DeadLetterTopic = "", "my orders", ".." },
			want:   []string{`Topics.Chats: "" is not a Kafka topic name`, `Topics.Orders: "my orders"`, `DeadLetterTopic: ".."`},
		},
		{name: "longest topic name", modify: func(c *Config) { c.Topics.Chats = strings.Repeat("c", 249) }},
		{name: "topic name too long", modify: func(c *Config) { c.Topics.Chats = strings.Repeat("c", 250) }, want: []string{"Topics.Chats"}},
		{
			name:   "same topic twice",
			modify: func(c *Config) { c.Topics.Deliveries = c.Topics.Orders; c.DeadLetterTopic = c.Topics.Chats },
			want: []string{
				`Topics.Deliveries: "orders" is also Topics.Orders: each topic must be different`,
				`DeadLetterTopic: "chats" is also Topics.Chats`,
			},
		},
		{name: "max batch zero", modify: func(c *Config) { c.MaxBatch = 0 }, want: []string{"MaxBatch: 0: must be between 1 and 100000"}},
		{name: "max batch too large", modify: func(c *Config) { c.MaxBatch = 100_001 }, want: []string{"MaxBatch: 100001"}},
		{name: "max batch largest", modify: func(c *Config) { c.MaxBatch = 100_000 }},
		{
			name: "durations not positive",
			modify: func(c *Config) {
				c.Idle, c.Skew, c.MaxWait, c.RebalanceTimeout, c.FlushTimeout, c.BatchTimeout, c.OutboxStuck = 0, -time.Second, 0, 0, 0, 0, 0
			},
			want: []string{
				"Idle: 0s: must be positive", "Skew: -1s: must be positive", "MaxWait", "RebalanceTimeout",
				"FlushTimeout", "BatchTimeout", "OutboxStuck",
			},
		},
		{name: "sizes not positive", modify: func(c *Config) { c.MaxBytes, c.DueLimit = 0, -1 }, want: []string{"MaxBytes: 0", "DueLimit: -1"}},
		{
			name:   "heartbeat not shorter than the session",
			modify: func(c *Config) { c.HeartbeatInterval, c.SessionTimeout = 10*time.Second, 10*time.Second },
			want:   []string{"HeartbeatInterval: 10s: must be shorter than SessionTimeout 10s"},
		},
		{
			name:   "zero session",
			modify: func(c *Config) { c.SessionTimeout = 0 },
			want:   []string{"SessionTimeout: 0s: must be positive", "HeartbeatInterval: 1s: must be shorter than SessionTimeout 0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			configtest.Check(t, c.Validate(), tt.want)
		})
	}
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    ClientConfig
		want []string
	}{
		{name: "plain TCP"},
		{name: "TLS with files", c: ClientConfig{TLS: true, TLSCA: "ca.pem", TLSCert: "c.pem", TLSKey: "k.pem"}},
		{name: "TLS unverified", c: ClientConfig{TLS: true, TLSInsecure: true}},
		{
			name: "TLS files without TLS",
			c:    ClientConfig{TLSCA: "ca.pem"},
			want: []string{"TLS: TLSCA, TLSCert, TLSKey and TLSInsecure need TLS"},
		},
		{name: "unverified without TLS", c: ClientConfig{TLSInsecure: true}, want: []string{"need TLS"}},
		{name: "cert without key", c: ClientConfig{TLS: true, TLSCert: "c.pem"}, want: []string{"TLSKey: required by TLSCert"}},
		{name: "key without cert", c: ClientConfig{TLS: true, TLSKey: "k.pem"}, want: []string{"TLSCert: required by TLSKey"}},
		{name: "SASL plain", c: ClientConfig{SASLMechanism: SASLPlain, SASLUser: "u", SASLPasswd: "p"}},
		{name: "SASL SCRAM", c: ClientConfig{SASLMechanism: SASLSCRAMSHA512, SASLUser: "u", SASLPasswd: "p"}},
		{
			name: "SASL without user and password",
			c:    ClientConfig{SASLMechanism: SASLSCRAMSHA256},
			want: []string{"SASLUser: required by SASLMechanism scram-sha-256", "SASLPasswd: required by SASLMechanism scram-sha-256"},
		},
		{name: "user without mechanism", c: ClientConfig{SASLUser: "u"}, want: []string{"SASLMechanism: must be set"}},
		{
			name: "unknown mechanism",
			c:    ClientConfig{SASLMechanism: "gssapi", SASLUser: "u", SASLPasswd: "p"},
			want: []string{`SASLMechanism: "gssapi": must be plain, scram-sha-256 or scram-sha-512`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configtest.Check(t, tt.c.Validate(), tt.want)
		})
	}
}
