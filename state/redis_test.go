package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*state.Redis, *redis.Client, *testserver.Redis) {
	t.Helper()
	srv := testserver.StartRedis(t)
	c := srv.Client()
	return state.NewRedis(c, state.Config{Prefix: "test", Retention: time.Hour, Now: func() time.Time { return t0 }}), c, srv
}

// decide runs events through the engine from the given state.
func decide(t *testing.T, s rules.State, events ...rules.Event) []rules.Decision {
	t.Helper()
	p := rules.DefaultPolicy()
	var out []rules.Decision
	for _, e := range events {
		d, err := p.Apply(s, e, e.Time)
		if err != nil {
			t.Fatalf("apply %s: %v", e.Type, err)
		}
		out = append(out, d)
		s = d.State
	}
	return out
}

func paid(order string, at time.Time, due time.Time) rules.Event {
	return rules.Event{ID: order + "-paid", Type: rules.TypeOrderPaid, Time: at, OrderID: order, Data: rules.Data{
		CustomerID: "c", ProviderID: "p", Category: rules.SoftwareApp, Amount: 1000, Currency: "EUR", DeliveryDue: due,
	}}
}

// save writes a batch as the partition's owner does: on the mark the store
// holds, with a new one.
func save(ctx context.Context, st *state.Redis, p int, ds []rules.Decision, offsets map[string]int64) (rules.Checkpoint, error) {
	cp, err := st.Open(ctx, p)
	if err != nil {
		return cp, err
	}
	marks++
	return st.Save(ctx, p, rules.Batch{Decisions: ds, Offsets: offsets, Prev: cp.Mark, Mark: fmt.Sprintf("test:%d", marks)})
}

var marks int

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	ds := decide(t, rules.State{}, paid("o1", t0, t0.Add(48*time.Hour)))
	cp, err := save(ctx, st, 3, ds, map[string]int64{"orders": 7})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx, 3, []string{"o1", "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Version != 1 || got[0].Status != rules.StatusPaid || got[0].Order.Amount != 1000 {
		t.Errorf("loaded %+v, want version 1, paid, amount 1000", got[0])
	}
	if got[1].Status != rules.StatusNew || got[1].Version != 0 {
		t.Errorf("unknown order loaded as %+v, want the zero state", got[1])
	}
	if !cp.NextDue.Equal(t0.Add(48*time.Hour)) || cp.Pending != 1 {
		t.Errorf("saved checkpoint: next due %v, %d pending; want the delivery deadline, 1", cp.NextDue, cp.Pending)
	}
	open, err := st.Open(ctx, 3)
	if err != nil || open.Offsets["orders"] != 7 || open.Mark != cp.Mark || !open.NextDue.Equal(cp.NextDue) || open.Pending != 1 {
		t.Errorf("Open = %+v, %v; want orders:7, the saved mark %q and the delivery deadline", open, err, cp.Mark)
	}
	// Another partition is another key space.
	if other, _ := st.Load(ctx, 2, []string{"o1"}); other[0].Status != rules.StatusNew {
		t.Errorf("partition 2 sees order o1 of partition 3")
	}
}

func TestSaveConflicts(t *testing.T) {
	ctx := context.Background()
	st, c, _ := newStore(t)
	first := decide(t, rules.State{}, paid("o1", t0, time.Time{}))
	cp, err := st.Save(ctx, 0, rules.Batch{Decisions: first, Offsets: map[string]int64{"orders": 1}, Mark: "a:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		ds         []rules.Decision
		offsets    map[string]int64
		prev       string
		storedMark string // what the conflict must report
	}{
		{"stale version", decide(t, rules.State{}, paid("o1", t0, time.Time{})), nil, cp.Mark, "a:1"},
		{"offset already applied", nil, map[string]int64{"orders": 1}, cp.Mark, "a:1"},
		{"offset below applied", nil, map[string]int64{"orders": 0}, cp.Mark, "a:1"},
		{"another owner's mark", nil, map[string]int64{"orders": 5}, "b:7", "a:1"},
		{"a mark the store never had", nil, map[string]int64{"orders": 5}, "a:2", "a:1"},
		{"no mark, the store has one", nil, map[string]int64{"orders": 5}, "", "a:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := c.Keys(ctx, "test:*").Result()
			_, err := st.Save(ctx, 0, rules.Batch{Decisions: tt.ds, Offsets: tt.offsets, Prev: tt.prev, Mark: "x:1"})
			if !errors.Is(err, rules.ErrConflict) {
				t.Fatalf("Save = %v, want ErrConflict", err)
			}
			var ce *state.ConflictError
			if !errors.As(err, &ce) || ce.StoredMark() != tt.storedMark {
				t.Errorf("conflict %v tells the stored mark %q, want %q", err, ce.StoredMark(), tt.storedMark)
			}
			after, _ := c.Keys(ctx, "test:*").Result()
			if len(before) != len(after) {
				t.Errorf("a refused save wrote keys: %v -> %v", before, after)
			}
		})
	}
	if cp, _ := st.Open(ctx, 0); cp.Mark != "a:1" || cp.Offsets["orders"] != 1 {
		t.Errorf("after refused saves the checkpoint is %+v, want mark a:1 and orders:1", cp)
	}
	loaded, _ := st.Load(ctx, 0, []string{"o1"})
	if loaded[0].Version != 1 {
		t.Errorf("version = %d after refused saves, want 1", loaded[0].Version)
	}
}

func TestTimersNetChangesAndDueOrder(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	// Two orders with deadlines; the second order's is disarmed by delivery
	// in the same batch, so it must never reach the sorted set.
	ds := decide(t, rules.State{}, paid("b", t0, t0.Add(time.Hour)))
	ds = append(ds, decide(t, rules.State{}, paid("a", t0, t0.Add(time.Hour)))...)
	ds = append(ds, decide(t, rules.State{}, paid("c", t0, t0.Add(2*time.Hour)),
		rules.Event{ID: "c-del", Type: rules.TypeDeliverySubmitted, Time: t0, OrderID: "c"})...)
	if _, err := save(ctx, st, 1, ds, nil); err != nil {
		t.Fatal(err)
	}
	due, err := st.Due(ctx, 1, t0.Add(3*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range due {
		got = append(got, e.OrderID+"/"+e.TimerID+"@"+e.Time.Format(time.Kitchen))
	}
	want := []string{"a/delivery-1@11:00AM", "b/delivery-1@11:00AM"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("due = %v, want %v", got, want)
	}
	if cp, _ := st.Open(ctx, 1); cp.Pending != 2 {
		t.Errorf("pending = %d, want 2", cp.Pending)
	}
	// A limit never splits an instant: both deadlines of 11:00 come.
	if due, _ := st.Due(ctx, 1, t0.Add(3*time.Hour), 1); len(due) != 2 {
		t.Errorf("limit 1 gave %v, want both deadlines due at 11:00", due)
	}
	// Firing a's deadline through the engine removes it.
	loaded, _ := st.Load(ctx, 1, []string{"a"})
	fired := decide(t, loaded[0], due[0])
	cp, err := save(ctx, st, 1, fired, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Pending != 1 || !cp.NextDue.Equal(t0.Add(time.Hour)) {
		t.Errorf("after firing: %d pending, next due %v; want b's deadline", cp.Pending, cp.NextDue)
	}
}

func TestOutboxAckOnlyWhatWasPublished(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	s := decide(t, rules.State{}, paid("o1", t0, time.Time{}))
	refund := []rules.Event{
		{ID: "r", Type: rules.TypeRefundRequested, Time: t0, OrderID: "o1", Data: rules.Data{Reason: rules.ReasonNotDelivered}},
		{ID: "s", Type: rules.TypeSettlementAgreed, Time: t0, OrderID: "o1", Data: rules.Data{RefundAmount: 400}},
	}
	ds := append(s, decide(t, s[0].State, refund...)...)
	if _, err := save(ctx, st, 0, ds, nil); err != nil {
		t.Fatal(err)
	}
	cmds, oldest, depth, err := st.Outbox(ctx, 0, 10, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 || !oldest.Equal(t0) || depth != 3 {
		t.Fatalf("outbox has %d commands (oldest %v), want ruling and two transfers", len(cmds), oldest)
	}
	// The body comes back byte for byte as the engine encoded it.
	want, _ := ds[2].Commands[0].Data()
	if got, _ := cmds[0].Data(); string(got) != string(want) {
		t.Errorf("outbox body\n got %s\nwant %s", got, want)
	}
	// A stale owner acknowledges what the new owner already removed, and
	// a command appended since: only its own first entry is still there.
	if err := st.Ack(ctx, 0, []string{cmds[0].ID, cmds[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := st.Ack(ctx, 0, []string{cmds[0].ID, cmds[1].ID}); err != nil {
		t.Fatal(err)
	}
	left, _, depth, _ := st.Outbox(ctx, 0, 10, -1)
	if len(left) != 1 || left[0].ID != cmds[2].ID || depth != 1 {
		t.Errorf("outbox after acks = %v (depth %d), want only %s", ids(left), depth, cmds[2].ID)
	}
}

func TestClosedOrdersExpireOpenOnesDoNot(t *testing.T) {
	ctx := context.Background()
	st, c, _ := newStore(t)
	open := decide(t, rules.State{}, paid("open", t0, time.Time{}))
	closed := decide(t, rules.State{}, paid("closed", t0, time.Time{}),
		rules.Event{ID: "acc", Type: rules.TypeOrderAccepted, Time: t0, OrderID: "closed"})
	if _, err := save(ctx, st, 0, append(open, closed...), nil); err != nil {
		t.Fatal(err)
	}
	keys, _ := c.Keys(ctx, "test:*order*").Result()
	for _, k := range keys {
		ttl := c.PTTL(ctx, k).Val()
		switch {
		case strings.HasSuffix(k, ":closed") && (ttl <= 0 || ttl > time.Hour):
			t.Errorf("%s ttl = %v, want the hour of retention", k, ttl)
		case strings.HasSuffix(k, ":open") && ttl != -1:
			t.Errorf("%s ttl = %v, want none", k, ttl)
		}
	}
}

func TestKeysShareThePartitionHashTag(t *testing.T) {
	ctx := context.Background()
	st, c, _ := newStore(t)
	ds := decide(t, rules.State{}, paid("o1", t0, t0.Add(time.Hour)))
	if _, err := save(ctx, st, 5, ds, map[string]int64{"orders": 0}); err != nil {
		t.Fatal(err)
	}
	keys, _ := c.Keys(ctx, "test:*").Result()
	if len(keys) != 4 {
		t.Errorf("keys = %v, want order, timers, offsets, meta", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "test:{5}:") {
			t.Errorf("key %q lacks the partition's hash tag {5}", k)
		}
	}
}

func TestUnchangedBatchWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, c, _ := newStore(t)
	ds := decide(t, rules.State{}, paid("o1", t0, time.Time{}))
	if _, err := save(ctx, st, 0, ds, nil); err != nil {
		t.Fatal(err)
	}
	loaded, _ := st.Load(ctx, 0, []string{"o1"})
	dup := decide(t, loaded[0], paid("o1", t0, time.Time{})) // same event ID: no effect
	if dup[0].Changed {
		t.Fatal("a repeated event changed the state")
	}
	if _, err := save(ctx, st, 0, dup, nil); err != nil {
		t.Fatal(err)
	}
	v, _ := c.HGet(ctx, "test:{0}:order:o1", "v").Result()
	if v != "1" {
		t.Errorf("version = %s after an unchanged batch, want 1", v)
	}
}

func TestDataSurvivesRedisRestart(t *testing.T) {
	ctx := context.Background()
	st, _, srv := newStore(t)
	ds := decide(t, rules.State{}, paid("o1", t0, t0.Add(time.Hour)))
	if _, err := save(ctx, st, 0, ds, map[string]int64{"orders": 3}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	loaded, err := st.Load(ctx, 0, []string{"o1"})
	if err != nil {
		t.Fatal(err)
	}
	if loaded[0].Version != 1 {
		t.Errorf("after restart version = %d, want 1", loaded[0].Version)
	}
	if cp, _ := st.Open(ctx, 0); cp.Pending != 1 || cp.Offsets["orders"] != 3 {
		t.Errorf("after restart the checkpoint is %+v, want 1 deadline pending and orders:3", cp)
	}
}

func ids(cmds []rules.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.ID)
	}
	return out
}

func TestStatusIndexFindAndList(t *testing.T) {
	ctx := context.Background()
	_, c, _ := newStore(t)
	refund := func(order string) rules.Event {
		return rules.Event{ID: order + "-r", Type: rules.TypeRefundRequested, Time: t0, OrderID: order, Data: rules.Data{Reason: rules.ReasonQuality}}
	}
	// Five disputes negotiating over two partitions, a millisecond apart;
	// one of them settles.
	partitionOf := map[string]int{}
	now := t0
	st := state.NewRedis(c, state.Config{Prefix: "test", Retention: time.Hour, Now: func() time.Time { return now }})
	for i, o := range []string{"a", "b", "c", "d", "e"} {
		now = now.Add(time.Millisecond)
		partitionOf[o] = i % 2
		ds := decide(t, rules.State{}, paid(o, t0, time.Time{}), refund(o))
		if _, err := save(ctx, st, i%2, ds, nil); err != nil {
			t.Fatal(err)
		}
	}
	loaded, _ := st.Load(ctx, 0, []string{"c"})
	settled := decide(t, loaded[0], rules.Event{ID: "c-s", Type: rules.TypeSettlementAgreed, Time: t0, OrderID: "c", Data: rules.Data{RefundAmount: 10}})
	if _, err := save(ctx, st, 0, settled, nil); err != nil {
		t.Fatal(err)
	}

	counts, err := st.OpenDisputes(ctx, 2)
	if err != nil || counts[rules.StatusNegotiating] != 4 || counts[rules.StatusUnderReview] != 0 {
		t.Errorf("open disputes = %v, %v; want 4 negotiating", counts, err)
	}
	got, p, ok, err := st.Find(ctx, "d", 2)
	if err != nil || !ok || p != 1 || got.Status != rules.StatusNegotiating {
		t.Errorf("Find(d) = %v in %d, %v, %v; want negotiating in partition 1", got.Status, p, ok, err)
	}
	if _, _, ok, _ := st.Find(ctx, "zz", 2); ok {
		t.Error("Find found an order never saved")
	}

	var all []string
	cursor := ""
	for page := 0; page < 10; page++ {
		items, next, err := st.List(ctx, []rules.Status{rules.StatusNegotiating}, 2, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 2 {
			t.Fatalf("page of %d items, limit 2", len(items))
		}
		for _, it := range items {
			if it.Status != rules.StatusNegotiating || it.Amount != 1000 || it.Reason != rules.ReasonQuality || it.Partition != partitionOf[it.OrderID] || it.Since.IsZero() {
				t.Errorf("summary %+v", it)
			}
			all = append(all, it.OrderID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// Oldest first across the partitions: the orders took the status in
	// the order a, b, d, e (c settled).
	if strings.Join(all, ",") != "a,b,d,e" {
		t.Errorf("listed %v, want a,b,d,e", all)
	}
	if _, _, err := st.List(ctx, []rules.Status{rules.StatusRuled}, 2, "", 3); err == nil {
		t.Error("List of a closed status did not fail")
	}
	for _, bad := range []string{"x", "12:", "1e400:a", ":a", "1:a|b"} {
		if _, _, err := st.List(ctx, []rules.Status{rules.StatusNegotiating}, 2, bad, 3); !errors.Is(err, rules.ErrBadCursor) {
			t.Errorf("List with cursor %q = %v, want ErrBadCursor", bad, err)
		}
	}
}

// TestEarlierReleasesData: what an earlier release wrote (a state in JSON,
// an outbox entry in JSON) still reads after an upgrade.
func TestEarlierReleasesData(t *testing.T) {
	ctx := context.Background()
	st, c, _ := newStore(t)
	s := decide(t, rules.State{}, paid("o1", t0, time.Time{}))[0].State
	old, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	c.HSet(ctx, state.Key("test", 0, "order:o1"), "s", old, "v", 3)
	got, err := st.Load(ctx, 0, []string{"o1"})
	if err != nil {
		t.Fatal(err)
	}
	s.Version = 3
	if !reflect.DeepEqual(got[0], s) {
		t.Errorf("a JSON state loads as %+v, want %+v", got[0], s)
	}
	c.RPush(ctx, state.Key("test", 0, "outbox"), `7`+"\n"+`o1/x/ruling`+"\n"+`1700000000000`+"\n"+
		`{"id":"o1/x/ruling","subject":"disputes.ruling.o1","data":{"command_id":"o1/x/ruling","order_id":"o1"}}`)
	cmds, _, _, err := st.Outbox(ctx, 0, 10, -1)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := cmds[0].Data(); len(cmds) != 1 || cmds[0].ID != "o1/x/ruling" || cmds[0].Subject != "disputes.ruling.o1" || string(data) != `{"command_id":"o1/x/ruling","order_id":"o1"}` {
		t.Errorf("a JSON outbox entry reads as %+v", cmds)
	}
}
