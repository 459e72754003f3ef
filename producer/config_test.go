package producer_test

import (
	"strings"
	"testing"

	"github.com/disputed/disputed/internal/configtest"
	"github.com/disputed/disputed/producer"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*producer.Config)
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults", modify: func(*producer.Config) {}},
		{name: "three replicas", modify: func(c *producer.Config) { c.Replicas = 3 }},
		{
			name:   "stream names",
			modify: func(c *producer.Config) { c.DisputesStream, c.FinanceStream, c.GuardStream = "", "FIN.ANCE", "a b" },
			want:   []string{`DisputesStream: "" is not a JetStream stream name`, `FinanceStream: "FIN.ANCE"`, `GuardStream: "a b"`},
		},
		{
			name:   "same stream twice",
			modify: func(c *producer.Config) { c.FinanceStream, c.GuardStream = c.DisputesStream, c.DisputesStream },
			want: []string{
				`FinanceStream: "DISPUTES" is also DisputesStream: the streams must differ`,
				`GuardStream: "DISPUTES" is also DisputesStream`,
			},
		},
		{
			name:   "windows",
			modify: func(c *producer.Config) { c.DisputesDuplicates, c.FinanceDuplicates, c.AckTimeout = 0, -1, 0 },
			want:   []string{"DisputesDuplicates: 0s: must be positive", "FinanceDuplicates: -1ns: must be positive", "AckTimeout: 0s"},
		},
		{name: "no replicas", modify: func(c *producer.Config) { c.Replicas = 0 }, want: []string{"Replicas: 0: must be 1 to 5"}},
		{name: "too many replicas", modify: func(c *producer.Config) { c.Replicas = 7 }, want: []string{"Replicas: 7"}},
		{name: "no pending", modify: func(c *producer.Config) { c.MaxPending = 0 }, want: []string{"MaxPending: 0: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := producer.DefaultConfig()
			tt.modify(&c)
			configtest.Check(t, c.Validate(), tt.want)
		})
	}
}

func TestConnConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    producer.ConnConfig
		want []string
	}{
		{name: "none yet"},
		{name: "servers", c: producer.ConnConfig{URL: "nats://a:4222, tls://b:4222,ws://c,wss://d"}},
		{name: "user", c: producer.ConnConfig{URL: "nats://a:4222", User: "u", Password: "p"}},
		{name: "TLS client certificate", c: producer.ConnConfig{TLSCA: "ca.pem", TLSCert: "c.pem", TLSKey: "k.pem"}},
		{
			name: "not NATS",
			c:    producer.ConnConfig{URL: "nats://a:4222,http://b,nats://u:hunter2@"},
			want: []string{"URL: http://b: must be a nats://, tls://, ws:// or wss:// URL with a host", "URL: nats://u:xxxxx@: "},
		},
		{
			name: "two ways to authenticate",
			c:    producer.ConnConfig{Creds: "x.creds", NKey: "x.nk"},
			want: []string{"Creds: Creds, NKey and User exclude one another"},
		},
		{name: "password without user", c: producer.ConnConfig{Password: "p"}, want: []string{"User: required by Password"}},
		{name: "cert without key", c: producer.ConnConfig{TLSCert: "c.pem"}, want: []string{"TLSKey: required by TLSCert"}},
		{name: "key without cert", c: producer.ConnConfig{TLSKey: "k.pem"}, want: []string{"TLSCert: required by TLSKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			configtest.Check(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Validate() = %v: shows the password", err)
			}
		})
	}
}
