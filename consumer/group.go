package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Kafka consumes the co-partitioned topics as a member of a consumer group.
// Partition N of every topic goes to the same member (CoPartition), which
// applies its events in event-time order, fires its deadlines, commits its
// offsets after the effects are saved, and has its outbox drained.
//
// Goroutines: Run owns everything. Each generation starts one worker per
// partition it was given (kafka-go's Generation.Start, which waits for them
// before the next generation); a worker runs the partition's relay (of the
// Relay it is given) beside its sessions, and, per session, one fetcher per
// topic.
type Kafka struct {
	cfg     Config
	proc    *Processor
	relay   *Relay
	metrics *Metrics
	log     *slog.Logger

	joined atomic.Bool
	mu     sync.Mutex
	owned  []int
}

// NewKafka returns a consumer. proc applies the batches, as it is: the
// consumer does not change it. relay drains the outbox of each partition
// while the member owns it.
func NewKafka(cfg Config, proc *Processor, relay *Relay, m *Metrics, log *slog.Logger) *Kafka {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Kafka{cfg: cfg, proc: proc, relay: relay, metrics: m, log: log.With("component", "kafka_consumer")}
}

// Joined reports whether the member is in a generation of the group.
func (k *Kafka) Joined() bool { return k.joined.Load() }

// Owned returns the partitions this member owns now.
func (k *Kafka) Owned() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.owned)
}

// Run joins the group and processes until ctx is cancelled; then it stops
// fetching, finishes the batches in flight, has the outboxes flushed, leaves
// the group and returns nil.
func (k *Kafka) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                k.cfg.Group,
		Brokers:           k.cfg.Brokers,
		Dialer:            k.cfg.Dialer,
		Topics:            k.cfg.Topics.list(),
		GroupBalancers:    []kafka.GroupBalancer{CoPartition{}},
		HeartbeatInterval: k.cfg.HeartbeatInterval,
		SessionTimeout:    k.cfg.SessionTimeout,
		RebalanceTimeout:  k.cfg.RebalanceTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		Logger:            kafka.LoggerFunc(func(string, ...any) {}),
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { k.log.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("join group %q: %w", k.cfg.Group, err)
	}
	// Closing the group first, on cancellation, ends the generation without
	// the member trying to rejoin (which would hold Close up).
	stop := context.AfterFunc(ctx, func() { group.Close() })
	defer stop()
	defer group.Close()
	client := &kafka.Client{Addr: kafka.TCP(k.cfg.Brokers...), Timeout: 10 * time.Second, Transport: k.cfg.Transport}

	backoff := newBackoff()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			k.setOwned(nil, false)
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			k.log.Warn("join group failed; retrying", "group", k.cfg.Group, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		backoff.reset()
		parts, odd := assignedPartitions(gen.Assignments, k.cfg.Topics.list())
		if len(odd) > 0 {
			k.log.Error("topics are not co-partitioned: these partitions exist in some input topics only and are not consumed; give the four topics the same partition count",
				"partitions", odd)
		}
		k.setOwned(parts, true)
		k.log.Info("joined group generation", "group", k.cfg.Group, "generation", gen.ID, "partitions", parts)
		for _, p := range parts {
			gen.Start(k.worker(client, gen, p).run)
		}
		if len(parts) == 0 {
			gen.Start(func(gctx context.Context) { <-gctx.Done() })
		}
		// Next returns the following generation only once every function
		// started on this one has returned: a partition is never worked
		// on by two generations of this member at once.
	}
}

// worker returns the worker of partition p for the generation: it fetches
// with client, commits to gen, and runs p's relay.
func (k *Kafka) worker(client *kafka.Client, gen *kafka.Generation, p int) *worker {
	log := k.log.With("partition", p)
	fetch := func(ctx context.Context, topic string, ti int, from int64, out chan<- chunk) {
		f := &fetcher{client: client, cfg: k.cfg, topic: topic, ti: ti, partition: p, metrics: k.metrics, log: log}
		f.run(ctx, from, out)
	}
	return &worker{
		cfg: k.cfg, proc: k.proc, p: p, topics: k.cfg.Topics.list(), committed: committedOffsets(gen, p),
		fetch: fetch, offsets: gen, relay: k.relay.partition(p), metrics: k.metrics, log: log,
	}
}

// committedOffsets returns the offsets of partition p the group had
// committed when gen began, by topic.
func committedOffsets(gen *kafka.Generation, p int) map[string]int64 {
	committed := make(map[string]int64)
	for t, as := range gen.Assignments {
		for _, a := range as {
			if a.ID == p {
				committed[t] = a.Offset
			}
		}
	}
	return committed
}

// setOwned records the partitions of the generation joined, or that the
// member is in none.
func (k *Kafka) setOwned(parts []int, joined bool) {
	k.mu.Lock()
	k.owned = parts
	k.mu.Unlock()
	k.joined.Store(joined)
	k.metrics.owned(len(parts), joined)
}
