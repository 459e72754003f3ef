package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/bench/host"
	"github.com/disputed/disputed/internal/bench/observe"
	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/rules"
)

// run is what the phases of one `disputed-bench` share: the servers, the
// processors under test, the producer and the observer, the story mix, and
// the report they fill. measure builds it and runs the phases, each a type
// of its own holding the run; the run knows none of them.
type run struct {
	cfg     config
	log     *slog.Logger
	env     *servers.Env
	fleet   *processor.Fleet
	obs     *observe.Observer
	prod    *eventWriter
	policy  rules.Policy
	kinds   []*story.Kind
	rng     *rand.Rand
	hostile *story.Hostile
	rep     *report.Report
}

// sample reads the CPU counters of the processors, this process, Redis,
// the Kafka brokers (when known) and the machine.
func (b *run) sample(ctx context.Context) host.Sample {
	s := host.Sample{At: time.Now(), Redis: servers.RedisCPU(ctx, b.env.RDB), Load1: host.LoadAverage()}
	for _, c := range b.fleet.List() {
		t, _ := host.ProcCPU(c.PID())
		s.Members = append(s.Members, t)
	}
	s.Self, _ = host.ProcCPU(os.Getpid())
	for _, pid := range b.env.Kafka.PIDs {
		t, _ := host.ProcCPU(pid)
		s.Kafka += t
	}
	s.Machine, _ = host.ReadMachineCPU()
	return s
}

// failed adds the processors' log tails to a phase's error.
func (b *run) failed(err error) error {
	return fmt.Errorf("%w\nthe processors' logs (last lines of %s):\n%s", err, strings.Join(b.fleet.LogPaths(), ", "), b.fleet.LogTail(15))
}

// pollConsumed scrapes the processor's event counter, for the flat-out
// producer's backlog and the phases' ends.
func (b *run) pollConsumed(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if m, err := b.fleet.Metrics(ctx); err == nil {
			b.prod.consumed.Store(int64(m.Sum("disputed_events_total", nil)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitCaughtUp waits until the processor has consumed every event produced
// so far and the commands the phases' events cause have all been seen, and
// returns when.
func (b *run) waitCaughtUp(ctx context.Context, phases []int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var lastConsumed int64
	lastMove := time.Now()
	for {
		target := b.prod.produced.Load()
		got := b.prod.consumed.Load()
		ok := got >= target
		for _, p := range phases {
			o := b.obs.Snapshot(p)
			ok = ok && o.SeenEventCmds >= o.ExpectEventCmds
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
				o := b.obs.Snapshot(p)
				missing = append(missing, fmt.Sprintf("phase %c: %d of %d event commands seen", story.PhaseLetters[p], o.SeenEventCmds, o.ExpectEventCmds))
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
		o := b.obs.Snapshot(phase)
		if o.SeenDeadlineCmds >= o.ExpectDeadlineCmds && o.SeenDeadlineRulings >= o.ExpectDeadlineRulings {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v, %d of %d deadline commands (%d of %d rulings) seen", timeout,
				o.SeenDeadlineCmds, o.ExpectDeadlineCmds, o.SeenDeadlineRulings, o.ExpectDeadlineRulings)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
