package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/disputed/disputed/internal/bench/host"
	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/bench/story"
)

// loadPhase is one step of the load: it runs the stories for --duration,
// then waits until the processors have consumed every event and every
// command they cause has been seen. step counts the scale-out's steps: the
// first (0) is the load phase proper, with the hostile input and the
// profile; the later ones run stories of their own orders on more members.
type loadPhase struct {
	b    *run
	step int
}

// run runs the step and fills rep. It returns the CPU used from the start
// of the load until every event was consumed.
func (l *loadPhase) run(ctx context.Context, rep *report.Load) (report.CPUUse, error) {
	b, step, cfg := l.b, l.step, l.b.cfg
	bad := &badInput{b: b}
	if cfg.BadShare > 0 && step == 0 {
		if err := bad.setup(ctx); err != nil {
			return report.CPUUse{}, err
		}
	}
	m0, _ := b.fleet.Metrics(ctx)
	o0 := b.obs.Snapshot(story.PhaseLoad)
	lat0, late0 := b.obs.SampleCounts(story.PhaseLoad)
	write0, hostile0 := len(b.prod.writeMs), b.prod.hostileTotal()
	s0 := b.sample(ctx)
	start := s0.At
	end := start.Add(cfg.Duration)
	if cfg.Profile != "" && step == 0 {
		if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
			return report.CPUUse{}, fmt.Errorf("bench: --profile: %w", err)
		}
		prof := processor.NewProfiler(cfg.Profile, b.fleet.List()[0].Addr())
		prof.Start(ctx, cfg.Duration/4, cfg.Duration/2)
		defer func() {
			if err := prof.Finish(ctx); err != nil {
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
	st := story.NewStories(b.kinds, b.rep.RunID, tag, cfg.Orders, cfg.Gap, start, b.rng)
	pace := &pacer{rate: cfg.Rate, start: start}
	floodAt, flooded := start.Add(cfg.Duration/3), cfg.BadShare == 0 || cfg.Flood == 0 || step > 0
	base := b.prod.produced.Load()
	var ticks, laneLimited, backlogLimited int
	var maxBacklog int64
	lastLog := start
	b.log.Info("bench: load phase", "step", step+1, "members", len(b.fleet.List()), "duration", cfg.Duration,
		"orders", cfg.Orders, "rate", report.RateString(cfg.Rate), "bad_share", cfg.BadShare)
	for {
		if err := ctx.Err(); err != nil {
			return report.CPUUse{}, err
		}
		now := time.Now()
		if now.After(end) {
			// Cut the stories short: a tail of slow stories would measure
			// the producer, not the processor.
			cmds, rulings := st.Stop()
			b.obs.ExpectDeadlines(story.PhaseLoad, cmds, rulings)
			break
		}
		backlog := b.prod.backlog()
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
		var batch []story.Event
		for len(batch) < budget {
			ev, ok := st.Next(now)
			if !ok {
				break
			}
			batch = append(batch, ev)
			for range b.hostile.Owed() {
				batch = append(batch, b.hostile.Next(now))
			}
		}
		if !flooded && now.After(floodAt) {
			batch = append(batch, b.hostile.Flood(now)...)
			flooded = true
		}
		ticks++
		if budget > 0 && len(batch) < budget && !trickle {
			laneLimited++
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			b.log.Info("bench: load", "elapsed", now.Sub(start).Round(time.Second), "produced", b.prod.produced.Load()-base,
				"consumed", b.prod.consumed.Load(), "backlog", backlog)
		}
		if err := b.prod.write(ctx, batch); err != nil {
			return report.CPUUse{}, err
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
	rep.EventsProduced = b.prod.produced.Load() - base
	rep.ProduceSeconds = produceEnd.Sub(start).Seconds()
	rep.Stories = st.Counts()
	rep.MaxBacklog = maxBacklog
	if pace.dropped > 0 {
		b.rep.Note("the producer fell more than half a second behind --rate and skipped %d events: the rate was not reached", pace.dropped)
	}
	if ticks > 0 {
		rep.ProducerLaneLimitedShare = float64(laneLimited) / float64(ticks)
		rep.ProducerBacklogLimitedShare = float64(backlogLimited) / float64(ticks)
	}

	done, err := b.waitCaughtUp(ctx, []int{story.PhaseLoad, story.PhaseHostile}, cfg.DrainTimeout)
	if err != nil {
		return report.CPUUse{}, err
	}
	u := host.Use(s0, b.sample(ctx), host.NumCPU())
	rep.ProcessedSeconds = done.Sub(start).Seconds()
	rep.EndToEndEventsPerSec = float64(rep.EventsProduced) / done.Sub(start).Seconds()
	m1, _ := b.fleet.Metrics(ctx)
	b.log.Info("bench: load consumed", "events", rep.EventsProduced, "seconds", fmt.Sprintf("%.1f", rep.ProcessedSeconds),
		"events_per_s", fmt.Sprintf("%.0f", rep.EndToEndEventsPerSec), "machine_busy", fmt.Sprintf("%.0f%%", 100*u.MachineShare))

	// The story deadlines still to fire are at most a window away.
	if err := b.waitDeadlines(ctx, story.PhaseLoad, cfg.EvidenceWindow+cfg.DrainTimeout); err != nil {
		b.rep.Note("load phase: %v", err)
	}
	o := b.obs.Snapshot(story.PhaseLoad).Minus(o0)
	rep.Commands = o.Commands
	rep.ExpectedEventCommands, rep.SeenEventCommands = o.ExpectEventCmds, o.SeenEventCmds
	rep.ExpectedDeadlineCommands, rep.SeenDeadlineCommands = o.ExpectDeadlineCmds, o.SeenDeadlineCmds
	rep.Complete = o.SeenEventCmds == o.ExpectEventCmds && o.SeenDeadlineCmds == o.ExpectDeadlineCmds
	good := rep.EventsProduced - int64(b.prod.hostileTotal()-hostile0)
	if good > 0 {
		rep.CommandsPerEvent = float64(o.Commands) / float64(good)
	}
	lat, late := b.obs.Samples(story.PhaseLoad)
	rep.LatencyMs = report.Quantiles(lat[lat0:])
	rep.ProduceCallMs = report.Quantiles(b.prod.writeMs[write0:])
	rep.StoryDeadlineLatenessMs = report.Quantiles(late[late0:])
	processor.FillPhaseMetrics(&rep.ProcessorMetrics, m0, m1)
	if cfg.BadShare > 0 && step == 0 {
		bad.count(ctx, m0, m1)
	}
	return u, nil
}

// The flat-out producer's trickle: while the backlog is full it still
// writes trickleSize events every trickleEvery, a two-hundredth of
// --max-backlog each time (3,000 events/s for the default 6,000).
const trickleEvery = 10 * time.Millisecond

func trickleSize(maxBacklog int) int { return max(1, maxBacklog/200) }

// pacer paces the producer at a rate on an absolute schedule, so that a
// slow write is made up by the next ones; more than half a second behind,
// the rest is dropped (and counted).
type pacer struct {
	rate    float64
	start   time.Time
	sent    int64
	dropped int64
}

func (p *pacer) take(now time.Time) int {
	due := int64(p.rate*now.Sub(p.start).Seconds()) - p.sent
	if limit := int64(p.rate/2) + 1; due > limit {
		p.dropped += due - limit
		p.sent += due - limit
		due = limit
	}
	return int(due)
}

func (p *pacer) spend(n int) { p.sent += int64(n) }
