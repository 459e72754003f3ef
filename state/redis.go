package state

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// Config says where in Redis disputed keeps its data.
type Config struct {
	// Prefix starts every key, so several deployments (or tests) can share
	// a server. Default "disputed".
	Prefix string
	// Retention is how long a closed order (ruled, or accepted by the
	// customer) is kept; open ones never expire. Default 90 days.
	Retention time.Duration
	// Now is the wall clock, used only to stamp outbox entries for the
	// oldest-entry metric. Default time.Now.
	Now func() time.Time
}

// Redis is the Redis-backed store. It is safe for concurrent use; writes to
// one partition must come from that partition's single owner, and a second
// writer (a stale owner after a rebalance) gets rules.ErrConflict.
type Redis struct {
	c    redis.UniversalClient
	cfg  Config
	save *redis.Script
	ack  *redis.Script
}

//go:embed save.lua
var saveScript string

// ackScript pops, in order, the given command IDs that are at the head of
// the outbox. Entries start with the command ID and a newline.
const ackScript = `
local removed = 0
for k = 1, #ARGV do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local id = ARGV[k]
  if string.sub(head, 1, #id + 1) == id .. '\n' then
    redis.call('LPOP', KEYS[1])
    removed = removed + 1
  end
end
return removed
`

// NewRedis returns a store on c.
func NewRedis(c redis.UniversalClient, cfg Config) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = "disputed"
	}
	if cfg.Retention == 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Redis{c: c, cfg: cfg, save: redis.NewScript(saveScript), ack: redis.NewScript(ackScript)}
}

// Keys. Everything of partition p carries the hash tag {p}.
func (r *Redis) key(p int, kind string) string {
	return r.cfg.Prefix + ":{" + strconv.Itoa(p) + "}:" + kind
}

func (r *Redis) orderKey(p int, order string) string { return r.key(p, "order:"+order) }

func (r *Redis) statusKey(p int, s rules.Status) string { return r.key(p, "status:"+string(s)) }

// indexed are the statuses of open disputes, which the store indexes for the
// reviewers' queue, in the order save.lua expects their keys.
var indexed = []rules.Status{rules.StatusNegotiating, rules.StatusUnderReview, rules.StatusEscalated, rules.StatusSuspended}

// timerMember names a deadline in the partition's sorted set. Order IDs
// cannot contain '|' (rules.ValidOrderID).
func timerMember(order, timer string) string { return order + "|" + timer }

// Load reads the states of the given orders of partition p in one pipelined
// round. An order the store does not hold comes back as the zero State.
func (r *Redis) Load(ctx context.Context, p int, orders []string) ([]rules.State, error) {
	cmds := make([]*redis.SliceCmd, len(orders))
	_, err := r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, o := range orders {
			cmds[i] = pipe.HMGet(ctx, r.orderKey(p, o), "s", "v")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load %d orders of partition %d: %w", len(orders), p, err)
	}
	states := make([]rules.State, len(orders))
	for i, cmd := range cmds {
		if _, err := decodeOrder(cmd.Val(), &states[i]); err != nil {
			return nil, fmt.Errorf("load order %q of partition %d: %w", orders[i], p, err)
		}
	}
	return states, nil
}

// decodeOrder decodes an order hash's s and v fields, as HMGET returns
// them, into st; found is false when the order is not stored.
func decodeOrder(vals []any, st *rules.State) (found bool, err error) {
	if len(vals) != 2 || vals[0] == nil {
		return false, nil
	}
	s, _ := vals[0].(string)
	if err := json.Unmarshal([]byte(s), st); err != nil {
		return false, fmt.Errorf("decode state: %w", err)
	}
	if v, ok := vals[1].(string); ok {
		st.Version, _ = strconv.ParseInt(v, 10, 64)
	}
	return true, nil
}

// Save writes the effects of a batch of decisions of partition p, in the
// order they were made, together with the offsets the batch consumed (topic
// to the last offset applied), in one atomic step: each changed order's final
// state, the net deadline changes, the commands appended to the outbox, the
// offsets. Nothing is written if an order's version is no longer the one the
// batch loaded, or if a topic's stored offset is already at or past the
// batch's: Save then returns rules.ErrConflict.
//
// The first decision of each order must carry the State.Version it was
// loaded with; later decisions of the same order chain on it.
func (r *Redis) Save(ctx context.Context, p int, ds []rules.Decision, offsets map[string]int64) error {
	w, err := r.encode(p, ds, offsets)
	if err != nil {
		return err
	}
	if w.changed == 0 && len(offsets) == 0 && w.timerOps == 0 && len(w.outbox) == 0 {
		return nil // nothing changed: don't write
	}
	res, err := r.save.Run(ctx, r.c, w.keys, w.args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("save batch of partition %d: %w", p, err)
	}
	switch res[0] {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("save batch of partition %d: order %q changed since it was loaded: %w", p, w.orders[res[1]-1], rules.ErrConflict)
	default:
		return fmt.Errorf("save batch of partition %d: offsets already applied: %w", p, rules.ErrConflict)
	}
}

type write struct {
	keys     []string
	args     []any
	orders   []string
	changed  int // orders whose state changed
	timerOps int
	outbox   []any
}

// encode lays a batch out as the save script's KEYS and ARGV (see save.lua).
func (r *Redis) encode(p int, ds []rules.Decision, offsets map[string]int64) (write, error) {
	type net struct {
		version int64
		state   *rules.State
	}
	var w write
	idx := make(map[string]int)
	var orders []net
	type timerOp struct {
		arm   bool
		score int64
	}
	timers := make(map[string]timerOp)
	var timerOrder []string
	now := strconv.FormatInt(r.cfg.Now().UnixMilli(), 10)
	for i := range ds {
		d := &ds[i]
		o := d.State.OrderID
		if o == "" {
			continue
		}
		j, ok := idx[o]
		if !ok {
			j = len(orders)
			idx[o] = j
			orders = append(orders, net{version: d.State.Version})
			w.orders = append(w.orders, o)
		}
		if d.Changed {
			orders[j].state = &d.State
		}
		for _, id := range d.Disarm {
			m := timerMember(o, id)
			if _, seen := timers[m]; !seen {
				timerOrder = append(timerOrder, m)
			}
			timers[m] = timerOp{}
		}
		for _, t := range d.Arm {
			m := timerMember(o, t.ID)
			if _, seen := timers[m]; !seen {
				timerOrder = append(timerOrder, m)
			}
			timers[m] = timerOp{arm: true, score: t.At.UnixMilli()}
		}
		for _, c := range d.Commands {
			data, err := c.Data()
			if err != nil {
				return w, fmt.Errorf("save batch of partition %d: encode command %s: %w", p, c.ID, err)
			}
			entry, err := json.Marshal(outboxEntry{ID: c.ID, Subject: c.Subject, Data: data})
			if err != nil {
				return w, fmt.Errorf("save batch of partition %d: encode outbox entry %s: %w", p, c.ID, err)
			}
			w.outbox = append(w.outbox, c.ID+"\n"+now+"\n"+string(entry))
		}
	}
	w.keys = []string{r.key(p, "timers"), r.key(p, "outbox"), r.key(p, "offsets")}
	for _, st := range indexed {
		w.keys = append(w.keys, r.statusKey(p, st))
	}
	w.args = []any{len(orders), len(offsets), r.cfg.Retention.Milliseconds(), now}
	for j, n := range orders {
		w.keys = append(w.keys, r.orderKey(p, w.orders[j]))
		enc, closed, status := "", "0", ""
		if n.state != nil {
			b, err := json.Marshal(n.state)
			if err != nil {
				return w, fmt.Errorf("save batch of partition %d: encode state of %q: %w", p, w.orders[j], err)
			}
			enc = string(b)
			w.changed++
			if n.state.Status == rules.StatusRuled || n.state.Status == rules.StatusAccepted {
				closed = "1"
			}
			status = string(n.state.Status)
		}
		w.args = append(w.args, w.orders[j], n.version, enc, closed, status)
	}
	for _, t := range slices.Sorted(maps.Keys(offsets)) {
		w.args = append(w.args, t, offsets[t])
	}
	w.args = append(w.args, len(timerOrder))
	w.timerOps = len(timerOrder)
	for _, m := range timerOrder {
		op := timers[m]
		if op.arm {
			w.args = append(w.args, "a", m, op.score)
		} else {
			w.args = append(w.args, "d", m, 0)
		}
	}
	w.args = append(w.args, w.outbox...)
	return w, nil
}

type outboxEntry struct {
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// Offsets returns the last applied offset of each topic of partition p.
func (r *Redis) Offsets(ctx context.Context, p int) (map[string]int64, error) {
	m, err := r.c.HGetAll(ctx, r.key(p, "offsets")).Result()
	if err != nil {
		return nil, fmt.Errorf("read offsets of partition %d: %w", p, err)
	}
	out := make(map[string]int64, len(m))
	for t, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read offsets of partition %d: topic %q: %w", p, t, err)
		}
		out[t] = n
	}
	return out, nil
}

// Due returns up to limit deadlines of partition p due at or before t, as
// deadline events, earliest first (ties by order, then timer ID).
func (r *Redis) Due(ctx context.Context, p int, t time.Time, limit int) ([]rules.Event, error) {
	zs, err := r.c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: r.key(p, "timers"), ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(t.UnixMilli(), 10),
		Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read due deadlines of partition %d: %w", p, err)
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

// NextDue returns the due time of partition p's earliest deadline; ok is
// false when none is pending.
func (r *Redis) NextDue(ctx context.Context, p int) (at time.Time, ok bool, err error) {
	zs, err := r.c.ZRangeWithScores(ctx, r.key(p, "timers"), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next deadline of partition %d: %w", p, err)
	}
	if len(zs) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(zs[0].Score)).UTC(), true, nil
}

// PendingDeadlines is the number of deadlines armed in partition p.
func (r *Redis) PendingDeadlines(ctx context.Context, p int) (int64, error) {
	n, err := r.c.ZCard(ctx, r.key(p, "timers")).Result()
	if err != nil {
		return 0, fmt.Errorf("count deadlines of partition %d: %w", p, err)
	}
	return n, nil
}

// Outbox returns up to limit commands of partition p not yet acknowledged by
// JetStream, oldest first, with their bodies already encoded
// (json.RawMessage), and when the oldest was written.
func (r *Redis) Outbox(ctx context.Context, p int, limit int) ([]rules.Command, time.Time, error) {
	vals, err := r.c.LRange(ctx, r.key(p, "outbox"), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read outbox of partition %d: %w", p, err)
	}
	cmds := make([]rules.Command, 0, len(vals))
	var oldest time.Time
	for i, v := range vals {
		_, rest, ok1 := strings.Cut(v, "\n")
		stamp, entry, ok2 := strings.Cut(rest, "\n")
		var e outboxEntry
		if !ok1 || !ok2 || json.Unmarshal([]byte(entry), &e) != nil {
			return nil, time.Time{}, fmt.Errorf("read outbox of partition %d: entry %d is corrupt", p, i)
		}
		if i == 0 {
			ms, _ := strconv.ParseInt(stamp, 10, 64)
			oldest = time.UnixMilli(ms)
		}
		cmds = append(cmds, rules.Command{ID: e.ID, Subject: e.Subject, Body: e.Data})
	}
	return cmds, oldest, nil
}

// OutboxLen is the number of commands of partition p waiting to be published.
func (r *Redis) OutboxLen(ctx context.Context, p int) (int64, error) {
	n, err := r.c.LLen(ctx, r.key(p, "outbox")).Result()
	if err != nil {
		return 0, fmt.Errorf("count outbox of partition %d: %w", p, err)
	}
	return n, nil
}

// Ack removes published commands, given by ID in outbox order, from the
// head of partition p's outbox once JetStream has acknowledged them. An ID
// no longer at the head was removed already (by the partition's next owner,
// after a rebalance): it is skipped, so a stale owner never removes a
// command it did not publish.
func (r *Redis) Ack(ctx context.Context, p int, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if err := r.ack.Run(ctx, r.c, []string{r.key(p, "outbox")}, args...).Err(); err != nil {
		return fmt.Errorf("remove %d acknowledged commands from outbox of partition %d: %w", len(ids), p, err)
	}
	return nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

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

// Listed is an open dispute in a status list.
type Listed struct {
	State     rules.State
	Partition int
	Since     time.Time // when it took the status, by the processor's clock
}

// List returns up to limit open disputes in the status, partition by
// partition, longest in the status first within a partition. cursor is ""
// for the first page, then the returned next cursor; next is "" after the
// last page.
func (r *Redis) List(ctx context.Context, status rules.Status, partitions int, cursor string, limit int) (items []Listed, next string, err error) {
	if !slices.Contains(indexed, status) {
		return nil, "", fmt.Errorf("list disputes: status %q is not an open status", status)
	}
	p, rank, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	for ; p < partitions && len(items) < limit; p, rank = p+1, 0 {
		zs, err := r.c.ZRangeWithScores(ctx, r.statusKey(p, status), rank, rank+int64(limit-len(items))-1).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list %s disputes of partition %d: %w", status, p, err)
		}
		orders := make([]string, len(zs))
		for i, z := range zs {
			orders[i], _ = z.Member.(string)
		}
		states, err := r.Load(ctx, p, orders)
		if err != nil {
			return nil, "", err
		}
		for i, st := range states {
			items = append(items, Listed{State: st, Partition: p, Since: time.UnixMilli(int64(zs[i].Score)).UTC()})
		}
		if len(items) == limit {
			return items, fmt.Sprintf("%d:%d", p, rank+int64(len(zs))), nil
		}
	}
	return items, "", nil
}

func parseCursor(c string) (int, int64, error) {
	if c == "" {
		return 0, 0, nil
	}
	ps, rs, ok := strings.Cut(c, ":")
	p, err1 := strconv.Atoi(ps)
	rank, err2 := strconv.ParseInt(rs, 10, 64)
	if !ok || err1 != nil || err2 != nil || p < 0 || rank < 0 {
		return 0, 0, fmt.Errorf("list disputes: bad cursor %q", c)
	}
	return p, rank, nil
}

// OpenDisputes counts the open disputes by status over the partitions.
func (r *Redis) OpenDisputes(ctx context.Context, partitions int) (map[rules.Status]int64, error) {
	cmds := make([]*redis.IntCmd, 0, partitions*len(indexed))
	_, err := r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for p := range partitions {
			for _, st := range indexed {
				cmds = append(cmds, pipe.ZCard(ctx, r.statusKey(p, st)))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count open disputes: %w", err)
	}
	out := make(map[rules.Status]int64, len(indexed))
	for i, c := range cmds {
		out[indexed[i%len(indexed)]] += c.Val()
	}
	return out, nil
}
