package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// ConflictError is a save refused because the store no longer holds what
// the batch was built on. It wraps rules.ErrConflict.
type ConflictError struct {
	Partition int
	Reason    string
	Mark      string // the partition's mark in the store
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("save batch of partition %d: %s: %v", e.Partition, e.Reason, rules.ErrConflict)
}

func (e *ConflictError) Unwrap() error { return rules.ErrConflict }

// StoredMark is the mark the store holds, for the caller to tell another
// owner's write from its own lost ones.
func (e *ConflictError) StoredMark() string { return e.Mark }

// Open returns partition p's checkpoint: the offsets applied, the mark of
// the last write, and its earliest deadline, in one round trip.
func (r *Redis) Open(ctx context.Context, p int) (rules.Checkpoint, error) {
	var (
		offsets *redis.MapStringStringCmd
		meta    *redis.SliceCmd
		head    *redis.ZSliceCmd
		pending *redis.IntCmd
	)
	// With durability replicas, what the partition holds is made durable
	// first: its commands may be published once it is.
	err := r.replicate(ctx, r.key(p, "meta"), func(pipe redis.Pipeliner) {
		if r.cfg.Durability.Mode == DurabilityReplicas {
			pipe.HIncrBy(ctx, r.key(p, "meta"), "w", 1)
		}
		offsets = pipe.HGetAll(ctx, r.key(p, "offsets"))
		meta = pipe.HMGet(ctx, r.key(p, "meta"), "m", "o")
		head = pipe.ZRangeWithScores(ctx, r.key(p, "timers"), 0, 0)
		pending = pipe.ZCard(ctx, r.key(p, "timers"))
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return rules.Checkpoint{}, fmt.Errorf("open partition %d: %w", p, err)
	}
	cp := rules.Checkpoint{Offsets: make(map[string]int64), Pending: pending.Val()}
	if m := meta.Val(); len(m) == 2 {
		cp.Mark, _ = m[0].(string)
		if o, ok := m[1].(string); ok {
			cp.OutboxSeq, _ = strconv.ParseInt(o, 10, 64)
		}
	}
	for t, v := range offsets.Val() {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return rules.Checkpoint{}, fmt.Errorf("open partition %d: offset of topic %q: %w", p, t, err)
		}
		cp.Offsets[t] = n
	}
	if zs := head.Val(); len(zs) > 0 {
		cp.NextDue = time.UnixMilli(int64(zs[0].Score)).UTC()
	}
	return cp, nil
}

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
	if err := decodeState([]byte(s), st); err != nil {
		return false, fmt.Errorf("decode state: %w", err)
	}
	if v, ok := vals[1].(string); ok {
		st.Version, _ = strconv.ParseInt(v, 10, 64)
	}
	return true, nil
}

// Save writes the effects of a batch of partition p, in the order they were
// made, in one atomic step: each changed order's final state, the net
// deadline changes, the commands appended to the outbox, the offsets, and
// b.Mark as the partition's mark. It returns the checkpoint after the write.
//
// Nothing is written if the partition's mark is not b.Prev, if an order's
// version is no longer the one the batch loaded, or if a topic's stored
// offset is already at or past the batch's: Save then returns a
// *ConflictError (rules.ErrConflict). The first decision of each order
// must carry the State.Version it was loaded with; later decisions of the
// same order chain on it.
func (r *Redis) Save(ctx context.Context, p int, b rules.Batch) (rules.Checkpoint, error) {
	w, err := r.encode(p, b)
	if err != nil {
		return rules.Checkpoint{}, err
	}
	res, err := r.runSave(ctx, w)
	if err != nil {
		return rules.Checkpoint{}, fmt.Errorf("save batch of partition %d: %w", p, err)
	}
	if len(res) != 4 && len(res) != 2 {
		return rules.Checkpoint{}, fmt.Errorf("save batch of partition %d: the script answered %v", p, res)
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		cp := rules.Checkpoint{Mark: b.Mark}
		if s, _ := res[1].(string); s != "" {
			ms, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return rules.Checkpoint{}, fmt.Errorf("save batch of partition %d: next due %q: %w", p, s, err)
			}
			cp.NextDue = time.UnixMilli(int64(ms)).UTC()
		}
		cp.Pending, _ = res[2].(int64)
		cp.OutboxSeq, _ = res[3].(int64)
		return cp, nil
	case 0:
		i, _ := res[1].(int64)
		return rules.Checkpoint{}, &ConflictError{Partition: p, Mark: b.Prev, Reason: fmt.Sprintf("order %q changed since it was loaded", w.orders[i-1])}
	case 2:
		return rules.Checkpoint{}, &ConflictError{Partition: p, Mark: b.Prev, Reason: "offsets already applied"}
	default:
		mark, _ := res[1].(string)
		return rules.Checkpoint{}, &ConflictError{Partition: p, Mark: mark, Reason: fmt.Sprintf("the partition's last write is %q, not %q", mark, b.Prev)}
	}
}

// runSave runs the save script and, with durability replicas, waits until
// the replicas have what it wrote (durability.go).
func (r *Redis) runSave(ctx context.Context, w write) ([]any, error) {
	var cmd *redis.Cmd
	run := func(eval bool) error {
		return r.replicate(ctx, w.keys[3], func(p redis.Pipeliner) { // keys[3] is meta
			if eval {
				cmd = r.save.Eval(ctx, p, w.keys, w.args...)
			} else {
				cmd = r.save.EvalSha(ctx, p, w.keys, w.args...)
			}
		})
	}
	err := run(false)
	if err != nil && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		err = run(true) // a server that has not seen the script yet (a restart, a failover)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Slice()
}

type write struct {
	keys   []string
	args   []any
	orders []string
}

// encode lays a batch out as the save script's KEYS and ARGV (see save.lua).
func (r *Redis) encode(p int, b rules.Batch) (write, error) {
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
	var outbox []any
	var buf []byte // reused: each entry and state is copied out as a string
	now := strconv.FormatInt(r.cfg.Now().UnixMilli(), 10)
	for i := range b.Decisions {
		d := &b.Decisions[i]
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
			entry, err := appendEntry(buf[:0], c, now)
			if err != nil {
				return w, fmt.Errorf("save batch of partition %d: %w", p, err)
			}
			buf = entry
			outbox = append(outbox, string(entry))
		}
	}
	open := rules.OpenStatuses()
	w.keys = []string{r.key(p, "timers"), r.key(p, "outbox"), r.key(p, "offsets"), r.key(p, "meta")}
	for _, st := range open {
		w.keys = append(w.keys, r.statusKey(p, st))
	}
	w.args = []any{len(orders), len(b.Offsets), r.cfg.Retention.Milliseconds(), now, b.Prev, b.Mark, len(open)}
	for _, st := range open {
		w.args = append(w.args, string(st))
	}
	for j, n := range orders {
		w.keys = append(w.keys, r.orderKey(p, w.orders[j]))
		enc, closed, status := "", "0", ""
		if n.state != nil {
			buf = encodeState(buf[:0], n.state)
			enc = string(buf)
			if n.state.Status == rules.StatusRuled || n.state.Status == rules.StatusAccepted {
				closed = "1"
			}
			status = string(n.state.Status)
		}
		w.args = append(w.args, w.orders[j], n.version, enc, closed, status)
	}
	for _, t := range slices.Sorted(maps.Keys(b.Offsets)) {
		w.args = append(w.args, t, b.Offsets[t])
	}
	w.args = append(w.args, len(timerOrder))
	for _, m := range timerOrder {
		op := timers[m]
		if op.arm {
			w.args = append(w.args, "a", m, op.score)
		} else {
			w.args = append(w.args, "d", m, 0)
		}
	}
	w.args = append(w.args, outbox...)
	return w, nil
}
