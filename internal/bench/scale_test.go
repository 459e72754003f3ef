package bench

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/state"
)

// TestBenchScaleShort runs a short scale-out of one and two members: a row
// each, every command seen, and the partitions split between the members.
func TestBenchScaleShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processors under load for a few seconds")
	}
	needRedisServer(t)
	exe := testserver.Binary(t)

	cfg := defaultConfig()
	cfg.Duration = 2 * time.Second
	cfg.Orders = 200
	cfg.Gap = 150 * time.Millisecond
	cfg.MaxBacklog = 2000
	cfg.Partitions = 2
	cfg.Members = []int{1, 2}
	cfg.Deadlines = 0
	cfg.EvidenceWindow = 2 * time.Second
	cfg.Idle = 300 * time.Millisecond
	cfg.CeilingEvents = 5000
	cfg.DrainTimeout = 30 * time.Second
	cfg.Seed = 11
	cfg.Quiet = true
	rep := measureShort(t, cfg, exe, 3*time.Minute)
	if len(rep.Scale) != 2 {
		t.Fatalf("%d scale-out rows, want 2", len(rep.Scale))
	}
	for i, want := range [][]int{{2}, {1, 1}} {
		r := rep.Scale[i]
		if r.Members != i+1 || !slices.Equal(r.PartitionsOwned, want) {
			t.Errorf("row %d: %d members owning %v, want %d owning %v", i, r.Members, r.PartitionsOwned, i+1, want)
		}
		if !r.Complete || r.Events == 0 || !(r.EventsPerSec > 0) {
			t.Errorf("row %d: complete %v, %d events, %v events/s: want every command of some events", i, r.Complete, r.Events, r.EventsPerSec)
		}
		if len(r.CPU.Members) != i+1 || r.Limit == "" {
			t.Errorf("row %d: CPU of %d members, limit %q", i, len(r.CPU.Members), r.Limit)
		}
	}
	if rep.Scale[0].Speedup != 1 {
		t.Errorf("first row's speedup %v, want 1", rep.Scale[0].Speedup)
	}
}

func TestMembersFlag(t *testing.T) {
	for _, tc := range []struct {
		arg        string
		partitions int
		want       []int
		bad        bool
	}{
		{arg: "1", partitions: 4, want: []int{1}},
		{arg: "1,2,3", partitions: 6, want: []int{1, 2, 3}},
		{arg: " 1, 3", partitions: 6, want: []int{1, 3}},
		{arg: "1,2,3", partitions: 2, bad: true}, // a member would own nothing
		{arg: "2,1", partitions: 6, bad: true},   // members are only added
		{arg: "1,1", partitions: 6, bad: true},
		{arg: "0", partitions: 6, bad: true},
		{arg: "one", partitions: 6, bad: true},
		{arg: "", partitions: 6, bad: true},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			cfg, err := parseConfig([]string{"--members", tc.arg, "--partitions", strconv.Itoa(tc.partitions)}, io.Discard)
			if tc.bad {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || !slices.Equal(cfg.Members, tc.want) {
				t.Fatalf("members %v (%v), want %v", cfg.Members, err, tc.want)
			}
		})
	}
}

func TestServerFlags(t *testing.T) {
	cfg, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisURL != "" || cfg.RedisServer != "redis-server" || !slices.Equal(cfg.Members, []int{1}) {
		t.Errorf("defaults: redis URL %q, server %q, members %v; want a redis-server of the bench's own and one member", cfg.RedisURL, cfg.RedisServer, cfg.Members)
	}
	if _, err := parseConfig([]string{"--kafka-dir", "/tmp/k"}, io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("--kafka-dir without --kafka-brokers: %v, want a usage error", err)
	}
	if _, err := parseConfig([]string{"--redis-server", ""}, io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("no redis-server and no --redis-url: %v, want a usage error", err)
	}
	if _, err := parseConfig([]string{"--redis-server", "", "--redis-url", "redis://127.0.0.1:6379/15"}, io.Discard); err != nil {
		t.Errorf("--redis-url without a redis-server: %v", err)
	}
}

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

func TestCPUUse(t *testing.T) {
	m0, err := parseProcStat([]byte("cpu  100 5 50 1000 10 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m0.busy != 161 || m0.total != 1171 {
		t.Errorf("busy %d total %d, want 161 and 1171", m0.busy, m0.total)
	}
	if _, err := parseProcStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parsed a /proc/stat without its cpu line")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s0 := sample{at: t0, members: []time.Duration{time.Second}, self: time.Second, redis: 1, kafka: time.Second,
		machine: machineCPU{busy: 0, total: 0}, load1: 1}
	s1 := sample{at: t0.Add(10 * time.Second), members: []time.Duration{5 * time.Second, 4 * time.Second}, self: 3 * time.Second,
		redis: 3, kafka: 4 * time.Second, machine: machineCPU{busy: 1800, total: 2000}, load1: 2}
	u := use(s0, s1, 2)
	if u.Seconds != 10 || !slices.Equal(u.Members, []float64{4, 4}) || u.MembersTotal != 8 || u.Bench != 2 || u.Redis != 2 || u.Kafka != 3 {
		t.Errorf("use = %+v", u)
	}
	if u.MachineBusy != 18 || u.MachineShare != 0.9 || u.Others != 3 {
		t.Errorf("machine busy %v share %v others %v, want 18, 0.9 and 3", u.MachineBusy, u.MachineShare, u.Others)
	}
	row := newScaleRow(2, []int{3, 3}, &loadReport{EventsProduced: 100000, EndToEndEventsPerSec: 10000}, u)
	if row.MicrosPerEvent.Processors != 80 || row.MicrosPerEvent.Machine != 180 {
		t.Errorf("µs per event %+v, want processors 80 and machine 180", row.MicrosPerEvent)
	}
	if got := scaleLimit(row, 0); !strings.HasPrefix(got, "CPU") {
		t.Errorf("limit at 90%% busy: %q, want the CPU", got)
	}
	row.CPU.MachineShare = 0.5
	if got := scaleLimit(row, 0); !strings.HasPrefix(got, "not the CPU") {
		t.Errorf("limit at 50%% busy: %q", got)
	}
	row.ProducerLaneLimitedShare = 0.5
	if got := scaleLimit(row, 0); !strings.HasPrefix(got, "the producer") {
		t.Errorf("limit with the producer out of orders: %q", got)
	}
}

func TestBalanced(t *testing.T) {
	for _, tc := range []struct {
		owned []int
		want  bool
	}{
		{[]int{6}, true},
		{[]int{3, 3}, true},
		{[]int{2, 2, 2}, true},
		{[]int{6, 0}, false},    // the new member has not joined yet
		{[]int{6, 3}, false},    // the old member still counts its old generation
		{[]int{3, 3, 0}, false}, // sums up, but one owns nothing
		{[]int{4, 1, 1}, true},
	} {
		if got := balanced(tc.owned, 6); got != tc.want {
			t.Errorf("balanced(%v, 6) = %v, want %v", tc.owned, got, tc.want)
		}
	}
}

func TestMergeProm(t *testing.T) {
	a, err := parseProm(strings.NewReader("# TYPE e_total counter\ne_total{result=\"applied\"} 3\n# TYPE o gauge\no 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseProm(strings.NewReader("# TYPE e_total counter\ne_total{result=\"applied\"} 5\ne_total{result=\"rejected\"} 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := mergeProm(a, b)
	if got := m.sum("e_total", nil); got != 9 {
		t.Errorf("sum = %v, want 9", got)
	}
	if got := m.sum("e_total", label("result", "applied")); got != 8 {
		t.Errorf("applied = %v, want 8", got)
	}
	if got := m.sum("o", nil); got != 4 {
		t.Errorf("o = %v, want 4", got)
	}
	if got := a.sum("e_total", nil); got != 3 {
		t.Errorf("merging changed its input: %v, want 3", got)
	}
}

func TestFindDisputed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "my-disputed")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findDisputed(bin); err != nil || got != bin {
		t.Errorf("--disputed %s: %q, %v", bin, got, err)
	}
	if _, err := findDisputed(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrUsage) {
		t.Errorf("--disputed of a missing file: %v, want a usage error", err)
	}
	// Without the flag: disputed next to this binary, else on PATH.
	t.Setenv("PATH", filepath.Dir(bin))
	if _, err := findDisputed(""); !errors.Is(err, ErrUsage) {
		t.Errorf("no disputed anywhere: %v, want a usage error", err)
	}
	onPath := filepath.Join(filepath.Dir(bin), "disputed")
	if err := os.Rename(bin, onPath); err != nil {
		t.Fatal(err)
	}
	if got, err := findDisputed(""); err != nil || got != onPath {
		t.Errorf("disputed on PATH: %q, %v, want %s", got, err, onPath)
	}
}
