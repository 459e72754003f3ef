package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// On a Redis Cluster of three primaries with one replica each, with
// durability replicas as a cluster needs it.

func newClusterStore(t *testing.T) (*state.Redis, *redis.ClusterClient, *testserver.RedisCluster) {
	t.Helper()
	rc := testserver.StartRedisCluster(t)
	c := rc.Client()
	st := state.NewRedis(c, state.Config{Prefix: "test", Retention: time.Hour, Now: func() time.Time { return t0 },
		Durability: state.Durability{Mode: state.DurabilityReplicas, Replicas: 1, Timeout: 200 * time.Millisecond}})
	return st, c, rc
}

// primaryOf returns the address of the primary that holds partition p's
// keys.
func primaryOf(t *testing.T, c *redis.ClusterClient, p int) string {
	t.Helper()
	ctx := context.Background()
	c.ReloadState(ctx)
	var addr string
	testserver.WaitUntil(t, 10*time.Second, "the client knows the primary of the partition", func() bool {
		n, err := c.MasterForKey(ctx, state.Key("test", p, "meta"))
		if err != nil {
			return false
		}
		addr = n.Options().Addr
		return true
	})
	return addr
}

// A failover moves the partition's slot to another node. The save, which
// runs its script and WAIT on one connection of the slot's primary, must find
// the new primary at its next attempt: the node's own client follows no
// MOVED, and the cluster client's map of the slots would otherwise stay
// stale for a minute.
func TestClusterSaveAfterFailover(t *testing.T) {
	ctx := context.Background()
	st, c, rc := newClusterStore(t)
	const p = 2
	order := func(i int) []rules.Decision {
		return decide(t, rules.State{}, paid(fmt.Sprintf("ord-%d", i), t0, time.Time{}))
	}
	cp, err := st.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	cp, err = st.Save(ctx, p, rules.Batch{Decisions: order(1), Offsets: map[string]int64{"orders": 0}, Prev: cp.Mark, Mark: "s:1"})
	if err != nil {
		t.Fatal(err)
	}
	primary := primaryOf(t, c, p)
	shards, err := rc.Shards()
	if err != nil {
		t.Fatal(err)
	}
	var replica string
	for _, s := range shards {
		if s.Primary == primary {
			replica = s.Replicas[0]
		}
	}
	rc.Failover(replica)
	testserver.WaitUntil(t, 30*time.Second, "the cluster is whole after the failover", func() bool { return rc.Healthy() == nil })

	// Only the store's own calls, retried as the processor retries a
	// batch: the first may still go to the old primary.
	var errs []error
	for attempt := 0; ; attempt++ {
		next, err := st.Save(ctx, p, rules.Batch{Decisions: order(2), Offsets: map[string]int64{"orders": 1}, Prev: cp.Mark, Mark: "s:2"})
		if err == nil {
			cp = next
			break
		}
		errs = append(errs, err)
		if attempt == 20 {
			t.Fatalf("no save in %d attempts after the failover: %v", attempt+1, errors.Join(errs...))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cp.Mark != "s:2" {
		t.Errorf("mark after the save: %q, want s:2", cp.Mark)
	}
	if got := primaryOf(t, c, p); got != replica {
		t.Errorf("the partition's primary is %s, want %s, which took over", got, replica)
	}
	if _, err := st.Open(ctx, p); err != nil {
		t.Errorf("open after the failover: %v", err)
	}
}

// A member that starts while a primary of the cluster has died and its
// replica has taken over, with no replica yet itself, starts: that shard's
// saves wait for a replica, the others' go on. Only a cluster without any
// replicas is refused.
func TestClusterCheckDurabilityWhileAShardHasNoReplica(t *testing.T) {
	ctx := context.Background()
	st, c, rc := newClusterStore(t)
	if err := st.CheckDurability(ctx); err != nil {
		t.Fatalf("every primary with its replica: %v", err)
	}
	primary := primaryOf(t, c, 0)
	rc.Kill(primary)
	testserver.WaitUntil(t, 30*time.Second, "the replica took over", func() bool { return rc.Serving() == nil })

	// A new member, with a new client.
	fresh := state.NewRedis(rc.Client(), state.Config{Prefix: "test", Durability: state.Durability{Mode: state.DurabilityReplicas, Replicas: 1}})
	err := fresh.CheckDurability(ctx)
	if !errors.Is(err, state.ErrReplicasDown) || errors.Is(err, state.ErrNotDurable) {
		t.Fatalf("a shard without its replica: %v, want ErrReplicasDown (an outage), not ErrNotDurable", err)
	}
	// Its partitions' saves wait for a replica; the old primary comes back
	// as one.
	rc.Restart(primary)
	testserver.WaitUntil(t, 30*time.Second, "the old primary rejoined as a replica", func() bool { return rc.Healthy() == nil })
	if err := fresh.CheckDurability(ctx); err != nil {
		t.Errorf("every primary with its replica again: %v", err)
	}
	// Asking for more replicas than any primary has is a setting.
	greedy := state.NewRedis(c, state.Config{Prefix: "test", Durability: state.Durability{Mode: state.DurabilityReplicas, Replicas: 2}})
	if err := greedy.CheckDurability(ctx); !errors.Is(err, state.ErrNotDurable) {
		t.Errorf("2 replicas of primaries with one each: %v, want ErrNotDurable", err)
	}
}
