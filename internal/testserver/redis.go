package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/redisproc"
)

// Redis is a redis-server process the test started, with appendonly on and
// fsync at every write, so that a kill and restart loses nothing.
type Redis struct {
	Addr string
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	// opts are options of the server's own, given again at every restart
	// (a cluster node's).
	opts []string
}

// redisServer is the redis-server binary the tests run: REDIS_SERVER, or
// redis-server on PATH.
func redisServer(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("REDIS_SERVER"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed (.ci/run installs it): %v", err)
	}
	return bin
}

// StartRedis starts redis-server (REDIS_SERVER, or redis-server on PATH) on
// a free port in a temporary directory. It is killed when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := redisServer(t)
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), port: FreePort(t)}
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *Redis) start(extra ...string) {
	r.t.Helper()
	args := append(redisproc.Args(r.port, r.dir), r.opts...)
	cmd := exec.Command(r.bin, append(args, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		unavailable(r.t, "start redis-server: %v", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(redisproc.LogFile(r.dir))
			r.t.Fatalf("redis-server on %s did not answer: %v\n%s", r.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() { r.kill() }

func (r *Redis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// Restart kills the server and starts it again on the same port and
// directory; it comes back with what its append-only file holds.
func (r *Redis) Restart() {
	r.t.Helper()
	r.kill()
	r.start()
}

// Client returns a client of the server, closed when the test ends.
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// unavailable fails the test in CI and skips it elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI needs this server: %s", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Snapshot writes what the server holds now to a snapshot (RDB) kept aside,
// for RestoreSnapshot.
func (r *Redis) Snapshot() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		r.t.Fatalf("redis SAVE: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "dump.rdb"))
	if err != nil {
		r.t.Fatalf("read the snapshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "snapshot.rdb"), b, 0o600); err != nil {
		r.t.Fatalf("keep the snapshot: %v", err)
	}
}

// RestoreSnapshot kills the server and starts it again from the last
// Snapshot: it comes back without every write acknowledged since, as after
// a restore from a backup or a failover to a replica that lagged.
func (r *Redis) RestoreSnapshot() {
	r.t.Helper()
	r.kill()
	for _, f := range []string{"appendonlydir", "dump.rdb"} {
		os.RemoveAll(filepath.Join(r.dir, f))
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "snapshot.rdb"))
	if err != nil {
		r.t.Fatalf("no snapshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "dump.rdb"), b, 0o600); err != nil {
		r.t.Fatal(err)
	}
	// Redis loads the RDB only without an append-only file; it rewrites
	// one from the loaded data once AOF is switched on again.
	r.start("--appendonly", "no")
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.ConfigSet(context.Background(), "appendonly", "yes").Err(); err != nil {
		r.t.Fatalf("switch AOF on again: %v", err)
	}
}

// StartRedisReplica starts a redis-server replicating primary, and waits
// until it is in sync.
func StartRedisReplica(t testing.TB, primary *Redis) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: primary.bin, dir: t.TempDir(), port: FreePort(t)}
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.start("--replicaof", "127.0.0.1", strconv.Itoa(primary.port))
	t.Cleanup(r.kill)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	WaitUntil(t, 20*time.Second, "the replica is in sync", func() bool {
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return r
}

// Promote makes a replica a primary (REPLICAOF NO ONE), as a failover does.
func (r *Redis) Promote() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.ReplicaOf(context.Background(), "NO", "ONE").Err(); err != nil {
		r.t.Fatalf("promote the replica: %v", err)
	}
}

// ReplicaOf makes the server replicate primary, as a failover does with the
// replicas of a primary that is gone.
func (r *Redis) ReplicaOf(primary *Redis) {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.ReplicaOf(context.Background(), "127.0.0.1", strconv.Itoa(primary.port)).Err(); err != nil {
		r.t.Fatalf("replicate %s: %v", primary.Addr, err)
	}
}
