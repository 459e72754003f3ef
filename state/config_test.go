package state_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/configtest"
	"github.com/disputed/disputed/state"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*state.Config)
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults", modify: func(*state.Config) {}},
		{name: "unsafe", modify: func(c *state.Config) { c.Durability.Mode = state.DurabilityUnsafe }},
		{name: "replicas", modify: func(c *state.Config) { c.Durability.Mode = state.DurabilityReplicas }},
		{
			name:   "replicas without any",
			modify: func(c *state.Config) { c.Durability = state.Durability{Mode: state.DurabilityReplicas} },
			want:   []string{"Durability.Replicas: 0: Durability.Mode replicas needs at least 1", "Durability.Timeout: 0s: must be positive"},
		},
		{
			name:   "fsync ignores the replicas",
			modify: func(c *state.Config) { c.Durability.Replicas, c.Durability.Timeout = 0, 0 },
		},
		{
			name:   "unknown durability",
			modify: func(c *state.Config) { c.Durability.Mode = "always" },
			want:   []string{`Durability.Mode: "always": must be fsync, replicas or unsafe`},
		},
		{name: "empty prefix", modify: func(c *state.Config) { c.Prefix = "" }, want: []string{`Prefix: "": must be non-empty`}},
		{name: "prefix with a hash tag", modify: func(c *state.Config) { c.Prefix = "a{b}" }, want: []string{`Prefix: "a{b}"`}},
		{name: "prefix with a space", modify: func(c *state.Config) { c.Prefix = "a b" }, want: []string{"Prefix"}},
		{name: "prefix with a colon", modify: func(c *state.Config) { c.Prefix = "team:disputed" }},
		{name: "no retention", modify: func(c *state.Config) { c.Retention = -time.Hour }, want: []string{"Retention: -1h0m0s: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := state.DefaultConfig()
			tt.modify(&c)
			configtest.Check(t, c.Validate(), tt.want)
		})
	}
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    state.ClientConfig
		want []string
	}{
		{name: "none yet"},
		{name: "URL", c: state.ClientConfig{URL: "redis://:secret@redis:6379/0"}},
		{name: "TLS", c: state.ClientConfig{URL: "rediss://redis:6380", TLSCA: "ca.pem"}},
		{name: "cluster", c: state.ClientConfig{URL: "redis://r0:6379", Cluster: true, ClusterAddrs: []string{"r1:6379", "r2:6379"}}},
		{name: "not redis", c: state.ClientConfig{URL: "http://redis:6379"}, want: []string{"URL: http://redis:6379: must be a redis:// or rediss:// URL"}},
		{name: "bad database", c: state.ClientConfig{URL: "redis://:hunter2@redis:6379/notanumber"}, want: []string{"URL: redis://:xxxxx@redis:6379/notanumber: "}},
		{name: "CA without TLS", c: state.ClientConfig{URL: "redis://redis:6379", TLSCA: "ca.pem"}, want: []string{"TLSCA: needs a rediss:// URL"}},
		{name: "cluster without URL", c: state.ClientConfig{Cluster: true}, want: []string{"Cluster: needs URL"}},
		{
			name: "seeds without cluster",
			c:    state.ClientConfig{URL: "redis://r0:6379", ClusterAddrs: []string{"r1"}},
			want: []string{"ClusterAddrs: needs Cluster", `ClusterAddrs: "r1" is not host:port`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			configtest.Check(t, err, tt.want)
			if strings.Contains(fmt.Sprint(err), "hunter2") {
				t.Errorf("Validate() = %v: shows the password", err)
			}
		})
	}
}
