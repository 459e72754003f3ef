package host

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/bench/report"
)

// MachineCPU is the machine's CPU time from /proc/stat, in clock ticks:
// busy (user, nice, system, irq, softirq, steal) and all of it (busy, idle
// and iowait), over every CPU.
type MachineCPU struct {
	Busy, Total int64
}

// ReadMachineCPU reads the machine's CPU counters.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (MachineCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, errors.New("unexpected /proc/stat")
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("bad /proc/stat field %d: %w", i+1, err)
		}
		v[i] = n
	}
	// user nice system idle iowait irq softirq steal (guest time is in user)
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return MachineCPU{Busy: busy, Total: busy + v[3] + v[4]}, nil
}

// LoadAverage is the one-minute load average from /proc/loadavg.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	x, _ := strconv.ParseFloat(f[0], 64)
	return x
}

// NumCPU is the machine's CPUs, as the report counts them.
func NumCPU() int { return runtime.NumCPU() }

// Sample is the CPU counters of everything a run measures, at one moment.
type Sample struct {
	At      time.Time
	Members []time.Duration // each processor's CPU, in the order started
	Self    time.Duration   // this process: the producer, the observer, and in-process servers
	Redis   float64         // the Redis server's seconds, from INFO
	Kafka   time.Duration   // the brokers' processes (--kafka-dir); 0 unknown
	Machine MachineCPU
	Load1   float64
}

// Use works out the CPU used from s0 to s1 on a machine of cpus CPUs.
func Use(s0, s1 Sample, cpus int) report.CPUUse {
	u := report.CPUUse{Seconds: s1.At.Sub(s0.At).Seconds(), MachineCPUs: cpus, LoadAvg1Before: s0.Load1, LoadAvg1After: s1.Load1}
	for i, t := range s1.Members {
		var t0 time.Duration
		if i < len(s0.Members) {
			t0 = s0.Members[i]
		}
		// A counter that could not be read is 0: a process that died shows
		// no CPU rather than a negative one.
		d := max(0, (t - t0).Seconds())
		u.Members = append(u.Members, d)
		u.MembersTotal += d
	}
	u.Bench = max(0, (s1.Self - s0.Self).Seconds())
	u.Redis = max(0, s1.Redis-s0.Redis)
	u.Kafka = max(0, (s1.Kafka - s0.Kafka).Seconds())
	u.MachineBusy = float64(s1.Machine.Busy-s0.Machine.Busy) / ClockTicks
	if total := s1.Machine.Total - s0.Machine.Total; total > 0 {
		u.MachineShare = float64(s1.Machine.Busy-s0.Machine.Busy) / float64(total)
	}
	u.Others = max(0, u.MachineBusy-u.MembersTotal-u.Bench-u.Redis-u.Kafka)
	return u
}
