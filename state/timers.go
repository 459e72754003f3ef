package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// Due returns the deadlines of partition p due at or before t, earliest
// first: limit of them, or all, and then every other one due at the same
// instant as the last, so that a batch never fires part of an instant (the
// engine orders one instant's deadlines by order and arming sequence, which
// the sorted set, ordering ties by member, does not know).
func (r *Redis) Due(ctx context.Context, p int, t time.Time, limit int) ([]rules.Event, error) {
	key := r.key(p, "timers")
	zs, err := r.c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: key, ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(t.UnixMilli(), 10),
		Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read due deadlines of partition %d: %w", p, err)
	}
	if len(zs) == limit && limit > 0 {
		last := strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
		rest, err := r.c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, ByScore: true, Start: last, Stop: last}).Result()
		if err != nil {
			return nil, fmt.Errorf("read due deadlines of partition %d: %w", p, err)
		}
		i := len(zs)
		for i > 0 && zs[i-1].Score == zs[len(zs)-1].Score {
			i--
		}
		zs = append(zs[:i], rest...)
	}
	out := make([]rules.Event, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		order, timer, ok := strings.Cut(m, "|")
		if !ok {
			return nil, fmt.Errorf("read due deadlines of partition %d: bad member %q", p, m)
		}
		out = append(out, rules.Event{
			Type: rules.TypeDeadline, OrderID: order, TimerID: timer,
			Time: time.UnixMilli(int64(z.Score)).UTC(),
		})
	}
	return out, nil
}
