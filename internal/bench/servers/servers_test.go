package servers

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/state"
)

// TestRedisServer starts the bench's own Redis: it answers, persists as the
// processor's durability check requires, and stops.
func TestRedisServer(t *testing.T) {
	needRedisServer(t)
	ctx := context.Background()
	r, err := startRedisServer(ctx, "redis-server", filepath.Join(t.TempDir(), "redis"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop(5 * time.Second)
	rdb := redisClient(t, r.url())
	ri := describeRedis(ctx, rdb)
	if ri.AppendOnly != "yes" || ri.AppendFsync != "always" || ri.Save != "none" || ri.Version == "unknown" || ri.Dir != r.dir {
		t.Errorf("redis: %+v, want appendonly yes, appendfsync always, no snapshots, a version, dir %s", ri, r.dir)
	}
	if err := state.NewRedis(rdb, state.Config{Durability: state.Durability{Mode: state.DurabilityFsync}}).CheckDurability(ctx); err != nil {
		t.Errorf("the processor's default durability check: %v", err)
	}
	if err := r.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	default:
		t.Error("redis-server still runs after stop")
	}
	if _, err := startRedisServer(ctx, "no-such-redis-server", t.TempDir()); err == nil {
		t.Error("a missing redis-server started")
	}
}

func TestKafkaDirVersion(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "node0"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := "[2026-11-30 08:41:06,999] INFO Registered kafka:type=kafka.Log4jController MBean (kafka.utils.Log4jControllerRegistration$)\n" +
		"[2026-11-30 08:41:07,123] INFO Kafka version: 4.1.2 (org.apache.kafka.common.utils.AppInfoParser)\n" +
		"[2026-11-30 08:41:07,124] INFO Kafka commitId: abc (org.apache.kafka.common.utils.AppInfoParser)\n"
	if err := os.WriteFile(filepath.Join(dir, "node0", "server.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	v, from, err := kafkaDirVersion(dir)
	if err != nil || v != "4.1.2" || !strings.HasSuffix(from, "node0/server.log") {
		t.Errorf("version %q from %q (%v), want 4.1.2 from node0/server.log", v, from, err)
	}
	if _, _, err := kafkaDirVersion(t.TempDir()); err == nil {
		t.Error("a version from an empty folder")
	}
	// A pid file whose process is not that node's broker does not count.
	if err := os.WriteFile(filepath.Join(dir, "node0", "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if pids, err := kafkaDirPIDs(dir); err == nil {
		t.Errorf("pids %v of a folder with no broker running", pids)
	}
}

// needRedisServer skips the test without redis-server (REDIS_SERVER, or
// on PATH, as the bench starts it), except in CI.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(cmp.Or(os.Getenv("REDIS_SERVER"), "redis-server")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs redis-server: %v", err)
		}
		t.Skipf("redis-server is not installed: %v", err)
	}
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
