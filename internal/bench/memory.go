package bench

import (
	"context"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// redisMemory is the measurement of Redis memory per open dispute and per
// pending deadline, taken by the deadline phase while its disputes are
// open.
type redisMemory struct {
	b *run
}

// measure measures what the open disputes of the deadline phase and
// their pending deadlines cost in Redis: MEMORY USAGE of sampled order
// hashes plus each dispute's entry in the status index, and of the timers
// sorted sets divided by their cardinality; and, as a cross-check, the
// change of used_memory across the phase's setup divided by its disputes
// (which includes the deadline).
func (m *redisMemory) measure(ctx context.Context, mem0, mem1 int64, n int) {
	b := m.b
	rep := &b.rep.Redis
	rdb, prefix, parts := b.env.RDB, b.env.Prefix, b.cfg.Partitions
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
		timerBytes += servers.MemoryUsage(ctx, rdb, tk, c)
		ik := state.Key(prefix, p, "status:"+string(rules.StatusUnderReview))
		c, _ = rdb.ZCard(ctx, ik).Result()
		indexed += c
		indexBytes += servers.MemoryUsage(ctx, rdb, ik, c)
	}
	rep.PendingDeadlines = timers
	if timers > 0 {
		rep.BytesPerDeadline = float64(timerBytes) / float64(timers)
	}
	var orderBytes, sampled int64
	step := max(1, n/500)
	for i := 0; i < n; i += step {
		order := story.OrderID(b.rep.RunID, story.PhaseDeadline, i)
		key := state.Key(prefix, consumer.PartitionOf(order, parts), "order:"+order)
		if st, _ := rdb.HGet(ctx, key, "st").Result(); st != string(rules.StatusUnderReview) {
			continue
		}
		orderBytes += servers.MemoryUsage(ctx, rdb, key, 0)
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
