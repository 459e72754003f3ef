package state

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// Config says where in Redis disputed keeps its data. Start from
// DefaultConfig; a zero field is filled with its default.
type Config struct {
	// Prefix starts every key, so several deployments (or tests) can share
	// a server.
	Prefix string
	// Retention is how long a closed order (ruled, or accepted by the
	// customer) is kept; open ones never expire.
	Retention time.Duration
	// Durability is what a save makes sure of before its commands may be
	// published (durability.go).
	Durability Durability
	// Now is the wall clock, used only to stamp outbox entries and status
	// changes for the reviewers' queue and the oldest-entry metric.
	Now func() time.Time
}

// DefaultConfig returns the store's defaults.
func DefaultConfig() Config {
	return Config{
		Prefix: "disputed", Retention: 90 * 24 * time.Hour,
		Durability: Durability{Mode: DurabilityFsync, Replicas: 1, Timeout: time.Second},
		Now:        time.Now,
	}
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field. It checks c as it is given: a zero
// field that NewRedis would fill with its default is reported, so start
// from DefaultConfig.
func (c Config) Validate() error {
	var f rules.ConfigErrors
	// Braces would break the {partition} hash tag that keeps a partition's
	// keys in one cluster slot.
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, "{} \t\n") {
		f.Add("Prefix", "%q: must be non-empty, without braces or spaces", c.Prefix)
	}
	f.Positive("Retention", c.Retention)
	switch d := c.Durability; d.Mode {
	case DurabilityFsync, DurabilityUnsafe:
	case DurabilityReplicas:
		if d.Replicas < 1 {
			f.Add("Durability.Replicas", "%d: %s %s needs at least 1", d.Replicas, rules.ConfigField("Durability.Mode"), DurabilityReplicas)
		}
		f.Positive("Durability.Timeout", d.Timeout)
	default:
		f.Add("Durability.Mode", "%q: must be %s, %s or %s", d.Mode, DurabilityFsync, DurabilityReplicas, DurabilityUnsafe)
	}
	return f.Err()
}

// Redis is the Redis-backed store of record. It is safe for concurrent use;
// writes to one partition must come from that partition's single owner, and
// any other writer (a stale owner after a rebalance), or a writer that
// Redis went back behind (it lost writes), gets rules.ErrConflict.
type Redis struct {
	c    redis.UniversalClient
	cfg  Config
	save *redis.Script
	ack  *redis.Script
}

//go:embed save.lua
var saveScript string

// NewRedis returns a store on c.
func NewRedis(c redis.UniversalClient, cfg Config) *Redis {
	d := DefaultConfig()
	if cfg.Prefix == "" {
		cfg.Prefix = d.Prefix
	}
	if cfg.Retention == 0 {
		cfg.Retention = d.Retention
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	if cfg.Durability.Mode == "" {
		cfg.Durability = d.Durability
	}
	return &Redis{c: c, cfg: cfg, save: redis.NewScript(saveScript), ack: redis.NewScript(ackScript)}
}

// Key is the name of one of partition p's keys: kind is "timers",
// "outbox", "offsets", "meta", "order:<id>" or "status:<status>". Every key
// of a partition carries the hash tag {p}, so the partition lives in one
// slot of a Redis Cluster.
func Key(prefix string, p int, kind string) string {
	return prefix + ":{" + strconv.Itoa(p) + "}:" + kind
}

func (r *Redis) key(p int, kind string) string { return Key(r.cfg.Prefix, p, kind) }

func (r *Redis) orderKey(p int, order string) string { return r.key(p, "order:"+order) }

func (r *Redis) statusKey(p int, s rules.Status) string { return r.key(p, "status:"+string(s)) }

// timerMember names a deadline in the partition's sorted set. Order IDs
// cannot contain '|' (rules.ValidOrderID).
func timerMember(order, timer string) string { return order + "|" + timer }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
