package consumer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/rules"
)

// Processor applies batches of a partition's inputs, and the deadlines that
// fall due among them, through the rules engine, and saves their effects. It
// keeps nothing between batches but what a Session holds, so a partition can
// move to another member at any batch boundary.
type Processor struct {
	Policy      rules.Policy
	Store       Store
	Deadlines   Deadlines
	DeadLetters DeadLetterer
	Metrics     *Metrics
	Logger      *slog.Logger
	// DueLimit bounds the deadlines read per batch. Default 1024.
	DueLimit int
	// Now is the wall clock, for lateness metrics only. Default time.Now.
	Now func() time.Time
}

// Session is one owner's hold on a partition: where the store of record
// stands (its checkpoint) and the marks this owner writes. Every save must
// present the mark of the last one, so a store that lost writes, or that
// another owner wrote, is never built on: the session ends (ErrConflict) and
// the partition is opened again from what the store holds. A Session is not
// safe for concurrent use.
type Session struct {
	p      *Processor
	part   int
	cp     rules.Checkpoint
	owner  string // prefix of every mark this session writes
	seq    int64
	opened string // the store's mark when the session began
	// lettered are the messages dead-lettered for the batch being retried:
	// a retry does not write them again.
	lettered map[letterKey]bool
}

type letterKey struct {
	topic  string
	offset int64
}

// Open starts a session on the partition from the store's checkpoint.
func (p *Processor) Open(ctx context.Context, partition int) (*Session, error) {
	cp, err := p.Store.Open(ctx, partition)
	if err != nil {
		return nil, fmt.Errorf("open partition %d: %w", partition, err)
	}
	var b [8]byte
	rand.Read(b[:])
	return &Session{p: p, part: partition, cp: cp, owner: hex.EncodeToString(b[:]), opened: cp.Mark}, nil
}

// Applied returns the last offset applied of the topic, if any.
func (s *Session) Applied(topic string) (int64, bool) {
	o, ok := s.cp.Offsets[topic]
	return o, ok
}

// NextDue returns when the partition's earliest deadline is due.
func (s *Session) NextDue() (time.Time, bool) {
	return s.cp.NextDue, !s.cp.NextDue.IsZero()
}

// Checkpoint returns the store's checkpoint as of the last save.
func (s *Session) Checkpoint() rules.Checkpoint { return s.cp }

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
}

// Apply applies inputs in order. Before each event, every deadline of the
// partition due at or before the event's time fires, earliest first, exactly
// as `disputed replay` does; after the last, every deadline due at or before
// watermark fires. Inputs at or below the offsets applied are skipped. The
// effects are saved in one atomic step before Apply returns; dead letters are
// written before that.
//
// An error wrapping rules.ErrConflict means the store no longer holds what
// the session last wrote: the session is over, and the partition must be
// opened again. Any other error leaves the session as it was: the batch may
// be applied again.
func (s *Session) Apply(ctx context.Context, in []Input, watermark time.Time) (Result, error) {
	p := s.p
	res := Result{Offsets: make(map[string]int64)}
	limit := p.DueLimit
	if limit <= 0 {
		limit = 1024
	}
	upTo := watermark
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(upTo) {
			upTo = x.Event.Time
		}
	}
	var due []rules.Event
	if next, ok := s.NextDue(); ok && !next.After(upTo) {
		start := time.Now()
		var err error
		due, err = p.Deadlines.Due(ctx, s.part, upTo, limit)
		p.Metrics.storeCall("due", start)
		if err != nil {
			return res, fmt.Errorf("apply batch of partition %d: %w", s.part, err)
		}
	}
	// With more deadlines due than the limit, this batch goes only as far
	// as the last deadline read (Due returns the whole of its instant);
	// the rest of the inputs wait.
	cutoff := upTo
	if len(due) >= limit {
		cutoff = due[len(due)-1].Time
	}

	engine, err := s.load(ctx, in, due)
	if err != nil {
		return res, err
	}
	var (
		decisions = make([]rules.Decision, 0, len(in)+len(due))
		fired     []firedDeadline // which decisions a deadline's firing made
		letters   []DeadLetter
		counts    = make([]eventCount, 0, len(in))
		unknown   bool // a letter says its order is unknown: that depends on the store
	)
	keep := func(steps []rules.Step) {
		for _, st := range steps {
			if st.Input.Type == rules.TypeDeadline {
				res.Fired++
				if st.Decision.Changed {
					p.Metrics.deadlineFired(st.Input, p.now())
				}
				fired = append(fired, firedDeadline{len(decisions), st.Input.TimerID})
			}
			decisions = append(decisions, st.Decision)
		}
	}
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(cutoff) {
			break
		}
		res.Consumed++
		if last, ok := s.Applied(x.Msg.Topic); ok && x.Msg.Offset <= last {
			counts = append(counts, eventCount{x.Msg.Topic, string(x.Event.Type), resultDuplicate})
			continue
		}
		res.Offsets[x.Msg.Topic] = x.Msg.Offset
		if x.Err != nil {
			letters = append(letters, DeadLetter{Msg: x.Msg, Reason: x.Err.Error()})
			counts = append(counts, eventCount{x.Msg.Topic, inputType(x), resultDeadLetter})
			continue
		}
		e := x.Event
		steps, err := engine.Apply(e)
		keep(steps)
		if errors.Is(err, rules.ErrInvalidEvent) {
			unknown = unknown || errors.Is(err, rules.ErrUnknownOrder)
			letters = append(letters, DeadLetter{Msg: x.Msg, Reason: err.Error()})
			counts = append(counts, eventCount{x.Msg.Topic, string(e.Type), resultDeadLetter})
			continue
		}
		if err != nil {
			return res, fmt.Errorf("apply %s %s to order %q: %w", e.Type, e.ID, e.OrderID, err)
		}
		if x.misrouted {
			p.Metrics.misrouted(x.Msg.Topic, string(e.Type))
		}
		counts = append(counts, eventCount{x.Msg.Topic, string(e.Type), decisionResult(steps[len(steps)-1].Decision)})
	}
	fireTo := cutoff
	if res.Consumed == len(in) {
		fireTo = watermark
	}
	steps, err := engine.FireUntil(fireTo)
	keep(steps)
	if err != nil {
		return res, fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}

	if unknown {
		// An order is unknown if the store does not hold it, which a store
		// that lost writes would say wrongly: make sure it did not before
		// a letter goes out that no save can take back.
		if err := s.checkMark(ctx); err != nil {
			return res, err
		}
	}
	if err := s.deadLetter(ctx, letters); err != nil {
		return res, err
	}
	if err := s.save(ctx, decisions, res.Offsets); err != nil {
		return res, err
	}
	clear(s.lettered) // saved: these offsets are not read again
	for _, c := range counts {
		p.Metrics.event(c.topic, c.typ, c.result)
	}
	// A line per ruling is a debug line: at info it cost more than deciding
	// the ruling did. A ruling is traceable without it, on JetStream, in
	// the order's state (the API) and in disputed_rulings_total.
	debug := p.logger().Enabled(ctx, slog.LevelDebug)
	for i, d := range decisions {
		res.Commands += len(d.Commands)
		timer := ""
		if len(fired) > 0 && fired[0].decision == i {
			timer, fired = fired[0].timer, fired[1:]
		}
		p.Metrics.decided(d, timer)
		if !debug {
			continue
		}
		for _, c := range d.Commands {
			if r, ok := c.Body.(*rules.Ruling); ok {
				p.logger().Debug("ruling", "order_id", r.OrderID, "ruling_id", r.RulingID, "outcome", r.Outcome,
					"refund_amount", r.RefundAmount, "provider_amount", r.ProviderAmount, "currency", r.Currency,
					"articles", r.Articles, "partition", s.part)
			}
		}
	}
	return res, nil
}

// checkMark returns an error wrapping rules.ErrConflict when the store no
// longer holds the mark this session last wrote.
func (s *Session) checkMark(ctx context.Context) error {
	cp, err := s.p.Store.Open(ctx, s.part)
	if err != nil {
		return fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	if cp.Mark != s.cp.Mark {
		err := &markError{stored: cp.Mark}
		s.p.Metrics.conflict(s.conflictCause(err, ""))
		return fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	return nil
}

// markError is a store found holding another mark than the session's.
type markError struct{ stored string }

func (e *markError) Error() string {
	return fmt.Sprintf("the store's last write is %q, not this session's: %v", e.stored, rules.ErrConflict)
}
func (e *markError) Unwrap() error      { return rules.ErrConflict }
func (e *markError) StoredMark() string { return e.stored }

// deadLetter writes the letters not written yet by an earlier attempt at
// the same batch, and remembers them until the batch is saved.
func (s *Session) deadLetter(ctx context.Context, letters []DeadLetter) error {
	var todo []DeadLetter
	for _, l := range letters {
		if !s.lettered[letterKey{l.Msg.Topic, l.Msg.Offset}] {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := s.p.DeadLetters.DeadLetter(ctx, todo...); err != nil {
		return fmt.Errorf("apply batch of partition %d: %w %d messages: %w", s.part, errDeadLetter, len(todo), err)
	}
	if s.lettered == nil {
		s.lettered = make(map[letterKey]bool)
	}
	for _, l := range todo {
		s.lettered[letterKey{l.Msg.Topic, l.Msg.Offset}] = true
		key := l.Msg.Key
		if len(key) > 256 {
			key = key[:256]
		}
		s.p.logger().Warn("dead letter", "order_id", string(key), "topic", l.Msg.Topic,
			"partition", l.Msg.Partition, "offset", l.Msg.Offset, "reason", l.Reason)
	}
	return nil
}

// load reads the states the batch needs, those of its events and of the
// deadlines due, in one round trip, into a fresh engine with the deadlines
// scheduled.
func (s *Session) load(ctx context.Context, in []Input, due []rules.Event) (*rules.Engine, error) {
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
	states, err := s.p.Store.Load(ctx, s.part, orders)
	s.p.Metrics.storeCall("load", start)
	if err != nil {
		return nil, fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	engine := rules.NewEngine(s.p.Policy)
	for i, st := range states {
		if st.OrderID == "" {
			continue // not stored: new
		}
		if st.OrderID != orders[i] {
			return nil, fmt.Errorf("apply batch of partition %d: the store returned order %q for %q", s.part, st.OrderID, orders[i])
		}
		engine.Put(st)
	}
	for _, d := range due {
		engine.Schedule(d.OrderID, d.TimerID, d.Time)
	}
	return engine, nil
}

// save writes the batch with the session's next mark. Nothing changed and
// nothing consumed writes nothing.
func (s *Session) save(ctx context.Context, ds []rules.Decision, offsets map[string]int64) error {
	if len(offsets) == 0 && !changes(ds) {
		return nil
	}
	mark := s.owner + ":" + strconv.FormatInt(s.seq+1, 10)
	start := time.Now()
	cp, err := s.p.Store.Save(ctx, s.part, rules.Batch{Decisions: ds, Offsets: offsets, Prev: s.cp.Mark, Mark: mark})
	s.p.Metrics.storeCall("save", start)
	if err != nil {
		if errors.Is(err, rules.ErrConflict) {
			s.p.Metrics.conflict(s.conflictCause(err, mark))
		}
		return fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	s.seq++
	s.cp = cp
	return nil
}

// Conflict causes, the label values of disputed_store_conflicts_total.
const (
	conflictOtherOwner = "other_owner" // another member wrote the partition (a stale owner after a rebalance)
	conflictLostWrites = "lost_writes" // the store went back before this session's own last write
	conflictReplyLost  = "reply_lost"  // the write landed but its answer did not arrive
	conflictState      = "state"       // an order or an offset changed under an unchanged mark
)

// conflictCause tells why a save was refused, from the mark the store holds.
func (s *Session) conflictCause(err error, attempted string) string {
	var mh markHolder
	if !errors.As(err, &mh) {
		return conflictState
	}
	stored := mh.StoredMark()
	switch {
	case stored == attempted:
		return conflictReplyLost
	case stored == s.cp.Mark:
		return conflictState
	case stored == "":
		return conflictLostWrites
	}
	owner, seq := splitMark(stored)
	if owner == s.owner {
		return conflictLostWrites // one of ours, older than our last
	}
	if o, n := splitMark(s.opened); owner == o && seq <= n {
		return conflictLostWrites // from before we opened the partition
	}
	return conflictOtherOwner
}

// splitMark splits a mark into its owner and sequence number.
func splitMark(m string) (string, int64) {
	owner, seq, _ := strings.Cut(m, ":")
	n, _ := strconv.ParseInt(seq, 10, 64)
	return owner, n
}

// changes reports whether any decision has something to write.
func changes(ds []rules.Decision) bool {
	for _, d := range ds {
		if d.Changed || len(d.Commands) > 0 || len(d.Arm) > 0 || len(d.Disarm) > 0 {
			return true
		}
	}
	return false
}

type eventCount struct{ topic, typ, result string }

// firedDeadline says that decisions[decision] is the firing of a deadline.
type firedDeadline struct {
	decision int
	timer    string
}

// inputType is the type of a malformed input, for its count: the one its
// message named when the decoder read that far, else "" (unknown).
func inputType(x Input) string {
	if x.Event.Type != "" {
		return string(x.Event.Type) // decoded, then refused by the stream's checks
	}
	var fe *rules.FieldError
	if errors.As(x.Err, &fe) {
		return string(fe.Type)
	}
	return ""
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

var errDeadLetter = errors.New("dead letter")
