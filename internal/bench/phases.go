package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/disputed/disputed/rules"
)

// loadPhase runs the stories for --duration, then waits until the
// processors have consumed every event and every command they cause has
// been seen. step counts the scale-out's steps: the first (0) is the load
// phase proper, with the hostile input and the profile; the later ones run
// stories of their own orders on more members. It returns the CPU used from
// the start of the load until every event was consumed.
func (b *run) loadPhase(ctx context.Context, step int, rep *loadReport) (cpuUse, error) {
	cfg := b.cfg
	if cfg.BadShare > 0 && step == 0 {
		// The victims are paid, and that applied, before anything aims at them.
		if err := b.write(ctx, b.hostile.setup(time.Now())); err != nil {
			return cpuUse{}, err
		}
		if _, err := b.waitCaughtUp(ctx, []int{phaseHostile}, cfg.DrainTimeout); err != nil {
			return cpuUse{}, err
		}
		time.Sleep(cfg.Gap)
	}
	m0, _ := b.fleet.metrics(ctx)
	o0 := b.obs.snapshot(phaseLoad)
	lat0, late0 := b.obs.sampleCounts(phaseLoad)
	write0, hostile0 := len(b.writeMs), b.hostileTotal()
	s0 := b.sample(ctx)
	start := s0.at
	end := start.Add(cfg.Duration)
	if cfg.Profile != "" && step == 0 {
		if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
			return cpuUse{}, fmt.Errorf("bench: --profile: %w", err)
		}
		prof := &profiler{dir: cfg.Profile, addr: b.fleet.list()[0].httpAddr}
		prof.start(ctx, cfg.Duration/4, cfg.Duration/2)
		defer func() {
			if err := prof.finish(ctx); err != nil {
				b.log.Warn("bench: profiles", "err", err)
			} else {
				b.log.Info("bench: profiles written", "dir", cfg.Profile)
			}
		}()
	}
	tag := ""
	if step > 0 {
		tag = "s" + strconv.Itoa(step) + "-"
	}
	st := newStories(b.kinds, b.rep.RunID, tag, cfg.Orders, cfg.Gap, start, b.rng)
	pace := &pacer{rate: cfg.Rate, start: start}
	floodAt, flooded := start.Add(cfg.Duration/3), cfg.BadShare == 0 || cfg.Flood == 0 || step > 0
	base := b.produced.Load()
	var ticks, laneLimited, backlogLimited int
	var maxBacklog int64
	lastLog := start
	b.log.Info("bench: load phase", "step", step+1, "members", len(b.fleet.list()), "duration", cfg.Duration,
		"orders", cfg.Orders, "rate", rateString(cfg.Rate), "bad_share", cfg.BadShare)
	for {
		if err := ctx.Err(); err != nil {
			return cpuUse{}, err
		}
		now := time.Now()
		if now.After(end) {
			// Cut the stories short: a tail of slow stories would measure
			// the producer, not the processor.
			cmds, rulings := st.stop()
			b.obs.expectDeadlines(phaseLoad, cmds, rulings)
			break
		}
		backlog := b.produced.Load() - b.consumed.Load()
		maxBacklog = max(maxBacklog, backlog)
		var budget int
		trickle := false
		if cfg.Rate > 0 {
			budget = pace.take(now)
		} else {
			budget = cfg.MaxBacklog - int(backlog)
			if budget <= 0 {
				backlogLimited++
			}
			// Never stop altogether: with nothing new on a topic, the
			// processor holds the other topics' newest events until its
			// idle time has passed (docs/events.md), and a producer
			// waiting for them would measure that wait.
			if n := trickleSize(cfg.MaxBacklog); budget < n {
				budget, trickle = n, true
			}
		}
		budget = min(budget, 5000)
		var batch []producedEvent
		for len(batch) < budget {
			ev, ok := st.next(now)
			if !ok {
				break
			}
			batch = append(batch, ev)
			for range b.hostile.owed() {
				batch = append(batch, b.hostile.next(now))
			}
		}
		if !flooded && now.After(floodAt) {
			batch = append(batch, b.hostile.flood(now)...)
			flooded = true
		}
		ticks++
		if budget > 0 && len(batch) < budget && !trickle {
			laneLimited++
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			b.log.Info("bench: load", "elapsed", now.Sub(start).Round(time.Second), "produced", b.produced.Load()-base,
				"consumed", b.consumed.Load(), "backlog", backlog)
		}
		if err := b.write(ctx, batch); err != nil {
			return cpuUse{}, err
		}
		switch {
		case cfg.Rate > 0:
			// Paced writes go out every 10ms: each write costs the
			// embedded broker a request per partition, and writing in
			// every gap would make the bench, not the processor, the load
			// on the CPUs. Events are stamped when built, so this adds
			// nothing to their measured latency.
			pace.spend(len(batch))
			time.Sleep(time.Until(now.Truncate(10 * time.Millisecond).Add(10 * time.Millisecond)))
		case trickle:
			time.Sleep(time.Until(now.Truncate(trickleEvery).Add(trickleEvery)))
		case len(batch) == 0:
			time.Sleep(2 * time.Millisecond)
		}
	}
	produceEnd := time.Now()
	rep.EventsProduced = b.produced.Load() - base
	rep.ProduceSeconds = produceEnd.Sub(start).Seconds()
	rep.Stories = st.counts
	rep.MaxBacklog = maxBacklog
	if pace.dropped > 0 {
		b.rep.note("the producer fell more than half a second behind --rate and skipped %d events: the rate was not reached", pace.dropped)
	}
	if ticks > 0 {
		rep.ProducerLaneLimitedShare = float64(laneLimited) / float64(ticks)
		rep.ProducerBacklogLimitedShare = float64(backlogLimited) / float64(ticks)
	}

	done, err := b.waitCaughtUp(ctx, []int{phaseLoad, phaseHostile}, cfg.DrainTimeout)
	if err != nil {
		return cpuUse{}, err
	}
	u := use(s0, b.sample(ctx), numCPU())
	rep.ProcessedSeconds = done.Sub(start).Seconds()
	rep.EndToEndEventsPerSec = float64(rep.EventsProduced) / done.Sub(start).Seconds()
	m1, _ := b.fleet.metrics(ctx)
	b.log.Info("bench: load consumed", "events", rep.EventsProduced, "seconds", fmt.Sprintf("%.1f", rep.ProcessedSeconds),
		"events_per_s", fmt.Sprintf("%.0f", rep.EndToEndEventsPerSec), "machine_busy", fmt.Sprintf("%.0f%%", 100*u.MachineShare))

	// The story deadlines still to fire are at most a window away.
	if err := b.waitDeadlines(ctx, phaseLoad, cfg.EvidenceWindow+cfg.DrainTimeout); err != nil {
		b.rep.note("load phase: %v", err)
	}
	o := b.obs.snapshot(phaseLoad).minus(o0)
	rep.Commands = o.commands
	rep.ExpectedEventCommands, rep.SeenEventCommands = o.expectEventCmds, o.seenEventCmds
	rep.ExpectedDeadlineCommands, rep.SeenDeadlineCommands = o.expectDeadlineCmds, o.seenDeadlineCmds
	rep.Complete = o.seenEventCmds == o.expectEventCmds && o.seenDeadlineCmds == o.expectDeadlineCmds
	good := rep.EventsProduced - int64(b.hostileTotal()-hostile0)
	if good > 0 {
		rep.CommandsPerEvent = float64(o.commands) / float64(good)
	}
	lat, late := b.obs.samples(phaseLoad)
	rep.LatencyMs = quantiles(lat[lat0:])
	rep.ProduceCallMs = quantiles(b.writeMs[write0:])
	rep.StoryDeadlineLatenessMs = quantiles(late[late0:])
	b.fillProcessorMetrics(&rep.ProcessorMetrics, m0, m1)
	if cfg.BadShare > 0 && step == 0 {
		b.fillHostile(ctx, m0, m1)
	}
	return u, nil
}

// The flat-out producer's trickle: while the backlog is full it still
// writes trickleSize events every trickleEvery, a two-hundredth of
// --max-backlog each time (3,000 events/s for the default 6,000).
const trickleEvery = 10 * time.Millisecond

func trickleSize(maxBacklog int) int { return max(1, maxBacklog/200) }

func rateString(r float64) string {
	if r == 0 {
		return "flat out"
	}
	return strconv.FormatFloat(r, 'f', 0, 64) + "/s"
}

func (b *run) hostileTotal() int {
	n := 0
	for k := hostileKind(1); k < nHostileKinds; k++ {
		n += b.hostileProduced[k]
	}
	return n
}

// waitCaughtUp waits until the processor has consumed every event produced
// so far and the commands the phases' events cause have all been seen, and
// returns when.
func (b *run) waitCaughtUp(ctx context.Context, phases []int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var lastConsumed int64
	lastMove := time.Now()
	for {
		target := b.produced.Load()
		got := b.consumed.Load()
		ok := got >= target
		for _, p := range phases {
			o := b.obs.snapshot(p)
			ok = ok && o.seenEventCmds >= o.expectEventCmds
		}
		if ok {
			return time.Now(), nil
		}
		if got != lastConsumed {
			lastConsumed, lastMove = got, time.Now()
		}
		if time.Now().After(deadline) || time.Since(lastMove) > 30*time.Second {
			var missing []string
			for _, p := range phases {
				o := b.obs.snapshot(p)
				missing = append(missing, fmt.Sprintf("phase %c: %d of %d event commands seen", phaseLetters[p], o.seenEventCmds, o.expectEventCmds))
			}
			hint := ""
			if got >= target && b.cfg.Rate > 0 {
				// Every event applied, a few commands not as the stories
				// expect: paced, the producer serves ready orders at
				// random, and one that waits longer than a window between
				// two steps has its deadline fire first, as it should.
				hint = fmt.Sprintf("; every event was applied: with --rate an order can wait longer than --evidence-window (%v) between two steps, and then its deadline rightly decides first: raise it (60s is enough at half the maximum rate)", b.cfg.EvidenceWindow)
			}
			return time.Time{}, fmt.Errorf("bench: the processor did not catch up: consumed %d of %d events (no progress for %v); %v%s",
				got, target, time.Since(lastMove).Round(time.Second), missing, hint)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitDeadlines waits until the phase's deadline commands have been seen.
func (b *run) waitDeadlines(ctx context.Context, phase int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		o := b.obs.snapshot(phase)
		if o.seenDeadlineCmds >= o.expectDeadlineCmds && o.seenDeadlineRulings >= o.expectDeadlineRulings {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v, %d of %d deadline commands (%d of %d rulings) seen", timeout,
				o.seenDeadlineCmds, o.expectDeadlineCmds, o.seenDeadlineRulings, o.expectDeadlineRulings)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// deadlinePhase gives --deadlines orders an evidence deadline, all due
// within --deadline-spread, and measures how late their rulings come. The
// orders are paid and disputed first; their interventions are produced in
// real time over the spread, so the deadlines fall due a window later over
// the same spread. While they are armed, Redis memory per open dispute and
// per pending deadline is measured.
func (b *run) deadlinePhase(ctx context.Context) error {
	cfg, rep := b.cfg, &b.rep.Deadlines
	n := cfg.Deadlines
	rep.Deadlines, rep.SpreadSeconds = n, cfg.DeadlineSpread.Seconds()
	kind := &storyKind{name: "deadline", steps: []storyStep{
		{typ: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, refund(rules.ReasonNotDelivered), intervention,
	}}
	if err := countCommands([]*storyKind{kind}, b.policy, cfg.Gap); err != nil {
		return fmt.Errorf("bench: deadline story: %w", err)
	}
	orders := make([]storyOrder, n)
	for i := range orders {
		orders[i] = storyOrder{id: orderPrefix(b.rep.RunID, phaseDeadline) + strconv.Itoa(i), amount: 1000 + b.rng.Int64N(300000)}
	}
	ev := func(step, i int, now time.Time) producedEvent {
		o := &orders[i]
		st := kind.steps[step]
		id := o.eventID(step)
		var data map[string]any
		if st.data != nil {
			data = st.data(o, now)
		}
		return producedEvent{id: id, order: o.id, typ: st.typ, at: now, phase: phaseDeadline,
			value: encodeEvent(id, o.id, st.typ, now, data), cmds: kind.eventCmds[step]}
	}

	mem0, _ := usedMemory(ctx, b.env.rdb)
	b.log.Info("bench: deadline phase: paying and disputing the orders", "orders", n)
	setupStart := time.Now()
	for step := range 2 {
		// All at once: every event of a step is on one topic, so with the
		// others quiet the processor holds them for its idle time
		// (docs/events.md) however they are paced; one wait, not one per
		// --max-backlog.
		if err := b.produceFlat(ctx, n, max(n, cfg.MaxBacklog), func(i int, now time.Time) producedEvent { return ev(step, i, now) }); err != nil {
			return err
		}
		// The next event of each order comes after this one was applied
		// and a gap later: the processor merges its topics by event time
		// only as far as it has read them (see the report's notes).
		if _, err := b.waitCaughtUp(ctx, []int{phaseDeadline}, cfg.DrainTimeout); err != nil {
			return err
		}
		time.Sleep(cfg.Gap)
	}
	rep.SetupSeconds = time.Since(setupStart).Seconds()
	b.obs.expectDeadlines(phaseDeadline, n*kind.deadlineCmds, n*kind.deadlineRulings)

	m0, _ := b.fleet.metrics(ctx)
	t1 := time.Now().Add(100 * time.Millisecond)
	spread := cfg.DeadlineSpread
	b.log.Info("bench: deadline phase: interventions", "orders", n, "spread", spread, "window", cfg.EvidenceWindow)
	for i := 0; i < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		var batch []producedEvent
		for ; i < n && !t1.Add(time.Duration(int64(spread)*int64(i)/int64(n))).After(now); i++ {
			batch = append(batch, ev(2, i, now))
		}
		if len(batch) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		if err := b.write(ctx, batch); err != nil {
			return err
		}
	}
	firstDue := t1.Add(cfg.EvidenceWindow)
	armed, err := b.waitCaughtUp(ctx, []int{phaseDeadline}, cfg.DrainTimeout)
	if err != nil {
		return err
	}
	rep.ArmedSecondsBeforeFirstDue = firstDue.Sub(armed).Seconds()
	if o := b.obs.snapshot(phaseDeadline); o.seenDeadlineRulings > 0 {
		b.rep.note("deadline phase: %d deadlines had fired before all %d were armed: memory figures include fewer open disputes", o.seenDeadlineRulings, n)
	}

	// Memory, while the disputes are open and their deadlines pending.
	mem1, _ := usedMemory(ctx, b.env.rdb)
	b.measureMemory(ctx, mem0, mem1, n)

	rulingsTimeout := time.Until(firstDue) + spread + cfg.DrainTimeout
	if err := b.waitDeadlines(ctx, phaseDeadline, rulingsTimeout); err != nil {
		b.rep.note("deadline phase: %v", err)
	}
	m1, _ := b.fleet.metrics(ctx)
	_, late := b.obs.samples(phaseDeadline)
	rep.LatenessMs = quantiles(late)
	o := b.obs.snapshot(phaseDeadline)
	rep.Rulings, rep.ExpectedRulings = o.seenDeadlineRulings, o.expectDeadlineRulings
	rep.Complete = o.seenDeadlineCmds >= o.expectDeadlineCmds && o.seenEventCmds >= o.expectEventCmds
	h := minus(m1.histogram("disputed_deadline_lateness_seconds", nil), m0.histogram("disputed_deadline_lateness_seconds", nil))
	rep.MetricLatenessMs = histQuantiles(h, 1000)
	rep.MetricFired = int64(sampleCount(h))
	b.fillProcessorMetrics(&rep.ProcessorMetrics, m0, m1)
	b.log.Info("bench: deadline phase done", "rulings", rep.Rulings, "lateness_p99_ms", fmt.Sprintf("%.0f", rep.LatenessMs.P99))
	return nil
}

// oversizedProbe sends --oversized messages of --oversized-bytes, which the
// decoder refuses (more than 1 MiB), and checks that they reach the
// dead-letter topic. It runs last: a processor that cannot dead-letter them
// stops its partition.
func (b *run) oversizedProbe(ctx context.Context) error {
	rep := &b.rep.BadInput
	rep.OversizedSent = b.cfg.Oversized
	rep.OversizedBytes = b.cfg.OversizedBytes
	dlq0, err := b.env.dlqCount(ctx)
	if err != nil {
		return err
	}
	m0, _ := b.fleet.metrics(ctx)
	var evs []producedEvent
	for range b.cfg.Oversized {
		evs = append(evs, b.hostile.make(oversized, time.Now()))
	}
	b.log.Info("bench: oversized probe", "messages", len(evs), "bytes", b.cfg.OversizedBytes)
	for _, e := range evs {
		if err := b.write(ctx, []producedEvent{e}); err != nil {
			rep.OversizedProduceError = err.Error()
			b.rep.note("oversized probe: Kafka refused the message (%v): it never reaches the processor", err)
			return nil
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := b.env.dlqCount(ctx)
		if err == nil && n-dlq0 >= int64(len(evs)) {
			rep.OversizedDeadLettered = int(n - dlq0)
			rep.OversizedOutcome = "dead-lettered"
			return nil
		}
		if time.Now().After(deadline) {
			rep.OversizedDeadLettered = int(n - dlq0)
			m1, _ := b.fleet.metrics(ctx)
			errs := m1.sum("disputed_batch_errors_total", label("cause", "dead_letter")) - m0.sum("disputed_batch_errors_total", label("cause", "dead_letter"))
			rep.OversizedOutcome = fmt.Sprintf("STALLED: not dead-lettered after 20s; %.0f failed batch attempts (cause dead_letter): the partition retries the batch for ever", errs)
			b.rep.note("oversized probe: the processor cannot dead-letter a %d-byte message: its dead-letter writer (kafka-go Writer, BatchBytes 1 MiB by default) refuses it, the batch fails with cause dead_letter and is retried for ever, so the partition stops", b.cfg.OversizedBytes)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fillHostile counts what became of the hostile events of the load phase.
func (b *run) fillHostile(ctx context.Context, m0, m1 promMetrics) {
	rep := &b.rep.BadInput
	rep.Produced = map[string]int{}
	for k := hostileKind(1); k < nHostileKinds; k++ {
		if n := b.hostileProduced[k]; n > 0 {
			rep.Produced[hostileNames[k]] = n
			switch k.outcome() {
			case outcomeDeadLetter:
				rep.ExpectedDeadLetters += n
			case outcomeRejected:
				rep.ExpectedRejections += n
			case outcomeApplied:
				rep.ExpectedApplied += n
			}
		}
	}
	if n, err := b.env.dlqCount(ctx); err == nil {
		rep.DeadLetters = int(n)
	}
	o := b.obs.snapshot(phaseHostile)
	rep.Rejections, rep.OverLimitRejections = o.rejections, o.overLimit
	rep.MetricDeadLettered = int(m1.sum("disputed_events_total", label("result", "dead_lettered")) - m0.sum("disputed_events_total", label("result", "dead_lettered")))
	if b.cfg.Flood > 0 {
		rep.FloodOrderStateBytes = floodStateBytes(ctx, b.env, b.hostile.floodOrder(), b.cfg.Partitions)
	}
	rep.GoodCommandsAllArrived = b.rep.Load.Complete
}
