package rules_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// The property tests generate random well-formed event sequences for a few
// orders (JSON, through rules.Decode), run them through rules.Replay and check
// the money and command invariants of contract v1 on everything produced.

func TestPropReplayInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := propEvents(t)
		first := propCheck(t, events)
		second := propCheck(t, events)
		if len(first) != len(second) {
			t.Fatalf("replaying the same events gave %d commands, then %d", len(first), len(second))
		}
		for i := range first {
			if !bytes.Equal(first[i], second[i]) {
				t.Fatalf("replaying the same events: command %d differs:\n%s\n%s", i, first[i], second[i])
			}
		}
	})
}

// TestPropReplayDecides makes sure the generator reaches the interesting
// places: rulings of every outcome and splits by assessment.
func TestPropReplayDecides(t *testing.T) {
	outcomes := make(map[rules.Outcome]int)
	assessed := 0
	covered := func() bool {
		for _, o := range []rules.Outcome{rules.RefundFull, rules.RefundPartial, rules.Release, rules.Settled, rules.Escalated} {
			if outcomes[o] == 0 {
				return false
			}
		}
		return assessed > 0
	}
	// Random stories, until every kind of ruling has come out: a rare
	// kind missing from one round of a hundred is no failure, its missing
	// from twenty rounds is.
	for round := 0; round < 20 && !covered(); round++ {
		propDecides(t, outcomes, &assessed)
	}
	for _, o := range []rules.Outcome{rules.RefundFull, rules.RefundPartial, rules.Release, rules.Settled, rules.Escalated} {
		if outcomes[o] == 0 {
			t.Errorf("no %s ruling in the generated runs: %v", o, outcomes)
		}
	}
	if assessed == 0 {
		t.Errorf("no ruling split by an assessment in the generated runs")
	}
	t.Logf("rulings by outcome: %v; split by assessment: %d", outcomes, assessed)
}

func propDecides(t *testing.T, outcomes map[rules.Outcome]int, assessed *int) {
	rapid.Check(t, func(t *rapid.T) {
		out := propRun(t, propEvents(t))
		for _, cmds := range append(out.perEvent, out.final) {
			for _, cmd := range cmds {
				if r, ok := cmd.Body.(*rules.Ruling); ok {
					outcomes[r.Outcome]++
					if slices.ContainsFunc(r.Articles, func(a string) bool { return a == rules.C2A8 || a == rules.C2A9 || a == rules.C2A10 }) {
						*assessed++
					}
				}
			}
		}
	})
}

// propSplitWant computes AssessedSplit's provider share with big integers,
// straight from rules.md.
func propSplitWant(amount int64, a rules.Assessment) (provider int64, article string) {
	amt := big.NewInt(amount)
	share := new(big.Int).Mul(amt, big.NewInt(a.ValueRatioBP))
	share.Quo(share, big.NewInt(10000))
	switch {
	case a.ValueRatioBP == 0 && a.ServiceCost > 0:
		return min(a.ServiceCost, amount), rules.C2A8
	case a.ValueRatioBP > 0 && a.UnrealizedCost > 0:
		share.Add(share, big.NewInt(a.UnrealizedCost))
		if share.Cmp(amt) > 0 {
			share.Set(amt)
		}
		return share.Int64(), rules.C2A10
	}
	return share.Int64(), rules.C2A9
}

func TestPropSplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bound := func(label string, hi int64) int64 {
			return rapid.OneOf(
				rapid.Int64Range(0, hi),
				rapid.Int64Range(0, min(hi, 20000)),
				rapid.SampledFrom([]int64{0, 1, 9999, 10000, 10001, 1 << 62, hi / 2, hi - 1, hi}),
			).Draw(t, label)
		}
		amount := bound("amount", math.MaxInt64)
		a := rules.Assessment{
			ValueRatioBP:   rapid.OneOf(rapid.Int64Range(0, 10000), rapid.SampledFrom([]int64{0, 1, 5000, 9999, 10000})).Draw(t, "ratio"),
			ServiceCost:    bound("service_cost", math.MaxInt64),
			UnrealizedCost: bound("unrealized_cost", math.MaxInt64),
		}
		s := rules.AssessedSplit(amount, a)
		if s.Refund < 0 || s.Provider < 0 || s.Refund > amount || s.Provider > amount {
			t.Fatalf("AssessedSplit(%d, %+v) = refund %d, provider %d: out of [0, amount]", amount, a, s.Refund, s.Provider)
		}
		if s.Refund != amount-s.Provider {
			t.Fatalf("AssessedSplit(%d, %+v): refund %d + provider %d != amount", amount, a, s.Refund, s.Provider)
		}
		want, article := propSplitWant(amount, a)
		if s.Provider != want {
			t.Fatalf("AssessedSplit(%d, %+v): provider %d, want %d", amount, a, s.Provider, want)
		}
		// Rounding never favours the provider: its share is at most the
		// exact one.
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(amount), big.NewInt(a.ValueRatioBP)), big.NewInt(10000))
		switch article {
		case rules.C2A9:
			if new(big.Rat).SetInt64(s.Provider).Cmp(exact) > 0 {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the exact share %s", amount, a, s.Provider, exact.FloatString(4))
			}
		case rules.C2A10:
			if new(big.Rat).SetInt64(s.Provider).Cmp(exact.Add(exact, new(big.Rat).SetInt64(a.UnrealizedCost))) > 0 {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the exact share plus the unrealized cost", amount, a, s.Provider)
			}
		case rules.C2A8:
			if s.Provider > a.ServiceCost {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the service cost", amount, a, s.Provider)
			}
		}
		if len(s.Articles) == 0 || s.Articles[0] != article {
			t.Fatalf("AssessedSplit(%d, %+v): articles %v, want %s first", amount, a, s.Articles, article)
		}
		for _, c := range s.Articles {
			if !rules.ValidCitation(c) {
				t.Fatalf("AssessedSplit cites %q", c)
			}
		}
		if s.Arithmetic == "" {
			t.Fatalf("AssessedSplit(%d, %+v): no arithmetic", amount, a)
		}
	})
}

// propRulingTiming checks when a ruling was made: an event's ruling at the
// event's time, a deadline's at the latest at the time of the event it fired
// before; none
// after acceptance, and none while suspended but by the parties' own
// settlement or once the suspension is lifted.
func propRulingTiming(t *rapid.T, r *rules.Ruling, before rules.Status, e *rules.Event, now time.Time) {
	t.Helper()
	if e != nil {
		if r.Cause != "event:"+e.ID || !r.DecidedAt.Equal(e.Time) {
			t.Fatalf("ruling %q caused by %s %s: cause %q, decided at %v, want the event's time %v", r.RulingID, e.Type, e.ID, r.Cause, r.DecidedAt, e.Time)
		}
	} else if !strings.HasPrefix(r.Cause, "deadline:") || r.DecidedAt.After(now) {
		// A deadline can be due before the event that set it (a due time
		// already past), so only the upper bound holds.
		t.Fatalf("ruling %q of a deadline: cause %q, decided at %v, want a deadline due by %v", r.RulingID, r.Cause, r.DecidedAt, now)
	}
	switch before {
	case rules.StatusAccepted:
		t.Fatalf("ruling %q (%s) of an order the customer had accepted (c1.s3.a2)", r.RulingID, r.Outcome)
	case rules.StatusSuspended:
		// Only an event that ends the suspension can rule: the parties'
		// settlement, a lift, or the withdrawal of the refund request,
		// which makes the ruling the record already held back.
		if e == nil || e.OrderID != r.OrderID || (e.Type != rules.TypeSettlementAgreed && e.Type != rules.TypeSuspensionLifted && e.Type != rules.TypeRefundWithdrawn) {
			t.Fatalf("ruling %q (%s) while the dispute was suspended (cause %q)", r.RulingID, r.Outcome, r.Cause)
		}
	}
}

// propTimersAnswer checks how Apply answers a deadline event for each of the
// orders' timers: fired early, or with a due time the state does not hold,
// it is armed again at its due time and nothing else happens; with an ID
// the state does not hold, it changes nothing.
func propTimersAnswer(t *rapid.T, p rules.Policy, r *rules.Replay, c *propChecker, now time.Time) {
	t.Helper()
	for id := range c.orders {
		s := r.State(id)
		for _, tm := range s.Timers {
			if tm.Paused || !tm.At.After(now) {
				// Due already: armed by this very event, it fires before
				// the next input.
				continue
			}
			early := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: tm.At, TimerID: tm.ID}
			d, err := p.Apply(s, early, now)
			if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) != 1 || d.Arm[0] != tm || len(d.Disarm) > 0 {
				t.Fatalf("order %s: timer %s fired early at %v: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, tm.ID, now, d.Changed, d.Commands, d.Arm, d.Disarm, err)
			}
			wrong := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: tm.At.Add(time.Millisecond), TimerID: tm.ID}
			// A store entry that disagrees with the state is set right:
			// armed again at the state's due time, and nothing else.
			d, err = p.Apply(s, wrong, wrong.Time)
			if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) != 1 || d.Arm[0] != tm || len(d.Disarm) > 0 {
				t.Fatalf("order %s: timer %s fired with another due time: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, tm.ID, d.Changed, d.Commands, d.Arm, d.Disarm, err)
			}
		}
		gone := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: now, TimerID: "evidence-999999"}
		d, err := p.Apply(s, gone, now)
		if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) > 0 || !slices.Equal(d.Disarm, []string{gone.TimerID}) {
			t.Fatalf("order %s: unknown timer fired: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, d.Changed, d.Commands, d.Arm, d.Disarm, err)
		}
	}
}

// propStored runs events the way the stream processor does: each order's
// state is stored as JSON and loaded again for every input, and deadlines
// are kept in a store of their own (order and timer ID to due time) that
// Arm and Disarm edit. It returns the commands encoded like propCheck, and
// checks that Apply never modifies the state it is given.
func propStored(t *rapid.T, events []rules.Event) [][]byte {
	p := rules.DefaultPolicy()
	type key struct{ order, id string }
	states := make(map[string][]byte)
	timers := make(map[key]time.Time)
	var enc [][]byte
	apply := func(e rules.Event, now time.Time) error {
		var s rules.State
		if b, ok := states[e.OrderID]; ok {
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("load state of %s: %v", e.OrderID, err)
			}
		}
		before, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("encode state: %v", err)
		}
		d, err := p.Apply(s, e, now)
		if err != nil {
			return err
		}
		after, _ := json.Marshal(s)
		if !bytes.Equal(before, after) {
			t.Fatalf("Apply(%s %s) modified the state it was given:\n%s\n%s", e.Type, e.ID+e.TimerID, before, after)
		}
		if d.Changed {
			b, err := json.Marshal(d.State)
			if err != nil {
				t.Fatalf("encode state: %v", err)
			}
			states[e.OrderID] = b
		}
		for _, id := range d.Disarm {
			delete(timers, key{e.OrderID, id})
		}
		for _, tm := range d.Arm {
			timers[key{e.OrderID, tm.ID}] = tm.At
		}
		for _, cmd := range d.Commands {
			b, err := json.Marshal(cmd)
			if err != nil {
				t.Fatalf("marshal command %q: %v", cmd.ID, err)
			}
			enc = append(enc, append([]byte(cmd.ID+" "), b...))
		}
		return nil
	}
	// fire fires the due deadlines, earliest first, then by order, then in
	// the order they were armed (rules.md: same-instant deadlines), as the
	// store's Due and the engine order them.
	fire := func(until time.Time) {
		for {
			var next key
			var at time.Time
			found := false
			for k, a := range timers {
				if a.After(until) {
					continue
				}
				if !found || rules.DueBefore(a, k.order, k.id, at, next.order, next.id) {
					next, at, found = k, a, true
				}
			}
			if !found {
				return
			}
			delete(timers, next)
			if err := apply(rules.Event{Type: rules.TypeDeadline, OrderID: next.order, Time: at, TimerID: next.id}, at); err != nil {
				t.Fatalf("deadline %s of %s: %v", next.id, next.order, err)
			}
		}
	}
	for i, e := range events {
		fire(e.Time)
		if err := apply(e, e.Time); err != nil {
			t.Fatalf("event %d (%s %s of %s): Apply: %v", i, e.ID, e.Type, e.OrderID, err)
		}
	}
	fire(propT0.Add(propFar))
	return enc
}

func TestPropStoredStateEqualsReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := propEvents(t)
		replayed := propCheck(t, events)
		stored := propStored(t, events)
		for i := range max(len(replayed), len(stored)) {
			switch {
			case i >= len(replayed):
				t.Fatalf("the stored-state run made command %d more: %s", i, stored[i])
			case i >= len(stored):
				t.Fatalf("the stored-state run is missing command %d: %s", i, replayed[i])
			case !bytes.Equal(replayed[i], stored[i]):
				t.Fatalf("command %d differs:\nreplay: %s\nstored: %s", i, replayed[i], stored[i])
			}
		}
	})
}

// propNothingPending checks that no input left a ruling pending: once the
// record of an order determines a ruling and the order is not suspended,
// the ruling has been made (rules.md: every handler ends by re-examining the
// record).
func propNothingPending(t *rapid.T, p rules.Policy, r *rules.Replay, c *propChecker, after string) {
	t.Helper()
	for id := range c.orders {
		s := r.State(id)
		if s.Status == rules.StatusSuspended {
			continue
		}
		if outcome, articles, ok := rules.PendingRuling(p, s); ok {
			t.Fatalf("after %s: order %s (%s) has a ruling pending that its record determines: %s %v", after, id, s.Status, outcome, articles)
		}
	}
}
