package state

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// The read side, for the inspection API: it never writes.

// Find looks an order up in every partition (its partition depends on the
// producers' partitioner, which the store does not know), in one pipelined
// round. ok is false when no partition holds it.
func (r *Redis) Find(ctx context.Context, order string, partitions int) (st rules.State, partition int, ok bool, err error) {
	cmds := make([]*redis.SliceCmd, partitions)
	_, err = r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for p := range partitions {
			cmds[p] = pipe.HMGet(ctx, r.orderKey(p, order), "s", "v")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return rules.State{}, 0, false, fmt.Errorf("find order %q: %w", order, err)
	}
	for p, cmd := range cmds {
		found, err := decodeOrder(cmd.Val(), &st)
		if err != nil {
			return rules.State{}, 0, false, fmt.Errorf("find order %q: %w", order, err)
		}
		if found {
			return st, p, true, nil
		}
	}
	return rules.State{}, 0, false, nil
}

// queued is one entry of a status index; its score is when it took the
// status, in milliseconds, times 1000, plus its place in the batch (save.lua).
type queued struct {
	score     float64
	order     string
	partition int
}

func (a queued) compare(b queued) int {
	if c := cmp.Compare(a.score, b.score); c != 0 {
		return c
	}
	return cmp.Compare(a.order, b.order)
}

// List returns up to limit open disputes in any of the statuses, across the
// partitions, longest in their status first (ties by order ID), as
// summaries of their states. after is "" for the first page, then
// the next cursor returned; next is "" after the last page. A cursor the
// store did not hand out is an error wrapping rules.ErrBadCursor.
func (r *Redis) List(ctx context.Context, statuses []rules.Status, partitions int, after string, limit int) (items []rules.Summary, next string, err error) {
	for _, s := range statuses {
		if !s.Open() {
			return nil, "", fmt.Errorf("list disputes: status %q is not an open status", s)
		}
	}
	from, err := parseCursor(after)
	if err != nil {
		return nil, "", err
	}
	// Per partition and status, the entries after the cursor: those with a
	// higher score, and those tied with it and a later order ID.
	type query struct {
		p           int
		above, tied *redis.ZSliceCmd
	}
	var qs []query
	_, err = r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for p := range partitions {
			for _, s := range statuses {
				q := query{p: p}
				start := "-inf"
				if after != "" {
					start = "(" + strconv.FormatFloat(from.score, 'f', -1, 64)
					at := strconv.FormatFloat(from.score, 'f', -1, 64)
					q.tied = pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.statusKey(p, s), ByScore: true, Start: at, Stop: at})
				}
				q.above = pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.statusKey(p, s), ByScore: true, Start: start, Stop: "+inf", Count: int64(limit) + 1})
				qs = append(qs, q)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list disputes: %w", err)
	}
	var cand []queued
	for _, q := range qs {
		for _, c := range []*redis.ZSliceCmd{q.tied, q.above} {
			if c == nil {
				continue
			}
			for _, z := range c.Val() {
				e := queued{score: z.Score, partition: q.p}
				e.order, _ = z.Member.(string)
				if after == "" || e.compare(from) > 0 {
					cand = append(cand, e)
				}
			}
		}
	}
	slices.SortFunc(cand, queued.compare)
	more := len(cand) > limit
	cand = cand[:min(len(cand), limit)]
	if more {
		last := cand[len(cand)-1]
		next = strconv.FormatFloat(last.score, 'f', -1, 64) + ":" + last.order
	}
	// The states of the page, listPipe at a time: a state can be large
	// (up to its order's quotas), and a page must not hold a hundred of
	// them at once.
	items = make([]rules.Summary, 0, len(cand))
	for len(cand) > 0 {
		chunk := cand[:min(len(cand), listPipe)]
		cand = cand[len(chunk):]
		cmds := make([]*redis.SliceCmd, len(chunk))
		_, err = r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, c := range chunk {
				cmds[i] = pipe.HMGet(ctx, r.orderKey(c.partition, c.order), "s", "v")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, "", fmt.Errorf("list disputes: %w", err)
		}
		for i, c := range chunk {
			var st rules.State
			found, err := decodeOrder(cmds[i].Val(), &st)
			if err != nil {
				return nil, "", fmt.Errorf("list disputes: order %q: %w", c.order, err)
			}
			if !found || !st.Status.Open() {
				continue // closed since it was listed
			}
			sum := rules.SummaryOf(st)
			sum.Partition = c.partition
			sum.Since = time.UnixMilli(int64(c.score / 1000)).UTC()
			items = append(items, sum)
		}
	}
	return items, next, nil
}

// listPipe is how many states List reads in one round.
const listPipe = 10

func parseCursor(c string) (queued, error) {
	if c == "" {
		return queued{}, nil
	}
	s, order, ok := strings.Cut(c, ":")
	score, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil || order == "" || math.IsNaN(score) || math.IsInf(score, 0) || rules.ValidOrderID(order) != nil {
		return queued{}, fmt.Errorf("list disputes: cursor %q: %w", c, rules.ErrBadCursor)
	}
	return queued{score: score, order: order}, nil
}

// OpenDisputes counts the open disputes by status over the partitions.
func (r *Redis) OpenDisputes(ctx context.Context, partitions int) (map[rules.Status]int64, error) {
	open := rules.OpenStatuses()
	cmds := make([]*redis.IntCmd, 0, partitions*len(open))
	_, err := r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for p := range partitions {
			for _, st := range open {
				cmds = append(cmds, pipe.ZCard(ctx, r.statusKey(p, st)))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count open disputes: %w", err)
	}
	out := make(map[rules.Status]int64, len(open))
	for i, c := range cmds {
		out[open[i%len(open)]] += c.Val()
	}
	return out, nil
}

// Held returns the commands of an order the sink refused and partition p
// holds for a person (command IDs start with the order ID and a slash).
func (r *Redis) Held(ctx context.Context, order string, p int) ([]rules.Held, error) {
	var out []rules.Held
	iter := r.c.HScan(ctx, r.key(p, "held"), 0, order+"/*", 100).Iterator()
	for i := 0; iter.Next(ctx); i++ {
		if i%2 == 0 {
			continue // the field; the value follows
		}
		var h rules.Held
		if err := json.Unmarshal([]byte(iter.Val()), &h); err != nil {
			return nil, fmt.Errorf("held commands of order %q: %w", order, err)
		}
		out = append(out, h)
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("held commands of order %q: %w", order, err)
	}
	return out, nil
}
