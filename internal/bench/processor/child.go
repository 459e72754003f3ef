package processor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/bench/host"
)

// Config is what every member of the group is started with: the service
// binary, the servers and the names on them, and the flags of `disputed
// run` the bench sets.
type Config struct {
	Binary      string // the service binary: its `run` is the processor
	Dir         string // the members' logs
	Brokers     []string
	Topics      consumer.Topics
	DLQ         string
	Group       string
	RedisURL    string
	RedisPrefix string
	NATSURL     string
	Partitions  int // of each input topic: the group has settled when its members own them all
	// EvidenceWindow is the evidence and the modification window.
	EvidenceWindow time.Duration
	MaxBatch       int
	LogLevel       string
	Pprof          bool          // serve /debug/pprof (--profile)
	Idle           time.Duration // 0: the processor's default
	// FastGroup sets the group timings `disputed run` uses on its embedded
	// servers, so that joins take no seconds: for kfake in the bench process.
	FastGroup bool
}

// Child is the processor under test, a child process running `disputed
// run` of the service binary, so that /proc tells its CPU and memory alone.
type Child struct {
	cmd      *exec.Cmd
	pid      int
	httpAddr string
	logPath  string
	exited   chan struct{}
	waitErr  error
}

// childEnvVar marks the child's environment: the process runs under the
// bench.
const childEnvVar = "DISPUTED_BENCH_CHILD"

// Start starts member number member (from 1) of the processors' group.
func Start(cfg Config, member int) (*Child, error) {
	port, err := host.FreePort()
	if err != nil {
		return nil, fmt.Errorf("bench: pick the processor's http port: %w", err)
	}
	logName := "processor.log"
	if member > 1 {
		logName = "processor-" + strconv.Itoa(member) + ".log"
	}
	c := &Child{httpAddr: "127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(cfg.Dir, logName), exited: make(chan struct{})}
	args := []string{"run",
		"--kafka-brokers", strings.Join(cfg.Brokers, ","),
		"--redis-url", cfg.RedisURL,
		"--nats-url", cfg.NATSURL,
		"--http-addr", c.httpAddr,
		"--redis-prefix", cfg.RedisPrefix,
		"--group", cfg.Group,
		"--topic-orders", cfg.Topics.Orders, "--topic-deliveries", cfg.Topics.Deliveries,
		"--topic-chats", cfg.Topics.Chats, "--topic-refund-requests", cfg.Topics.RefundRequests,
		"--topic-dlq", cfg.DLQ,
		"--evidence-window", cfg.EvidenceWindow.String(),
		"--modification-window", cfg.EvidenceWindow.String(),
		"--max-batch", strconv.Itoa(cfg.MaxBatch),
		"--log-format", "json", "--log-level", cfg.LogLevel,
		"--shutdown-grace", "10s",
	}
	if cfg.Pprof {
		args = append(args, "--pprof")
	}
	if cfg.Idle > 0 {
		args = append(args, "--idle", cfg.Idle.String())
	}
	if cfg.FastGroup {
		args = append(args, "--group-heartbeat", "250ms", "--group-session-timeout", "2s", "--group-rebalance-timeout", "2s")
	}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: processor log: %w", err)
	}
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = append(os.Environ(), childEnvVar+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start the processor: %w", err)
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	// The waiter belongs to the child: stop waits for it to end.
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.exited)
	}()
	return c, nil
}

// waitReady waits until /readyz answers 200: the member joined the group and
// Redis, NATS and the outbox are fine.
func (c *Child) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("bench: the processor exited before it was ready (%v); its log:\n%s", c.waitErr, c.LogTail(40))
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
			return fmt.Errorf("bench: the processor was not ready within %v; its log:\n%s", timeout, c.LogTail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTail returns the last n lines of the child's log.
func (c *Child) LogTail(n int) string {
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

// LogLevelCounts counts the child's log lines by level: under load the
// processor should write next to none.
func (c *Child) LogLevelCounts() map[string]int {
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

// Stop sends SIGTERM and waits for a clean exit, killing the process after
// grace.
func (c *Child) Stop(grace time.Duration) error {
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

// Metrics scrapes the processor's /metrics.
func (c *Child) Metrics(ctx context.Context) (Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/metrics", nil)
	// Uncompressed: the bench scrapes ten times a second, and gzipping the
	// page would be measured as the processor's CPU (about 5% of it).
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the processor's metrics: %w", err)
	}
	defer res.Body.Close()
	return ParseMetrics(res.Body)
}

// LogLevels are the values the processor's --log-level takes.
var LogLevels = []string{"debug", "info", "warn", "error"}

// PID is the process's ID.
func (c *Child) PID() int { return c.pid }

// Addr is the processor's HTTP address: /metrics, /readyz, /debug/pprof.
func (c *Child) Addr() string { return c.httpAddr }

// LogPath is the file of the processor's log.
func (c *Child) LogPath() string { return c.logPath }
