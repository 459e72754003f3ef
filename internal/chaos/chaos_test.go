package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// The chaos runs drive the real binary: `disputed run` child processes under
// continuous load while the processes and their servers fail. While a
// producer writes dispute stories at wall-clock time, the processors are
// killed with SIGKILL and restarted, members join and leave the group, and
// the servers suffer the faults of the run's setup:
//
//   - the single-node run (node_test.go): a real Kafka broker (or kfake), one
//     redis-server process and an in-process NATS server. Redis is killed
//     and restarted from its append-only file, and restored from an older
//     snapshot under the running processors; NATS is restarted.
//   - the cluster run (cluster_test.go): three Kafka brokers, a Redis
//     Cluster of three primaries with a replica each, three NATS servers
//     with R3 streams, three members. Partition leaders are stopped, Redis
//     primaries fail over (CLUSTER FAILOVER) and are SIGKILLed, NATS servers
//     are SIGKILLed.
//
// At the end JetStream must hold exactly the commands replay gives for what
// was produced, each once; every transfer pays its ruling; the dead-letter
// topic holds the malformed messages.
//
// Each run has a short version in `make test` and a long one of its own make
// target. Both take their settings from the environment, over their
// defaults, under the run's prefix (CHAOS_ or CLUSTER_CHAOS_): DURATION, the
// count of each kind of fault (KILLS, JOINS, and the setup's: REDIS_RESTARTS,
// ..., BROKER_STOPS, ...), RATE (stories started a second), SEED (the
// schedule and the stories; the timing is the machine's), and LOG_DIR (keep
// every process's log and the timeline there; a failed run keeps them
// anyway).

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

// chaosSetup is what differs between the runs: the servers, and the faults
// they suffer. Its methods run on the test's goroutine.
type chaosSetup interface {
	// start starts the servers and sets the run's clients of them
	// (c.kafka, c.rdb, c.nc).
	start(c *chaos)
	// flags are the flags of `disputed run` that point it at the servers.
	flags() []string
	// faults are the kinds of server fault of the run, in the summary's
	// order, with their counts for a short and a full run.
	faults(c *chaos) []*chaosFault
	// heal brings every server back and waits until it is whole.
	heal(c *chaos)
	// logs are the servers' log files to keep, by name.
	logs() map[string]string
}

type chaosConfig struct {
	name        string // of the run, in the log and the summary: "chaos", "cluster chaos"
	env         string // prefix of its settings: CHAOS_, CLUSTER_CHAOS_
	full        bool
	duration    time.Duration
	rate        float64
	seed        uint64
	logDir      string
	members     int           // processors that run all along (killed and restarted); one more joins and leaves
	quietWithin time.Duration // how long the run may take to settle after the load
	// kills and joins are the processors' own faults; the setup adds its.
	kills, joins chaosCount
}

// chaosCount is how many faults of a kind a short and a full run inject.
type chaosCount struct{ short, full int }

func (n chaosCount) of(full bool) int {
	if full {
		return n.full
	}
	return n.short
}

// settings reads the run's settings from the environment over cfg's
// defaults, and fills in the count each fault kind asks for.
func (cfg chaosConfig) settings(t *testing.T, faults []*chaosFault) chaosConfig {
	t.Helper()
	cfg.seed = uint64(time.Now().UnixNano())
	cfg.logDir = os.Getenv(cfg.env + "LOG_DIR")
	for _, f := range faults {
		f.want = f.count.of(cfg.full)
		name := cfg.env + f.env
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a count", name, v)
			}
			f.want = n
		}
	}
	if v := os.Getenv(cfg.env + "DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("%sDURATION=%q: want a duration of 10s or more", cfg.env, v)
		}
		cfg.duration = d
	}
	if v := os.Getenv(cfg.env + "RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			t.Fatalf("%sRATE=%q: want stories a second", cfg.env, v)
		}
		cfg.rate = r
	}
	if v := os.Getenv(cfg.env + "SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%sSEED=%q: %v", cfg.env, v, err)
		}
		cfg.seed = s
	}
	return cfg
}

// chaos is one run: the servers, the processes and what happened.
type chaos struct {
	t     *testing.T
	cfg   chaosConfig
	setup chaosSetup
	bin   string
	// The run's clients of its servers, which setup.start sets.
	kafka *testserver.Kafka
	rdb   redis.UniversalClient
	nc    *nats.Conn
	start time.Time

	procs   []*chaosChild // every process started, in order
	members []*chaosMember
	joiner  *chaosMember
	serial  int

	faults                 []*chaosFault // every kind, in the summary's order
	kills, joins           *chaosFault
	leavesTerm, leavesKill int
	recoveries             []*chaosRecovery
	mu                     sync.Mutex // guards timeline
	timeline               []string
	// The times when no processor ran.
	downSince time.Time
	down      [][2]time.Time
}

// chaosMember is a place in the group: the process that fills it, or nil
// while none does.
type chaosMember struct {
	role string // "a", "b", ...: its processes are named role and a serial number
	ch   *chaosChild
}

// heldCommands counts the commands the guard refused, over the partitions.
func (c *chaos) heldCommands() int64 {
	var n int64
	for p := range chaosPartitions {
		n += c.rdb.HLen(context.Background(), state.Key(chaosPrefix, p, "held")).Val()
	}
	return n
}

// running reports whether any processor runs.
func (c *chaos) running() bool {
	for _, m := range append(slices.Clone(c.members), c.joiner) {
		if m.ch != nil {
			return true
		}
	}
	return false
}

// track records when no processor runs; call it after every start and
// stop.
func (c *chaos) track() {
	running := c.running()
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

func runChaos(t *testing.T, cfg chaosConfig, setup chaosSetup) {
	c := &chaos{t: t, setup: setup}
	c.kills = &chaosFault{env: "KILLS", label: "kills", on: "members", count: cfg.kills, plan: c.planKill}
	c.joins = &chaosFault{env: "JOINS", label: "member joins", on: "joiner", count: cfg.joins, plan: c.planJoin}
	c.faults = append(append([]*chaosFault{c.kills}, setup.faults(c)...), c.joins)
	cfg = cfg.settings(t, c.faults)
	c.cfg = cfg
	for i := range cfg.members {
		c.members = append(c.members, &chaosMember{role: string(rune('a' + i))})
	}
	c.joiner = &chaosMember{role: string(rune('a' + cfg.members))}

	// The servers first: without them the test skips (fails in CI) before
	// building anything.
	setup.start(c)
	c.bin = testserver.Binary(t)
	// Cleanups run last first: the processes stop, then their logs are
	// kept, then the servers (registered earlier) stop.
	t.Cleanup(c.keepLogs)
	t.Cleanup(c.stopAll)
	var counts []string
	for _, f := range c.faults {
		counts = append(counts, fmt.Sprintf("%d %s", f.want, f.label))
	}
	t.Logf("%s seed %d (%sSEED=%d reproduces the schedule and the stories): %v of load, %s, %.1f stories/s",
		cfg.name, cfg.seed, cfg.env, cfg.seed, cfg.duration, strings.Join(counts, ", "), cfg.rate)

	c.start = time.Now()
	for _, m := range c.members {
		c.startMember(m)
	}
	ctx, stopProducing := context.WithCancel(context.Background())
	p := newChaosProducer(c.kafka, cfg.seed, cfg.rate)
	p.note = c.note
	var produceErr error
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		produceErr = p.run(ctx)
	}()
	// A run that fails stops the producer, which notes on the test's log,
	// before anything else is cleaned up.
	t.Cleanup(func() {
		stopProducing()
		<-produced
	})

	c.runSchedule(c.schedule())
	if d := time.Until(c.start.Add(cfg.duration)); d > 0 {
		c.sleep(d)
	}
	stopProducing()
	<-produced
	if produceErr != nil {
		t.Fatalf("producer: %v", produceErr)
	}
	c.note("load stopped: %d events produced", len(p.records))

	// Every member running, on whole servers; the joiner gone.
	if c.joiner.ch != nil {
		c.leave(true)
	}
	for _, m := range c.members {
		c.startMember(m)
	}
	c.waitRecoveries()
	setup.heal(c)
	c.checkChildren()

	ends := c.endOffsets()
	lastStamp := p.lastStamp()
	quiet := c.waitQuiet(ends, lastStamp.Add(chaosSettle))
	end := time.Now()

	ref := chaosReference(t, p.records, end)
	got := c.published()
	c.compare(p, ref, got)
	c.checkMoney(got)
	letters := c.kafka.ReadAll(context.Background(), t, chaosDLQ, chaosPartitions)
	distinct := c.checkDeadLetters(ref, letters)
	c.checkChildren()

	var counted struct{ rulings, final, escalated, transfers, notices, rejections int }
	for _, m := range got {
		switch kind, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(m.Subject, "disputes."), "finance."), "."); kind {
		case "ruling":
			counted.rulings++
			if bytes.Contains(m.Data, []byte(`"outcome":"escalated"`)) {
				counted.escalated++
			} else {
				counted.final++
			}
		case "transfer":
			counted.transfers++
		case "notice":
			counted.notices++
		case "rejected":
			counted.rejections++
		}
	}
	var stored int64
	for _, byPartition := range ends {
		for _, o := range byPartition {
			stored += o + 1
		}
	}
	held := c.heldCommands()
	var faults []string
	for _, f := range c.faults {
		s := fmt.Sprintf("%s %d", f.label, f.done)
		if f == c.joins {
			s += fmt.Sprintf(" / leaves %d (SIGTERM %d, SIGKILL %d)", c.leavesTerm+c.leavesKill, c.leavesTerm, c.leavesKill)
		}
		faults = append(faults, s)
	}
	summary := fmt.Sprintf("%s summary (seed %d): events produced %d (%d orders, %d malformed; input records in Kafka %d), %s, processes started %d; "+
		"commands %d (replay %d): rulings %d (final %d, escalated %d), transfers %d, notices %d, rejections %d; "+
		"deadline rulings due while no processor ran %d; dead letters %d (distinct %d, expected %d); quiet %v after the load; "+
		"commands held by the guard %d; slowest produce %v, events held back at a deadline %d; duration %v",
		cfg.name, cfg.seed, len(p.records), p.orders, p.malformed, stored, strings.Join(faults, ", "), len(c.procs),
		len(got), len(ref.want), counted.rulings, counted.final, counted.escalated, counted.transfers, counted.notices, counted.rejections,
		c.dueWhileDown(ref), len(letters), distinct, ref.bad, quiet.Round(100*time.Millisecond),
		held, p.slowest.Round(time.Millisecond), p.heldBack, time.Since(c.start).Round(time.Second))
	t.Log(summary)
	if cfg.full {
		fmt.Println(summary)
	}
	if held > 0 {
		t.Errorf("%d commands held by the guard: an order was decided again otherwise after a loss", held)
	}
	for _, f := range c.faults {
		if f.done < f.want {
			t.Errorf("only %d of %d %s happened", f.done, f.want, f.label)
		}
	}
}
