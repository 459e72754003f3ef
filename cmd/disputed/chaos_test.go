package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// The chaos runs drive the real binary: `disputed run` child processes on a
// kfake cluster, a redis-server process and an in-process NATS server. While
// a producer writes dispute stories at wall-clock time, the processors are
// killed with SIGKILL and restarted, Redis is killed and restarted from its
// append-only file, NATS is restarted, and a second member joins and leaves
// the group. At the end JetStream must hold exactly the commands replay
// gives for what was produced, each once.
//
// TestChaosShort runs in `make test`; TestChaos is the long run of
// `make chaos` (CHAOS_FULL=1, which also skips TestChaosShort). Both take
// their settings from the environment, over their defaults: CHAOS_DURATION,
// CHAOS_KILLS, CHAOS_REDIS_RESTARTS, CHAOS_NATS_RESTARTS, CHAOS_JOINS,
// CHAOS_RATE (stories started a second), CHAOS_SEED (the schedule and the
// stories; the timing is the machine's), and CHAOS_LOG_DIR (keep every
// process's log and the timeline there; a failed run keeps them anyway).

const (
	chaosPartitions = 4
	chaosPrefix     = "chaos"
	chaosGroup      = "disputed-chaos"
	chaosEvidence   = 2 * time.Second
	chaosModify     = 3 * time.Second
	// chaosMargin keeps an event of an order from being stamped just
	// before one of the order's deadlines. Event time is the wall clock
	// when produced, so an event stamped 10ms before a deadline may reach
	// the processor after the deadline fired on the wall clock, while
	// replay applies it first. Such an event is held back until after the
	// deadline instead.
	chaosMargin = time.Second
	// chaosSettle is how long after the last event every deadline it armed is
	// due: the longest window (modification) plus slack.
	chaosSettle = chaosModify + 2*time.Second
)

var chaosTopics = []string{"orders", "deliveries", "chats", "refund-requests"}

const chaosDLQ = "disputes.dlq"

type chaosConfig struct {
	full          bool
	duration      time.Duration
	kills         int
	redisRestarts int
	natsRestarts  int
	joins         int
	rate          float64
	seed          uint64
	logDir        string
}

func chaosSettings(t *testing.T, full bool) chaosConfig {
	t.Helper()
	c := chaosConfig{full: full, duration: 40 * time.Second, kills: 4, redisRestarts: 1, natsRestarts: 1, joins: 1, rate: 6,
		seed: uint64(time.Now().UnixNano()), logDir: os.Getenv("CHAOS_LOG_DIR")}
	if full {
		c.duration, c.kills, c.redisRestarts, c.natsRestarts, c.joins, c.rate = 3*time.Minute, 20, 5, 5, 5, 8
	}
	num := func(name string, p *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a count", name, v)
			}
			*p = n
		}
	}
	num("CHAOS_KILLS", &c.kills)
	num("CHAOS_REDIS_RESTARTS", &c.redisRestarts)
	num("CHAOS_NATS_RESTARTS", &c.natsRestarts)
	num("CHAOS_JOINS", &c.joins)
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("CHAOS_DURATION=%q: want a duration of 10s or more", v)
		}
		c.duration = d
	}
	if v := os.Getenv("CHAOS_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			t.Fatalf("CHAOS_RATE=%q: want stories a second", v)
		}
		c.rate = r
	}
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", v, err)
		}
		c.seed = s
	}
	return c
}

// TestChaosShort is the short chaos run of `make test`: 40 seconds of load,
// four kills, one Redis restart, one NATS restart, one member joining and
// leaving.
func TestChaosShort(t *testing.T) {
	if os.Getenv("CHAOS_FULL") != "" {
		t.Skip("CHAOS_FULL is set: TestChaos is the run")
	}
	runChaos(t, chaosSettings(t, false))
}

// TestChaos is the full chaos run (`make chaos`).
func TestChaos(t *testing.T) {
	if os.Getenv("CHAOS_FULL") == "" {
		t.Skip("the full chaos run is `make chaos` (CHAOS_FULL=1); make test runs TestChaosShort")
	}
	runChaos(t, chaosSettings(t, true))
}

// chaos is one run: the servers, the processes and what happened.
type chaos struct {
	t     *testing.T
	cfg   chaosConfig
	bin   string
	kafka *testserver.Kafka
	redis *testserver.Redis
	rdb   *redis.Client
	nats  *testserver.NATS
	start time.Time

	procs  []*chaosChild // every process started, in order
	a, b   *chaosChild   // the primary and the joiner, nil while not running
	serial int

	kills, redisRestarts, natsRestarts, joins, leavesTerm, leavesKill int
	timeline                                                          []string
	// The times when no processor ran.
	downSince time.Time
	down      [][2]time.Time
}

// track records when no processor runs; call it after every start and
// stop.
func (c *chaos) track() {
	running := c.a != nil || c.b != nil
	switch {
	case !running && c.downSince.IsZero():
		c.downSince = time.Now()
	case running && !c.downSince.IsZero():
		c.down = append(c.down, [2]time.Time{c.downSince, time.Now()})
		c.downSince = time.Time{}
	}
}

// dueWhileDown counts replay's deadline rulings that came due while no
// processor ran: they had to fire once afterwards.
func (c *chaos) dueWhileDown(ref chaosRef) int {
	n := 0
	for id, m := range ref.want {
		if !strings.Contains(id, "/deadline:") || !strings.HasPrefix(m.Subject, rules.SubjectRuling+".") {
			continue
		}
		var r struct {
			DecidedAt time.Time `json:"decided_at"`
		}
		if json.Unmarshal(m.Data, &r) != nil {
			continue
		}
		for _, d := range c.down {
			if !r.DecidedAt.Before(d[0]) && r.DecidedAt.Before(d[1]) {
				n++
				break
			}
		}
	}
	return n
}

func runChaos(t *testing.T, cfg chaosConfig) {
	c := &chaos{t: t, cfg: cfg}
	// Redis first: without redis-server the test skips (fails in CI) before
	// building anything.
	c.redis = testserver.StartRedis(t)
	c.rdb = c.redis.Client()
	c.kafka = testserver.StartKafka(t, chaosPartitions, append(slices.Clone(chaosTopics), chaosDLQ)...)
	c.nats = testserver.StartNATS(t)
	c.bin = buildChaosBinary(t)
	// Cleanups run last first: the processes stop, then their logs are
	// kept, then the servers (registered earlier) stop.
	t.Cleanup(c.keepLogs)
	t.Cleanup(c.stopAll)
	t.Logf("chaos seed %d (CHAOS_SEED=%d reproduces the schedule and the stories): %v of load, %d kills, %d Redis restarts, %d NATS restarts, %d joins, %.1f stories/s",
		cfg.seed, cfg.seed, cfg.duration, cfg.kills, cfg.redisRestarts, cfg.natsRestarts, cfg.joins, cfg.rate)

	c.start = time.Now()
	c.a = c.spawn("a")
	ctx, stopProducing := context.WithCancel(t.Context())
	p := newChaosProducer(c.kafka.Brokers, cfg.seed, cfg.rate)
	produced := make(chan error, 1)
	go func() { produced <- p.run(ctx) }()

	c.runSchedule(c.schedule())
	if d := time.Until(c.start.Add(cfg.duration)); d > 0 {
		c.sleep(d)
	}
	stopProducing()
	if err := <-produced; err != nil {
		t.Fatalf("producer: %v", err)
	}
	c.note("load stopped: %d events produced", len(p.records))

	// Leave one processor running on healthy servers.
	if c.b != nil {
		c.leave(true)
	}
	if c.a == nil {
		c.startA()
	}
	c.checkChildren()

	lastStamp := p.lastStamp()
	quiet := c.waitQuiet(p, lastStamp.Add(chaosSettle))
	end := time.Now()

	ref := chaosReference(t, p.records, end)
	got := c.published()
	c.compare(p, ref, got)
	c.checkMoney(got)
	letters := c.kafka.ReadAll(context.Background(), t, chaosDLQ, chaosPartitions)
	distinct := c.checkDeadLetters(ref, letters)
	c.checkChildren()

	var counts struct{ rulings, final, escalated, transfers, notices, rejections int }
	for _, m := range got {
		switch kind, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(m.Subject, "disputes."), "finance."), "."); kind {
		case "ruling":
			counts.rulings++
			if bytes.Contains(m.Data, []byte(`"outcome":"escalated"`)) {
				counts.escalated++
			} else {
				counts.final++
			}
		case "transfer":
			counts.transfers++
		case "notice":
			counts.notices++
		case "rejected":
			counts.rejections++
		}
	}
	summary := fmt.Sprintf("chaos summary (seed %d): events produced %d (%d orders, %d malformed), kills %d, Redis restarts %d, NATS restarts %d, "+
		"member joins %d / leaves %d (SIGTERM %d, SIGKILL %d), processes started %d; commands %d (replay %d): rulings %d (final %d, escalated %d), "+
		"transfers %d, notices %d, rejections %d; deadline rulings due while no processor ran %d; dead letters %d (distinct %d, expected %d); quiet %v after the load; "+
		"slowest produce %v, events held back at a deadline %d; duration %v",
		cfg.seed, len(p.records), p.orders, p.malformed, c.kills, c.redisRestarts, c.natsRestarts,
		c.joins, c.leavesTerm+c.leavesKill, c.leavesTerm, c.leavesKill, len(c.procs),
		len(got), len(ref.want), counts.rulings, counts.final, counts.escalated, counts.transfers, counts.notices, counts.rejections,
		c.dueWhileDown(ref), len(letters), distinct, ref.bad, quiet.Round(100*time.Millisecond),
		p.slowest.Round(time.Millisecond), p.heldBack, time.Since(c.start).Round(time.Second))
	t.Log(summary)
	if cfg.full {
		fmt.Println(summary)
	}
	if c.kills < cfg.kills {
		t.Errorf("only %d of %d kills happened", c.kills, cfg.kills)
	}
}

// buildChaosBinary builds the binary once for the test, with the race detector
// when the test itself has it.
func buildChaosBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the chaos test builds disputed with the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "disputed")
	args := []string{"build", "-o", bin}
	if chaosRace() {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, ".")...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s . took %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

func chaosRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// chaosChild is one `disputed run` process.
type chaosChild struct {
	name     string
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{}
	err      error // of Wait, once done is closed
	stopping atomic.Bool
	reported bool
}

func (c *chaos) spawn(role string) *chaosChild {
	c.t.Helper()
	c.serial++
	ch := &chaosChild{name: fmt.Sprintf("%s%d", role, c.serial), log: &syncBuffer{}, done: make(chan struct{})}
	ch.cmd = exec.Command(c.bin, "run",
		"--kafka-brokers", strings.Join(c.kafka.Brokers, ","),
		"--redis-url", "redis://"+c.redis.Addr,
		"--nats-url", c.nats.URL,
		"--http-addr", "127.0.0.1:0",
		"--redis-prefix", chaosPrefix,
		"--group", chaosGroup,
		"--group-heartbeat", "100ms",
		"--group-session-timeout", "1s",
		"--group-rebalance-timeout", "2s",
		"--evidence-window", chaosEvidence.String(),
		"--modification-window", chaosModify.String(),
		"--duplicate-window", "10m",
		"--shutdown-grace", "5s",
		"--log-level", "info",
	)
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

// keepLogs writes every process's log to CHAOS_LOG_DIR, or, when the test
// failed, to a directory it names, and puts their tails in the test log.
func (c *chaos) keepLogs() {
	dir := c.cfg.logDir
	if dir == "" && !c.t.Failed() {
		return
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "disputed-chaos-"); err != nil {
			c.t.Logf("keep logs: %v", err)
			return
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	os.WriteFile(filepath.Join(dir, "timeline.log"), []byte(strings.Join(c.timeline, "\n")+"\n"), 0o644)
	for _, ch := range c.procs {
		os.WriteFile(filepath.Join(dir, ch.name+".log"), []byte(ch.log.String()), 0o644)
	}
	c.t.Logf("logs of the %d processes and the timeline are in %s", len(c.procs), dir)
	if !c.t.Failed() {
		return
	}
	c.t.Logf("timeline:\n%s", strings.Join(c.timeline, "\n"))
	for _, ch := range c.procs {
		s := ch.log.String()
		const tail = 16 << 10
		if len(s) > tail {
			s = "...\n" + s[len(s)-tail:]
		}
		c.t.Logf("--- %s (exit: %v) ---\n%s", ch.name, ch.err, s)
	}
}

func (c *chaos) note(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.timeline = append(c.timeline, line)
	c.t.Log(line)
}

// sleep waits d, looking at the processes every 200ms.
func (c *chaos) sleep(d time.Duration) {
	end := time.Now().Add(d)
	for {
		c.checkChildren()
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 200*time.Millisecond))
	}
}

// chaosAction is one fault (or its repair) at a time since the start.
type chaosAction struct {
	at   time.Duration
	what string
	do   func()
}

// schedule spreads the faults over the load: each kind gets n equal slots
// between 5% and 90% of the duration and one fault at a random point of
// each, so that faults of different kinds overlap at random.
func (c *chaos) schedule() []chaosAction {
	rng := rand.New(rand.NewPCG(c.cfg.seed, 1))
	from, to := c.cfg.duration/20, c.cfg.duration*9/10
	at := func(i, n int, busy time.Duration) time.Duration {
		slot := (to - from) / time.Duration(n)
		free := max(slot-busy, 0)
		return from + time.Duration(i)*slot + time.Duration(rng.Int64N(int64(free)+1))
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	var acts []chaosAction
	for i := range c.cfg.kills {
		// Every fourth kill keeps the processor down past the evidence
		// window, so deadlines come due while nobody runs; every fourth
		// restarts it at once; the others after a moment.
		var down time.Duration
		switch i % 4 {
		case 0:
			down = between(chaosEvidence+500*time.Millisecond, chaosEvidence+2*time.Second)
		case 1:
			down = 0
		default:
			down = between(100*time.Millisecond, time.Second)
		}
		k := at(i, c.cfg.kills, down+time.Second)
		acts = append(acts, chaosAction{k, "kill a", c.killA}, chaosAction{k + down, "start a", c.startA})
	}
	// Every other Redis and NATS outage outlasts the clients' own retries
	// (go-redis: about a second; a JetStream publish waits 5s for its ack),
	// so that the processor's retries and the outbox are what recover.
	for i := range c.cfg.redisRestarts {
		down := between(200*time.Millisecond, time.Second)
		if i%2 == 0 {
			down = between(2*time.Second, 4*time.Second)
		}
		k := at(i, c.cfg.redisRestarts, down+time.Second)
		acts = append(acts, chaosAction{k, "kill redis", c.redisDown}, chaosAction{k + down, "restart redis", c.redisUp})
	}
	for i := range c.cfg.natsRestarts {
		down := between(300*time.Millisecond, 2*time.Second)
		if i%2 == 0 {
			down = between(6*time.Second, 9*time.Second)
		}
		k := at(i, c.cfg.natsRestarts, down+time.Second)
		acts = append(acts, chaosAction{k, "stop nats", c.natsDown}, chaosAction{k + down, "restart nats", c.natsUp})
	}
	for i := range c.cfg.joins {
		stay := between(3*time.Second, 8*time.Second)
		k := at(i, c.cfg.joins, stay+time.Second)
		term := i%2 == 0
		acts = append(acts, chaosAction{k, "join b", c.join}, chaosAction{k + stay, "leave b", func() { c.leave(term) }})
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	return acts
}

func (c *chaos) runSchedule(acts []chaosAction) {
	for _, a := range acts {
		if d := time.Until(c.start.Add(a.at)); d > 0 {
			c.sleep(d)
		}
		a.do()
	}
}

func (c *chaos) killA() {
	if c.a == nil {
		c.note("kill a: not running, skipped")
		return
	}
	c.kill(c.a)
	c.a = nil
	c.kills++
	c.track()
}

func (c *chaos) startA() {
	if c.a == nil {
		c.a = c.spawn("a")
	}
	c.track()
}

func (c *chaos) redisDown() {
	c.redis.Kill()
	c.note("killed redis")
}

func (c *chaos) redisUp() {
	c.redis.Restart()
	c.redisRestarts++
	c.note("restarted redis from its append-only file")
}

func (c *chaos) natsDown() {
	c.nats.Shutdown()
	c.note("stopped nats")
}

func (c *chaos) natsUp() {
	c.nats.Restart()
	c.natsRestarts++
	c.note("restarted nats")
}

func (c *chaos) join() {
	if c.b != nil {
		return
	}
	c.b = c.spawn("b")
	c.joins++
	c.track()
}

func (c *chaos) leave(term bool) {
	if c.b == nil {
		return
	}
	if term {
		c.term(c.b)
		c.leavesTerm++
	} else {
		c.kill(c.b)
		c.leavesKill++
	}
	c.b = nil
	c.track()
}

// waitQuiet waits until every partition has applied every produced message,
// every deadline due by notBefore has fired, the outboxes are empty and the
// streams have not grown for three seconds. It returns how long that took
// after the load stopped.
func (c *chaos) waitQuiet(p *chaosProducer, notBefore time.Time) time.Duration {
	c.t.Helper()
	start := time.Now()
	within := 60 * time.Second
	if c.cfg.full {
		within = 2 * time.Minute
	}
	nc := c.nats.Conn()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx := context.Background()
	want := p.lastOffsets()
	var last uint64
	var stableSince time.Time
	var why string
	for {
		c.checkChildren()
		why = c.busy(ctx, want)
		n, err := chaosStreamMsgs(ctx, js)
		if err != nil && why == "" {
			why = err.Error()
		}
		if time.Now().Before(notBefore) && why == "" {
			why = "deadlines of the last events not due yet"
		}
		if why != "" || n != last {
			stableSince = time.Time{}
		} else if stableSince.IsZero() {
			stableSince = time.Now()
		}
		last = n
		if !stableSince.IsZero() && time.Since(stableSince) >= 3*time.Second {
			return time.Since(start)
		}
		if time.Since(start) > within {
			c.t.Errorf("not quiet %v after the load stopped: %s (streams hold %d)", within, why, n)
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// busy says what a partition still has to do, or "" when nothing.
func (c *chaos) busy(ctx context.Context, want map[string]map[int]int64) string {
	var why []string
	for p := range chaosPartitions {
		applied, err := c.rdb.HGetAll(ctx, fmt.Sprintf("%s:{%d}:offsets", chaosPrefix, p)).Result()
		if err != nil {
			return err.Error()
		}
		for _, topic := range chaosTopics {
			w, ok := want[topic][p]
			if !ok {
				continue
			}
			got := int64(-1)
			if v, ok := applied[topic]; ok {
				got, _ = strconv.ParseInt(v, 10, 64)
			}
			if got != w {
				why = append(why, fmt.Sprintf("partition %d applied %s up to %d of %d", p, topic, got, w))
			}
		}
		n, err := c.rdb.LLen(ctx, fmt.Sprintf("%s:{%d}:outbox", chaosPrefix, p)).Result()
		if err != nil {
			return err.Error()
		}
		if n > 0 {
			why = append(why, fmt.Sprintf("partition %d outbox holds %d", p, n))
		}
		due, err := c.rdb.ZCount(ctx, fmt.Sprintf("%s:{%d}:timers", chaosPrefix, p), "-inf", strconv.FormatInt(time.Now().UnixMilli(), 10)).Result()
		if err != nil {
			return err.Error()
		}
		if due > 0 {
			why = append(why, fmt.Sprintf("partition %d has %d deadlines due", p, due))
		}
	}
	return strings.Join(why, "; ")
}

func chaosStreamMsgs(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var n uint64
	for _, name := range []string{"DISPUTES", "FINANCE"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		n += info.State.Msgs
	}
	return n, nil
}

func (c *chaos) published() []testserver.Msg {
	c.t.Helper()
	nc := c.nats.Conn()
	ctx := context.Background()
	msgs := testserver.Messages(ctx, c.t, nc, "DISPUTES")
	return append(msgs, testserver.Messages(ctx, c.t, nc, "FINANCE")...)
}

// compare asserts that the streams hold exactly replay's commands, byte for
// byte, each once, with Nats-Msg-Id = command_id. A difference is reported
// with the order's partition and the processes' log lines about the order.
func (c *chaos) compare(p *chaosProducer, ref chaosRef, got []testserver.Msg) {
	c.t.Helper()
	seen := make(map[string]int)
	var problems []string
	suspects := make(map[string]bool) // orders to explain
	for _, m := range got {
		seen[m.MsgID]++
		order := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if seen[m.MsgID] == 2 {
			problems = append(problems, fmt.Sprintf("command %s published twice (order %s, partition %d)", m.MsgID, order, chaosPartition(order)))
			suspects[order] = true
		}
		var body struct {
			CommandID string `json:"command_id"`
		}
		if err := json.Unmarshal(m.Data, &body); err != nil || body.CommandID != m.MsgID {
			problems = append(problems, fmt.Sprintf("message %s: Nats-Msg-Id is not command_id %q (%v)", m.MsgID, body.CommandID, err))
		}
		w, ok := ref.want[m.MsgID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("command %s is not replay's (order %s, partition %d): %s %s", m.MsgID, order, chaosPartition(order), m.Subject, m.Data))
			suspects[order] = true
		case w.Subject != m.Subject || !bytes.Equal(w.Data, m.Data):
			problems = append(problems, fmt.Sprintf("command %s differs from replay (order %s, partition %d):\n got %s %s\nwant %s %s", m.MsgID, order, chaosPartition(order), m.Subject, m.Data, w.Subject, w.Data))
			suspects[order] = true
		}
	}
	var missing []string
	for id, w := range ref.want {
		if seen[id] == 0 {
			order := w.Subject[strings.LastIndexByte(w.Subject, '.')+1:]
			missing = append(missing, fmt.Sprintf("%s (partition %d)", id, chaosPartition(order)))
			suspects[order] = true
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d commands of replay never published: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(problems) == 0 {
		return
	}
	const most = 40
	if len(problems) > most {
		problems = append(problems[:most], fmt.Sprintf("... and %d more", len(problems)-most))
	}
	c.t.Errorf("JetStream differs from replay:\n%s", strings.Join(problems, "\n"))
	orders := slices.Sorted(func(yield func(string) bool) {
		for o := range suspects {
			if !yield(o) {
				return
			}
		}
	})
	if len(orders) > 5 {
		orders = orders[:5]
	}
	for _, o := range orders {
		c.t.Logf("order %s (partition %d): events produced:\n%s", o, chaosPartition(o), strings.Join(p.eventsOf(o), "\n"))
		c.t.Logf("order %s: replay's commands:\n%s", o, strings.Join(ref.byOrder[o], "\n"))
		var lines []string
		for _, ch := range c.procs {
			for l := range strings.SplitSeq(ch.log.String(), "\n") {
				if strings.Contains(l, o) {
					lines = append(lines, ch.name+": "+l)
				}
			}
		}
		c.t.Logf("order %s: log lines naming it:\n%s", o, strings.Join(lines, "\n"))
	}
}

// checkMoney asserts that every final ruling splits the order amount, and
// that its transfers pay exactly the split.
func (c *chaos) checkMoney(got []testserver.Msg) {
	c.t.Helper()
	type ruling struct {
		RulingID       string `json:"ruling_id"`
		Outcome        string `json:"outcome"`
		RefundAmount   int64  `json:"refund_amount"`
		ProviderAmount int64  `json:"provider_amount"`
		Amount         int64  `json:"amount"`
	}
	type transfer struct {
		CommandID string `json:"command_id"`
		RulingID  string `json:"ruling_id"`
		To        string `json:"to"`
		Amount    int64  `json:"amount"`
	}
	rulings := make(map[string]ruling)
	paid := make(map[string]map[string]int64) // ruling -> party -> amount
	for _, m := range got {
		switch {
		case strings.HasPrefix(m.Subject, rules.SubjectRuling+"."):
			var r ruling
			if err := json.Unmarshal(m.Data, &r); err != nil {
				c.t.Errorf("ruling %s: %v", m.MsgID, err)
				continue
			}
			rulings[r.RulingID] = r
		case strings.HasPrefix(m.Subject, rules.SubjectTransfer+"."):
			var tr transfer
			if err := json.Unmarshal(m.Data, &tr); err != nil {
				c.t.Errorf("transfer %s: %v", m.MsgID, err)
				continue
			}
			if tr.Amount <= 0 {
				c.t.Errorf("transfer %s moves %d", tr.CommandID, tr.Amount)
			}
			if paid[tr.RulingID] == nil {
				paid[tr.RulingID] = make(map[string]int64)
			}
			paid[tr.RulingID][tr.To] += tr.Amount
		}
	}
	for id, r := range rulings {
		p := paid[id]
		if r.Outcome == string(rules.Escalated) {
			if r.RefundAmount != 0 || r.ProviderAmount != 0 || len(p) > 0 {
				c.t.Errorf("escalated ruling %s moves money: refund %d, provider %d, transfers %v", id, r.RefundAmount, r.ProviderAmount, p)
			}
			continue
		}
		if r.RefundAmount < 0 || r.ProviderAmount < 0 || r.RefundAmount+r.ProviderAmount != r.Amount {
			c.t.Errorf("ruling %s: refund %d + provider %d != amount %d", id, r.RefundAmount, r.ProviderAmount, r.Amount)
		}
		if p["customer"] != r.RefundAmount || p["provider"] != r.ProviderAmount || p["customer"]+p["provider"] != r.Amount {
			c.t.Errorf("ruling %s (refund %d, provider %d of %d): transfers %v do not pay it", id, r.RefundAmount, r.ProviderAmount, r.Amount, p)
		}
	}
	for id := range paid {
		if _, ok := rulings[id]; !ok {
			c.t.Errorf("transfers %v of ruling %s, which was never published", paid[id], id)
		}
	}
}

// checkDeadLetters asserts that the dead-letter topic holds each malformed
// message (a crash may write one twice: the source headers tell) and no
// other. It returns the number of distinct letters.
func (c *chaos) checkDeadLetters(ref chaosRef, letters []kafka.Message) int {
	c.t.Helper()
	distinct := make(map[string]string) // source -> value
	for _, l := range letters {
		h := make(map[string]string)
		for _, x := range l.Headers {
			h[x.Key] = string(x.Value)
		}
		src := h[consumer.HeaderSourceTopic] + "/" + h[consumer.HeaderSourcePartition] + "@" + h[consumer.HeaderSourceOffset]
		if v, ok := distinct[src]; ok && v != string(l.Value) {
			c.t.Errorf("two different dead letters from %s", src)
		}
		distinct[src] = string(l.Value)
		if !ref.badValues[string(l.Value)] {
			c.t.Errorf("dead letter from %s is not a malformed message: %s (%s)", src, l.Value, h[consumer.HeaderError])
		}
	}
	values := make(map[string]bool)
	for _, v := range distinct {
		values[v] = true
	}
	for v := range ref.badValues {
		if !values[v] {
			c.t.Errorf("malformed message never dead-lettered: %s", v)
		}
	}
	return len(distinct)
}

// chaosRef is what replay makes of the produced events.
type chaosRef struct {
	want      map[string]testserver.Msg // by command ID
	byOrder   map[string][]string       // command IDs by order, for reports
	bad       int                       // messages that must be dead-lettered
	badValues map[string]bool
}

// chaosReference replays the produced events, sorted stably by event time and
// topic as the processor's merge orders them, then fires every deadline due
// by end.
func chaosReference(t *testing.T, records []chaosRecord, end time.Time) chaosRef {
	t.Helper()
	recs := slices.Clone(records)
	slices.SortStableFunc(recs, func(a, b chaosRecord) int {
		if c := a.stamp.Compare(b.stamp); c != 0 {
			return c
		}
		return a.topic - b.topic
	})
	ref := chaosRef{want: make(map[string]testserver.Msg), byOrder: make(map[string][]string), badValues: make(map[string]bool)}
	r := rules.NewReplay(rules.Policy{RuleSet: rules.RuleSet2018, EvidenceWindow: chaosEvidence, ModificationWindow: chaosModify})
	keep := func(cmds []rules.Command) {
		for _, cmd := range cmds {
			data, err := cmd.Data()
			if err != nil {
				t.Fatal(err)
			}
			ref.want[cmd.ID] = testserver.Msg{Subject: cmd.Subject, MsgID: cmd.ID, Data: data}
			order := cmd.Subject[strings.LastIndexByte(cmd.Subject, '.')+1:]
			ref.byOrder[order] = append(ref.byOrder[order], cmd.Subject+" "+cmd.ID)
		}
	}
	orders := make(map[string]bool)
	for _, rec := range recs {
		if rec.streamBad {
			// Malformed, or refused by what only the stream checks (the
			// key, the clock): dead-lettered, never replayed.
			ref.bad++
			ref.badValues[string(rec.msg.Value)] = true
			continue
		}
		e, err := rules.Decode(rec.msg.Value)
		if err != nil {
			t.Fatalf("produced event does not decode: %v: %s", err, rec.msg.Value)
		}
		orders[e.OrderID] = true
		cmds, err := r.Apply(e)
		keep(cmds)
		if err != nil {
			if !errors.Is(err, rules.ErrInvalidEvent) {
				t.Fatalf("replay %s: %v", rec.msg.Value, err)
			}
			ref.bad++
			ref.badValues[string(rec.msg.Value)] = true
		}
	}
	cmds, err := r.Advance(end)
	if err != nil {
		t.Fatal(err)
	}
	keep(cmds)
	// The run waited for every deadline: none may still be running.
	for o := range orders {
		for _, tm := range r.State(o).Timers {
			if !tm.Paused && tm.At.After(end) {
				t.Errorf("order %s: deadline %s at %v is still to come after the run: the stories end too late", o, tm.ID, tm.At)
			}
		}
	}
	return ref
}

func chaosPartition(order string) int {
	return (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(order)}, 0, 1, 2, 3)
}

// chaosRecord is one produced message.
type chaosRecord struct {
	stamp     time.Time // event time = wall clock when produced
	topic     int       // index in chaosTopics
	partition int
	msg       kafka.Message
	order     string
	streamBad bool // to be dead-lettered without reaching the rules
}

// chaosProducer writes dispute stories while the run lasts: each order's
// events are at least 600ms apart, stamped with the wall clock, keyed by
// order on their type's topic.
type chaosProducer struct {
	brokers []string
	rng     *rand.Rand
	rate    float64
	// guard replays what was produced, to know each order's deadlines.
	guard *rules.Replay

	records   []chaosRecord
	orders    int
	malformed int
	heldBack  int
	slowest   time.Duration
}

func newChaosProducer(brokers []string, seed uint64, rate float64) *chaosProducer {
	return &chaosProducer{
		brokers: brokers, rng: rand.New(rand.NewPCG(seed, 2)), rate: rate,
		guard: rules.NewReplay(rules.Policy{RuleSet: rules.RuleSet2018, EvidenceWindow: chaosEvidence, ModificationWindow: chaosModify}),
	}
}

// step is one event of a story: after gap, the event of type typ with the
// data data returns for its time. A malformed step has bad set instead.
type chaosStep struct {
	gap  time.Duration
	typ  rules.Type
	data func(at time.Time) string
	bad  func(order, id string, at time.Time) (topic int, key string, value string)
}

type chaosStory struct {
	order string
	steps []chaosStep
	next  int
	due   time.Time
}

func (p *chaosProducer) run(ctx context.Context) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(p.brokers...), Balancer: &kafka.Hash{},
		BatchTimeout: time.Millisecond, BatchSize: 10000, RequiredAcks: kafka.RequireAll,
	}
	defer w.Close()
	var active []*chaosStory
	nextStart := time.Now()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		for !nextStart.After(now) {
			active = append(active, p.newStory(now))
			nextStart = nextStart.Add(time.Duration(float64(time.Second) / p.rate * (0.5 + p.rng.Float64())))
		}
		stamp := time.Now().UTC()
		var batch []chaosRecord
		for _, s := range active {
			if s.due.After(now) {
				continue
			}
			if hold := p.hold(s.order, stamp); !hold.IsZero() {
				s.due = hold
				p.heldBack++
				continue
			}
			batch = append(batch, p.build(s, stamp))
			s.next++
			if s.next < len(s.steps) {
				s.due = now.Add(s.steps[s.next].gap)
			}
		}
		active = slices.DeleteFunc(active, func(s *chaosStory) bool { return s.next >= len(s.steps) })
		if len(batch) == 0 {
			continue
		}
		msgs := make([]kafka.Message, len(batch))
		for i, r := range batch {
			msgs[i] = r.msg
		}
		start := time.Now()
		if err := w.WriteMessages(context.WithoutCancel(ctx), msgs...); err != nil {
			return fmt.Errorf("write %d events: %w", len(msgs), err)
		}
		p.slowest = max(p.slowest, time.Since(start))
		for _, r := range batch {
			p.records = append(p.records, r)
			if !r.streamBad {
				if e, err := rules.Decode(r.msg.Value); err == nil {
					p.guard.Apply(e) // refusals are part of the story
				}
			}
		}
	}
}

// hold returns when an event of order stamped at would come too close before
// one of the order's deadlines, a time after that deadline; zero otherwise.
func (p *chaosProducer) hold(order string, at time.Time) time.Time {
	for _, tm := range p.guard.State(order).Timers {
		if tm.Paused || tm.At.IsZero() || tm.At.Before(at) {
			continue
		}
		if tm.At.Sub(at) < chaosMargin {
			return tm.At.Add(300 * time.Millisecond)
		}
	}
	return time.Time{}
}

func (p *chaosProducer) build(s *chaosStory, at time.Time) chaosRecord {
	st := s.steps[s.next]
	id := fmt.Sprintf("%s-%02d", s.order, s.next+1)
	if st.bad != nil {
		ti, key, value := st.bad(s.order, id, at)
		return chaosRecord{stamp: at, topic: ti, partition: chaosPartition(key), order: s.order, streamBad: true,
			msg: kafka.Message{Topic: chaosTopics[ti], Key: []byte(key), Value: []byte(value)}}
	}
	data := ""
	if st.data != nil {
		data = st.data(at)
	}
	ti := slices.Index(chaosTopics, st.typ.Topic())
	return chaosRecord{stamp: at, topic: ti, partition: chaosPartition(s.order), order: s.order,
		msg: kafka.Message{Topic: chaosTopics[ti], Key: []byte(s.order), Value: []byte(chaosEnvelope(id, st.typ, at, s.order, data))}}
}

func chaosEnvelope(id string, typ rules.Type, at time.Time, order, data string) string {
	source := map[string]string{"orders": "order-service", "deliveries": "delivery-service", "chats": "chat-service", "refund-requests": "refund-service"}[typ.Topic()]
	s := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":%q,"type":%q,"time":%q,"subject":%q`, id, source, typ, at.UTC().Format(time.RFC3339Nano), order)
	if data != "" {
		s += `,"data":` + data
	}
	return s + "}"
}

func (p *chaosProducer) lastStamp() time.Time {
	var t time.Time
	for _, r := range p.records {
		if r.stamp.After(t) {
			t = r.stamp
		}
	}
	return t
}

// lastOffsets is the offset of the last message produced to each
// topic-partition: only the producer writes the input topics, from offset 0.
func (p *chaosProducer) lastOffsets() map[string]map[int]int64 {
	out := make(map[string]map[int]int64)
	for _, r := range p.records {
		t := chaosTopics[r.topic]
		if out[t] == nil {
			out[t] = make(map[int]int64)
		}
		if _, ok := out[t][r.partition]; !ok {
			out[t][r.partition] = -1
		}
		out[t][r.partition]++
	}
	return out
}

func (p *chaosProducer) eventsOf(order string) []string {
	var out []string
	for _, r := range p.records {
		if r.order == order {
			out = append(out, fmt.Sprintf("%s %s", r.msg.Topic, r.msg.Value))
		}
	}
	return out
}

// newStory picks a story for a new order.
func (p *chaosProducer) newStory(now time.Time) *chaosStory {
	p.orders++
	order := fmt.Sprintf("ord-%05d", p.orders)
	rng := p.rng
	amount := 1000 + rng.Int64N(200000)
	categories := []string{"software_app", "operational_service", "training", "image_design", "video", "other"}
	category := categories[rng.IntN(len(categories))]
	gap := func() time.Duration {
		return 600*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
	}
	fixed := func(s string) func(time.Time) string { return func(time.Time) string { return s } }
	ev := func(typ rules.Type, data string) chaosStep {
		st := chaosStep{gap: gap(), typ: typ}
		if data != "" {
			st.data = fixed(data)
		}
		return st
	}
	after := func(d time.Duration, s chaosStep) chaosStep { s.gap = d; return s }
	// quick is for an event that must come well before the evidence
	// deadline the previous one armed (chaosMargin), on the same topic.
	quick := func(s chaosStep) chaosStep {
		return after(500*time.Millisecond+time.Duration(rng.Int64N(int64(300*time.Millisecond))), s)
	}
	paidData := func(extra string) string {
		return fmt.Sprintf(`{"customer_id":"cus-%d","provider_id":"prv-%d","category":%q,"amount":%d,"currency":"CNY"%s}`,
			p.orders, rng.IntN(50), category, amount, extra)
	}
	paid := ev(rules.TypeOrderPaid, paidData(""))
	delivered := ev(rules.TypeDeliverySubmitted, fmt.Sprintf(`{"delivery_no":"dlv-%d"}`, p.orders))
	refund := func(reason string) chaosStep {
		return ev(rules.TypeRefundRequested, fmt.Sprintf(`{"reason":%q}`, reason))
	}
	intervene := func(by string) chaosStep { return ev(rules.TypeInterventionRequested, fmt.Sprintf(`{"by":%q}`, by)) }
	chat := func(from string) chaosStep {
		return ev(rules.TypeChatMessage, fmt.Sprintf(`{"from":%q,"text":"message %d from the %s"}`, from, rng.IntN(1000), from))
	}
	evidence := func(party, kind string) chaosStep {
		return ev(rules.TypeEvidenceSubmitted, fmt.Sprintf(`{"party":%q,"kind":%q,"note":"%s evidence"}`, party, kind, kind))
	}
	assessment := func() chaosStep {
		return ev(rules.TypeAssessmentRecorded, fmt.Sprintf(`{"value_ratio_bp":%d}`, rng.IntN(10001)))
	}
	issue := fmt.Sprintf(`{"issue_id":"issue-%d"}`, p.orders)
	mod := func(typ rules.Type) chaosStep { return ev(typ, issue) }
	pastDeadline := 2*time.Second + 700*time.Millisecond

	var steps []chaosStep
	switch k := rng.IntN(20); {
	case k < 3: // the parties settle
		steps = []chaosStep{paid, delivered, refund("not_as_described"), chat("customer"), chat("provider"),
			ev(rules.TypeSettlementAgreed, fmt.Sprintf(`{"refund_amount":%d}`, rng.Int64N(amount+1)))}
	case k < 6: // the provider's evidence deadline runs out
		steps = []chaosStep{paid, refund("not_delivered"), intervene("customer")}
		if rng.IntN(2) == 0 {
			steps = append(steps, quick(assessment()))
		}
		if rng.IntN(3) == 0 { // after the ruling: rejected
			steps = append(steps, after(pastDeadline, chat("customer")))
		}
	case k < 8: // the provider proves delivery in time
		steps = []chaosStep{paid, delivered, refund("not_delivered"), chat("provider"), intervene("customer"), quick(evidence("provider", "valid"))}
	case k < 10: // reference evidence only: escalated at the deadline, then a reviewer decides
		steps = []chaosStep{paid, delivered, refund("quality"), intervene("customer"), quick(evidence("customer", "reference")),
			after(pastDeadline, ev(rules.TypeReviewDecided, fmt.Sprintf(`{"refund_amount":%d,"articles":["c2.a3","c2.a9"],"note":"reviewed"}`, rng.Int64N(amount+1))))}
	case k < 11: // a modification rejected three times
		steps = []chaosStep{paid, delivered, ev(rules.TypeModificationRequested, fmt.Sprintf(`{"issue_id":"issue-%d","objective":true}`, p.orders)),
			mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected), mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected),
			refund("modification_failed"), assessment(), mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected)}
	case k < 12: // a modification overdue, or refused
		req := chaosStep{gap: gap(), typ: rules.TypeModificationRequested, data: func(at time.Time) string {
			return fmt.Sprintf(`{"issue_id":"issue-%d","objective":true,"due":%q}`, p.orders, at.Add(2500*time.Millisecond).Format(time.RFC3339Nano))
		}}
		if rng.IntN(2) == 0 {
			steps = []chaosStep{paid, delivered, req, after(3200*time.Millisecond, refund("modification_overdue")), intervene("customer")}
		} else {
			steps = []chaosStep{paid, delivered, req, mod(rules.TypeModificationRefused), refund("modification_failed"), intervene("customer")}
		}
	case k < 13: // a court case suspends the evidence deadline
		steps = []chaosStep{paid, refund("not_delivered"), intervene("customer"), quick(ev(rules.TypeJudicialFiled, `{"by":"customer"}`)),
			intervene("provider"), chat("customer"), ev(rules.TypeSuspensionLifted, "")}
		if rng.IntN(2) == 0 {
			steps = append(steps, quick(evidence("provider", "valid")))
		}
	case k < 14: // both ask to negotiate: suspended, then settled, or resumed and decided
		steps = []chaosStep{paid, refund("quality"), ev(rules.TypeNegotiationRequested, `{"by":"customer"}`),
			ev(rules.TypeNegotiationRequested, `{"by":"provider"}`)}
		if rng.IntN(2) == 0 {
			steps = append(steps, chat("provider"), ev(rules.TypeSettlementAgreed, fmt.Sprintf(`{"refund_amount":%d}`, rng.Int64N(amount+1))))
		} else {
			steps = append(steps, ev(rules.TypeSuspensionLifted, ""), intervene("customer"), chat("customer"))
		}
	case k < 15: // accepted after a chat; a late refund request is rejected
		steps = []chaosStep{paid, chat("customer"), delivered, ev(rules.TypeOrderAccepted, ""), refund("quality")}
	case k < 16: // the delivery date passes
		steps = []chaosStep{{gap: 0, typ: rules.TypeOrderPaid, data: func(at time.Time) string {
			return paidData(fmt.Sprintf(`,"delivery_due":%q`, at.Add(1500*time.Millisecond).Format(time.RFC3339Nano)))
		}}, after(2500*time.Millisecond, refund("not_delivered")), intervene("customer")}
	case k < 17: // a partial request withdrawn, then a new one the customer proves
		steps = []chaosStep{paid, delivered, ev(rules.TypeRefundRequested, fmt.Sprintf(`{"reason":"quality","amount":%d}`, 1+rng.Int64N(amount))),
			ev(rules.TypeRefundWithdrawn, ""), refund("not_as_described"), evidence("customer", "valid"), intervene("customer")}
	case k < 19: // chats only
		steps = []chaosStep{paid, chat("customer"), chat("provider"), chat("customer")}
	default: // one malformed message, and nothing else for the order
		p.malformed++
		steps = []chaosStep{{bad: p.malformedMessage(rng.IntN(7))}}
	}
	steps[0].gap = 0
	return &chaosStory{order: order, steps: steps, due: now}
}

// malformedMessage returns a message the stream must dead-letter: the
// decoder, the rules (an order never paid) or the stream's own checks (the
// key, the clock) refuse it.
func (p *chaosProducer) malformedMessage(kind int) func(order, id string, at time.Time) (int, string, string) {
	return func(order, id string, at time.Time) (int, string, string) {
		refunds := slices.Index(chaosTopics, "refund-requests")
		switch kind {
		case 0:
			return refunds, order, fmt.Sprintf(`{"specversion":"1.0","id":%q,"type":"refund.requested","subject":`, id)
		case 1:
			return 0, order, chaosEnvelope(id, "order.shipped", at, order, `{}`)
		case 2:
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at, order, `{"provider_id":"p","category":"other","amount":1000,"currency":"CNY"}`)
		case 3:
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at, order, `{"customer_id":"c","provider_id":"p","category":"other","amount":-5,"currency":"CNY"}`)
		case 4: // an order never paid: the rules refuse it
			return refunds, order, chaosEnvelope(id, rules.TypeRefundRequested, at, order, `{"reason":"quality"}`)
		case 5: // keyed by another order: the stream refuses it
			return refunds, order + "-x", chaosEnvelope(id, rules.TypeRefundRequested, at, order, `{"reason":"quality"}`)
		default: // from the future: the stream refuses it
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at.Add(10*time.Minute), order,
				`{"customer_id":"c","provider_id":"p","category":"other","amount":1000,"currency":"CNY"}`)
		}
	}
}
