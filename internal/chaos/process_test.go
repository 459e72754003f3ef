package chaos_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/disputed/disputed/internal/testserver"
)

// chaosChild is one `disputed run` process.
type chaosChild struct {
	name     string
	cmd      *exec.Cmd
	log      *testserver.Buffer
	done     chan struct{}
	err      error // of Wait, once done is closed
	stopping atomic.Bool
	reported bool
}

func (c *chaos) spawn(role string) *chaosChild {
	c.t.Helper()
	c.serial++
	ch := &chaosChild{name: fmt.Sprintf("%s%d", role, c.serial), log: &testserver.Buffer{}, done: make(chan struct{})}
	args := append([]string{"run", "--kafka-brokers", strings.Join(c.kafka.Brokers, ",")}, c.setup.flags()...)
	ch.cmd = exec.Command(c.bin, append(args,
		"--http-addr", "127.0.0.1:0",
		"--redis-prefix", chaosPrefix,
		"--group", c.kafka.Group(chaosGroup),
		"--topic-orders", c.kafka.Topic("orders"),
		"--topic-deliveries", c.kafka.Topic("deliveries"),
		"--topic-chats", c.kafka.Topic("chats"),
		"--topic-refund-requests", c.kafka.Topic("refund-requests"),
		"--topic-dlq", c.kafka.Topic(chaosDLQ),
		"--group-heartbeat", "100ms",
		"--group-session-timeout", "1s",
		"--group-rebalance-timeout", "2s",
		"--evidence-window", chaosEvidence.String(),
		"--modification-window", chaosModify.String(),
		"--duplicate-window", "10m",
		"--shutdown-grace", "5s",
		"--log-level", "info",
	)...)
	// The environment minus disputed's own settings, which would change
	// the flags' defaults.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPUTED_") {
			ch.cmd.Env = append(ch.cmd.Env, kv)
		}
	}
	ch.cmd.Stdout, ch.cmd.Stderr = ch.log, ch.log
	ch.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ch.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", ch.name, err)
	}
	go func() {
		ch.err = ch.cmd.Wait()
		close(ch.done)
	}()
	c.procs = append(c.procs, ch)
	c.note("started %s (pid %d)", ch.name, ch.cmd.Process.Pid)
	return ch
}

func (ch *chaosChild) exited() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

func (c *chaos) kill(ch *chaosChild) {
	ch.stopping.Store(true)
	ch.cmd.Process.Signal(syscall.SIGKILL)
	<-ch.done
	c.note("SIGKILLed %s", ch.name)
}

// term stops ch with SIGTERM, which must end it cleanly (exit 0) within the
// shutdown grace.
func (c *chaos) term(ch *chaosChild) {
	c.t.Helper()
	ch.stopping.Store(true)
	ch.cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	select {
	case <-ch.done:
		if ch.err != nil {
			c.t.Errorf("%s exited with %v after SIGTERM, want a clean exit", ch.name, ch.err)
		}
		c.note("SIGTERMed %s: exited in %v (%v)", ch.name, time.Since(start).Round(time.Millisecond), ch.err)
	case <-time.After(20 * time.Second):
		c.t.Errorf("%s did not exit within 20s of SIGTERM", ch.name)
		c.kill(ch)
	}
}

// checkChildren fails the test for a process that exited by itself, or
// that reported a data race.
func (c *chaos) checkChildren() {
	c.t.Helper()
	for _, ch := range c.procs {
		if ch.reported {
			continue
		}
		if ch.exited() && !ch.stopping.Load() {
			ch.reported = true
			c.t.Errorf("%s exited by itself: %v", ch.name, ch.err)
		}
		if strings.Contains(ch.log.String(), "WARNING: DATA RACE") {
			ch.reported = true
			c.t.Errorf("%s reported a data race", ch.name)
		}
	}
}

func (c *chaos) stopAll() {
	for _, ch := range c.procs {
		if !ch.exited() {
			ch.stopping.Store(true)
			ch.cmd.Process.Kill()
			<-ch.done
		}
	}
}

// keepLogs writes every process's log, and the servers', to the run's
// LOG_DIR, or, when the test failed, to a directory it names, and puts the
// processes' tails in the test log.
func (c *chaos) keepLogs() {
	dir := c.cfg.logDir
	if dir == "" && !c.t.Failed() {
		return
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "disputed-"+strings.ReplaceAll(c.cfg.name, " ", "-")+"-"); err != nil {
			c.t.Logf("keep logs: %v", err)
			return
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	c.mu.Lock()
	timeline := strings.Join(c.timeline, "\n")
	c.mu.Unlock()
	os.WriteFile(filepath.Join(dir, "timeline.log"), []byte(timeline+"\n"), 0o644)
	for _, ch := range c.procs {
		os.WriteFile(filepath.Join(dir, ch.name+".log"), []byte(ch.log.String()), 0o644)
	}
	// The servers' logs, from folders that are deleted when the test ends.
	for name, file := range c.setup.logs() {
		if b, err := os.ReadFile(file); err == nil {
			os.WriteFile(filepath.Join(dir, "server-"+strings.ReplaceAll(name, ":", "-")+".log"), b, 0o644)
		}
	}
	c.t.Logf("logs of the %d processes, of the servers and the timeline are in %s", len(c.procs), dir)
	if !c.t.Failed() {
		return
	}
	c.t.Logf("timeline:\n%s", timeline)
	for _, ch := range c.procs {
		s := ch.log.String()
		const tail = 16 << 10
		if len(s) > tail {
			s = "...\n" + s[len(s)-tail:]
		}
		c.t.Logf("--- %s (exit: %v) ---\n%s", ch.name, ch.err, s)
	}
}

// note adds a line to the timeline. The producer's goroutine notes too.
func (c *chaos) note(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.timeline = append(c.timeline, line)
	c.mu.Unlock()
	c.t.Log(line)
}

// sleep waits d, looking at the processes and the recoveries waited for
// every 200ms.
func (c *chaos) sleep(d time.Duration) {
	end := time.Now().Add(d)
	for {
		c.checkChildren()
		c.checkRecoveries()
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 200*time.Millisecond))
	}
}
