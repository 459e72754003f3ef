package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// The processor's unit tests: sessions on the in-memory store of
// fakes_test.go, with the real rules.

// pt0 is when the processor tests' stories begin.
var pt0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// inputs numbers the messages of a test's topics as Kafka would. Their
// times are from base (zero: pt0).
type inputs struct {
	base time.Time
	next map[string]int64
}

func (f *inputs) at(d time.Duration) time.Time {
	if f.base.IsZero() {
		return pt0.Add(d)
	}
	return f.base.Add(d)
}

// event is the input of one event on topic, keyed by its order, at base+at.
func (f *inputs) event(topic, typ, order string, at time.Duration, data string) Input {
	return f.eventAt(topic, typ, order, f.at(at), data)
}

func (f *inputs) eventAt(topic, typ, order string, at time.Time, data string) Input {
	if f.next == nil {
		f.next = make(map[string]int64)
	}
	o := f.next[topic]
	f.next[topic]++
	id := fmt.Sprintf("%s-%d", topic, o)
	value := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test","type":%q,"time":%q,"subject":%q,"data":%s}`,
		id, typ, at.Format(time.RFC3339), order, data)
	return decodeInput(Message{Topic: topic, Key: []byte(order), Value: []byte(value), Offset: o, Time: at}, at, time.Minute)
}

// paid is an order paid at base+at whose delivery is due at base+due.
func (f *inputs) paid(order string, at, due time.Duration) Input {
	return f.event("orders", "order.paid", order, at,
		`{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR","delivery_due":"`+f.at(due).Format(time.RFC3339)+`"}`)
}

// delivered is the delivery of an order at base+at.
func (f *inputs) delivered(order string, at time.Duration) Input {
	return f.event("deliveries", "delivery.submitted", order, at, `{}`)
}

// malformed is a message no event can be read from.
func (f *inputs) malformed(topic string) Input {
	if f.next == nil {
		f.next = make(map[string]int64)
	}
	o := f.next[topic]
	f.next[topic]++
	return decodeInput(Message{Topic: topic, Key: []byte("o1"), Value: []byte("not an event"), Offset: o}, pt0, time.Minute)
}

// procFixture is a processor on the in-memory store.
type procFixture struct {
	store   *memStore
	letters *letterSink
	reg     *prometheus.Registry
	proc    *Processor
}

func newProcFixture() *procFixture {
	f := &procFixture{store: newMemStore(), letters: &letterSink{}, reg: prometheus.NewRegistry()}
	f.proc = &Processor{Policy: rules.DefaultPolicy(), Store: f.store, Deadlines: f.store, DeadLetters: f.letters, Metrics: NewMetrics(f.reg)}
	return f
}

func (f *procFixture) open(t *testing.T) *Session {
	t.Helper()
	s, err := f.proc.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apply applies a batch that must be saved.
func (f *procFixture) apply(t *testing.T, s *Session, watermark time.Duration, in ...Input) Result {
	t.Helper()
	res, err := s.Apply(context.Background(), in, pt0.Add(watermark))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

// metric sums the series of a counter or gauge that have the labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestProcessorSaves: a batch's states, deadline, offsets and new mark are
// saved in one step, an input at or below the applied offset is a
// duplicate, and the session knows the next deadline from the save.
func TestProcessorSaves(t *testing.T) {
	f := newProcFixture()
	s := f.open(t)
	var in inputs
	first := in.paid("o1", 0, time.Hour)
	res := f.apply(t, s, 0, first)
	if res.Consumed != 1 || res.Offsets["orders"] != 0 || res.Commands != 0 || res.Fired != 0 {
		t.Fatalf("result %+v, want 1 consumed, offset 0 of orders, no commands, none fired", res)
	}
	cp := s.Checkpoint()
	if next, ok := s.NextDue(); !ok || !next.Equal(pt0.Add(time.Hour)) || cp.Pending != 1 || cp.Mark != s.owner+":1" {
		t.Fatalf("checkpoint %+v, want the delivery deadline next, 1 pending, mark %s:1", cp, s.owner)
	}
	res = f.apply(t, s, 0, first, in.paid("o2", time.Minute, time.Hour))
	if res.Consumed != 2 || res.Offsets["orders"] != 1 {
		t.Fatalf("result %+v, want 2 consumed (one a duplicate), offset 1", res)
	}
	if got := metric(t, f.reg, "disputed_events_total", map[string]string{"result": "duplicate"}); got != 1 {
		t.Errorf("%v duplicates counted, want 1", got)
	}
	if got := f.store.parts[0].orders["o1"].Version; got != 1 {
		t.Errorf("o1 written %d times, want once", got)
	}
}

// TestProcessorConflictCauses: each way the store can refuse a session's
// save is told apart and counted under its cause, the session is over
// (rules.ErrConflict), and the refused batch wrote nothing.
func TestProcessorConflictCauses(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		cause string
		// setup saves what the story needs and returns the session whose
		// next save the store refuses.
		setup func(t *testing.T, f *procFixture, in *inputs) *Session
	}{{
		name:  "another owner wrote the partition",
		cause: conflictOtherOwner,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			stale := f.open(t)
			f.apply(t, stale, 0, in.paid("o1", 0, time.Hour))
			next := f.open(t) // the partition's next owner, after a rebalance
			f.apply(t, next, 0, in.paid("o2", time.Minute, time.Hour))
			return stale
		},
	}, {
		name:  "the store lost this session's last write",
		cause: conflictLostWrites,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			s := f.open(t)
			f.apply(t, s, 0, in.paid("o1", 0, time.Hour))
			before := f.store.snapshot(0)
			f.apply(t, s, 0, in.paid("o2", time.Minute, time.Hour))
			f.store.restore(0, before) // a failover to a replica one write behind
			return s
		},
	}, {
		name:  "the store lost everything",
		cause: conflictLostWrites,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			s := f.open(t)
			f.apply(t, s, 0, in.paid("o1", 0, time.Hour))
			f.store.restore(0, memPartition{offsets: map[string]int64{}, orders: map[string]rules.State{}, timers: map[string]memTimer{}, held: map[string]rules.Refusal{}})
			return s
		},
	}, {
		name:  "the store lost writes of the owner before this session",
		cause: conflictLostWrites,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			old := f.open(t)
			f.apply(t, old, 0, in.paid("o1", 0, time.Hour))
			before := f.store.snapshot(0)
			f.apply(t, old, 0, in.paid("o2", time.Minute, time.Hour))
			s := f.open(t) // opened on old's second write
			f.store.restore(0, before)
			return s
		},
	}, {
		name:  "the write landed but its answer was lost",
		cause: conflictReplyLost,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			s := f.open(t)
			lost := errors.New("i/o timeout (injected)")
			f.store.loseReply = func(rules.Batch) error {
				f.store.loseReply = nil
				return lost
			}
			if _, err := s.Apply(ctx, []Input{in.paid("o1", 0, time.Hour)}, pt0); !errors.Is(err, lost) {
				t.Fatalf("apply: %v, want the lost answer", err)
			}
			return s // its next save is the one whose answer was lost
		},
	}, {
		name:  "an order changed under an unchanged mark",
		cause: conflictState,
		setup: func(t *testing.T, f *procFixture, in *inputs) *Session {
			s := f.open(t)
			f.apply(t, s, 0, in.paid("o1", 0, time.Hour))
			f.store.failSave = func(rules.Batch) error {
				// Between the load and the save, o9 is written under
				// the session's own mark.
				st := f.store.parts[0].orders["o9"]
				st.Version++
				f.store.parts[0].orders["o9"] = st
				return nil
			}
			return s
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newProcFixture()
			var in inputs
			s := tt.setup(t, f, &in)
			before := f.store.snapshot(0)
			next := []Input{in.paid("o9", 0, time.Hour), in.delivered("o9", time.Minute)}
			_, err := s.Apply(ctx, next, pt0.Add(time.Minute))
			if !errors.Is(err, rules.ErrConflict) {
				t.Fatalf("apply: %v, want a conflict", err)
			}
			for _, cause := range []string{conflictOtherOwner, conflictLostWrites, conflictReplyLost, conflictState} {
				want := 0.0
				if cause == tt.cause {
					want = 1
				}
				if got := metric(t, f.reg, "disputed_store_conflicts_total", map[string]string{"cause": cause}); got != want {
					t.Errorf("disputed_store_conflicts_total{cause=%q} = %v, want %v", cause, got, want)
				}
			}
			after := f.store.snapshot(0)
			if after.mark != before.mark || after.seq != before.seq || !maps.Equal(after.offsets, before.offsets) {
				t.Errorf("the refused save wrote: mark %q -> %q, outbox %d -> %d", before.mark, after.mark, before.seq, after.seq)
			}
			if got := metric(t, f.reg, "disputed_events_total", map[string]string{"topic": "deliveries"}); got != 0 {
				t.Errorf("%v events of the refused batch counted, want none", got)
			}
		})
	}
}

// TestProcessorUnknownOrderWaitsForTheMark: a letter saying an order is
// unknown is not sent when the store no longer holds the session's last
// write (it lost the order): the session is over instead.
func TestProcessorUnknownOrderWaitsForTheMark(t *testing.T) {
	f := newProcFixture()
	var in inputs
	s := f.open(t)
	f.apply(t, s, 0, in.paid("o1", 0, time.Hour))
	f.store.restore(0, memPartition{offsets: map[string]int64{}, orders: map[string]rules.State{}, timers: map[string]memTimer{}, held: map[string]rules.Refusal{}})
	_, err := s.Apply(context.Background(), []Input{in.delivered("o1", time.Minute)}, pt0.Add(time.Minute))
	if !errors.Is(err, rules.ErrConflict) {
		t.Fatalf("apply: %v, want a conflict", err)
	}
	if len(f.letters.letters) != 0 {
		t.Errorf("%d letters sent for an order the store lost, want none", len(f.letters.letters))
	}
	if got := metric(t, f.reg, "disputed_store_conflicts_total", map[string]string{"cause": conflictLostWrites}); got != 1 {
		t.Errorf("%v lost-writes conflicts counted, want 1", got)
	}
}

// TestProcessorRefusedSave: a save that fails (Redis unreachable) leaves the
// session as it was; its letters are written once, its events are not
// counted, and the same batch applied again saves under the same mark and
// issues the same commands.
func TestProcessorRefusedSave(t *testing.T) {
	f := newProcFixture()
	var in inputs
	s := f.open(t)
	batch := []Input{in.paid("o1", 0, time.Hour), in.malformed("chats")}
	var marks []string
	down := errors.New("redis unreachable (injected)")
	f.store.failSave = func(b rules.Batch) error {
		marks = append(marks, b.Mark)
		if len(marks) == 1 {
			return down
		}
		return nil
	}
	_, err := s.Apply(context.Background(), batch, pt0.Add(2*time.Hour))
	if !errors.Is(err, down) || errors.Is(err, rules.ErrConflict) {
		t.Fatalf("apply: %v, want the store's error, not a conflict", err)
	}
	if cp := s.Checkpoint(); cp.Mark != "" || cp.OutboxSeq != 0 {
		t.Errorf("the session moved on after a failed save: %+v", cp)
	}
	if got := metric(t, f.reg, "disputed_events_total", nil); got != 0 {
		t.Errorf("%v events counted for a batch not saved", got)
	}
	if got := metric(t, f.reg, "disputed_deadlines_fired_total", nil); got != 0 {
		t.Errorf("%v deadlines counted as fired in a batch not saved", got)
	}
	if len(f.letters.letters) != 1 || len(f.store.waiting(0)) != 0 {
		t.Fatalf("%d letters and %d commands after the failed save, want 1 and none", len(f.letters.letters), len(f.store.waiting(0)))
	}

	res, err := s.Apply(context.Background(), batch, pt0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 2 || marks[0] != marks[1] {
		t.Errorf("saves under marks %v, want the same one twice", marks)
	}
	if len(f.letters.letters) != 1 {
		t.Errorf("%d letters after the retry, want the first one only", len(f.letters.letters))
	}
	// o1's delivery deadline (pt0+1h) fired by the watermark: one notice.
	if res.Consumed != 2 || res.Fired != 1 || res.Commands != 1 || len(f.store.waiting(0)) != 1 {
		t.Errorf("result %+v and outbox %v, want 2 consumed, 1 fired, 1 command", res, f.store.waiting(0))
	}
	if got := metric(t, f.reg, "disputed_events_total", nil); got != 2 {
		t.Errorf("%v events counted, want 2", got)
	}
	if got := metric(t, f.reg, "disputed_deadlines_fired_total", nil); got != 1 {
		t.Errorf("%v deadlines counted as fired, want the one, once", got)
	}
}

// TestProcessorFiresUpToTheWatermark: with nothing to read, the deadlines
// due at or before the watermark fire, and the later ones wait.
func TestProcessorFiresUpToTheWatermark(t *testing.T) {
	f := newProcFixture()
	var in inputs
	s := f.open(t)
	f.apply(t, s, 0, in.paid("o1", 0, time.Hour), in.paid("o2", 0, 3*time.Hour))
	if res := f.apply(t, s, 30*time.Minute); res.Fired != 0 || res.Commands != 0 {
		t.Fatalf("before the deadline: %+v, want nothing fired", res)
	}
	res := f.apply(t, s, time.Hour) // due exactly at the watermark
	if res.Fired != 1 || res.Commands != 1 {
		t.Fatalf("at o1's deadline: %+v, want it fired", res)
	}
	if next, _ := s.NextDue(); !next.Equal(pt0.Add(3 * time.Hour)) {
		t.Fatalf("next due %v, want o2's", next)
	}
	if res := f.apply(t, s, 3*time.Hour); res.Fired != 1 {
		t.Fatalf("at o2's deadline: %+v, want it fired", res)
	}
	if _, ok := s.NextDue(); ok {
		t.Errorf("a deadline is still armed")
	}
}

// TestProcessorDueLimitCutsTheBatch: with more deadlines due than DueLimit,
// a batch goes only as far as the last one read (all of its instant): the
// later inputs wait for the next batch, and no deadline the batch armed
// fires past that cut-off, even though the watermark is later.
func TestProcessorDueLimitCutsTheBatch(t *testing.T) {
	f := newProcFixture()
	f.proc.DueLimit = 2
	var in inputs
	s := f.open(t)
	f.apply(t, s, 0,
		in.paid("o1", 0, time.Hour),
		in.paid("o2", 0, 2*time.Hour), in.paid("o3", 0, 2*time.Hour), // one instant
		in.paid("o4", 0, 3*time.Hour))

	// o5 is paid before the cut-off, with a deadline after it; o6 and
	// o7 are after it.
	batch := []Input{in.paid("o5", 90*time.Minute, 150*time.Minute), in.paid("o6", 4*time.Hour, 9*time.Hour), in.paid("o7", 4*time.Hour, 9*time.Hour)}
	res := f.apply(t, s, 4*time.Hour, batch...)
	if res.Consumed != 1 || res.Fired != 3 || res.Commands != 3 {
		t.Fatalf("result %+v, want o5 consumed and the three deadlines of 1h and 2h fired", res)
	}
	if next, _ := s.NextDue(); !next.Equal(pt0.Add(150 * time.Minute)) {
		t.Fatalf("next due %v, want o5's (2h30), not yet fired", next)
	}

	// The next batch is cut at o4's deadline (o5's and o4's are the two
	// due), and the one after takes the rest.
	res = f.apply(t, s, 4*time.Hour, batch[1:]...)
	if res.Consumed != 0 || res.Fired != 2 || res.Commands != 2 {
		t.Fatalf("result %+v, want nothing consumed, o5's and o4's deadlines fired", res)
	}
	res = f.apply(t, s, 4*time.Hour, batch[1:]...)
	if res.Consumed != 2 || res.Fired != 0 {
		t.Fatalf("result %+v, want the rest consumed, nothing fired", res)
	}
	var orders []string
	for _, id := range f.store.waiting(0) {
		order, _, _ := strings.Cut(id, "/")
		orders = append(orders, order)
	}
	if want := []string{"o1", "o2", "o3", "o5", "o4"}; !slices.Equal(orders, want) {
		t.Errorf("commands of the orders %v (%v), want the deadlines of %v in that order", orders, f.store.waiting(0), want)
	}
}
