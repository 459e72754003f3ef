package consumer

import (
	"context"
	"time"
)

// relay drains a partition's outbox to JetStream while this member owns
// the partition, then flushes it once more, within FlushTimeout. It is woken
// after a batch saved commands, and retries every second on its own; an
// entry leaves the outbox only once JetStream acknowledged it. It publishes
// only the commands of saves known to be durable: durable returns the number
// of the last of them (the worker's sessions set it).
func (k *Kafka) relay(ctx context.Context, p int, wake <-chan struct{}, durable func() int64) {
	log := k.log.With("partition", p)
	if n, err := k.outbox.Hold(ctx, p, nil); err == nil {
		k.metrics.held(p, n, nil) // what a former owner held, for the gauge
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.FlushTimeout)
			defer cancel()
			if err := k.flush(fctx, p, durable()); err != nil {
				log.Warn("outbox not flushed on release; the next owner publishes it", "err", err)
			}
			return
		case <-wake:
		case <-tick.C:
		}
		if err := k.flush(ctx, p, durable()); err != nil && ctx.Err() == nil {
			k.metrics.publishFailed()
			log.Warn("publish failed; the outbox keeps the commands", "err", err)
			// The ticker retries; a NATS outage grows the outbox meanwhile.
		}
	}
}

// flush publishes the partition's outbox, up to the command numbered upTo,
// until it is empty.
func (k *Kafka) flush(ctx context.Context, p int, upTo int64) error {
	for {
		cmds, oldest, depth, err := k.outbox.Outbox(ctx, p, 256, upTo)
		if err != nil {
			return err
		}
		k.metrics.outbox(p, depth, oldest, k.cfg.Now())
		if len(cmds) == 0 {
			oldest = time.Time{}
		}
		k.setOldest(p, oldest)
		if len(cmds) == 0 {
			return nil
		}
		start := time.Now()
		refused, err := k.pub.Publish(ctx, cmds...)
		k.metrics.publishCall(start)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			// Never published, never dropped: kept for a person, and
			// counted, alerted on, and shown on the order.
			n, err := k.outbox.Hold(ctx, p, refused)
			if err != nil {
				return err
			}
			k.metrics.held(p, n, refused)
			for _, r := range refused {
				k.log.Error("the sink refused a command: it is held for a person", "partition", p,
					"command_id", r.Command.ID, "subject", r.Command.Subject, "reason", r.Reason)
			}
		}
		ids := make([]string, len(cmds))
		for i, c := range cmds {
			ids[i] = c.ID
		}
		if err := k.outbox.Ack(ctx, p, ids); err != nil {
			return err
		}
		k.metrics.publishedN(len(cmds) - len(refused))
	}
}
