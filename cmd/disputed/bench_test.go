package main

import (
	"context"
	"log/slog"
	"math"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// TestBenchShort runs `disputed bench` briefly, on a redis-server of its
// own, and checks that every part of the report is filled and sane.
func TestBenchShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the processor under load for a few seconds")
	}
	rd := testserver.StartRedis(t)
	exe := buildBenchBinary(t)

	cfg := defaultBenchConfig()
	cfg.Duration = 3 * time.Second
	cfg.Orders = 300
	cfg.Gap = 150 * time.Millisecond
	cfg.MaxBacklog = 2000
	cfg.Deadlines = 300
	cfg.DeadlineSpread = time.Second
	cfg.EvidenceWindow = 2 * time.Second
	cfg.BadShare = 0.05
	cfg.Flood = 300
	cfg.Oversized = 0 // a processor that cannot dead-letter it stalls for the probe's 20s
	cfg.CeilingEvents = 20000
	cfg.DrainTimeout = 30 * time.Second
	cfg.RedisURL = "redis://" + rd.Addr + "/0"
	cfg.Seed = 7
	cfg.Quiet = true
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runBench(ctx, cfg, exe, slog.New(slog.DiscardHandler))
	if rep != nil {
		var b strings.Builder
		rep.printTable(&b)
		t.Logf("report:\n%s", b.String())
	}
	if err != nil {
		t.Fatal(err)
	}

	positive := func(name string, v float64) {
		t.Helper()
		if !(v > 0) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	ordered := func(name string, q quant) {
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

	// The run's keys are gone.
	n, err := deleteKeys(context.Background(), redisClient(t, cfg.RedisURL), "bench-"+rep.RunID+"*")
	if err != nil || n != 0 {
		t.Errorf("keys of the run left in Redis: %d (%v)", n, err)
	}
}

// buildBenchBinary builds disputed for the bench to run as its child, with
// the race detector when the test has it.
func buildBenchBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the bench test builds disputed with the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "disputed")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	if out, err := exec.Command(gobin, append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go %s .: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestStoryKinds checks that every story of the mix decodes, is never
// rejected, ends decided, and causes commands, cut short anywhere or told
// whole.
func TestStoryKinds(t *testing.T) {
	p := rules.DefaultPolicy()
	p.EvidenceWindow, p.ModificationWindow = 2*time.Second, 2*time.Second
	kinds := storyKinds(p.EvidenceWindow)
	if err := countCommands(kinds, p, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	withDeadline := 0
	for _, k := range kinds {
		total := k.deadlineCmds
		for _, n := range k.eventCmds {
			total += n
		}
		if total == 0 && k.name != "accepted" && k.name != "withdrawn" {
			t.Errorf("story %s causes no command", k.name)
		}
		if k.deadlineRulings > 0 {
			withDeadline++
		}
		if k.prefixDeadlineCmds[len(k.steps)] != k.deadlineCmds {
			t.Errorf("story %s: whole-story deadline commands %d, prefix says %d", k.name, k.deadlineCmds, k.prefixDeadlineCmds[len(k.steps)])
		}
	}
	if withDeadline < 3 {
		t.Errorf("%d stories end on a deadline, want at least 3", withDeadline)
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

func TestPromHistogramQuantile(t *testing.T) {
	m, err := parseProm(strings.NewReader(`# HELP x_seconds help
x_seconds_bucket{le="0.1"} 10
x_seconds_bucket{le="0.5"} 90
x_seconds_bucket{le="1"} 100
x_seconds_bucket{le="+Inf"} 100
x_seconds_sum 30
x_seconds_count 100
y_total{result="a",topic="t"} 3
y_total{result="b",topic="t"} 4
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("y_total", nil); got != 7 {
		t.Errorf("sum = %v, want 7", got)
	}
	if got := m.sum("y_total", label("result", "b")); got != 4 {
		t.Errorf("sum of b = %v, want 4", got)
	}
	h := m.histogram("x_seconds", nil)
	if got := h.quantile(0.5); math.Abs(got-0.3) > 1e-9 {
		t.Errorf("p50 = %v, want 0.3", got)
	}
	if got := h.quantile(0.95); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("p95 = %v, want 0.75", got)
	}
	if q := histQuantiles(h, 1000); q.Max != 1000 || q.Mean != 300 {
		t.Errorf("max %v mean %v, want 1000 and 300", q.Max, q.Mean)
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
