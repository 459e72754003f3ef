package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is the processor under test, a child process running `disputed
// run` of the service binary (--disputed), so that /proc tells its CPU and
// memory alone.
type child struct {
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

// startChild starts member number member (from 1) of the processors' group.
func startChild(ctx context.Context, exe string, e *env, cfg config, member int) (*child, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, fmt.Errorf("bench: pick the processor's http port: %w", err)
	}
	logName := "processor.log"
	if member > 1 {
		logName = "processor-" + strconv.Itoa(member) + ".log"
	}
	c := &child{httpAddr: "127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(e.dir, logName), exited: make(chan struct{})}
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
	if cfg.Profile != "" {
		args = append(args, "--pprof")
	}
	if cfg.Idle > 0 {
		args = append(args, "--idle", cfg.Idle.String())
	}
	if e.kafka != nil {
		// kfake in the bench process: the group timings `disputed run`
		// uses on its embedded servers, so that joins take no seconds.
		args = append(args, "--group-heartbeat", "250ms", "--group-session-timeout", "2s", "--group-rebalance-timeout", "2s")
	}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: processor log: %w", err)
	}
	cmd := exec.Command(exe, args...)
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
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
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
func (c *child) logTail(n int) string {
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

// logLevelCounts counts the child's log lines by level: under load the
// processor should write next to none.
func (c *child) logLevelCounts() map[string]int {
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
func (c *child) stop(grace time.Duration) error {
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

// procCPU returns the process's user and system CPU time so far.
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

// metrics scrapes the processor's /metrics.
func (c *child) metrics(ctx context.Context) (promMetrics, error) {
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
	return parseProm(res.Body)
}
