package consumer

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/disputed/disputed/rules"
)

// Store is the store of record. Calls for one partition come only from that
// partition's owner, one at a time.
type Store interface {
	// Load returns the states of the orders, the zero State for unknown ones,
	// in one round trip.
	Load(ctx context.Context, partition int, orders []string) ([]rules.State, error)
	// Save writes the effects of the decisions and the offsets consumed
	// (topic to last offset) in one atomic step, or nothing and an error
	// wrapping rules.ErrConflict when another writer got there first.
	Save(ctx context.Context, partition int, ds []rules.Decision, offsets map[string]int64) error
	// Offsets returns the last offset applied per topic.
	Offsets(ctx context.Context, partition int) (map[string]int64, error)
	// Due returns up to limit deadlines due at or before t, earliest first.
	Due(ctx context.Context, partition int, t time.Time, limit int) ([]rules.Event, error)
	// NextDue returns the earliest pending deadline, if any.
	NextDue(ctx context.Context, partition int) (time.Time, bool, error)
	// PendingDeadlines counts the deadlines armed.
	PendingDeadlines(ctx context.Context, partition int) (int64, error)
}

// DeadLetterer sends malformed input to the dead-letter topic. It must be
// durable when it returns: the offsets are committed after it.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, letters ...DeadLetter) error
}

// DeadLetter is a message that could not be applied, and why.
type DeadLetter struct {
	Msg    Message
	Reason string
}

// Message is one Kafka message, as read.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time // the broker's timestamp
}

// Input is a message of a partition with its decoded event, or the error
// that makes it malformed.
type Input struct {
	Msg   Message
	Event rules.Event
	Err   error // wraps rules.ErrInvalidEvent

	src int // index of the topic, for the merger
}

// Processor applies batches of one partition's inputs and fired deadlines
// through the rules, and saves their effects. It keeps no state of its own
// between batches: a partition can move to another Processor at any batch
// boundary.
type Processor struct {
	Policy      rules.Policy
	Store       Store
	DeadLetters DeadLetterer
	Metrics     *Metrics
	Logger      *slog.Logger
	// DueLimit bounds the deadlines read per batch. Default 1024.
	DueLimit int
	// Now is the wall clock, for lateness metrics only. Default time.Now.
	Now func() time.Time
}

// Result says what a batch did.
type Result struct {
	// Consumed is how many inputs of the batch were applied (or
	// dead-lettered); the rest come again in the next batch. It is less
	// than the batch only when more deadlines were due than DueLimit.
	Consumed int
	// Offsets holds the last offset consumed per topic, to commit.
	Offsets map[string]int64
	// Commands is how many commands went to the outbox.
	Commands int
	// Fired is how many deadlines fired (stale ones included).
	Fired int
	// TimerChanges is how many deadlines the batch armed or disarmed: with
	// none, and none fired, the partition's next deadline is unchanged.
	TimerChanges int
}

// Apply applies inputs in order. Before each event, every deadline of the
// partition due at or before the event's time fires, earliest first, exactly
// as `disputed replay` does; after the last, every deadline due at or before
// horizon fires. Inputs at or below applied (topic to offset, the store's
// applied offsets) are skipped. The effects are saved in one atomic step
// before Apply returns; dead letters are written before that.
//
// nextDue is the partition's earliest pending deadline as the caller knows
// it, or the zero time when it does not know: when it is later than every
// time of the batch, Apply skips reading the due deadlines from the store.
func (p *Processor) Apply(ctx context.Context, partition int, in []Input, applied map[string]int64, horizon, nextDue time.Time) (Result, error) {
	res := Result{Offsets: make(map[string]int64)}
	limit := p.DueLimit
	if limit <= 0 {
		limit = 1024
	}
	upTo := horizon
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(upTo) {
			upTo = x.Event.Time
		}
	}
	var due []rules.Event
	if nextDue.IsZero() || !nextDue.After(upTo) {
		start := time.Now()
		var err error
		due, err = p.Store.Due(ctx, partition, upTo, limit)
		p.Metrics.storeCall("due", start)
		if err != nil {
			return res, fmt.Errorf("apply batch of partition %d: %w", partition, err)
		}
	}
	// With more deadlines due than the limit, this batch goes only as far
	// as the last deadline read; the rest of the inputs wait.
	cutoff := upTo
	if len(due) == limit {
		cutoff = due[len(due)-1].Time
	}

	orders := make([]string, 0, len(in)+len(due))
	seen := make(map[string]bool)
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			orders = append(orders, o)
		}
	}
	for _, d := range due {
		add(d.OrderID)
	}
	for _, x := range in {
		if x.Err == nil {
			add(x.Event.OrderID)
		}
	}
	start := time.Now()
	loaded, err := p.Store.Load(ctx, partition, orders)
	p.Metrics.storeCall("load", start)
	if err != nil {
		return res, fmt.Errorf("apply batch of partition %d: %w", partition, err)
	}
	b := batch{p: p, partition: partition, states: make(map[string]rules.State, len(orders))}
	for i, o := range orders {
		b.states[o] = loaded[i]
	}
	for _, d := range due {
		heap.Push(&b.timers, d)
	}

	var letters []DeadLetter
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(cutoff) {
			break
		}
		res.Consumed++
		if last, ok := applied[x.Msg.Topic]; ok && x.Msg.Offset <= last {
			p.Metrics.event(x.Msg.Topic, string(x.Event.Type), resultDuplicate)
			continue
		}
		res.Offsets[x.Msg.Topic] = x.Msg.Offset
		if x.Err != nil {
			letters = append(letters, DeadLetter{Msg: x.Msg, Reason: x.Err.Error()})
			p.Metrics.event(x.Msg.Topic, "", resultDeadLetter)
			continue
		}
		e := x.Event
		if err := b.fireUntil(e.Time); err != nil {
			return res, err
		}
		d, err := p.Policy.Apply(b.states[e.OrderID], e, e.Time)
		if errors.Is(err, rules.ErrInvalidEvent) {
			letters = append(letters, DeadLetter{Msg: x.Msg, Reason: err.Error()})
			p.Metrics.event(x.Msg.Topic, string(e.Type), resultDeadLetter)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("apply %s %s to order %q: %w", e.Type, e.ID, e.OrderID, err)
		}
		if e.Type.Topic() != x.Msg.Topic {
			p.Metrics.misrouted(x.Msg.Topic, string(e.Type))
		}
		p.Metrics.event(x.Msg.Topic, string(e.Type), decisionResult(d))
		b.keep(d)
	}
	if res.Consumed == len(in) {
		if err := b.fireUntil(horizon); err != nil {
			return res, err
		}
	} else if err := b.fireUntil(cutoff); err != nil {
		return res, err
	}
	res.Fired = b.fired

	if len(letters) > 0 {
		if err := p.DeadLetters.DeadLetter(ctx, letters...); err != nil {
			return res, fmt.Errorf("apply batch of partition %d: %w %d messages: %w", partition, errDeadLetter, len(letters), err)
		}
		for _, l := range letters {
			p.logger().Warn("dead letter", "order_id", string(l.Msg.Key), "topic", l.Msg.Topic,
				"partition", l.Msg.Partition, "offset", l.Msg.Offset, "reason", l.Reason)
		}
	}
	start = time.Now()
	err = p.Store.Save(ctx, partition, b.decisions, res.Offsets)
	p.Metrics.storeCall("save", start)
	if err != nil {
		return res, fmt.Errorf("apply batch of partition %d: %w", partition, err)
	}
	for _, d := range b.decisions {
		res.Commands += len(d.Commands)
		res.TimerChanges += len(d.Arm) + len(d.Disarm)
		p.Metrics.decided(d)
		for _, c := range d.Commands {
			if r, ok := c.Body.(*rules.Ruling); ok {
				p.logger().Info("ruling", "order_id", r.OrderID, "ruling_id", r.RulingID, "outcome", r.Outcome,
					"refund_amount", r.RefundAmount, "provider_amount", r.ProviderAmount, "currency", r.Currency,
					"articles", r.Articles, "partition", partition)
			}
		}
	}
	return res, nil
}

func (p *Processor) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Processor) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// batch is the working set of one Apply: the states as the batch leaves
// them, the deadlines known to be pending, and the decisions made.
type batch struct {
	p         *Processor
	partition int
	states    map[string]rules.State
	timers    dueQueue
	decisions []rules.Decision
	fired     int
}

func (b *batch) keep(d rules.Decision) {
	if d.Changed {
		b.states[d.State.OrderID] = d.State
	}
	for _, t := range d.Arm {
		heap.Push(&b.timers, rules.Event{Type: rules.TypeDeadline, OrderID: d.State.OrderID, TimerID: t.ID, Time: t.At})
	}
	b.decisions = append(b.decisions, d)
}

// fireUntil fires the pending deadlines due at or before t, earliest first.
// A deadline disarmed earlier in the batch is stale: Apply ignores it.
func (b *batch) fireUntil(t time.Time) error {
	for len(b.timers) > 0 && !b.timers[0].Time.After(t) {
		e := heap.Pop(&b.timers).(rules.Event)
		d, err := b.p.Policy.Apply(b.states[e.OrderID], e, e.Time)
		if err != nil {
			return fmt.Errorf("fire deadline %s of order %q: %w", e.TimerID, e.OrderID, err)
		}
		b.fired++
		if d.Changed {
			b.p.Metrics.deadlineFired(e, b.p.now())
		}
		b.keep(d)
	}
	return nil
}

// dueQueue orders deadlines as rules.Replay does: by due time, then order,
// then timer ID.
type dueQueue []rules.Event

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].Time.Equal(q[j].Time) {
		return q[i].Time.Before(q[j].Time)
	}
	if q[i].OrderID != q[j].OrderID {
		return q[i].OrderID < q[j].OrderID
	}
	return q[i].TimerID < q[j].TimerID
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(rules.Event)) }
func (q *dueQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
