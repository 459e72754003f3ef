package consumer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	// DueLimit bounds the deadlines read per batch. Default (zero) 1024.
	DueLimit int
	// Now is the wall clock, for lateness metrics only. Default (nil)
	// time.Now.
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
	engine, cutoff, err := s.plan(ctx, in, watermark)
	if err != nil {
		return Result{Offsets: make(map[string]int64)}, err
	}
	b, err := s.decide(engine, in, cutoff, watermark)
	if err != nil {
		return b.res, err
	}
	if err := s.persist(ctx, b); err != nil {
		return b.res, err
	}
	s.report(ctx, b)
	for _, d := range b.decisions {
		b.res.Commands += len(d.Commands)
	}
	return b.res, nil
}

// plan reads what the batch needs: the deadlines due by the batch's time
// (its last event's, or the watermark when later) and the states of the
// orders they and the events are about, into a fresh engine with the
// deadlines scheduled. cutoff is how far the batch goes: its time, or, with
// more deadlines due than DueLimit, the last deadline read (Due returns the
// whole of its instant); the inputs after it wait for the next batch.
func (s *Session) plan(ctx context.Context, in []Input, watermark time.Time) (engine *rules.Engine, cutoff time.Time, err error) {
	upTo := watermark
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(upTo) {
			upTo = x.Event.Time
		}
	}
	limit := s.p.dueLimit()
	due, err := s.due(ctx, upTo, limit)
	if err != nil {
		return nil, time.Time{}, err
	}
	cutoff = upTo
	if len(due) >= limit {
		cutoff = due[len(due)-1].Time
	}
	engine, err = s.load(ctx, in, due)
	return engine, cutoff, err
}

// due reads up to limit deadlines due by upTo, when the partition's next
// one is.
func (s *Session) due(ctx context.Context, upTo time.Time, limit int) ([]rules.Event, error) {
	if next, ok := s.NextDue(); !ok || next.After(upTo) {
		return nil, nil
	}
	start := time.Now()
	due, err := s.p.Deadlines.Due(ctx, s.part, upTo, limit)
	s.p.Metrics.storeCall("due", start)
	if err != nil {
		return nil, fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	return due, nil
}

// decided is what a batch decided, to persist and then report.
type decided struct {
	res       Result
	decisions []rules.Decision
	fired     []firedDeadline // which decisions a deadline's firing made
	letters   []DeadLetter
	counts    []eventCount
	unknown   bool // a letter says its order is unknown: that depends on the store
}

// decide applies the inputs up to cutoff through engine, each after the
// deadlines due at or before its time, and then fires the deadlines due by
// the watermark, or only by cutoff when inputs were left for the next batch.
func (s *Session) decide(engine *rules.Engine, in []Input, cutoff, watermark time.Time) (*decided, error) {
	b := &decided{
		res:       Result{Offsets: make(map[string]int64)},
		decisions: make([]rules.Decision, 0, len(in)+engine.Scheduled()),
		counts:    make([]eventCount, 0, len(in)),
	}
	for _, x := range in {
		if x.Err == nil && x.Event.Time.After(cutoff) {
			break
		}
		b.res.Consumed++
		if err := s.decideInput(engine, b, x); err != nil {
			return b, err
		}
	}
	fireTo := cutoff
	if b.res.Consumed == len(in) {
		fireTo = watermark
	}
	steps, err := engine.FireUntil(fireTo)
	s.keep(b, steps)
	if err != nil {
		return b, fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	return b, nil
}

// decideInput applies one input, after the deadlines due before it. One at
// or below the offset applied is a duplicate; a malformed one, or one the
// rules find invalid, is a letter.
func (s *Session) decideInput(engine *rules.Engine, b *decided, x Input) error {
	if last, ok := s.Applied(x.Msg.Topic); ok && x.Msg.Offset <= last {
		b.counts = append(b.counts, eventCount{x.Msg.Topic, string(x.Event.Type), resultDuplicate})
		return nil
	}
	b.res.Offsets[x.Msg.Topic] = x.Msg.Offset
	if x.Err != nil {
		if x.misrouted {
			s.p.Metrics.misrouted(x.Msg.Topic, string(x.Event.Type))
		}
		b.letters = append(b.letters, DeadLetter{Msg: x.Msg, Reason: x.Err.Error(), Code: rules.DeadLetterCode(x.Err)})
		b.counts = append(b.counts, eventCount{x.Msg.Topic, inputType(x), resultDeadLetter})
		return nil
	}
	e := x.Event
	steps, err := engine.Apply(e)
	s.keep(b, steps)
	if errors.Is(err, rules.ErrInvalidEvent) {
		b.unknown = b.unknown || errors.Is(err, rules.ErrUnknownOrder)
		b.letters = append(b.letters, DeadLetter{Msg: x.Msg, Reason: err.Error(), Code: rules.DeadLetterCode(err)})
		b.counts = append(b.counts, eventCount{x.Msg.Topic, string(e.Type), resultDeadLetter})
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply %s %s to order %q: %w", e.Type, e.ID, e.OrderID, err)
	}
	b.counts = append(b.counts, eventCount{x.Msg.Topic, string(e.Type), decisionResult(steps[len(steps)-1].Decision)})
	return nil
}

// keep adds the engine's steps to the batch's decisions, remembering which
// were a deadline's firing.
func (s *Session) keep(b *decided, steps []rules.Step) {
	for _, st := range steps {
		if st.Input.Type == rules.TypeDeadline {
			b.res.Fired++
			b.fired = append(b.fired, firedDeadline{len(b.decisions), st.Input})
		}
		b.decisions = append(b.decisions, st.Decision)
	}
}

// persist writes the batch's letters and then saves its effects. A letter
// that an order is unknown goes out only once the store is known to hold
// what this session last wrote.
func (s *Session) persist(ctx context.Context, b *decided) error {
	if b.unknown {
		// An order is unknown if the store does not hold it, which a store
		// that lost writes would say wrongly: make sure it did not before
		// a letter goes out that no save can take back.
		if err := s.checkMark(ctx); err != nil {
			return err
		}
	}
	if err := s.deadLetter(ctx, b.letters); err != nil {
		return err
	}
	if err := s.save(ctx, b.decisions, b.res.Offsets); err != nil {
		return err
	}
	clear(s.lettered) // saved: these offsets are not read again
	return nil
}

// report counts what a saved batch did, and logs its rulings at debug.
func (s *Session) report(ctx context.Context, b *decided) {
	p := s.p
	for _, c := range b.counts {
		p.Metrics.event(c.topic, c.typ, c.result)
	}
	// A line per ruling is a debug line: at info it cost more than deciding
	// the ruling did. A ruling is traceable without it, on JetStream, in
	// the order's state (the API) and in disputed_rulings_total.
	debug := p.logger().Enabled(ctx, slog.LevelDebug)
	fired := b.fired
	now := p.now()
	for i, d := range b.decisions {
		timer := ""
		if len(fired) > 0 && fired[0].decision == i {
			// Counted once saved: a batch retried fires its deadlines
			// again, and they count once.
			if d.Changed {
				p.Metrics.deadlineFired(fired[0].deadline, now)
			}
			timer, fired = fired[0].deadline.TimerID, fired[1:]
		}
		p.Metrics.decided(d, timer)
		if debug {
			s.logRulings(d)
		}
	}
}

// logRulings logs the rulings of a decision.
func (s *Session) logRulings(d rules.Decision) {
	for _, c := range d.Commands {
		if r, ok := c.Body.(*rules.Ruling); ok {
			s.p.logger().Debug("ruling", "order_id", r.OrderID, "ruling_id", r.RulingID, "outcome", r.Outcome,
				"refund_amount", r.RefundAmount, "provider_amount", r.ProviderAmount, "currency", r.Currency,
				"articles", r.Articles, "partition", s.part)
		}
	}
}

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

// firedDeadline says that decisions[decision] is the firing of deadline
// (its TimerID, and its due time as Time).
type firedDeadline struct {
	decision int
	deadline rules.Event
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

func (p *Processor) dueLimit() int {
	if p.DueLimit <= 0 {
		return 1024
	}
	return p.DueLimit
}

func (p *Processor) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

var errDeadLetter = errors.New("dead letter")
