package bench

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/netaddr"
)

const usage = `usage: disputed-bench [flags]
       disputed-bench compare OLD.json NEW.json

Runs the stream processor (child processes: "disputed run" of the service
binary, --disputed) under load from many orders running mixed dispute
stories, on Kafka (kfake in process unless --kafka-brokers), Redis (a
redis-server the bench starts on a free port, appendonly yes and appendfsync
always, unless --redis-url: then a fresh key prefix there, deleted at the
end) and NATS JetStream (in process unless --nats-url), then measures the
ceilings of the three servers alone in the same run. With --members 1,2,3
the load runs once per count, with that many processors in one consumer
group (scale-out). Prints a table; --json writes the report as JSON too;
"disputed-bench compare OLD.json NEW.json" compares two of them and fails
when a guarded figure got worse.

`

// ErrUsage marks a command line the bench cannot run: a bad flag or value.
// The caller exits with status 2.
var ErrUsage = errors.New("usage")

// config is what `disputed-bench` is told.
type config struct {
	Disputed         string        // the service binary the processors run; "": next to this one, else on PATH
	Duration         time.Duration // load phase
	Orders           int           // concurrent story lanes
	Rate             float64       // events/s; 0 = flat out
	Gap              time.Duration // least time between two events of one order
	MaxBacklog       int           // flat out: most events produced but not yet consumed
	Partitions       int
	Members          []int  // processors in the group, one load step per count (scale-out)
	RedisURL         string // "": a redis-server of the bench's own
	RedisServer      string // the redis-server binary the bench starts
	KafkaBrokers     []string
	KafkaDir         string // a KAFKA_DIR of deploy/local/kafka/kafka.sh: the brokers' version and CPU
	KafkaVersion     string // what the report says the brokers are
	NATSURL          string
	Deadlines        int
	DeadlineSpread   time.Duration
	EvidenceWindow   time.Duration
	Idle             time.Duration // the processor's --idle; 0: its default
	Profile          string        // directory for the processor's CPU and memory profiles
	MaxBatch         int
	BadShare         float64
	Flood            int // chat messages for one order, with --bad-share
	Oversized        int // messages of OversizedBytes, probed last, with --bad-share
	OversizedBytes   int
	OpenDisputes     int
	PendingDeadlines int
	CeilingEvents    int
	DrainTimeout     time.Duration
	JSON             string
	ChildLogLevel    string
	Seed             uint64
	Quiet            bool // no progress lines on stderr
}

func defaultConfig() config {
	return config{
		Duration:       60 * time.Second,
		Orders:         10000,
		Gap:            300 * time.Millisecond,
		MaxBacklog:     6000,
		Partitions:     4,
		Members:        []int{1},
		RedisServer:    cmp.Or(os.Getenv("REDIS_SERVER"), "redis-server"),
		Deadlines:      20000,
		DeadlineSpread: 3 * time.Second,
		EvidenceWindow: 10 * time.Second,
		MaxBatch:       500,
		Flood:          5000,
		Oversized:      2,
		OversizedBytes: 3 << 19, // 1.5 MiB
		CeilingEvents:  200000,
		DrainTimeout:   2 * time.Minute,
		ChildLogLevel:  "info",
	}
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Disputed, "disputed", c.Disputed, "the service `binary` whose \"run\" the processors are (default: disputed next to this binary, else on PATH)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of the load phase")
	fs.IntVar(&c.Orders, "orders", c.Orders, "orders running stories at the same time (each runs one story after another)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "events per second to produce; 0 = flat out (as fast as the processor consumes, within --max-backlog)")
	fs.DurationVar(&c.Gap, "gap", c.Gap, "least time between two events of one order")
	fs.IntVar(&c.MaxBacklog, "max-backlog", c.MaxBacklog, "flat out: most events produced and not yet consumed")
	fs.IntVar(&c.Partitions, "partitions", c.Partitions, "partitions of each input topic")
	fs.Func("members", "processors in one consumer group, as a `list` of counts (e.g. 1,2,3): the load runs once per count, members are added between steps (default 1)", func(v string) error {
		ms, err := parseMembers(v)
		c.Members = ms
		return err
	})
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "an existing Redis `URL` instead of a redis-server of the bench's own; a fresh key prefix is used and deleted at the end")
	fs.StringVar(&c.RedisServer, "redis-server", c.RedisServer, "the redis-server `binary` the bench starts without --redis-url; $REDIS_SERVER sets the default")
	fs.Func("kafka-brokers", "external Kafka `host:port` list instead of kfake in process (per-run topics are created and deleted)", func(v string) error {
		c.KafkaBrokers = netaddr.SplitList(v)
		return nil
	})
	fs.StringVar(&c.KafkaDir, "kafka-dir", c.KafkaDir, "the `KAFKA_DIR` of deploy/local/kafka/kafka.sh running the brokers: the report takes their version from its server.log and their CPU from their pid files")
	fs.StringVar(&c.KafkaVersion, "kafka-version", c.KafkaVersion, "what the report says the external brokers are (`label`), when --kafka-dir cannot tell")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "external NATS `URL` instead of one in process (the processor creates or updates its default streams there)")
	fs.IntVar(&c.Deadlines, "deadlines", c.Deadlines, "orders whose evidence deadlines fall due within --deadline-spread (0: skip the phase)")
	fs.DurationVar(&c.DeadlineSpread, "deadline-spread", c.DeadlineSpread, "time over which the --deadlines fall due")
	fs.StringVar(&c.Profile, "profile", c.Profile, "write the processor's CPU profile (the middle of the load phase) and allocation and heap profiles (after it) into this `directory`")
	fs.DurationVar(&c.Idle, "idle", c.Idle, "the processor's --idle (0: its default): how long a quiet topic holds back the partition's event time")
	fs.DurationVar(&c.EvidenceWindow, "evidence-window", c.EvidenceWindow, "the processor's evidence and modification windows: short, so deadlines fire during the run, and long enough to arm --deadlines before they are due")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "the processor's --max-batch")
	fs.Float64Var(&c.BadShare, "bad-share", c.BadShare, "share of malformed and hostile events mixed into the load (0 to 0.5)")
	fs.IntVar(&c.Flood, "flood", c.Flood, "with --bad-share: chat messages sent in one burst for one order")
	fs.IntVar(&c.Oversized, "oversized", c.Oversized, "with --bad-share: messages of --oversized-bytes sent at the end, as a probe")
	fs.IntVar(&c.OversizedBytes, "oversized-bytes", c.OversizedBytes, "size of an oversized message")
	fs.IntVar(&c.OpenDisputes, "open-disputes", c.OpenDisputes, "preload this many open disputes into Redis before the load")
	fs.IntVar(&c.PendingDeadlines, "pending-deadlines", c.PendingDeadlines, "with --open-disputes: deadlines far in the future among them (at most 3 per dispute)")
	fs.IntVar(&c.CeilingEvents, "ceiling-events", c.CeilingEvents, "most load events the Redis and JetStream ceilings replay")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "longest wait for the processor to catch up after a phase")
	fs.StringVar(&c.JSON, "json", c.JSON, "also write the report as JSON to `file` (- for stdout)")
	fs.StringVar(&c.ChildLogLevel, "child-log-level", c.ChildLogLevel, "the processor's --log-level")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed of the story mix (0: from the clock)")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: bench takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if err := c.validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return c, nil
}

func (c config) validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flagName, fmt.Sprintf(format, args...)))
	}
	if c.Duration <= 0 {
		bad("duration", "%v: must be positive", c.Duration)
	}
	if c.Orders < 1 {
		bad("orders", "%d: must be at least 1", c.Orders)
	}
	if c.Rate < 0 {
		bad("rate", "%v: must not be negative", c.Rate)
	}
	if c.Gap < 0 {
		bad("gap", "%v: must not be negative", c.Gap)
	}
	if c.MaxBacklog < 1 {
		bad("max-backlog", "%d: must be at least 1", c.MaxBacklog)
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		bad("partitions", "%d: must be between 1 and 1024", c.Partitions)
	}
	if err := checkMembers(c.Members, c.Partitions); err != nil {
		bad("members", "%v", err)
	}
	if c.RedisURL == "" && c.RedisServer == "" {
		bad("redis-server", "must name a binary when --redis-url is not given")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("redis-url", "%s: must be a redis:// or rediss:// URL", netaddr.Redact(c.RedisURL))
	}
	if c.KafkaDir != "" && len(c.KafkaBrokers) == 0 {
		bad("kafka-dir", "only with --kafka-brokers")
	}
	for _, b := range c.KafkaBrokers {
		if !netaddr.HostPort(b) {
			bad("kafka-brokers", "%q is not host:port", b)
		}
	}
	if c.Deadlines < 0 {
		bad("deadlines", "%d: must not be negative", c.Deadlines)
	}
	if c.DeadlineSpread <= 0 {
		bad("deadline-spread", "%v: must be positive", c.DeadlineSpread)
	}
	if c.EvidenceWindow < time.Second || c.EvidenceWindow > time.Hour {
		bad("evidence-window", "%v: must be between 1s and 1h", c.EvidenceWindow)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100_000 {
		bad("max-batch", "%d: must be between 1 and 100000", c.MaxBatch)
	}
	if c.BadShare < 0 || c.BadShare > 0.5 {
		bad("bad-share", "%v: must be between 0 and 0.5", c.BadShare)
	}
	if c.Flood < 0 || c.Oversized < 0 {
		bad("flood", "--flood and --oversized must not be negative")
	}
	if c.OversizedBytes < 1 || c.OversizedBytes > 64<<20 {
		bad("oversized-bytes", "%d: must be between 1 and 64 MiB", c.OversizedBytes)
	}
	if c.OpenDisputes < 0 || c.PendingDeadlines < 0 {
		bad("open-disputes", "--open-disputes and --pending-deadlines must not be negative")
	}
	if c.PendingDeadlines > 3*c.OpenDisputes {
		bad("pending-deadlines", "%d: at most 3 per open dispute (--open-disputes %d)", c.PendingDeadlines, c.OpenDisputes)
	}
	if c.CeilingEvents < 1 {
		bad("ceiling-events", "%d: must be at least 1", c.CeilingEvents)
	}
	if c.DrainTimeout <= 0 {
		bad("drain-timeout", "%v: must be positive", c.DrainTimeout)
	}
	if !slices.Contains(processor.LogLevels, c.ChildLogLevel) {
		bad("child-log-level", "%q: must be debug, info, warn or error", c.ChildLogLevel)
	}
	return errors.Join(errs...)
}

// parseMembers reads --members: counts separated by commas.
func parseMembers(v string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a count of members", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// checkMembers checks the member counts: growing (members are only added
// between steps), and each member owning at least one partition.
func checkMembers(ms []int, partitions int) error {
	if len(ms) == 0 {
		return errors.New("no member count")
	}
	for i, n := range ms {
		switch {
		case n < 1:
			return fmt.Errorf("%d: a step needs at least one member", n)
		case n > partitions:
			return fmt.Errorf("%d members for %d partitions: some would own none (raise --partitions)", n, partitions)
		case i > 0 && n <= ms[i-1]:
			return fmt.Errorf("%v: the counts must grow (members are added between steps, never removed)", ms)
		}
	}
	return nil
}
