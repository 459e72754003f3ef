package bench

import (
	"context"

	"github.com/disputed/disputed/internal/bench/host"
	"github.com/disputed/disputed/internal/bench/report"
)

// scaleOut is the load's steps: the load once per --members count, with
// that many processors in one consumer group, members added between steps.
// The first step is the load phase proper: its figures are the report's
// load, the processors' CPU during the load, and the host's. With more than
// one count each step is also a row of the scale-out.
type scaleOut struct {
	b *run
}

func (s *scaleOut) run(ctx context.Context) error {
	b := s.b
	res := &b.rep.Processor
	for step, n := range b.cfg.Members {
		owned, err := b.fleet.Grow(ctx, n)
		if err != nil {
			return err
		}
		b.log.Info("bench: processors ready", "members", n, "partitions_owned", owned, "logs", b.fleet.LogPaths())
		lr := &b.rep.Load
		if step > 0 {
			lr = &report.Load{}
		}
		u, err := (&loadPhase{b: b, step: step}).run(ctx, lr)
		if err != nil {
			return err
		}
		if step == 0 {
			res.LoadCPUSeconds = u.MembersTotal
			if n := lr.EventsProduced; n > 0 {
				res.LoadCPUMicrosPerEvent = u.MembersTotal / float64(n) * 1e6
			}
			b.rep.Host.Load = u
			b.rep.Host.LoadBenchCPUSeconds, b.rep.Host.LoadRedisCPUSeconds = u.Bench, u.Redis
			for _, c := range b.fleet.List() {
				if rss, err := host.ProcStatusKB(c.PID(), "VmRSS"); err == nil {
					res.RSSAfterLoadBytes = max(res.RSSAfterLoadBytes, rss<<10)
				}
			}
		}
		if len(b.cfg.Members) > 1 {
			b.rep.Scale = append(b.rep.Scale, newScaleRow(n, owned, lr, u))
		}
	}
	return nil
}

// newScaleRow is the scale-out row of a step of members members owning
// owned partitions, whose load was l and used u.
func newScaleRow(members int, owned []int, l *report.Load, u report.CPUUse) report.ScaleRow {
	row := report.ScaleRow{
		Members: members, PartitionsOwned: owned, Events: l.EventsProduced, Seconds: l.ProcessedSeconds,
		EventsPerSec: l.EndToEndEventsPerSec, Complete: l.Complete, LatencyMs: l.LatencyMs,
		ProducerBacklogLimitedShare: l.ProducerBacklogLimitedShare, ProducerLaneLimitedShare: l.ProducerLaneLimitedShare,
		AvgBatchSize: l.ProcessorMetrics.AvgBatchSize, CPU: u,
	}
	if n := float64(l.EventsProduced); n > 0 {
		row.MicrosPerEvent = report.CPUPerEvent{
			Processors: u.MembersTotal / n * 1e6, Redis: u.Redis / n * 1e6, Kafka: u.Kafka / n * 1e6,
			Bench: u.Bench / n * 1e6, Machine: u.MachineBusy / n * 1e6,
		}
	}
	return row
}
