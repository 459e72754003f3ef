package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// What the run ran on, and the CPU it used: the Kafka brokers (their
// version, and their processes when deploy/local/kafka/kafka.sh runs them),
// and the machine's CPU counters.

// kafkaInfo is what the report says about the Kafka the run used.
type kafkaInfo struct {
	Kind        string `json:"kind"` // kfake or external
	Version     string `json:"version"`
	VersionFrom string `json:"version_from"`
	Brokers     int    `json:"brokers"`
	PIDs        []int  `json:"pids,omitempty"` // the brokers' processes (--kafka-dir)
}

// kfakeVersion is the version of franz-go's kfake built into this binary.
func kfakeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go/pkg/kfake" {
				return "kfake " + d.Version
			}
		}
	}
	return "kfake"
}

// describeKafka asks the brokers how many they are, and takes their version
// from --kafka-dir's server logs or --kafka-version.
func describeKafka(ctx context.Context, e *env, cfg config) (kafkaInfo, error) {
	ki := kafkaInfo{Kind: "external", Version: "unknown (give --kafka-dir or --kafka-version)"}
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 10 * time.Second, Transport: e.transport}
	if md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); err == nil {
		ki.Brokers = len(md.Brokers)
	}
	if cfg.KafkaDir != "" {
		v, from, err := kafkaDirVersion(cfg.KafkaDir)
		if err != nil {
			return ki, fmt.Errorf("bench: --kafka-dir: %w", err)
		}
		ki.Version, ki.VersionFrom = "Apache Kafka "+v, from
		if ki.PIDs, err = kafkaDirPIDs(cfg.KafkaDir); err != nil {
			return ki, fmt.Errorf("bench: --kafka-dir: %w", err)
		}
	}
	if cfg.KafkaVersion != "" {
		ki.Version, ki.VersionFrom = cfg.KafkaVersion, "--kafka-version"
	}
	return ki, nil
}

// kafkaVersionLine is the line a broker logs at start, e.g.
// "[2026-11-30 08:41:07,123] INFO Kafka version: 4.1.2 (org.apache...)".
var kafkaVersionLine = regexp.MustCompile(`Kafka version: (\S+)`)

// kafkaDirVersion reads the version the first node of a kafka.sh cluster
// logged at start.
func kafkaDirVersion(dir string) (version, from string, err error) {
	logs, _ := filepath.Glob(filepath.Join(dir, "node*", "server.log*"))
	slices.Sort(logs)
	for _, path := range logs {
		v, err := grepFirst(path, kafkaVersionLine)
		if err != nil {
			return "", "", err
		}
		if v != "" {
			return v, path, nil
		}
	}
	return "", "", fmt.Errorf("no %q line in %s/node*/server.log", "Kafka version:", dir)
}

func grepFirst(path string, re *regexp.Regexp) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if m := re.FindSubmatch(sc.Bytes()); m != nil {
			return string(m[1]), nil
		}
	}
	return "", sc.Err()
}

// kafkaDirPIDs returns the processes of the nodes of a kafka.sh cluster:
// each node's pid file, if that process still runs that node (its command
// line names the node's server.properties, as kafka.sh checks).
func kafkaDirPIDs(dir string) ([]int, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "node*", "pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(filepath.Dir(f), "server.properties"))) {
			continue
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no running broker found in %s/node*/pid", dir)
	}
	return pids, nil
}

// machineCPU is the machine's CPU time from /proc/stat, in clock ticks:
// busy (user, nice, system, irq, softirq, steal) and all of it (busy, idle
// and iowait), over every CPU.
type machineCPU struct {
	busy, total int64
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, errors.New("unexpected /proc/stat")
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("bad /proc/stat field %d: %w", i+1, err)
		}
		v[i] = n
	}
	// user nice system idle iowait irq softirq steal (guest time is in user)
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return machineCPU{busy: busy, total: busy + v[3] + v[4]}, nil
}

// loadAverage is the one-minute load average from /proc/loadavg.
func loadAverage() float64 {
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

// sample is the CPU counters of everything the run measures, at one moment.
type sample struct {
	at      time.Time
	members []time.Duration // each processor's CPU, in the order started
	self    time.Duration   // this process: the producer, the observer, and in-process servers
	redis   float64         // the Redis server's seconds, from INFO
	kafka   time.Duration   // the brokers' processes (--kafka-dir); 0 unknown
	machine machineCPU
	load1   float64
}

func (b *run) sample(ctx context.Context) sample {
	s := sample{at: time.Now(), redis: redisCPU(ctx, b.env.rdb), load1: loadAverage()}
	for _, c := range b.fleet.list() {
		t, _ := procCPU(c.pid)
		s.members = append(s.members, t)
	}
	s.self, _ = procCPU(os.Getpid())
	for _, pid := range b.env.kafkaInfo.PIDs {
		t, _ := procCPU(pid)
		s.kafka += t
	}
	s.machine, _ = readMachineCPU()
	return s
}

// cpuUse is what was used between two samples, in seconds.
type cpuUse struct {
	Seconds        float64   `json:"seconds"`
	Members        []float64 `json:"processors"` // each processor
	MembersTotal   float64   `json:"processors_total"`
	Bench          float64   `json:"bench_process"`
	Redis          float64   `json:"redis"`
	Kafka          float64   `json:"kafka"` // 0: unknown (kfake is in the bench process)
	MachineBusy    float64   `json:"machine_busy"`
	MachineCPUs    int       `json:"machine_cpus"`
	MachineShare   float64   `json:"machine_busy_share"` // of all CPUs over the interval
	Others         float64   `json:"others"`             // machine busy less all of the above
	LoadAvg1Before float64   `json:"load_avg_1m_before"`
	LoadAvg1After  float64   `json:"load_avg_1m_after"`
}

// use works out the CPU used from s0 to s1 on a machine of cpus CPUs.
func use(s0, s1 sample, cpus int) cpuUse {
	u := cpuUse{Seconds: s1.at.Sub(s0.at).Seconds(), MachineCPUs: cpus, LoadAvg1Before: s0.load1, LoadAvg1After: s1.load1}
	for i, t := range s1.members {
		var t0 time.Duration
		if i < len(s0.members) {
			t0 = s0.members[i]
		}
		// A counter that could not be read is 0: a process that died shows
		// no CPU rather than a negative one.
		d := max(0, (t - t0).Seconds())
		u.Members = append(u.Members, d)
		u.MembersTotal += d
	}
	u.Bench = max(0, (s1.self - s0.self).Seconds())
	u.Redis = max(0, s1.redis-s0.redis)
	u.Kafka = max(0, (s1.kafka - s0.kafka).Seconds())
	u.MachineBusy = float64(s1.machine.busy-s0.machine.busy) / clockTicks
	if total := s1.machine.total - s0.machine.total; total > 0 {
		u.MachineShare = float64(s1.machine.busy-s0.machine.busy) / float64(total)
	}
	u.Others = max(0, u.MachineBusy-u.MembersTotal-u.Bench-u.Redis-u.Kafka)
	return u
}
