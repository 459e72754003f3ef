package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/state"
)

func TestCheckDurability(t *testing.T) {
	ctx := context.Background()
	srv := testserver.StartRedis(t) // appendonly yes, appendfsync always
	c := srv.Client()
	check := func(d state.Durability) error {
		return state.NewRedis(c, state.Config{Durability: d}).CheckDurability(ctx)
	}
	if err := check(state.Durability{Mode: state.DurabilityFsync}); err != nil {
		t.Errorf("fsync on appendfsync always: %v", err)
	}
	if err := c.ConfigSet(ctx, "appendfsync", "everysec").Err(); err != nil {
		t.Fatal(err)
	}
	if err := check(state.Durability{Mode: state.DurabilityFsync}); !errors.Is(err, state.ErrNotDurable) || !strings.Contains(err.Error(), "everysec") {
		t.Errorf("fsync on appendfsync everysec: %v, want ErrNotDurable naming everysec", err)
	}
	if err := check(state.Durability{Mode: state.DurabilityUnsafe}); err != nil {
		t.Errorf("unsafe: %v", err)
	}
	if err := check(state.Durability{Mode: state.DurabilityReplicas, Replicas: 1}); !errors.Is(err, state.ErrNotDurable) {
		t.Errorf("replicas without a replica: %v, want ErrNotDurable", err)
	}
	testserver.StartRedisReplica(t, srv)
	if err := check(state.Durability{Mode: state.DurabilityReplicas, Replicas: 1}); err != nil {
		t.Errorf("replicas with a replica: %v", err)
	}
	// An unreachable server is an outage, not a setting: not ErrNotDurable.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	err := state.NewRedis(down, state.Config{}).CheckDurability(ctx)
	if err == nil || errors.Is(err, state.ErrNotDurable) {
		t.Errorf("unreachable: %v, want an error that is not ErrNotDurable", err)
	}
}
