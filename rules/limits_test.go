package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/disputed/disputed/rules"
)

var limT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func limEvent(id string, typ rules.Type, minutes int, data rules.Data) rules.Event {
	return rules.Event{ID: id, Type: typ, Time: limT0.Add(time.Duration(minutes) * time.Minute), OrderID: "o", Data: data}
}

func limApply(t *testing.T, p rules.Policy, s rules.State, e rules.Event) rules.Decision {
	t.Helper()
	d, err := p.Apply(s, e, e.Time)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rejection(d rules.Decision) *rules.Rejection {
	for _, c := range d.Commands {
		if r, ok := c.Body.(*rules.Rejection); ok {
			return r
		}
	}
	return nil
}

func ruling(d rules.Decision) *rules.Ruling {
	for _, c := range d.Commands {
		if r, ok := c.Body.(*rules.Ruling); ok {
			return r
		}
	}
	return nil
}

var limPaid = limEvent("p", rules.TypeOrderPaid, 0, rules.Data{CustomerID: "c", ProviderID: "s", Category: rules.OtherCategory, Amount: 100, Currency: "EUR"})

func chatFrom(party rules.Party, id string) rules.Event {
	return limEvent(id, rules.TypeChatMessage, 1, rules.Data{From: party, Text: "hello"})
}

func TestPerOrderQuotas(t *testing.T) {
	t.Run("an event over its quota is rejected and not recorded", func(t *testing.T) {
		p := rules.DefaultPolicy()
		p.MaxChats = 2
		s := limApply(t, p, rules.State{}, limPaid).State
		s = limApply(t, p, s, chatFrom(rules.Customer, "c1")).State
		s = limApply(t, p, s, chatFrom(rules.Customer, "c2")).State
		over := limApply(t, p, s, chatFrom(rules.Customer, "c3"))
		r := rejection(over)
		if r == nil || !strings.Contains(r.Reason, "the customer has sent 2 chat messages") {
			t.Fatalf("the 3rd chat gave %v, want a rejection naming the customer's quota", over.Commands)
		}
		if over.Changed || len(over.State.Log) != len(s.Log) {
			t.Error("an event over its quota changed the state")
		}
		again := limApply(t, p, over.State, chatFrom(rules.Customer, "c3"))
		if r2 := rejection(again); r2 == nil || again.Commands[0].ID != over.Commands[0].ID {
			t.Errorf("a redelivery gave %v, want the same rejection ID %s", again.Commands, over.Commands[0].ID)
		}
		if dup := limApply(t, p, s, chatFrom(rules.Customer, "c1")); len(dup.Commands) != 0 {
			t.Error("a duplicate of a recorded event was rejected instead of ignored")
		}
		// The provider's chat quota is its own.
		if d := limApply(t, p, s, chatFrom(rules.Provider, "pc1")); rejection(d) != nil || len(d.State.Vouchers) != 3 {
			t.Errorf("the provider's first chat was refused: %v", d.Commands)
		}
		// And so is the platform's: its messages never drew on the
		// customer's, which a customer's flood had once used up.
		if d := limApply(t, p, s, chatFrom(rules.Platform, "mc1")); rejection(d) != nil || len(d.State.Vouchers) != 3 {
			t.Errorf("the platform's first chat was refused: %v", d.Commands)
		}
		ps := s
		for i := range 2 {
			ps = limApply(t, p, ps, chatFrom(rules.Platform, fmt.Sprint("m", i))).State
		}
		if r := rejection(limApply(t, p, ps, chatFrom(rules.Platform, "m9"))); r == nil || !strings.Contains(r.Reason, "the platform has sent 2 chat messages") {
			t.Errorf("the platform's 3rd chat gave %v, want a rejection naming the platform's quota", r)
		}
	})

	t.Run("voucher text is clipped at a character boundary", func(t *testing.T) {
		p := rules.DefaultPolicy()
		p.MaxVoucherText = 10
		s := limApply(t, p, rules.State{}, limPaid).State
		e := chatFrom(rules.Customer, "c1")
		e.Data.Text = "aaaaaaaaa€€€" // 9 bytes, then 3-byte runes
		s = limApply(t, p, s, e).State
		if got := s.Vouchers[0].Text; got != "aaaaaaaaa" || !utf8.ValidString(got) {
			t.Errorf("kept %q, want the 9 bytes before the cut rune", got)
		}
	})
}

// A party that floods an order cannot decide the dispute: the other party's
// evidence, and the reviewer's decision, still have room (the findings of
// the money-safety review).
func TestFloodingDecidesNothing(t *testing.T) {
	p := rules.DefaultPolicy()
	under := func(t *testing.T, reason rules.Reason) rules.State {
		t.Helper()
		s := limApply(t, p, rules.State{}, limPaid).State
		s = limApply(t, p, s, limEvent("r", rules.TypeRefundRequested, 1, rules.Data{Reason: reason})).State
		return limApply(t, p, s, limEvent("i", rules.TypeInterventionRequested, 2, rules.Data{By: rules.Customer})).State
	}
	flood := func(t *testing.T, s rules.State, party rules.Party, n int) rules.State {
		t.Helper()
		for i := range n {
			s = limApply(t, p, s, limEvent(fmt.Sprintf("f%d", i), rules.TypeChatMessage, 3, rules.Data{From: party, Text: "spam"})).State
		}
		return s
	}

	t.Run("the customer's chats do not crowd out the provider's evidence", func(t *testing.T) {
		s := flood(t, under(t, rules.ReasonNotDelivered), rules.Customer, 1000)
		d := limApply(t, p, s, limEvent("ev", rules.TypeEvidenceSubmitted, 4, rules.Data{Party: rules.Provider, Kind: rules.Valid, Note: "delivery records"}))
		if r := ruling(d); r == nil || r.Outcome != rules.Release {
			t.Fatalf("the provider's valid evidence after 1000 customer chats gave %v, want a release", d.Commands)
		}
		if s.Counts.CustomerChats != p.MaxChats {
			t.Errorf("customer chats counted %d, want the quota %d", s.Counts.CustomerChats, p.MaxChats)
		}
	})

	t.Run("1000 chats on an escalated order do not block the reviewer", func(t *testing.T) {
		s := under(t, rules.ReasonQuality)
		s = limApply(t, p, s, limEvent("ref", rules.TypeEvidenceSubmitted, 3, rules.Data{Party: rules.Customer, Kind: rules.Reference})).State
		s = firedEscalation(t, p, s) // only reference evidence by the deadline
		if s.Status != rules.StatusEscalated {
			t.Fatalf("status %s, want escalated", s.Status)
		}
		s = flood(t, s, rules.Customer, 500)
		s = flood(t, s, rules.Provider, 500)
		d := limApply(t, p, s, limEvent("rev", rules.TypeReviewDecided, 80*60, rules.Data{RefundAmount: 40}))
		if r := ruling(d); r == nil || r.RefundAmount != 40 {
			t.Fatalf("review.decided after 1000 chats gave %v, want a ruling refunding 40", d.Commands)
		}
	})

	// Issue 19's attack: 499 rejected intervention requests "by the
	// platform" filled the platform's quota, and the reviewer's decision
	// was then refused, the money held for ever. A rejected event never
	// counts.
	t.Run("rejected events fill no quota", func(t *testing.T) {
		s := limApply(t, p, rules.State{}, limPaid).State
		s = limApply(t, p, s, limEvent("r", rules.TypeRefundRequested, 1, rules.Data{Reason: rules.ReasonQuality})).State
		s = limApply(t, p, s, limEvent("i", rules.TypeInterventionRequested, 2, rules.Data{By: rules.Customer})).State
		for i := range p.MaxEvents {
			d := limApply(t, p, s, limEvent(fmt.Sprintf("x%d", i), rules.TypeInterventionRequested, 3, rules.Data{By: rules.Platform}))
			if r := rejection(d); r == nil || r.Code != rules.CodeUnderReview {
				t.Fatalf("intervention %d under review: %v, want its rejection", i, d.Commands)
			}
			s = d.State
		}
		if s.Counts.PlatformEvents != 1 { // order.paid
			t.Errorf("the platform's events count %d after %d rejected ones, want 1", s.Counts.PlatformEvents, p.MaxEvents)
		}
		if d := limApply(t, p, s, limEvent("rd", rules.TypeReviewDecided, 4, rules.Data{RefundAmount: 40})); ruling(d) == nil {
			t.Errorf("the reviewer's decision after the rejected flood gave %v, want a ruling", d.Commands)
		}
	})

	t.Run("a party's own events fill only its own quota", func(t *testing.T) {
		q := p
		q.MaxEvents = 5
		s := limApply(t, q, rules.State{}, limPaid).State
		s = limApply(t, q, s, limEvent("r", rules.TypeRefundRequested, 1, rules.Data{Reason: rules.ReasonQuality})).State
		for i := range 20 { // negotiation requests by the customer, again and again
			s = limApply(t, q, s, limEvent(fmt.Sprintf("n%d", i), rules.TypeNegotiationRequested, 2, rules.Data{By: rules.Customer})).State
		}
		// The provider asks too: both asked, the dispute is suspended.
		d := limApply(t, q, s, limEvent("np", rules.TypeNegotiationRequested, 3, rules.Data{By: rules.Provider}))
		if rejection(d) != nil || d.State.Status != rules.StatusSuspended {
			t.Fatalf("the provider's request after the customer's flood: %v, status %s", d.Commands, d.State.Status)
		}
		if d := limApply(t, q, d.State, limEvent("sa", rules.TypeSettlementAgreed, 4, rules.Data{RefundAmount: 10})); ruling(d) == nil {
			t.Errorf("the settlement after the flood gave %v, want a settled ruling", d.Commands)
		}
	})
}

// firedEscalation fires the order's evidence deadline.
func firedEscalation(t *testing.T, p rules.Policy, s rules.State) rules.State {
	t.Helper()
	for _, tm := range s.Timers {
		if tm.Kind == rules.TimerEvidence {
			d := limApply(t, p, s, rules.Event{Type: rules.TypeDeadline, OrderID: "o", Time: tm.At, TimerID: tm.ID})
			return d.State
		}
	}
	return s
}
