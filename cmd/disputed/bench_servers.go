package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/disputed/disputed/consumer"
)

// benchEnv is the servers of one bench run and the names it uses on them.
type benchEnv struct {
	runID    string
	dir      string // temporary directory: NATS store, the child's log
	brokers  []string
	topics   consumer.Topics
	dlq      string
	group    string
	natsURL  string
	redisURL string
	prefix   string // the processor's Redis key prefix
	rdb      *redis.Client

	kafka      *kfake.Cluster // nil with --kafka-brokers
	nats       *server.Server // nil with --nats-url
	transport  *kafka.Transport
	maxMessage int // the largest message the broker takes (0: unknown)
	created    bool
}

// kfakeMaxMessage is the embedded broker's message.max.bytes: large enough
// for the oversized probe, so that it reaches the processor.
const kfakeMaxMessage = 8 << 20

func startBenchEnv(ctx context.Context, cfg benchConfig, runID string) (e *benchEnv, err error) {
	e = &benchEnv{runID: runID, transport: &kafka.Transport{ClientID: "disputed-bench", DialTimeout: 10 * time.Second}}
	defer func() {
		if err != nil {
			e.close(context.WithoutCancel(ctx))
		}
	}()
	if e.dir, err = os.MkdirTemp("", "disputed-bench-"); err != nil {
		return e, fmt.Errorf("bench: %w", err)
	}
	def := defaultConfig()
	e.topics, e.dlq, e.group = def.Kafka.Topics, def.Kafka.DLQTopic, "disputed-bench-"+runID
	if len(cfg.KafkaBrokers) == 0 {
		e.kafka, err = kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.SeedTopics(int32(cfg.Partitions), e.topics.Orders, e.topics.Deliveries, e.topics.Chats, e.topics.RefundRequests),
			kfake.SeedTopics(1, e.dlq),
			kfake.GroupMinSessionTimeout(100*time.Millisecond),
			kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kfakeMaxMessage)}),
		)
		if err != nil {
			return e, fmt.Errorf("bench: start kfake: %w", err)
		}
		e.brokers, e.maxMessage = e.kafka.ListenAddrs(), kfakeMaxMessage
	} else {
		e.brokers = cfg.KafkaBrokers
		// Fresh topics, so that the counts (and the DLQ) are this run's.
		p := "bench-" + runID + "-"
		e.topics = consumer.Topics{Orders: p + "orders", Deliveries: p + "deliveries", Chats: p + "chats", RefundRequests: p + "refund-requests"}
		e.dlq = p + "dlq"
		if err := e.createTopics(ctx, cfg.Partitions); err != nil {
			return e, err
		}
	}

	if cfg.NATSURL == "" {
		e.nats, err = server.NewServer(&server.Options{
			ServerName: "disputed-bench", Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: filepath.Join(e.dir, "nats"), NoSigs: true, NoLog: true,
			MaxPayload: 8 << 20,
		})
		if err != nil {
			return e, fmt.Errorf("bench: start nats: %w", err)
		}
		go e.nats.Start()
		if !e.nats.ReadyForConnections(10 * time.Second) {
			return e, errors.New("bench: start nats: not ready after 10s")
		}
		e.natsURL = e.nats.ClientURL()
	} else {
		e.natsURL = cfg.NATSURL
	}

	e.redisURL = cfg.RedisURL
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return e, fmt.Errorf("bench: --redis-url: %w", err)
	}
	opts.ClientName = "disputed-bench"
	opts.PoolSize = 64
	opts.ReadTimeout = time.Minute // MEMORY USAGE and UNLINK of big keys
	e.rdb = redis.NewClient(opts)
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e, fmt.Errorf("bench: redis %s: %w", redactURL(cfg.RedisURL), err)
	}
	e.prefix = "bench-" + runID
	return e, nil
}

func (e *benchEnv) createTopics(ctx context.Context, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 30 * time.Second, Transport: e.transport}
	var ts []kafka.TopicConfig
	for _, t := range []string{e.topics.Orders, e.topics.Deliveries, e.topics.Chats, e.topics.RefundRequests} {
		ts = append(ts, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	ts = append(ts, kafka.TopicConfig{Topic: e.dlq, NumPartitions: 1, ReplicationFactor: -1})
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: ts})
	if err != nil {
		return fmt.Errorf("bench: create topics: %w", err)
	}
	e.created = true
	for t, err := range res.Errors {
		if err != nil {
			return fmt.Errorf("bench: create topic %s: %w", t, err)
		}
	}
	return nil
}

func (e *benchEnv) allTopics() []string {
	return []string{e.topics.Orders, e.topics.Deliveries, e.topics.Chats, e.topics.RefundRequests}
}

// close deletes what the run created and stops the servers it started.
func (e *benchEnv) close(ctx context.Context) {
	if e.rdb != nil {
		e.rdb.Close()
	}
	if e.created {
		c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 30 * time.Second, Transport: e.transport}
		c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: append(e.allTopics(), e.dlq)})
	}
	if e.nats != nil {
		e.nats.Shutdown()
		e.nats.WaitForShutdown()
	}
	if e.kafka != nil {
		e.kafka.Close()
	}
	e.transport.CloseIdleConnections()
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// highWatermarks returns the end offset of every partition of the topics.
func (e *benchEnv) highWatermarks(ctx context.Context, topics []string, partitions int) (map[string][]int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 30 * time.Second, Transport: e.transport}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range topics {
		for p := range partitions {
			req.Topics[t] = append(req.Topics[t], kafka.LastOffsetOf(p))
		}
	}
	res, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[string][]int64)
	for t, ps := range res.Topics {
		out[t] = make([]int64, partitions)
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", t, p.Partition, p.Error)
			}
			out[t][p.Partition] = p.LastOffset
		}
	}
	return out, nil
}

// dlqCount is the number of messages in the dead-letter topic.
func (e *benchEnv) dlqCount(ctx context.Context) (int64, error) {
	hw, err := e.highWatermarks(ctx, []string{e.dlq}, 1)
	if err != nil {
		return 0, err
	}
	return hw[e.dlq][0], nil
}

// benchChild is the processor under test, a child process running this
// binary's `run`, so that /proc tells its CPU and memory alone.
type benchChild struct {
	cmd      *exec.Cmd
	pid      int
	httpAddr string
	logPath  string
	exited   chan struct{}
	waitErr  error
}

// benchChildEnv marks the child's environment, for a test binary that has
// to act as `disputed` (see bench_test.go).
const benchChildEnv = "DISPUTED_BENCH_CHILD"

func startChild(ctx context.Context, exe string, e *benchEnv, cfg benchConfig) (*benchChild, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, fmt.Errorf("bench: pick the processor's http port: %w", err)
	}
	c := &benchChild{httpAddr: "127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(e.dir, "processor.log"), exited: make(chan struct{})}
	args := []string{"run",
		"--kafka-brokers", strings.Join(e.brokers, ","),
		"--redis-url", e.redisURL,
		"--nats-url", e.natsURL,
		"--http-addr", c.httpAddr,
		"--redis-prefix", e.prefix,
		"--group", e.group,
		"--topic-orders", e.topics.Orders, "--topic-deliveries", e.topics.Deliveries,
		"--topic-chats", e.topics.Chats, "--topic-refund-requests", e.topics.RefundRequests,
		"--topic-dlq", e.dlq,
		"--evidence-window", cfg.EvidenceWindow.String(),
		"--modification-window", cfg.EvidenceWindow.String(),
		"--max-batch", strconv.Itoa(cfg.MaxBatch),
		"--log-format", "json", "--log-level", cfg.ChildLogLevel,
		"--shutdown-grace", "10s",
	}
	if e.kafka != nil {
		// One member on a local broker, as `disputed run` does on its
		// embedded servers.
		args = append(args, "--group-heartbeat", "250ms", "--group-session-timeout", "2s", "--group-rebalance-timeout", "2s")
	}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: processor log: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start the processor: %w", err)
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.exited)
	}()
	return c, nil
}

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until /readyz answers 200: the member joined the group and
// Redis, NATS and the outbox are fine.
func (c *benchChild) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("bench: the processor exited before it was ready (%v); its log:\n%s", c.waitErr, c.logTail(40))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: the processor was not ready within %v; its log:\n%s", timeout, c.logTail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail returns the last n lines of the child's log.
func (c *benchChild) logTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logLevels counts the child's log lines by level.
func (c *benchChild) logLevelCounts() map[string]int {
	f, err := os.Open(c.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := make(map[string]int)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.Index(line, []byte(`"level":"`)); i >= 0 {
			rest := line[i+9:]
			if j := bytes.IndexByte(rest, '"'); j > 0 {
				out[string(rest[:j])]++
			}
		}
	}
	return out
}

// stop sends SIGTERM and waits for a clean exit, killing the process after
// grace.
func (c *benchChild) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return c.waitErr
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return c.waitErr
	case <-t.C:
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("bench: the processor did not stop within %v of SIGTERM; killed", grace)
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpu returns the process's user and system CPU time so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/<pid>/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc/<pid>/stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procStatusKB returns a "kB" field of /proc/<pid>/status, like VmHWM.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// promMetrics is a scrape of a Prometheus text exposition.
type promMetrics []promSample

type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

func (c *benchChild) metrics(ctx context.Context) (promMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the processor's metrics: %w", err)
	}
	defer res.Body.Close()
	return parseProm(res.Body)
}

// parseProm reads the text exposition format: `name{k="v",...} value`.
func parseProm(r io.Reader) (promMetrics, error) {
	var out promMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := promSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.name = line[:i]
			j, err := parseLabels(line[i+1:], s.labels)
			if err != nil {
				return nil, fmt.Errorf("metrics line %q: %w", line, err)
			}
			rest = line[i+1+j:]
		} else if i >= 0 {
			s.name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseLabels reads `k="v",...}` and returns the bytes consumed.
func parseLabels(s string, into map[string]string) (int, error) {
	i := 0
	for i < len(s) {
		if s[i] == '}' {
			return i + 1, nil
		}
		if s[i] == ',' || s[i] == ' ' {
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
			return 0, errors.New("bad label")
		}
		key := s[i : i+eq]
		i += eq + 2
		var v strings.Builder
		for i < len(s) && s[i] != '"' {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
			} else {
				v.WriteByte(s[i])
			}
			i++
		}
		into[key] = v.String()
		i++ // closing quote
	}
	return 0, errors.New("unterminated labels")
}

// sum adds the samples of the metric whose labels match (nil: all).
func (m promMetrics) sum(name string, match func(map[string]string) bool) float64 {
	var t float64
	for _, s := range m {
		if s.name == name && (match == nil || match(s.labels)) {
			t += s.value
		}
	}
	return t
}

func label(k, v string) func(map[string]string) bool {
	return func(l map[string]string) bool { return l[k] == v }
}

// histogram is a cumulative Prometheus histogram summed over label sets.
type histogram struct {
	bounds []float64 // upper bounds, ascending, +Inf last
	counts []float64 // cumulative
	sum    float64
	count  float64
}

func (m promMetrics) histogram(name string, match func(map[string]string) bool) histogram {
	byLE := make(map[float64]float64)
	var h histogram
	for _, s := range m {
		if match != nil && !match(s.labels) {
			continue
		}
		switch s.name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.labels["le"], 64)
			if err == nil {
				byLE[le] += s.value
			}
		case name + "_sum":
			h.sum += s.value
		case name + "_count":
			h.count += s.value
		}
	}
	for le := range byLE {
		h.bounds = append(h.bounds, le)
	}
	sort.Float64s(h.bounds)
	for _, le := range h.bounds {
		h.counts = append(h.counts, byLE[le])
	}
	return h
}

// minus returns the observations made between before and h.
func (h histogram) minus(before histogram) histogram {
	out := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), sum: h.sum - before.sum, count: h.count - before.count}
	for i := range h.counts {
		out.counts[i] = h.counts[i]
		if i < len(before.counts) && before.bounds[i] == h.bounds[i] {
			out.counts[i] -= before.counts[i]
		}
	}
	return out
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile does:
// linear within the bucket; the highest finite bound for the +Inf bucket.
func (h histogram) quantile(q float64) float64 {
	if len(h.counts) == 0 || h.counts[len(h.counts)-1] <= 0 {
		return math.NaN()
	}
	total := h.counts[len(h.counts)-1]
	rank := q * total
	for i, c := range h.counts {
		if c >= rank {
			if math.IsInf(h.bounds[i], 1) {
				if i == 0 {
					return math.NaN()
				}
				return h.bounds[i-1]
			}
			lo, prev := 0.0, 0.0
			if i > 0 {
				lo, prev = h.bounds[i-1], h.counts[i-1]
			}
			if c == prev {
				return h.bounds[i]
			}
			return lo + (h.bounds[i]-lo)*(rank-prev)/(c-prev)
		}
	}
	return h.bounds[len(h.bounds)-1]
}

func (h histogram) mean() float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	return h.sum / h.count
}
