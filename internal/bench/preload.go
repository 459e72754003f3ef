package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// preload is the phase before the load with --open-disputes: disputes open
// in Redis with deadlines far in the future, to show that firing costs no
// more with much pending.
type preload struct {
	b *run
}

// run writes --open-disputes open disputes with --pending-deadlines
// deadlines far in the future straight into the processor's Redis prefix,
// through state.Redis.Save in big batches (one atomic script per batch of
// orders of a partition), before the processor starts. The commands their
// events would have caused are left out: they count as published long ago.
func (pl *preload) run(ctx context.Context) error {
	b := pl.b
	n, m := b.cfg.OpenDisputes, b.cfg.PendingDeadlines
	parts := b.cfg.Partitions
	rep := &b.rep.Preload
	rep.OpenDisputes, rep.PendingDeadlines = n, m
	store := state.NewRedis(b.env.RDB, state.Config{Prefix: b.env.Prefix})
	policy := b.policy
	policy.EvidenceWindow = 365 * 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Millisecond)
	base, far := now.Add(-time.Hour), now.AddDate(2, 0, 0)
	mem0, _ := servers.UsedMemory(ctx, b.env.RDB)
	start := time.Now()
	b.log.Info("bench: preloading open disputes", "disputes", n, "deadlines", m)

	const perSave = 250
	var mu sync.Mutex
	done, lastLog := 0, time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for p := range parts {
		g.Go(func() error {
			// Each save chains its mark on the last, from the partition's.
			cp, err := store.Open(gctx, p)
			if err != nil {
				return fmt.Errorf("bench: preload partition %d: %w", p, err)
			}
			prev, seq := cp.Mark, 0
			var ds []rules.Decision
			orders := 0
			flush := func() error {
				if len(ds) == 0 {
					return nil
				}
				seq++
				mark := "bench-preload:" + strconv.Itoa(seq)
				if _, err := store.Save(gctx, p, rules.Batch{Decisions: ds, Prev: prev, Mark: mark}); err != nil {
					return fmt.Errorf("bench: preload partition %d: %w", p, err)
				}
				prev = mark
				mu.Lock()
				done += orders
				if time.Since(lastLog) > 10*time.Second {
					lastLog = time.Now()
					b.log.Info("bench: preloading", "disputes", done, "of", n)
				}
				mu.Unlock()
				ds, orders = ds[:0], 0
				return nil
			}
			for i := range n {
				order := story.OrderPrefix(b.rep.RunID, story.PhaseLoad) + "pre-" + strconv.Itoa(i)
				if consumer.PartitionOf(order, parts) != p {
					continue
				}
				timers := m / n
				if i < m%n {
					timers++
				}
				d, err := preloadDispute(policy, order, timers, base, far)
				if err != nil {
					return err
				}
				ds = append(ds, d...)
				if orders++; orders == perSave {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return flush()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rep.Seconds = time.Since(start).Seconds()
	mem1, _ := servers.UsedMemory(ctx, b.env.RDB)
	if n > 0 {
		rep.UsedMemoryPerDispute = float64(mem1-mem0) / float64(n)
	}
	var pending int64
	for p := range parts {
		c, _ := b.env.RDB.ZCard(ctx, state.Key(b.env.Prefix, p, "timers")).Result()
		pending += c
	}
	rep.PendingDeadlinesInRedis = pending
	b.log.Info("bench: preloaded", "disputes", n, "deadlines", pending, "seconds", fmt.Sprintf("%.1f", rep.Seconds))
	return nil
}

// preloadDispute returns the decisions that open a dispute with timers
// deadlines (0 to 3) far in the future: an evidence deadline (intervention),
// a delivery deadline (delivery_due) and a cooperation deadline.
func preloadDispute(policy rules.Policy, order string, timers int, base, far time.Time) ([]rules.Decision, error) {
	at := base
	ev := func(typ rules.Type, data rules.Data) rules.Event {
		at = at.Add(time.Second)
		return rules.Event{ID: order + "-" + string(typ), Source: "bench-preload", Type: typ, Time: at, OrderID: order, Data: data}
	}
	pd := rules.Data{CustomerID: "mer-" + order, ProviderID: "sp-preload", Category: rules.ImageDesign, Amount: 88000, Currency: "CNY"}
	if timers >= 2 {
		pd.DeliveryDue = far
	}
	evs := []rules.Event{ev(rules.TypeOrderPaid, pd)}
	if timers >= 3 {
		evs = append(evs, ev(rules.TypeCooperationRequested, rules.Data{Due: far, InformedInAdvance: true}))
	}
	evs = append(evs, ev(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality}))
	if timers >= 1 {
		evs = append(evs, ev(rules.TypeInterventionRequested, rules.Data{By: rules.Customer}))
	}
	var s rules.State
	out := make([]rules.Decision, 0, len(evs))
	for _, e := range evs {
		d, err := policy.Apply(s, e, e.Time)
		if err != nil {
			return nil, fmt.Errorf("bench: preload %s of %s: %w", e.Type, order, err)
		}
		s = d.State
		d.Commands = nil
		out = append(out, d)
	}
	if !s.Status.Open() || len(s.Timers) != timers {
		return nil, fmt.Errorf("bench: preload %s: status %s with %d deadlines, want open with %d", order, s.Status, len(s.Timers), timers)
	}
	return out, nil
}
