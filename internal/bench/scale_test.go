package bench

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/testserver"
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

// TestScaleRow: a step's figures per event, and what bounded it.
func TestScaleRow(t *testing.T) {
	u := report.CPUUse{Seconds: 10, Members: []float64{4, 4}, MembersTotal: 8, Bench: 2, Redis: 2, Kafka: 3,
		MachineBusy: 18, MachineCPUs: 2, MachineShare: 0.9, Others: 3}
	row := newScaleRow(2, []int{3, 3}, &report.Load{EventsProduced: 100000, EndToEndEventsPerSec: 10000}, u)
	if row.MicrosPerEvent.Processors != 80 || row.MicrosPerEvent.Machine != 180 {
		t.Errorf("µs per event %+v, want processors 80 and machine 180", row.MicrosPerEvent)
	}
	if got := report.ScaleLimit(row, 0); !strings.HasPrefix(got, "CPU") {
		t.Errorf("limit at 90%% busy: %q, want the CPU", got)
	}
	row.CPU.MachineShare = 0.5
	if got := report.ScaleLimit(row, 0); !strings.HasPrefix(got, "not the CPU") {
		t.Errorf("limit at 50%% busy: %q", got)
	}
	row.ProducerLaneLimitedShare = 0.5
	if got := report.ScaleLimit(row, 0); !strings.HasPrefix(got, "the producer") {
		t.Errorf("limit with the producer out of orders: %q", got)
	}
}
