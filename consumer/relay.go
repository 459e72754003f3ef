package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Relay drains the outboxes of the partitions this member owns to
// JetStream. An entry leaves an outbox only once JetStream acknowledged it,
// and only the commands of saves known to be durable are published.
//
// Goroutines: a Relay starts none. The relay of one partition (partition)
// runs on a goroutine of the partition's worker, which starts it when the
// partition is given to the member and waits for its last flush before the
// partition is let go; the Relay itself holds only what the partitions'
// relays share (their ports, and when each one's oldest command was saved,
// for Healthy). It is safe for concurrent use by the partitions' relays.
type Relay struct {
	outbox       Outbox
	pub          Publisher
	flushTimeout time.Duration
	stuck        time.Duration
	now          func() time.Time
	metrics      *Metrics
	log          *slog.Logger

	mu     sync.Mutex
	oldest map[int]time.Time // per partition relayed: when its oldest waiting command was saved
}

// outboxRun is how many commands one publish takes from an outbox.
const outboxRun = 256

// relayRetry is how often a partition's relay looks at its outbox when
// nothing woke it: it retries a failed publish, and publishes what a
// former owner left.
const relayRetry = time.Second

// NewRelay returns a relay publishing outbox's commands with pub. Of cfg it
// reads FlushTimeout (the last flush when a partition is let go),
// OutboxStuck (Healthy) and Now, the clock; a zero one is the default.
func NewRelay(cfg Config, outbox Outbox, pub Publisher, m *Metrics, log *slog.Logger) *Relay {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The relay's lines have always been the consumer's (docs/operations.md).
	log = log.With("component", "kafka_consumer")
	return &Relay{
		outbox: outbox, pub: pub, flushTimeout: cfg.FlushTimeout, stuck: cfg.OutboxStuck, now: cfg.Now,
		metrics: m, log: log,
	}
}

// Healthy returns an error when a command of a partition being relayed has
// waited for JetStream longer than OutboxStuck.
func (r *Relay) Healthy(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for p, t := range r.oldest {
		if !t.IsZero() && now.Sub(t) > r.stuck {
			return fmt.Errorf("outbox of partition %d: a command has waited %s for JetStream", p, now.Sub(t).Round(time.Second))
		}
	}
	return nil
}

func (r *Relay) setOldest(p int, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.oldest == nil {
		r.oldest = make(map[int]time.Time)
	}
	if t.IsZero() {
		delete(r.oldest, p)
		return
	}
	r.oldest[p] = t
}

// partition returns the relay of partition p, for its worker to run.
func (r *Relay) partition(p int) *partitionRelay {
	pr := &partitionRelay{r: r, p: p, wake: make(chan struct{}, 1), log: r.log.With("partition", p)}
	pr.durable.Store(-1) // nothing is known to be durable before a session opens
	return pr
}

// partitionRelay drains one partition's outbox while this member owns the
// partition. Its worker's sessions tell it, with publishUpTo, how far the
// outbox is durable; run publishes up to there.
type partitionRelay struct {
	r       *Relay
	p       int
	wake    chan struct{}
	durable atomic.Int64 // the outbox number of the last durable save
	log     *slog.Logger
}

// publishUpTo says that the outbox is durable up to the command numbered
// seq, and wakes the relay to publish it. It never blocks.
func (pr *partitionRelay) publishUpTo(seq int64) {
	pr.durable.Store(seq)
	select {
	case pr.wake <- struct{}{}:
	default:
	}
}

// run drains the outbox until ctx ends, then flushes it once more, within
// FlushTimeout, and stops counting the partition for Healthy. It is woken by
// publishUpTo and retries every relayRetry on its own.
func (pr *partitionRelay) run(ctx context.Context) {
	r := pr.r
	defer r.setOldest(pr.p, time.Time{})
	if n, err := r.outbox.Hold(ctx, pr.p, nil); err == nil {
		r.metrics.held(pr.p, n, nil) // what a former owner held, for the gauge
	}
	tick := time.NewTicker(relayRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.flushTimeout)
			defer cancel()
			if err := pr.flush(fctx, pr.durable.Load()); err != nil {
				pr.log.Warn("outbox not flushed on release; the next owner publishes it", "err", err)
			}
			return
		case <-pr.wake:
		case <-tick.C:
		}
		if err := pr.flush(ctx, pr.durable.Load()); err != nil && ctx.Err() == nil {
			r.metrics.publishFailed()
			pr.log.Warn("publish failed; the outbox keeps the commands", "err", err)
			// The ticker retries; a NATS outage grows the outbox meanwhile.
		}
	}
}

// flush publishes the partition's outbox, up to the command numbered upTo,
// until it is empty. Before a session has opened the partition (upTo < 0)
// nothing is known to be durable, and nothing is published: a former
// owner's last save may not have been.
func (pr *partitionRelay) flush(ctx context.Context, upTo int64) error {
	r, p := pr.r, pr.p
	if upTo < 0 {
		return nil
	}
	for {
		cmds, oldest, depth, err := r.outbox.Outbox(ctx, p, outboxRun, upTo)
		if err != nil {
			return err
		}
		r.metrics.outbox(p, depth, oldest, r.now())
		if len(cmds) == 0 {
			oldest = time.Time{}
		}
		r.setOldest(p, oldest)
		if len(cmds) == 0 {
			return nil
		}
		start := time.Now()
		refused, err := r.pub.Publish(ctx, cmds...)
		r.metrics.publishCall(start)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			// Never published, never dropped: kept for a person, and
			// counted, alerted on, and shown on the order.
			n, err := r.outbox.Hold(ctx, p, refused)
			if err != nil {
				return err
			}
			r.metrics.held(p, n, refused)
			for _, f := range refused {
				r.log.Error("the sink refused a command: it is held for a person", "partition", p,
					"command_id", f.Command.ID, "subject", f.Command.Subject, "reason", f.Reason)
			}
		}
		ids := make([]string, len(cmds))
		for i, c := range cmds {
			ids[i] = c.ID
		}
		if err := r.outbox.Ack(ctx, p, ids); err != nil {
			return err
		}
		r.metrics.publishedN(len(cmds) - len(refused))
	}
}
