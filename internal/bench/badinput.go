package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/bench/story"
)

// badInput is the hostile input's part of the run (--bad-share): the
// victims paid before the load aims at them, what became of what the load
// mixed in, and the oversized probe at the end. The load phase mixes the
// hostile events in (run.hostile makes them).
type badInput struct {
	b *run
}

// setup pays the victims, and waits until that is applied, before anything
// aims at them.
func (bi *badInput) setup(ctx context.Context) error {
	b := bi.b
	if err := b.prod.write(ctx, b.hostile.Setup(time.Now())); err != nil {
		return err
	}
	if _, err := b.waitCaughtUp(ctx, []int{story.PhaseHostile}, b.cfg.DrainTimeout); err != nil {
		return err
	}
	time.Sleep(b.cfg.Gap)
	return nil
}

// count counts what became of the hostile events of the load phase; m0 and
// m1 are the processors' metrics at its start and its end.
func (bi *badInput) count(ctx context.Context, m0, m1 processor.Metrics) {
	b := bi.b
	rep := &b.rep.BadInput
	rep.Produced = map[string]int{}
	for k := story.HostileKind(1); k < story.NHostileKinds; k++ {
		if n := b.prod.hostileProduced[k]; n > 0 {
			rep.Produced[story.HostileNames[k]] = n
			switch k.Outcome() {
			case story.OutcomeDeadLetter:
				rep.ExpectedDeadLetters += n
			case story.OutcomeRejected:
				rep.ExpectedRejections += n
			case story.OutcomeApplied:
				rep.ExpectedApplied += n
			}
		}
	}
	if n, err := b.env.DLQCount(ctx); err == nil {
		rep.DeadLetters = int(n)
	}
	o := b.obs.Snapshot(story.PhaseHostile)
	rep.Rejections, rep.OverLimitRejections = o.Rejections, o.OverLimit
	rep.MetricDeadLettered = int(m1.Sum("disputed_events_total", processor.Label("result", "dead_lettered")) - m0.Sum("disputed_events_total", processor.Label("result", "dead_lettered")))
	if b.cfg.Flood > 0 {
		rep.FloodOrderStateBytes = b.env.OrderStateBytes(ctx, b.hostile.FloodOrder(), b.cfg.Partitions)
	}
	rep.GoodCommandsAllArrived = b.rep.Load.Complete
}

// oversizedProbe sends --oversized messages of --oversized-bytes, which the
// decoder refuses (more than 1 MiB), and checks that they reach the
// dead-letter topic. It runs last: a processor that cannot dead-letter them
// stops its partition.
func (bi *badInput) oversizedProbe(ctx context.Context) error {
	b := bi.b
	rep := &b.rep.BadInput
	rep.OversizedSent = b.cfg.Oversized
	rep.OversizedBytes = b.cfg.OversizedBytes
	dlq0, err := b.env.DLQCount(ctx)
	if err != nil {
		return err
	}
	m0, _ := b.fleet.Metrics(ctx)
	var evs []story.Event
	for range b.cfg.Oversized {
		evs = append(evs, b.hostile.Make(story.Oversized, time.Now()))
	}
	b.log.Info("bench: oversized probe", "messages", len(evs), "bytes", b.cfg.OversizedBytes)
	for _, e := range evs {
		if err := b.prod.write(ctx, []story.Event{e}); err != nil {
			rep.OversizedProduceError = err.Error()
			b.rep.Note("oversized probe: Kafka refused the message (%v): it never reaches the processor", err)
			return nil
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := b.env.DLQCount(ctx)
		if err == nil && n-dlq0 >= int64(len(evs)) {
			rep.OversizedDeadLettered = int(n - dlq0)
			rep.OversizedOutcome = "dead-lettered"
			return nil
		}
		if time.Now().After(deadline) {
			rep.OversizedDeadLettered = int(n - dlq0)
			m1, _ := b.fleet.Metrics(ctx)
			errs := m1.Sum("disputed_batch_errors_total", processor.Label("cause", "dead_letter")) - m0.Sum("disputed_batch_errors_total", processor.Label("cause", "dead_letter"))
			rep.OversizedOutcome = fmt.Sprintf("STALLED: not dead-lettered after 20s; %.0f failed batch attempts (cause dead_letter): the partition retries the batch for ever", errs)
			b.rep.Note("oversized probe: the processor cannot dead-letter a %d-byte message: its dead-letter writer (kafka-go Writer, BatchBytes 1 MiB by default) refuses it, the batch fails with cause dead_letter and is retried for ever, so the partition stops", b.cfg.OversizedBytes)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
