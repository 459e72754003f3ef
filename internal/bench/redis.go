package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// usedMemory is INFO memory's used_memory.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	s, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return infoInt(s, "used_memory")
}

func infoInt(info, field string) (int64, error) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO", field)
}

// redisCPU is the Redis server's CPU seconds so far (all its clients).
func redisCPU(ctx context.Context, rdb *redis.Client) float64 {
	s, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var t float64
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				t += x
			}
		}
	}
	return t
}

// deleteKeys removes the keys matching pattern (the run's own prefix) and
// returns how many.
func deleteKeys(ctx context.Context, rdb *redis.Client, pattern string) (int64, error) {
	var n int64
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 5000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			d, err := rdb.Unlink(ctx, keys...).Result()
			if err != nil {
				return n, err
			}
			n += d
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// memoryUsage is MEMORY USAGE of a key, exact for up to 200,000 elements
// and sampled above.
func memoryUsage(ctx context.Context, rdb *redis.Client, key string, elements int64) int64 {
	samples := 0
	if elements > 200_000 {
		samples = 1000
	}
	n, _ := rdb.MemoryUsage(ctx, key, samples).Result()
	return n
}

// measureMemory measures what the open disputes of the deadline phase and
// their pending deadlines cost in Redis: MEMORY USAGE of sampled order
// hashes plus each dispute's entry in the status index, and of the timers
// sorted sets divided by their cardinality; and, as a cross-check, the
// change of used_memory across the phase's setup divided by its disputes
// (which includes the deadline).
func (b *run) measureMemory(ctx context.Context, mem0, mem1 int64, n int) {
	rep := &b.rep.Redis
	rdb, prefix, parts := b.env.rdb, b.env.prefix, b.cfg.Partitions
	store := state.NewRedis(rdb, state.Config{Prefix: prefix})
	if open, err := store.OpenDisputes(ctx, parts); err == nil {
		for _, c := range open {
			rep.OpenDisputes += c
		}
	}
	var timerBytes, timers, indexBytes, indexed int64
	for p := range parts {
		tk := state.Key(prefix, p, "timers")
		c, _ := rdb.ZCard(ctx, tk).Result()
		timers += c
		timerBytes += memoryUsage(ctx, rdb, tk, c)
		ik := state.Key(prefix, p, "status:"+string(rules.StatusUnderReview))
		c, _ = rdb.ZCard(ctx, ik).Result()
		indexed += c
		indexBytes += memoryUsage(ctx, rdb, ik, c)
	}
	rep.PendingDeadlines = timers
	if timers > 0 {
		rep.BytesPerDeadline = float64(timerBytes) / float64(timers)
	}
	var orderBytes, sampled int64
	step := max(1, n/500)
	for i := 0; i < n; i += step {
		order := orderPrefix(b.rep.RunID, phaseDeadline) + strconv.Itoa(i)
		key := state.Key(prefix, consumer.PartitionOf(order, parts), "order:"+order)
		if st, _ := rdb.HGet(ctx, key, "st").Result(); st != string(rules.StatusUnderReview) {
			continue
		}
		orderBytes += memoryUsage(ctx, rdb, key, 0)
		sampled++
	}
	rep.SampledDisputes = sampled
	if sampled > 0 {
		rep.OrderHashBytes = float64(orderBytes) / float64(sampled)
		rep.BytesPerDispute = rep.OrderHashBytes
		if indexed > 0 {
			rep.StatusIndexBytesPerDispute = float64(indexBytes) / float64(indexed)
			rep.BytesPerDispute += rep.StatusIndexBytesPerDispute
		}
	}
	if n > 0 && mem1 > mem0 {
		rep.UsedMemoryDeltaPerDisputeWithDeadline = float64(mem1-mem0) / float64(n)
	}
}

// floodStateBytes is the size of the flooded order's state.
func floodStateBytes(ctx context.Context, e *env, order string, partitions int) int64 {
	n, _ := e.rdb.HStrLen(ctx, state.Key(e.prefix, consumer.PartitionOf(order, partitions), "order:"+order), "s").Result()
	return n
}

// preload writes --open-disputes open disputes with --pending-deadlines
// deadlines far in the future straight into the processor's Redis prefix,
// through state.Redis.Save in big batches (one atomic script per batch of
// orders of a partition), before the processor starts. The commands their
// events would have caused are left out: they count as published long ago.
func (b *run) preload(ctx context.Context) error {
	n, m := b.cfg.OpenDisputes, b.cfg.PendingDeadlines
	parts := b.cfg.Partitions
	rep := &b.rep.Preload
	rep.OpenDisputes, rep.PendingDeadlines = n, m
	store := state.NewRedis(b.env.rdb, state.Config{Prefix: b.env.prefix})
	policy := b.policy
	policy.EvidenceWindow = 365 * 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Millisecond)
	base, far := now.Add(-time.Hour), now.AddDate(2, 0, 0)
	mem0, _ := usedMemory(ctx, b.env.rdb)
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
				order := orderPrefix(b.rep.RunID, phaseLoad) + "pre-" + strconv.Itoa(i)
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
	mem1, _ := usedMemory(ctx, b.env.rdb)
	if n > 0 {
		rep.UsedMemoryPerDispute = float64(mem1-mem0) / float64(n)
	}
	var pending int64
	for p := range parts {
		c, _ := b.env.rdb.ZCard(ctx, state.Key(b.env.prefix, p, "timers")).Result()
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
