package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
)

// deadlinePhase gives --deadlines orders an evidence deadline, all due
// within --deadline-spread, and measures how late their rulings come. The
// orders are paid and disputed first; their interventions are produced in
// real time over the spread, so the deadlines fall due a window later over
// the same spread. While they are armed, Redis memory per open dispute and
// per pending deadline is measured (redisMemory).
type deadlinePhase struct {
	b *run
}

func (d *deadlinePhase) run(ctx context.Context) error {
	b := d.b
	cfg, rep := b.cfg, &b.rep.Deadlines
	n := cfg.Deadlines
	rep.Deadlines, rep.SpreadSeconds = n, cfg.DeadlineSpread.Seconds()
	kind := story.DeadlineKind()
	if err := story.CountCommands([]*story.Kind{kind}, b.policy, cfg.Gap); err != nil {
		return fmt.Errorf("bench: deadline story: %w", err)
	}
	orders := make([]story.Order, n)
	for i := range orders {
		orders[i] = story.Order{ID: story.OrderID(b.rep.RunID, story.PhaseDeadline, i), Amount: 1000 + b.rng.Int64N(300000)}
	}
	ev := func(step, i int, now time.Time) story.Event {
		return kind.Event(step, &orders[i], now, story.PhaseDeadline)
	}

	mem0, _ := servers.UsedMemory(ctx, b.env.RDB)
	b.log.Info("bench: deadline phase: paying and disputing the orders", "orders", n)
	setupStart := time.Now()
	for step := range 2 {
		// All at once: every event of a step is on one topic, so with the
		// others quiet the processor holds them for its idle time
		// (docs/events.md) however they are paced; one wait, not one per
		// --max-backlog.
		if err := b.prod.produceFlat(ctx, n, max(n, cfg.MaxBacklog), func(i int, now time.Time) story.Event { return ev(step, i, now) }); err != nil {
			return err
		}
		// The next event of each order comes after this one was applied
		// and a gap later: the processor merges its topics by event time
		// only as far as it has read them (see the report's notes).
		if _, err := b.waitCaughtUp(ctx, []int{story.PhaseDeadline}, cfg.DrainTimeout); err != nil {
			return err
		}
		time.Sleep(cfg.Gap)
	}
	rep.SetupSeconds = time.Since(setupStart).Seconds()
	b.obs.ExpectDeadlines(story.PhaseDeadline, n*kind.DeadlineCmds, n*kind.DeadlineRulings)

	m0, _ := b.fleet.Metrics(ctx)
	t1 := time.Now().Add(100 * time.Millisecond)
	spread := cfg.DeadlineSpread
	b.log.Info("bench: deadline phase: interventions", "orders", n, "spread", spread, "window", cfg.EvidenceWindow)
	for i := 0; i < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		var batch []story.Event
		for ; i < n && !t1.Add(time.Duration(int64(spread)*int64(i)/int64(n))).After(now); i++ {
			batch = append(batch, ev(2, i, now))
		}
		if len(batch) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		if err := b.prod.write(ctx, batch); err != nil {
			return err
		}
	}
	firstDue := t1.Add(cfg.EvidenceWindow)
	armed, err := b.waitCaughtUp(ctx, []int{story.PhaseDeadline}, cfg.DrainTimeout)
	if err != nil {
		return err
	}
	rep.ArmedSecondsBeforeFirstDue = firstDue.Sub(armed).Seconds()
	if o := b.obs.Snapshot(story.PhaseDeadline); o.SeenDeadlineRulings > 0 {
		b.rep.Note("deadline phase: %d deadlines had fired before all %d were armed: memory figures include fewer open disputes", o.SeenDeadlineRulings, n)
	}

	// Memory, while the disputes are open and their deadlines pending.
	mem1, _ := servers.UsedMemory(ctx, b.env.RDB)
	(&redisMemory{b: b}).measure(ctx, mem0, mem1, n)

	rulingsTimeout := time.Until(firstDue) + spread + cfg.DrainTimeout
	if err := b.waitDeadlines(ctx, story.PhaseDeadline, rulingsTimeout); err != nil {
		b.rep.Note("deadline phase: %v", err)
	}
	m1, _ := b.fleet.Metrics(ctx)
	_, late := b.obs.Samples(story.PhaseDeadline)
	rep.LatenessMs = report.Quantiles(late)
	o := b.obs.Snapshot(story.PhaseDeadline)
	rep.Rulings, rep.ExpectedRulings = o.SeenDeadlineRulings, o.ExpectDeadlineRulings
	rep.Complete = o.SeenDeadlineCmds >= o.ExpectDeadlineCmds && o.SeenEventCmds >= o.ExpectEventCmds
	h := processor.Minus(m1.Histogram("disputed_deadline_lateness_seconds", nil), m0.Histogram("disputed_deadline_lateness_seconds", nil))
	rep.MetricLatenessMs = processor.HistQuantiles(h, 1000)
	rep.MetricFired = int64(processor.SampleCount(h))
	processor.FillPhaseMetrics(&rep.ProcessorMetrics, m0, m1)
	b.log.Info("bench: deadline phase done", "rulings", rep.Rulings, "lateness_p99_ms", fmt.Sprintf("%.0f", rep.LatenessMs.P99))
	return nil
}
