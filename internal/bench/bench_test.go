package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// benchKafka points the bench at the real broker `make test` starts
// (testserver.EnvKafka), or leaves it on kfake.
func benchKafka(cfg *config) {
	if addr := os.Getenv(testserver.EnvKafka); addr != "" {
		cfg.KafkaBrokers = strings.Split(addr, ",")
		cfg.KafkaVersion = "the tests' broker"
	}
}

// measureShort runs a short bench of cfg on the tests' broker (when set)
// and logs its table; a run that fails fails the test.
func measureShort(t *testing.T, cfg config, exe string, timeout time.Duration) *report.Report {
	t.Helper()
	benchKafka(&cfg)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := measure(ctx, cfg, exe, slog.New(slog.DiscardHandler))
	if rep != nil {
		var b strings.Builder
		rep.PrintTable(&b)
		t.Logf("report:\n%s", b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// needRedisServer skips the test without redis-server (REDIS_SERVER, or
// on PATH, as the bench starts it), except in CI.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(defaultConfig().RedisServer); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs redis-server: %v", err)
		}
		t.Skipf("redis-server is not installed: %v", err)
	}
}

// TestBenchShort runs `disputed bench` briefly, on the redis-server the
// bench starts itself (and on the real broker of testserver.EnvKafka when
// set), and checks that every part of the report is filled and sane.
func TestBenchShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the processor under load for a few seconds")
	}
	needRedisServer(t)
	exe := testserver.Binary(t)

	cfg := defaultConfig()
	cfg.Duration = 3 * time.Second
	cfg.Orders = 300
	cfg.Gap = 150 * time.Millisecond
	cfg.MaxBacklog = 2000
	cfg.Deadlines = 300
	cfg.DeadlineSpread = time.Second
	cfg.EvidenceWindow = 2 * time.Second
	cfg.Idle = 300 * time.Millisecond // the deadline phase arms within the window
	cfg.BadShare = 0.05
	cfg.Flood = 300
	cfg.Oversized = 0 // a processor that cannot dead-letter it stalls for the probe's 20s
	cfg.CeilingEvents = 20000
	cfg.DrainTimeout = 30 * time.Second
	cfg.Seed = 7
	cfg.Quiet = true
	rep := measureShort(t, cfg, exe, 2*time.Minute)

	positive := func(name string, v float64) {
		t.Helper()
		if !(v > 0) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	ordered := func(name string, q report.Quant) {
		t.Helper()
		if q.Count == 0 {
			t.Errorf("%s: no samples", name)
			return
		}
		if !(q.P50 <= q.P99 && q.P99 <= q.Max) {
			t.Errorf("%s: p50 %v, p99 %v, max %v: want p50 <= p99 <= max", name, q.P50, q.P99, q.Max)
		}
	}
	l := rep.Load
	positive("load events produced", float64(l.EventsProduced))
	positive("end-to-end events/s", l.EndToEndEventsPerSec)
	if !l.Complete {
		t.Errorf("load: commands seen %d/%d (event) %d/%d (deadline): want all", l.SeenEventCommands, l.ExpectedEventCommands, l.SeenDeadlineCommands, l.ExpectedDeadlineCommands)
	}
	ordered("event-to-command latency", l.LatencyMs)
	positive("commands per event", l.CommandsPerEvent)

	d := rep.Deadlines
	if d.Rulings != cfg.Deadlines || !d.Complete {
		t.Errorf("deadline phase: %d rulings, complete %v; want %d", d.Rulings, d.Complete, cfg.Deadlines)
	}
	ordered("deadline lateness", d.LatenessMs)
	if d.MetricFired < int64(cfg.Deadlines) {
		t.Errorf("the processor's lateness histogram counted %d deadlines, want at least %d", d.MetricFired, cfg.Deadlines)
	}

	p := rep.Processor
	positive("processor CPU seconds", p.CPUSeconds)
	positive("processor peak RSS", float64(p.PeakRSSBytes))

	r := rep.Redis
	positive("bytes per open dispute", r.BytesPerDispute)
	positive("bytes per pending deadline", r.BytesPerDeadline)
	if r.KeysDeleted == 0 {
		t.Error("no Redis keys deleted at the end")
	}

	c := rep.Ceilings
	positive("kafka read ceiling", c.KafkaReadEventsPerSec)
	positive("redis save ceiling", c.RedisSaveEventsPerSec)
	positive("jetstream ceiling (commands/s)", c.JetStreamCommandsPerSec)
	positive("jetstream ceiling (events/s)", c.JetStreamEventsPerSec)
	positive("share of the lowest ceiling", rep.Headline.ShareOfLowestCeiling)

	bi := rep.BadInput
	if bi.DeadLetters != bi.ExpectedDeadLetters || bi.ExpectedDeadLetters == 0 {
		t.Errorf("dead letters: %d in the topic, want %d (> 0)", bi.DeadLetters, bi.ExpectedDeadLetters)
	}
	if got := bi.Rejections - bi.OverLimitRejections; got != bi.ExpectedRejections {
		t.Errorf("rejections (not over a limit): %d, want %d", got, bi.ExpectedRejections)
	}
	if !bi.GoodCommandsAllArrived {
		t.Error("the good stories' commands did not all arrive")
	}

	sv := rep.Servers
	if !sv.Redis.Own || sv.Redis.AppendOnly != "yes" || sv.Redis.AppendFsync != "always" || sv.Redis.Version == "unknown" {
		t.Errorf("redis: %+v, want the bench's own, appendonly yes, appendfsync always, with a version", sv.Redis)
	}
	if sv.Kafka.Version == "" || sv.Kafka.Kind == "" {
		t.Errorf("kafka: %+v, want a kind and a version", sv.Kafka)
	}
	u := rep.Host.Load
	positive("machine busy during the load", u.MachineBusy)
	positive("bench process CPU during the load", u.Bench)
	if len(rep.Scale) != 0 {
		t.Errorf("%d scale-out rows with one member count", len(rep.Scale))
	}
}

// TestPreloadDispute checks the preloaded disputes: open, with the number
// of far deadlines asked for.
func TestPreloadDispute(t *testing.T) {
	p := rules.DefaultPolicy()
	p.EvidenceWindow = 365 * 24 * time.Hour
	now := time.Now().UTC()
	for timers := range 4 {
		ds, err := preloadDispute(p, "ord-pre-1", timers, now.Add(-time.Hour), now.AddDate(2, 0, 0))
		if err != nil {
			t.Fatalf("%d timers: %v", timers, err)
		}
		s := ds[len(ds)-1].State
		for _, tm := range s.Timers {
			if tm.At.Before(now.AddDate(0, 11, 0)) {
				t.Errorf("%d timers: deadline %s at %v is not far in the future", timers, tm.ID, tm.At)
			}
		}
	}
}

// TestSaveBatches saves the batches the Redis ceiling saves, cut small so
// that deadlines firing together are cut apart, into a store: every save
// must find the versions and the mark it was built on.
func TestSaveBatches(t *testing.T) {
	p := rules.DefaultPolicy()
	p.EvidenceWindow, p.ModificationWindow = 2*time.Second, 2*time.Second
	kinds := story.Kinds(p.EvidenceWindow)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range 20 {
		for j, k := range kinds {
			o := &story.Order{ID: fmt.Sprintf("ord-%d-%d", j, i), Amount: 120000}
			for _, ev := range k.Tell(o, start, 300*time.Millisecond) {
				msgs = append(msgs, ev.Message(""))
			}
		}
	}
	slices.SortStableFunc(msgs, func(a, b kafka.Message) int {
		ea, _ := rules.Decode(a.Value)
		eb, _ := rules.Decode(b.Value)
		return ea.Time.Compare(eb.Time)
	})
	const partitions = 2
	batches, cmds, events, err := buildSaveBatches(msgs, partitions, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if events != len(msgs) {
		t.Errorf("%d events in the batches, want %d", events, len(msgs))
	}
	n, commands := 0, 0
	for i := range partitions {
		n += len(batches[i])
		commands += len(cmds[i])
	}
	if n <= events || commands == 0 {
		t.Fatalf("%d batches with %d commands for %d events: want deadline batches and commands", n, commands, events)
	}

	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	_, saves, err := redisCeiling(context.Background(), state.NewRedis(rdb, state.Config{Prefix: "bench-test"}), batches)
	if err != nil {
		t.Fatal(err)
	}
	if saves != n {
		t.Errorf("%d saves, want %d", saves, n)
	}
}
