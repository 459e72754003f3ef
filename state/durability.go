package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability modes: what the store makes sure of before a saved batch counts
// as durable, and its commands may be published. A command published from a
// write that Redis then loses would be decided again, possibly otherwise; the
// guard stream refuses the second decision of an order, but a person then
// has to sort it out.
const (
	// DurabilityFsync requires every primary to write its append-only file
	// with appendfsync always, so a write Redis acknowledged survives a
	// crash of its host. It is checked at start (CONFIG GET).
	DurabilityFsync = "fsync"
	// DurabilityReplicas waits after every save until Replicas replicas
	// acknowledged it (WAIT), so a failover to one of them keeps it.
	DurabilityReplicas = "replicas"
	// DurabilityUnsafe makes sure of nothing: a failover to an asynchronous
	// replica, a crash with appendfsync everysec, a restore from a snapshot
	// can lose acknowledged writes. Detected when it happens (the save's
	// mark), but commands already published may then be decided again.
	DurabilityUnsafe = "unsafe"
)

// Durability says what a save waits for.
type Durability struct {
	Mode     string        // DurabilityFsync (default), DurabilityReplicas or DurabilityUnsafe
	Replicas int           // with DurabilityReplicas: how many replicas must have each save
	Timeout  time.Duration // of one WAIT; the save waits again until it is satisfied
}

// ErrNotDurable is returned by CheckDurability when Redis is not set up for
// the durability asked for.
var ErrNotDurable = errors.New("redis is not set up for the durability asked for")

// ErrReplicasDown is returned by CheckDurability, with durability replicas,
// when some primaries of a cluster have fewer replicas connected than every
// save waits for while the others have them: an outage of those shards (a
// primary died and its replica took over, and nothing replicates the new
// primary yet), not a setting. The saves of their partitions wait until the
// replicas are back, as they do when a replica falls away later.
var ErrReplicasDown = errors.New("redis primaries without their replicas")

// CheckDurability checks at start that every primary can give the
// durability of the configuration.
func (r *Redis) CheckDurability(ctx context.Context) error {
	d := r.cfg.Durability
	switch d.Mode {
	case DurabilityUnsafe:
		return nil
	case DurabilityReplicas:
		// A cluster's primaries are checked at once (ForEachMaster).
		var (
			mu        sync.Mutex
			primaries int
			short     []string
		)
		err := r.eachPrimary(ctx, func(ctx context.Context, c *redis.Client) error {
			info, err := c.Info(ctx, "replication").Result()
			if err != nil {
				return fmt.Errorf("check replicas of %s: %w", c.Options().Addr, err)
			}
			mu.Lock()
			defer mu.Unlock()
			primaries++
			if n := infoField(info, "connected_slaves"); n < d.Replicas {
				short = append(short, fmt.Sprintf("%s has %d", c.Options().Addr, n))
			}
			return nil
		})
		slices.Sort(short)
		switch {
		case err != nil:
			return err
		case primaries == 0:
			return errors.New("check replicas: no redis primary known")
		case len(short) == primaries:
			// None has them: Redis is set up without them.
			return fmt.Errorf("%s connected replicas, fewer than the %d every save waits for: %w", strings.Join(short, ", "), d.Replicas, ErrNotDurable)
		case len(short) > 0:
			return fmt.Errorf("%s connected replicas, fewer than the %d every save waits for, while the other primaries have them: %w",
				strings.Join(short, ", "), d.Replicas, ErrReplicasDown)
		}
		return nil
	}
	return r.eachPrimary(ctx, func(ctx context.Context, c *redis.Client) error {
		cfg, err := c.ConfigGet(ctx, "append*").Result()
		var refused redis.Error
		if errors.As(err, &refused) {
			// The server answered, and will not say: CONFIG is disabled
			// or not permitted (managed Redis often does that).
			return fmt.Errorf("read the append-only settings of %s (CONFIG GET: %w; use --redis-durability replicas, or unsafe on purpose): %w",
				c.Options().Addr, err, ErrNotDurable)
		}
		if err != nil {
			return fmt.Errorf("read the append-only settings of %s: %w", c.Options().Addr, err)
		}
		if cfg["appendonly"] != "yes" || cfg["appendfsync"] != "always" {
			return fmt.Errorf("%s runs appendonly %q, appendfsync %q; durability fsync needs appendonly yes and appendfsync always: %w",
				c.Options().Addr, cfg["appendonly"], cfg["appendfsync"], ErrNotDurable)
		}
		return nil
	})
}

// eachPrimary calls f with a client of each primary: the server, or every
// master of a cluster.
func (r *Redis) eachPrimary(ctx context.Context, f func(context.Context, *redis.Client) error) error {
	switch c := r.c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, c)
	}
	return fmt.Errorf("durability check: unsupported client %T", r.c)
}

// nodeFor returns the client of the primary that holds key, on whose
// connection a WAIT covers the write before it.
func (r *Redis) nodeFor(ctx context.Context, key string) (*redis.Client, error) {
	switch c := r.c.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("unsupported client %T", r.c)
}

// replicate runs write and then WAIT on one connection of the node, and
// waits again until the replicas have it: a save is not durable before.
// Without replicas to wait for it only runs write.
func (r *Redis) replicate(ctx context.Context, key string, write func(redis.Pipeliner)) error {
	d := r.cfg.Durability
	if d.Mode != DurabilityReplicas || d.Replicas <= 0 {
		p := r.c.Pipeline()
		write(p)
		_, err := p.Exec(ctx)
		return err
	}
	node, err := r.nodeFor(ctx, key)
	if err != nil {
		return err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	for attempt := 0; ; attempt++ {
		var wait *redis.Cmd
		_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			if attempt == 0 {
				write(p)
			} else {
				// WAIT covers every earlier write of the connection;
				// this connection may be another, so write again.
				p.HIncrBy(ctx, key, "w", 1)
			}
			// WAIT blocks up to timeout, under the client's read timeout.
			wait = p.Do(ctx, "WAIT", d.Replicas, timeout.Milliseconds())
			return nil
		})
		if err != nil {
			r.slotsMayHaveMoved(ctx)
			return err
		}
		acked, err := wait.Int64()
		if err != nil {
			return fmt.Errorf("wait for replicas: %w", err)
		}
		if acked >= int64(d.Replicas) {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d replicas have the write: %w", acked, d.Replicas, ctx.Err())
		}
	}
}

// slotsMayHaveMoved tells a cluster client that a call to a node it named
// as a slot's primary failed: the node may no longer be the primary (it
// answers MOVED after a failover) or be gone. The node's own client follows
// no redirection, and the cluster client would otherwise keep its map of the
// slots until it reloads it by itself (every minute), sending every save of
// the slot's partitions to the old node until then. It reloads the map in
// the background; the caller's retry uses the new one.
func (r *Redis) slotsMayHaveMoved(ctx context.Context) {
	if c, ok := r.c.(*redis.ClusterClient); ok {
		c.ReloadState(ctx)
	}
}

func infoField(info, field string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
