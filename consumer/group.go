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
// offsets after the effects are saved, and drains its outbox.
//
// Goroutines: Run owns everything. Each generation starts one worker per
// partition it was given (kafka-go's Generation.Start, which waits for them
// before the next generation); a worker owns its relay and, per session,
// one fetcher per topic.
type Kafka struct {
	cfg     Config
	proc    *Processor
	outbox  Outbox
	pub     Publisher
	metrics *Metrics
	log     *slog.Logger

	joined atomic.Bool
	mu     sync.Mutex
	owned  []int
	oldest map[int]time.Time // per owned partition: when its oldest waiting command was saved
}

// NewKafka returns a consumer. proc applies the batches; outbox and pub
// drain the commands to JetStream.
func NewKafka(cfg Config, proc *Processor, outbox Outbox, pub Publisher, m *Metrics, log *slog.Logger) *Kafka {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if proc.Now == nil {
		proc.Now = cfg.Now
	}
	if proc.DueLimit == 0 {
		proc.DueLimit = cfg.DueLimit
	}
	return &Kafka{cfg: cfg, proc: proc, outbox: outbox, pub: pub, metrics: m, log: log.With("component", "kafka_consumer")}
}

// Joined reports whether the member is in a generation of the group.
func (k *Kafka) Joined() bool { return k.joined.Load() }

// Owned returns the partitions this member owns now.
func (k *Kafka) Owned() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.owned)
}

// OutboxHealthy returns an error when a command of an owned partition has
// waited for JetStream longer than OutboxStuck.
func (k *Kafka) OutboxHealthy(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.cfg.Now()
	for p, t := range k.oldest {
		if !t.IsZero() && now.Sub(t) > k.cfg.OutboxStuck {
			return fmt.Errorf("outbox of partition %d: a command has waited %s for JetStream", p, now.Sub(t).Round(time.Second))
		}
	}
	return nil
}

func (k *Kafka) setOldest(p int, t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.oldest == nil {
		k.oldest = make(map[int]time.Time)
	}
	if t.IsZero() {
		delete(k.oldest, p)
		return
	}
	k.oldest[p] = t
}

// Run joins the group and processes until ctx is cancelled; then it stops
// fetching, finishes the batches in flight, flushes the outboxes, leaves the
// group and returns nil.
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
			w := newWorker(k, client, gen, p)
			gen.Start(w.run)
		}
		if len(parts) == 0 {
			gen.Start(func(gctx context.Context) { <-gctx.Done() })
		}
		// Next returns the following generation only once every function
		// started on this one has returned: a partition is never worked
		// on by two generations of this member at once.
	}
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
