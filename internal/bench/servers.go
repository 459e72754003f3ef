package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/disputed/disputed/internal/kafkatopics"
	"github.com/disputed/disputed/internal/netaddr"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/embedded"
	"github.com/disputed/disputed/rules"
)

// env is the servers of one bench run and the names it uses on them.
type env struct {
	runID   string
	dir     string // temporary directory: NATS store, the child's log
	brokers []string
	topics  consumer.Topics
	// topicPrefix starts the names of the run's own topics (external
	// Kafka); "" on embedded Kafka, whose topics are the default ones.
	topicPrefix string
	dlq         string
	group       string
	natsURL     string
	redisURL    string
	prefix      string // the processor's Redis key prefix
	rdb         *redis.Client

	kafka      *kfake.Cluster // nil with --kafka-brokers
	nats       *server.Server // nil with --nats-url
	redis      *redisServer   // nil with --redis-url
	transport  *kafka.Transport
	maxMessage int // the largest message the broker takes (0: unknown)
	created    bool

	kafkaInfo kafkaInfo
	redisInfo redisInfo
}

// kfakeMaxMessage is the embedded broker's message.max.bytes, and the
// max.message.bytes of the topics the bench creates on external brokers:
// large enough for the oversized probe, so that it reaches the processor.
const kfakeMaxMessage = 8 << 20

func startEnv(ctx context.Context, cfg config, runID string) (e *env, err error) {
	e = &env{runID: runID, transport: &kafka.Transport{ClientID: "disputed-bench", DialTimeout: 10 * time.Second}}
	defer func() {
		if err != nil {
			e.close(context.WithoutCancel(ctx))
		}
	}()
	if e.dir, err = os.MkdirTemp("", "disputed-bench-"); err != nil {
		return e, fmt.Errorf("bench: %w", err)
	}
	// Embedded Kafka has the processor's default topics; an external one
	// gets fresh topics, so that the counts (and the DLQ) are this run's.
	e.group, e.dlq = "disputed-bench-"+runID, "disputes.dlq"
	if len(cfg.KafkaBrokers) > 0 {
		e.topicPrefix = "bench-" + runID + "-"
		e.dlq = e.topicPrefix + "dlq"
	}
	p := e.topicPrefix
	e.topics = consumer.Topics{
		Orders: p + rules.TopicOrders, Deliveries: p + rules.TopicDeliveries,
		Chats: p + rules.TopicChats, RefundRequests: p + rules.TopicRefundRequests,
	}
	if len(cfg.KafkaBrokers) == 0 {
		e.kafka, err = embedded.Kafka(embedded.KafkaConfig{
			Partitions: cfg.Partitions, Topics: e.allTopics(), Single: []string{e.dlq},
			MaxMessageBytes: kfakeMaxMessage,
		})
		if err != nil {
			return e, fmt.Errorf("bench: %w", err)
		}
		e.brokers, e.maxMessage = e.kafka.ListenAddrs(), kfakeMaxMessage
		e.kafkaInfo = kafkaInfo{Kind: "kfake", Version: kfakeVersion(), VersionFrom: "the bench's build", Brokers: 1}
	} else {
		e.brokers = cfg.KafkaBrokers
		if err := e.createTopics(ctx, cfg.Partitions); err != nil {
			return e, err
		}
		// A real broker answers UNKNOWN_TOPIC_OR_PARTITION or
		// LEADER_NOT_AVAILABLE for a moment after it created a topic.
		if err := e.waitTopics(ctx, cfg.Partitions, time.Minute); err != nil {
			return e, err
		}
		e.maxMessage = kfakeMaxMessage
		if e.kafkaInfo, err = describeKafka(ctx, e, cfg); err != nil {
			return e, err
		}
	}

	if cfg.NATSURL == "" {
		e.nats, err = embedded.NATS(embedded.NATSConfig{Name: "disputed-bench", StoreDir: filepath.Join(e.dir, "nats")})
		if err != nil {
			return e, fmt.Errorf("bench: %w", err)
		}
		e.natsURL = e.nats.ClientURL()
	} else {
		e.natsURL = cfg.NATSURL
	}

	e.redisURL = cfg.RedisURL
	if e.redisURL == "" {
		if e.redis, err = startRedisServer(ctx, cfg.RedisServer, filepath.Join(e.dir, "redis")); err != nil {
			return e, err
		}
		e.redisURL = e.redis.url()
	}
	opts, err := redis.ParseURL(e.redisURL)
	if err != nil {
		return e, fmt.Errorf("bench: --redis-url: %w", err)
	}
	opts.ClientName = "disputed-bench"
	opts.PoolSize = 64
	opts.ReadTimeout = time.Minute // MEMORY USAGE and UNLINK of big keys
	e.rdb = redis.NewClient(opts)
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e, fmt.Errorf("bench: redis %s: %w", netaddr.Redact(e.redisURL), err)
	}
	e.redisInfo = describeRedis(ctx, e.rdb)
	if e.redis != nil {
		e.redisInfo.Own = true
		e.redisInfo.DirFS = filesystemOf(e.redis.dir)
	}
	e.prefix = "bench-" + runID
	return e, nil
}

func (e *env) createTopics(ctx context.Context, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 30 * time.Second, Transport: e.transport}
	// As on kfake, messages up to 8 MiB, whatever the broker's default.
	big := []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(kfakeMaxMessage)}}
	var ts []kafka.TopicConfig
	for _, t := range e.allTopics() {
		ts = append(ts, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1, ConfigEntries: big})
	}
	ts = append(ts, kafka.TopicConfig{Topic: e.dlq, NumPartitions: 1, ReplicationFactor: -1, ConfigEntries: big})
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
func (e *env) waitTopics(ctx context.Context, partitions int, timeout time.Duration) error {
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 10 * time.Second, Transport: e.transport}
	want := map[string]int{e.dlq: 1}
	for _, t := range e.allTopics() {
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

func (e *env) allTopics() []string {
	return []string{e.topics.Orders, e.topics.Deliveries, e.topics.Chats, e.topics.RefundRequests}
}

// close deletes what the run created and stops the servers it started.
func (e *env) close(ctx context.Context) {
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
	if e.redis != nil {
		e.redis.stop(10 * time.Second)
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
func (e *env) highWatermarks(ctx context.Context, topics []string, partitions int) (map[string][]int64, error) {
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
func (e *env) dlqCount(ctx context.Context) (int64, error) {
	hw, err := e.highWatermarks(ctx, []string{e.dlq}, 1)
	if err != nil {
		return 0, err
	}
	return hw[e.dlq][0], nil
}
