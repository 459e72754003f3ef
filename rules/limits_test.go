package rules_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/disputed/disputed/rules"
)

func TestPerOrderLimits(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	paid := rules.Event{ID: "p", Type: rules.TypeOrderPaid, Time: t0, OrderID: "o", Data: rules.Data{
		CustomerID: "c", ProviderID: "s", Category: rules.OtherCategory, Amount: 100, Currency: "EUR"}}
	chat := func(id, text string) rules.Event {
		return rules.Event{ID: id, Type: rules.TypeChatMessage, Time: t0.Add(time.Minute), OrderID: "o", Data: rules.Data{From: rules.Customer, Text: text}}
	}
	apply := func(t *testing.T, p rules.Policy, s rules.State, e rules.Event) rules.Decision {
		t.Helper()
		d, err := p.Apply(s, e, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rejection := func(d rules.Decision) *rules.Rejection {
		for _, c := range d.Commands {
			if r, ok := c.Body.(*rules.Rejection); ok {
				return r
			}
		}
		return nil
	}

	t.Run("events beyond the limit are rejected and not recorded", func(t *testing.T) {
		p := rules.DefaultPolicy()
		p.MaxEvents, p.MaxVouchers = 3, 0
		s := apply(t, p, rules.State{}, paid).State
		s = apply(t, p, s, chat("c1", "a")).State
		s = apply(t, p, s, chat("c2", "b")).State
		over := apply(t, p, s, chat("c3", "c"))
		r := rejection(over)
		if r == nil || !strings.Contains(r.Reason, "limit of 3 events") {
			t.Fatalf("the 4th event gave %v, want a rejection naming the limit", over.Commands)
		}
		if over.Changed || len(over.State.Log) != len(s.Log) {
			t.Error("an event over the limit changed the state")
		}
		again := apply(t, p, over.State, chat("c3", "c"))
		if r2 := rejection(again); r2 == nil || again.Commands[0].ID != over.Commands[0].ID {
			t.Errorf("a redelivery gave %v, want the same rejection ID %s", again.Commands, over.Commands[0].ID)
		}
		if dup := apply(t, p, s, chat("c1", "a")); len(dup.Commands) != 0 {
			t.Error("a duplicate of a recorded event was rejected instead of ignored")
		}
	})

	t.Run("vouchers beyond the limit are rejected", func(t *testing.T) {
		p := rules.DefaultPolicy()
		p.MaxVouchers = 2
		s := apply(t, p, rules.State{}, paid).State
		s = apply(t, p, s, chat("c1", "a")).State
		s = apply(t, p, s, chat("c2", "b")).State
		over := apply(t, p, s, chat("c3", "c"))
		if r := rejection(over); r == nil || !strings.Contains(r.Reason, "limit of 2 vouchers") {
			t.Fatalf("the 3rd voucher gave %v, want a rejection", over.Commands)
		}
		if len(over.State.Vouchers) != 2 {
			t.Errorf("%d vouchers kept, want 2", len(over.State.Vouchers))
		}
	})

	t.Run("voucher text is clipped at a character boundary", func(t *testing.T) {
		p := rules.DefaultPolicy()
		p.MaxVoucherText = 10
		s := apply(t, p, rules.State{}, paid).State
		s = apply(t, p, s, chat("c1", "aaaaaaaaa€€€")).State // 9 bytes, then 3-byte runes
		got := s.Vouchers[0].Text
		if got != "aaaaaaaaa" || !utf8.ValidString(got) {
			t.Errorf("kept %q, want the 9 bytes before the cut rune", got)
		}
	})
}
