package testserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/redisproc"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a Redis Cluster of redis-server processes the test
// started: three primaries with one replica each, every node with
// appendonly yes and appendfsync always, joined by `redis-cli --cluster
// create`. Nodes are named by their address; which one is a primary
// changes with failovers (Shards).
type RedisCluster struct {
	Nodes []*Redis
	t     testing.TB
}

// RedisClusterNodeTimeout is the cluster's cluster-node-timeout: how long a
// primary may be unreachable before its replica takes over.
const RedisClusterNodeTimeout = 2 * time.Second

// StartRedisCluster starts the six nodes and creates the cluster, and
// returns once it is whole (Healthy). The nodes are killed when the test
// ends.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin := redisServer(t)
	cli, err := exec.LookPath(filepath.Join(filepath.Dir(bin), "redis-cli"))
	if err != nil {
		if cli, err = exec.LookPath("redis-cli"); err != nil {
			unavailable(t, "redis-cli is not installed (Debian's redis-tools, with redis-server): %v", err)
		}
	}
	rc := &RedisCluster{t: t}
	var addrs []string
	for range 6 {
		r := &Redis{t: t, bin: bin, dir: t.TempDir(), port: FreePort(t), opts: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(RedisClusterNodeTimeout.Milliseconds(), 10),
		}}
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
		r.start()
		t.Cleanup(r.kill)
		rc.Nodes = append(rc.Nodes, r)
		addrs = append(addrs, r.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var why error
	WaitUntil(t, time.Minute, "the new Redis Cluster is whole", func() bool {
		why = rc.Healthy()
		return why == nil
	})
	return rc
}

// Addrs returns every node's address.
func (rc *RedisCluster) Addrs() []string {
	out := make([]string, len(rc.Nodes))
	for i, r := range rc.Nodes {
		out[i] = r.Addr
	}
	return out
}

// Client returns a cluster client, closed when the test ends.
func (rc *RedisCluster) Client() *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs()})
	rc.t.Cleanup(func() { c.Close() })
	return c
}

// Node returns the node with the address.
func (rc *RedisCluster) Node(addr string) *Redis {
	for _, r := range rc.Nodes {
		if r.Addr == addr {
			return r
		}
	}
	rc.t.Fatalf("no Redis node %s in the cluster", addr)
	return nil
}

// Running reports whether the node's process runs.
func (r *Redis) Running() bool { return r.cmd != nil }

// RedisShard is a primary and its replicas, as the cluster sees them.
type RedisShard struct {
	Primary  string
	Replicas []string
}

// clusterNode is a line of CLUSTER NODES.
type clusterNode struct {
	id, addr, primaryID string
	flags               []string
	slots               bool
}

func (n clusterNode) has(flag string) bool { return slices.Contains(n.flags, flag) }

func parseClusterNodes(s string) []clusterNode {
	var out []clusterNode
	for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		out = append(out, clusterNode{id: f[0], addr: addr, flags: strings.Split(f[2], ","), primaryID: f[3], slots: len(f) > 8})
	}
	return out
}

// do calls f with a client of the node alone, which does not retry.
func (r *Redis) do(f func(*redis.Client) error) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	return f(c)
}

func (r *Redis) clusterNodes(ctx context.Context) ([]clusterNode, error) {
	var s string
	err := r.do(func(c *redis.Client) error {
		var err error
		s, err = c.ClusterNodes(ctx).Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("CLUSTER NODES of %s: %w", r.Addr, err)
	}
	return parseClusterNodes(s), nil
}

// Shards returns the primaries that hold slots, with their replicas, as the
// first running node sees them.
func (rc *RedisCluster) Shards() ([]RedisShard, error) {
	ctx := context.Background()
	var errs []error
	for _, r := range rc.Nodes {
		if !r.Running() {
			continue
		}
		nodes, err := r.clusterNodes(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return shardsOf(nodes), nil
	}
	return nil, fmt.Errorf("no running node answers: %w", errors.Join(errs...))
}

func shardsOf(nodes []clusterNode) []RedisShard {
	var shards []RedisShard
	byID := make(map[string]int)
	for _, n := range nodes {
		if n.has("master") && n.slots {
			byID[n.id] = len(shards)
			shards = append(shards, RedisShard{Primary: n.addr})
		}
	}
	for _, n := range nodes {
		if i, ok := byID[n.primaryID]; ok && n.has("slave") {
			shards[i].Replicas = append(shards[i].Replicas, n.addr)
		}
	}
	slices.SortFunc(shards, func(a, b RedisShard) int { return strings.Compare(a.Primary, b.Primary) })
	return shards
}

func (r *Redis) info(ctx context.Context, section string) (string, error) {
	var s string
	err := r.do(func(c *redis.Client) error {
		var err error
		if section == "cluster" {
			s, err = c.ClusterInfo(ctx).Result()
		} else {
			s, err = c.Info(ctx, section).Result()
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s info of %s: %w", section, r.Addr, err)
	}
	return s, nil
}

func infoValue(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// Serving says why some slot is not served, or nil when every running node
// reports cluster_state:ok and every primary that holds slots runs: what a
// failover must reach before clients work again.
func (rc *RedisCluster) Serving() error {
	ctx := context.Background()
	for _, r := range rc.Nodes {
		if !r.Running() {
			continue
		}
		info, err := r.info(ctx, "cluster")
		if err != nil {
			return err
		}
		if s := infoValue(info, "cluster_state"); s != "ok" {
			return fmt.Errorf("%s: cluster_state:%s", r.Addr, s)
		}
	}
	shards, err := rc.Shards()
	if err != nil {
		return err
	}
	if len(shards) != 3 {
		return fmt.Errorf("%d primaries hold slots, want 3", len(shards))
	}
	for _, s := range shards {
		if !rc.Node(s.Primary).Running() {
			return fmt.Errorf("primary %s is down and has not been replaced yet", s.Primary)
		}
	}
	return nil
}

// Healthy says why the cluster is not whole, or nil when every node runs and
// reports cluster_state:ok, every node sees three primaries with one replica
// each and no node failing, and every replica is in sync with its primary.
func (rc *RedisCluster) Healthy() error {
	ctx := context.Background()
	for _, r := range rc.Nodes {
		if !r.Running() {
			return fmt.Errorf("%s is not running", r.Addr)
		}
	}
	if err := rc.Serving(); err != nil {
		return err
	}
	for _, r := range rc.Nodes {
		nodes, err := r.clusterNodes(ctx)
		if err != nil {
			return err
		}
		if len(nodes) != len(rc.Nodes) {
			return fmt.Errorf("%s knows %d nodes, want %d", r.Addr, len(nodes), len(rc.Nodes))
		}
		for _, n := range nodes {
			for _, bad := range []string{"fail", "fail?", "handshake", "noaddr"} {
				if n.has(bad) {
					return fmt.Errorf("%s sees %s as %s", r.Addr, n.addr, bad)
				}
			}
		}
		shards := shardsOf(nodes)
		if len(shards) != 3 {
			return fmt.Errorf("%s sees %d primaries with slots, want 3", r.Addr, len(shards))
		}
		for _, s := range shards {
			if len(s.Replicas) != 1 {
				return fmt.Errorf("%s sees primary %s with replicas %v, want one", r.Addr, s.Primary, s.Replicas)
			}
		}
	}
	for _, r := range rc.Nodes {
		info, err := r.info(ctx, "replication")
		if err != nil {
			return err
		}
		if infoValue(info, "role") != "slave" {
			continue
		}
		if infoValue(info, "master_link_status") != "up" || infoValue(info, "master_sync_in_progress") != "0" {
			return fmt.Errorf("replica %s is not in sync with its primary (master_link_status:%s, master_sync_in_progress:%s)",
				r.Addr, infoValue(info, "master_link_status"), infoValue(info, "master_sync_in_progress"))
		}
	}
	return nil
}

// ShardSynced says why the shard of the primary is not whole, or nil when
// every slot is served (Serving), the node is a primary with one replica,
// and that replica runs and is in sync with it.
func (rc *RedisCluster) ShardSynced(primary string) error {
	if err := rc.Serving(); err != nil {
		return err
	}
	shards, err := rc.Shards()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(shards, func(s RedisShard) bool { return s.Primary == primary })
	if i < 0 {
		return fmt.Errorf("%s is not a primary that holds slots", primary)
	}
	if len(shards[i].Replicas) != 1 {
		return fmt.Errorf("primary %s has replicas %v, want one", primary, shards[i].Replicas)
	}
	r := rc.Node(shards[i].Replicas[0])
	if !r.Running() {
		return fmt.Errorf("replica %s of %s is not running", r.Addr, primary)
	}
	info, err := r.info(context.Background(), "replication")
	if err != nil {
		return err
	}
	if infoValue(info, "role") != "slave" || infoValue(info, "master_link_status") != "up" || infoValue(info, "master_sync_in_progress") != "0" {
		return fmt.Errorf("replica %s is not in sync with %s (role:%s, master_link_status:%s, master_sync_in_progress:%s)",
			r.Addr, primary, infoValue(info, "role"), infoValue(info, "master_link_status"), infoValue(info, "master_sync_in_progress"))
	}
	return nil
}

// Failover makes the replica take over from its primary, as an operator
// does for maintenance: CLUSTER FAILOVER, run on the replica, waits for it to
// have every write of the primary, then swaps their roles. It returns once
// the replica reports itself the primary.
func (rc *RedisCluster) Failover(replica string) {
	rc.t.Helper()
	ctx := context.Background()
	r := rc.Node(replica)
	if err := r.do(func(c *redis.Client) error { return c.ClusterFailover(ctx).Err() }); err != nil {
		rc.t.Fatalf("CLUSTER FAILOVER on %s: %v", replica, err)
	}
	WaitUntil(rc.t, 30*time.Second, "replica "+replica+" has taken over", func() bool {
		info, err := r.info(ctx, "replication")
		return err == nil && infoValue(info, "role") == "master"
	})
}

// Kill kills the node (SIGKILL). A primary's replica takes over after the
// node timeout: see Serving.
func (rc *RedisCluster) Kill(addr string) { rc.Node(addr).kill() }

// Restart starts the node again with its data and its cluster
// configuration: a former primary whose replica took over rejoins as that
// one's replica. See Healthy.
func (rc *RedisCluster) Restart(addr string) {
	rc.t.Helper()
	r := rc.Node(addr)
	r.kill()
	r.start()
}

// LogFiles returns each node's log file, by address.
func (rc *RedisCluster) LogFiles() map[string]string {
	out := make(map[string]string)
	for _, r := range rc.Nodes {
		out[r.Addr] = redisproc.LogFile(r.dir)
	}
	return out
}
