package host

import (
	"slices"
	"testing"
	"time"
)

func TestCPUUse(t *testing.T) {
	m0, err := parseProcStat([]byte("cpu  100 5 50 1000 10 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m0.Busy != 161 || m0.Total != 1171 {
		t.Errorf("busy %d total %d, want 161 and 1171", m0.Busy, m0.Total)
	}
	if _, err := parseProcStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parsed a /proc/stat without its cpu line")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s0 := Sample{At: t0, Members: []time.Duration{time.Second}, Self: time.Second, Redis: 1, Kafka: time.Second,
		Machine: MachineCPU{Busy: 0, Total: 0}, Load1: 1}
	s1 := Sample{At: t0.Add(10 * time.Second), Members: []time.Duration{5 * time.Second, 4 * time.Second}, Self: 3 * time.Second,
		Redis: 3, Kafka: 4 * time.Second, Machine: MachineCPU{Busy: 1800, Total: 2000}, Load1: 2}
	u := Use(s0, s1, 2)
	if u.Seconds != 10 || !slices.Equal(u.Members, []float64{4, 4}) || u.MembersTotal != 8 || u.Bench != 2 || u.Redis != 2 || u.Kafka != 3 {
		t.Errorf("use = %+v", u)
	}
	if u.MachineBusy != 18 || u.MachineShare != 0.9 || u.Others != 3 {
		t.Errorf("machine busy %v share %v others %v, want 18, 0.9 and 3", u.MachineBusy, u.MachineShare, u.Others)
	}
}
