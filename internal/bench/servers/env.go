package servers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/embedded"
	"github.com/disputed/disputed/internal/kafkatopics"
	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// Env is the servers of one bench run and the names it uses on them.
type Env struct {
	RunID   string
	Dir     string // temporary directory: NATS store, the child's log
	Brokers []string
	Topics  consumer.Topics
	// TopicPrefix starts the names of the run's own topics (external
	// Kafka); "" on embedded Kafka, whose topics are the default ones.
	TopicPrefix string
	DLQ         string
	Group       string
	NATSURL     string
	RedisURL    string
	Prefix      string // the processor's Redis key prefix
	RDB         *redis.Client

	kfake      *kfake.Cluster // nil with --kafka-brokers
	nats       *server.Server // nil with --nats-url
	own        *redisServer   // nil with --redis-url
	Transport  *kafka.Transport
	MaxMessage int // the largest message the broker takes (0: unknown)
	created    bool

	Kafka report.KafkaInfo // what the report says about them
	Redis report.RedisInfo
}

// kfakeMaxMessage is the embedded broker's message.max.bytes, and the
// max.message.bytes of the topics the bench creates on external brokers:
// large enough for the oversized probe, so that it reaches the processor.
const kfakeMaxMessage = 8 << 20

// Config is which servers a run uses: those it starts itself, unless told
// of external ones.
type Config struct {
	Partitions   int      // of each input topic
	KafkaBrokers []string // none: kfake in process
	KafkaDir     string   // the kafka.sh folder of the external brokers: their version and processes
	KafkaVersion string   // what the report says the external brokers are
	NATSURL      string   // "": NATS in process
	RedisURL     string   // "": a redis-server of the run's own
	RedisServer  string   // the redis-server binary to start
}

// Start starts (or connects to) the servers of run runID. Close stops them
// and deletes what the run created on them.
func Start(ctx context.Context, cfg Config, runID string) (e *Env, err error) {
	e = &Env{RunID: runID, Transport: &kafka.Transport{ClientID: "disputed-bench", DialTimeout: 10 * time.Second}}
	defer func() {
		if err != nil {
			e.Close(context.WithoutCancel(ctx))
		}
	}()
	if e.Dir, err = os.MkdirTemp("", "disputed-bench-"); err != nil {
		return e, fmt.Errorf("bench: %w", err)
	}
	// Embedded Kafka has the processor's default topics; an external one
	// gets fresh topics, so that the counts (and the DLQ) are this run's.
	e.Group, e.DLQ = "disputed-bench-"+runID, "disputes.dlq"
	if len(cfg.KafkaBrokers) > 0 {
		e.TopicPrefix = "bench-" + runID + "-"
		e.DLQ = e.TopicPrefix + "dlq"
	}
	p := e.TopicPrefix
	e.Topics = consumer.Topics{
		Orders: p + rules.TopicOrders, Deliveries: p + rules.TopicDeliveries,
		Chats: p + rules.TopicChats, RefundRequests: p + rules.TopicRefundRequests,
	}
	if len(cfg.KafkaBrokers) == 0 {
		e.kfake, err = embedded.Kafka(embedded.KafkaConfig{
			Partitions: cfg.Partitions, Topics: e.AllTopics(), Single: []string{e.DLQ},
			MaxMessageBytes: kfakeMaxMessage,
		})
		if err != nil {
			return e, fmt.Errorf("bench: %w", err)
		}
		e.Brokers, e.MaxMessage = e.kfake.ListenAddrs(), kfakeMaxMessage
		e.Kafka = report.KafkaInfo{Kind: "kfake", Version: kfakeVersion(), VersionFrom: "the bench's build", Brokers: 1}
	} else {
		e.Brokers = cfg.KafkaBrokers
		if err := e.createTopics(ctx, cfg.Partitions); err != nil {
			return e, err
		}
		// A real broker answers UNKNOWN_TOPIC_OR_PARTITION or
		// LEADER_NOT_AVAILABLE for a moment after it created a topic.
		if err := e.waitTopics(ctx, cfg.Partitions, time.Minute); err != nil {
			return e, err
		}
		e.MaxMessage = kfakeMaxMessage
		if e.Kafka, err = describeKafka(ctx, &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 10 * time.Second, Transport: e.Transport}, cfg.KafkaDir, cfg.KafkaVersion); err != nil {
			return e, err
		}
	}

	if cfg.NATSURL == "" {
		e.nats, err = embedded.NATS(embedded.NATSConfig{Name: "disputed-bench", StoreDir: filepath.Join(e.Dir, "nats")})
		if err != nil {
			return e, fmt.Errorf("bench: %w", err)
		}
		e.NATSURL = e.nats.ClientURL()
	} else {
		e.NATSURL = cfg.NATSURL
	}

	e.RedisURL = cfg.RedisURL
	if e.RedisURL == "" {
		if e.own, err = startRedisServer(ctx, cfg.RedisServer, filepath.Join(e.Dir, "redis")); err != nil {
			return e, err
		}
		e.RedisURL = e.own.url()
	}
	opts, err := redis.ParseURL(e.RedisURL)
	if err != nil {
		return e, fmt.Errorf("bench: --redis-url: %w", err)
	}
	opts.ClientName = "disputed-bench"
	opts.PoolSize = 64
	opts.ReadTimeout = time.Minute // MEMORY USAGE and UNLINK of big keys
	e.RDB = redis.NewClient(opts)
	if err := e.RDB.Ping(ctx).Err(); err != nil {
		return e, fmt.Errorf("bench: redis %s: %w", netaddr.Redact(e.RedisURL), err)
	}
	e.Redis = describeRedis(ctx, e.RDB)
	if e.own != nil {
		e.Redis.Own = true
		e.Redis.DirFS = filesystemOf(e.own.dir)
	}
	e.Prefix = "bench-" + runID
	return e, nil
}

func (e *Env) createTopics(ctx context.Context, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 30 * time.Second, Transport: e.Transport}
	// As on kfake, messages up to 8 MiB, whatever the broker's default.
	big := []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(kfakeMaxMessage)}}
	var ts []kafka.TopicConfig
	for _, t := range e.AllTopics() {
		ts = append(ts, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1, ConfigEntries: big})
	}
	ts = append(ts, kafka.TopicConfig{Topic: e.DLQ, NumPartitions: 1, ReplicationFactor: -1, ConfigEntries: big})
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

// waitTopics waits until the broker that answers knows every topic of the
// run with its partitions, each with a leader, and answers ListOffsets for
// all of them: a real broker answers UNKNOWN_TOPIC_OR_PARTITION or
// LEADER_NOT_AVAILABLE for a moment after creating a topic, and the
// producer's first writes would fail on it.
func (e *Env) waitTopics(ctx context.Context, partitions int, timeout time.Duration) error {
	c := &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 10 * time.Second, Transport: e.Transport}
	want := map[string]int{e.DLQ: 1}
	for _, t := range e.AllTopics() {
		want[t] = partitions
	}
	deadline := time.Now().Add(timeout)
	for {
		err := kafkatopics.Ready(ctx, c, want)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("bench: the run's topics are not ready after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AllTopics is the run's four input topics.
func (e *Env) AllTopics() []string {
	return []string{e.Topics.Orders, e.Topics.Deliveries, e.Topics.Chats, e.Topics.RefundRequests}
}

// Close deletes what the run created and stops the servers it started.
func (e *Env) Close(ctx context.Context) {
	if e.RDB != nil {
		e.RDB.Close()
	}
	if e.created {
		c := &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 30 * time.Second, Transport: e.Transport}
		c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: append(e.AllTopics(), e.DLQ)})
	}
	if e.nats != nil {
		e.nats.Shutdown()
		e.nats.WaitForShutdown()
	}
	if e.own != nil {
		e.own.stop(10 * time.Second)
	}
	if e.kfake != nil {
		e.kfake.Close()
	}
	e.Transport.CloseIdleConnections()
	if e.Dir != "" {
		os.RemoveAll(e.Dir)
	}
}

// HighWatermarks returns the end offset of every partition of the topics.
func (e *Env) HighWatermarks(ctx context.Context, topics []string, partitions int) (map[string][]int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(e.Brokers...), Timeout: 30 * time.Second, Transport: e.Transport}
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

// DLQCount is the number of messages in the dead-letter topic.
func (e *Env) DLQCount(ctx context.Context) (int64, error) {
	hw, err := e.HighWatermarks(ctx, []string{e.DLQ}, 1)
	if err != nil {
		return 0, err
	}
	return hw[e.DLQ][0], nil
}

// OrderStateBytes is the size of an order's state in Redis.
func (e *Env) OrderStateBytes(ctx context.Context, order string, partitions int) int64 {
	n, _ := e.RDB.HStrLen(ctx, state.Key(e.Prefix, consumer.PartitionOf(order, partitions), "order:"+order), "s").Result()
	return n
}

// Embedded reports whether Kafka is kfake in this process.
func (e *Env) Embedded() bool { return e.kfake != nil }

// OwnRedis reports whether Redis is a redis-server the run started.
func (e *Env) OwnRedis() bool { return e.own != nil }
