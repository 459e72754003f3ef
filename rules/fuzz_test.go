package rules_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// fzSeeds are the seed corpus of FuzzDecode: one valid event of every type,
// then inputs near the edges of the contract.
func fzSeeds() []string {
	seeds := []string{
		decRaw("order.paid", `{"customer_id":"cus-1","provider_id":"pro-1","category":"software_app","amount":10000,"currency":"EUR","delivery_due":"2026-03-08T10:00:00Z","modification_days":3,"custom_contract":false,"promised_transaction_amount":true}`),
		decRaw("order.accepted", ""),
		decRaw("service.terminated", `{"by":"platform","cause":"customer","agreed":false}`),
		decRaw("service.extended", `{"by":"provider","agreed":true}`),
		decRaw("delivery.submitted", `{"delivery_no":"dlv-1"}`),
		decRaw("modification.requested", `{"issue_id":"iss-1","objective":true,"due":"2026-03-04T10:00:00Z"}`),
		decRaw("modification.refused", `{"issue_id":"iss-1"}`),
		decRaw("modification.delivered", `{"issue_id":"iss-1"}`),
		decRaw("modification.rejected", `{"issue_id":"iss-1"}`),
		decRaw("cooperation.requested", `{"due":"2026-03-04T10:00:00+08:00","informed_in_advance":true}`),
		decRaw("cooperation.provided", `{}`),
		decRaw("chat.message", `{"from":"customer","text":"where is my delivery?"}`),
		decRaw("refund.requested", `{"reason":"not_delivered","amount":5000}`),
		decRaw("refund.withdrawn", ""),
		decRaw("intervention.requested", `{"by":"customer"}`),
		decRaw("evidence.submitted", `{"party":"provider","kind":"valid","note":"delivery record"}`),
		decRaw("settlement.agreed", `{"refund_amount":2500}`),
		decRaw("negotiation.requested", `{"by":"provider"}`),
		decRaw("judicial.filed", `{"by":"customer"}`),
		decRaw("suspension.lifted", ""),
		decRaw("assessment.recorded", `{"value_ratio_bp":4000,"service_cost":100,"unrealized_cost":9223372036854775807}`),
		decRaw("review.decided", `{"refund_amount":0,"articles":["c1.s1.a4","c2.a9"],"note":"x"}`),

		// Tricky inputs.
		``,
		`{}`,
		`null`,
		`[]`,
		`"x"`,
		`{"specversion":"1.0"}`,
		decRaw("deadline", `{}`),
		decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":10.5,"currency":"EUR"}`),
		decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":-1,"currency":"EUR"}`),
		decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":9223372036854775808,"currency":"EUR"}`),
		decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":"1","currency":"EUR"}`),
		decRaw("service.terminated", `{"by":"platform","agreed":true}`),
		decRaw("service.terminated", `{"by":"customer","agreed":"true"}`),
		decRaw("assessment.recorded", `{"value_ratio_bp":10001}`),
		decRaw("review.decided", `{"refund_amount":1,"articles":["c9.a9"]}`),
		decRaw("chat.message", `{"from":"customer","text":"\u0000\ud800 bad surrogate \xff"}`),
		decRaw("refund.requested", `[]`),
		decRaw("refund.requested", `{"reason":"quality","reason":"bogus"}`),
		`{"SpecVersion":"1.0","ID":"e","Source":"s","Type":"order.accepted","Time":"2026-03-01T10:00:00Z","Subject":"o"}`,
		`{"specversion":"1.0","id":"e","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o.1"}`,
		`{"specversion":"1.0","id":"e","source":"s","type":"order.accepted","time":"0000-01-01T00:00:00Z","subject":"o"}`,
		`{"specversion":"1.0","id":"e","source":"s","type":"order.accepted","time":"9999-12-31T23:59:59.999999999-23:59","subject":"o"}`,
		`{"specversion":"1.0","id":"e","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o","data":{"x":[[[[[[[[[[1]]]]]]]]]]}}`,
		`{"specversion":"1.0","id":"e","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o","datacontenttype":"text/xml"}`,
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, s := range fzSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := rules.Decode(b)
		if err != nil {
			if !errors.Is(err, rules.ErrInvalidEvent) {
				t.Fatalf("Decode error %v (%T) does not wrap ErrInvalidEvent", err, err)
			}
			var fe *rules.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %v (%T) is not a *FieldError", err, err)
			}
			if len(err.Error()) > 2048 {
				t.Fatalf("Decode error is %d bytes long", len(err.Error()))
			}
			if !reflect.DeepEqual(e, rules.Event{}) {
				t.Fatalf("Decode returned %+v with its error", e)
			}
			return
		}
		if fzTimeOutOfRange(e) {
			t.Fatalf("Decode accepted %q, whose time cannot be encoded", b)
		}
		fzCheckEvent(t, e)
		// The decoded event says all there is to say: encoded again, it
		// decodes to the same event.
		again, err := rules.Decode(fzEncode(t, e))
		if err != nil {
			t.Fatalf("decoded %q to %+v, which encoded again does not decode: %v", b, e, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("decode, encode, decode of %q:\n got %+v\nwant %+v", b, again, e)
		}
	})
}

// fzTimeOutOfRange reports whether a decoded time lies outside the years
// RFC 3339 and encoding/json can write.
func fzTimeOutOfRange(e rules.Event) bool {
	for _, tm := range []time.Time{e.Time, e.Data.DeliveryDue, e.Data.Due} {
		if y := tm.Year(); y < 0 || y > 9999 {
			return true
		}
	}
	return false
}

// fzCheckEvent checks that a decoded event is valid under contract v1.
func fzCheckEvent(t *testing.T, e rules.Event) {
	t.Helper()
	d := e.Data
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("Decode accepted %+v: "+format, append([]any{e}, args...)...)
	}
	if e.Type.Topic() == "" || e.Type == rules.TypeDeadline {
		fail("type %q is not a wire type", e.Type)
	}
	if err := rules.ValidOrderID(e.OrderID); err != nil {
		fail("order ID: %v", err)
	}
	if e.ID == "" || e.Source == "" || len(e.ID) > rules.MaxIDLen || len(e.Source) > rules.MaxIDLen {
		fail("id %q / source %q", e.ID, e.Source)
	}
	if e.Time.Location() != time.UTC || e.TimerID != "" {
		fail("time %v not in UTC or a timer ID %q", e.Time, e.TimerID)
	}
	if d.Amount < 0 || d.RefundAmount < 0 || d.ServiceCost < 0 || d.UnrealizedCost < 0 {
		fail("negative money")
	}
	if d.ValueRatioBP < 0 || d.ValueRatioBP > 10000 {
		fail("value_ratio_bp %d", d.ValueRatioBP)
	}
	if len(d.Text) > rules.MaxTextLen || len(d.Note) > rules.MaxTextLen {
		fail("text of %d bytes, note of %d", len(d.Text), len(d.Note))
	}
	for _, a := range d.Articles {
		if !rules.ValidCitation(a) {
			fail("citation %q", a)
		}
	}
	parties := []rules.Party{rules.Customer, rules.Provider, rules.Platform}
	switch e.Type {
	case rules.TypeOrderPaid:
		if d.Amount <= 0 || d.CustomerID == "" || d.ProviderID == "" || len(d.Currency) != 3 || strings.ToUpper(d.Currency) != d.Currency {
			fail("order.paid fields")
		}
		if !slices.Contains([]rules.Category{rules.SoftwareApp, rules.OperationalService, rules.Training, rules.ImageDesign, rules.Video, rules.OtherCategory}, d.Category) {
			fail("category %q", d.Category)
		}
		if d.ModificationDays < 0 {
			fail("modification_days %d", d.ModificationDays)
		}
	case rules.TypeServiceTerminated:
		if !slices.Contains(parties, d.By) || (d.Cause != rules.Customer && d.Cause != rules.Provider) {
			fail("by %q cause %q", d.By, d.Cause)
		}
	case rules.TypeServiceExtended:
		if d.By != rules.Provider {
			fail("extended by %q", d.By)
		}
	case rules.TypeModificationRequested, rules.TypeModificationRefused, rules.TypeModificationDelivered, rules.TypeModificationRejected:
		if d.IssueID == "" {
			fail("no issue_id")
		}
	case rules.TypeChatMessage:
		if !slices.Contains(parties, d.From) {
			fail("from %q", d.From)
		}
	case rules.TypeRefundRequested:
		if d.Reason == "" {
			fail("no reason")
		}
	case rules.TypeInterventionRequested, rules.TypeNegotiationRequested, rules.TypeJudicialFiled:
		if !slices.Contains(parties, d.By) {
			fail("by %q", d.By)
		}
	case rules.TypeEvidenceSubmitted:
		if !slices.Contains(parties, d.Party) || (d.Kind != rules.Valid && d.Kind != rules.Reference) {
			fail("party %q kind %q", d.Party, d.Kind)
		}
	}
}

// fzEncode writes an event back as CloudEvents JSON: rules.EncodeEvent,
// the encoder every writer uses.
func fzEncode(t testing.TB, e rules.Event) []byte {
	t.Helper()
	return rules.EncodeEvent(e)
}

// FuzzApplyIdempotent drives the property generator with the fuzzer's bytes:
// every event applied again, at any point of the run, changes nothing and
// emits nothing.
func FuzzApplyIdempotent(f *testing.F) {
	// rapid reads the input 8 bytes a draw; a run draws a few hundred
	// times, so the seeds are long pseudo-random streams.
	for seed := range uint64(8) {
		b := make([]byte, 8*1024)
		x := seed*0x9e3779b97f4a7c15 + 1
		for i := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[i] = byte(x)
		}
		f.Add(b)
	}
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		events := propEvents(t)
		var inputs []fzInput
		fzDrive(t, events, func(s func(string) rules.State, in fzInput) {
			inputs = append(inputs, in)
			for _, old := range inputs {
				fzAssertNoop(t, s(old.e.OrderID), old)
			}
		})
	}))
}

// fzInput is one input of a run: an event, or a deadline fired at its time.
type fzInput struct {
	e   rules.Event
	now time.Time
}

// fzDrive applies events with Policy.Apply, firing deadlines as replay does,
// and calls after with the states and each input once it was applied.
func fzDrive(t interface{ Fatalf(string, ...any) }, events []rules.Event, after func(func(string) rules.State, fzInput)) {
	p := rules.DefaultPolicy()
	states := make(map[string]rules.State)
	type timer struct {
		order, id string
		at        time.Time
	}
	var timers []timer
	state := func(order string) rules.State { return states[order] }
	apply := func(in fzInput) {
		d, err := p.Apply(states[in.e.OrderID], in.e, in.now)
		if err != nil {
			t.Fatalf("apply %s %s%s: %v", in.e.Type, in.e.ID, in.e.TimerID, err)
		}
		if d.Changed {
			states[in.e.OrderID] = d.State
		}
		timers = slices.DeleteFunc(timers, func(tm timer) bool { return tm.order == in.e.OrderID && slices.Contains(d.Disarm, tm.id) })
		for _, tm := range d.Arm {
			timers = slices.DeleteFunc(timers, func(x timer) bool { return x.order == in.e.OrderID && x.id == tm.ID })
			timers = append(timers, timer{in.e.OrderID, tm.ID, tm.At})
		}
		after(state, in)
	}
	fire := func(until time.Time) {
		for {
			i := -1
			for j, tm := range timers {
				if tm.at.After(until) {
					continue
				}
				if i < 0 || tm.at.Before(timers[i].at) || tm.at.Equal(timers[i].at) && (tm.order < timers[i].order || tm.order == timers[i].order && tm.id < timers[i].id) {
					i = j
				}
			}
			if i < 0 {
				return
			}
			tm := timers[i]
			timers = slices.Delete(timers, i, i+1)
			apply(fzInput{rules.Event{Type: rules.TypeDeadline, OrderID: tm.order, Time: tm.at, TimerID: tm.id}, tm.at})
		}
	}
	for _, e := range events {
		fire(e.Time)
		apply(fzInput{e, e.Time})
	}
	if len(events) > 0 {
		fire(events[len(events)-1].Time.Add(propFar))
	}
}

// fzAssertNoop applies an input that was applied already: it must emit
// nothing, arm nothing and report Changed=false.
func fzAssertNoop(t interface{ Fatalf(string, ...any) }, s rules.State, in fzInput) {
	d, err := rules.DefaultPolicy().Apply(s, in.e, in.now)
	if err != nil {
		t.Fatalf("%s %s%s applied again: %v", in.e.Type, in.e.ID, in.e.TimerID, err)
	}
	if d.Changed || len(d.Commands) > 0 || len(d.Arm) > 0 {
		t.Fatalf("%s %s%s applied again: Changed=%v, commands %v, arm %v", in.e.Type, in.e.ID, in.e.TimerID, d.Changed, d.Commands, d.Arm)
	}
	if in.e.Type != rules.TypeDeadline && len(d.Disarm) > 0 {
		t.Fatalf("%s %s applied again disarms %v", in.e.Type, in.e.ID, d.Disarm)
	}
	if !reflect.DeepEqual(d.State, s) {
		t.Fatalf("%s %s%s applied again: the state changed", in.e.Type, in.e.ID, in.e.TimerID)
	}
}

// fzStory builds a story of events for one order, one step an hour apart
// unless a step says otherwise.
type fzStory struct {
	order  string
	now    time.Time
	seq    int
	events []rules.Event
}

func (s *fzStory) add(typ rules.Type, d rules.Data) *fzStory {
	s.seq++
	s.now = s.now.Add(time.Hour)
	s.events = append(s.events, rules.Event{ID: fmt.Sprintf("%s-e%d", s.order, s.seq), Source: "test", Type: typ, Time: s.now, OrderID: s.order, Data: d})
	return s
}

func (s *fzStory) wait(d time.Duration) *fzStory { s.now = s.now.Add(d); return s }

func fzPaid(order string, cat rules.Category, amount int64, due time.Time) *fzStory {
	s := &fzStory{order: order, now: decT0}
	return s.add(rules.TypeOrderPaid, rules.Data{CustomerID: "cus-" + order, ProviderID: "pro-" + order, Category: cat, Amount: amount, Currency: "EUR", DeliveryDue: due})
}

// fzStories are typical stories, each with what its last ruling must be.
func fzStories() []struct {
	name    string
	events  []rules.Event
	outcome rules.Outcome
} {
	week := 7 * 24 * time.Hour
	type story = struct {
		name    string
		events  []rules.Event
		outcome rules.Outcome
	}
	return []story{
		{"provider proves nothing by the evidence deadline", fzPaid("o1", rules.SoftwareApp, 10000, time.Time{}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered}).
			add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer}).
			wait(week).add(rules.TypeChatMessage, rules.Data{From: rules.Customer, Text: "?"}).events, rules.RefundFull},
		{"customer proves a misdescription", fzPaid("o2", rules.Video, 10000, time.Time{}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotAsDescribed, Amount: 4000}).
			add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer}).
			add(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Customer, Kind: rules.Valid}).events, rules.RefundPartial},
		{"objective modification overdue, with an assessment", fzPaid("o3", rules.ImageDesign, 999, time.Time{}).
			add(rules.TypeAssessmentRecorded, rules.Data{ValueRatioBP: 3333, UnrealizedCost: 10}).
			add(rules.TypeModificationRequested, rules.Data{IssueID: "i1", Objective: true}).
			wait(week).add(rules.TypeChatMessage, rules.Data{From: rules.Provider, Text: "late"}).events, rules.RefundPartial},
		{"suspended, resumed, reference evidence only, then a reviewer", fzPaid("o4", rules.Training, 5000, time.Time{}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality}).
			add(rules.TypeInterventionRequested, rules.Data{By: rules.Provider}).
			add(rules.TypeNegotiationRequested, rules.Data{By: rules.Customer}).
			add(rules.TypeNegotiationRequested, rules.Data{By: rules.Provider}).
			wait(week).add(rules.TypeSuspensionLifted, rules.Data{}).
			add(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Customer, Kind: rules.Reference}).
			wait(week).add(rules.TypeReviewDecided, rules.Data{RefundAmount: 1000, Articles: []string{rules.C2A3}, Note: "partly"}).events, rules.RefundPartial},
		{"settled by the parties", fzPaid("o5", rules.OtherCategory, 1<<62, time.Time{}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonMisleading}).
			add(rules.TypeJudicialFiled, rules.Data{By: rules.Customer}).
			add(rules.TypeSettlementAgreed, rules.Data{RefundAmount: 1 << 61}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonMisleading}).events, rules.Settled},
		{"accepted, then a refund request", fzPaid("o6", rules.OperationalService, 100, time.Time{}).
			add(rules.TypeDeliverySubmitted, rules.Data{DeliveryNo: "d1"}).
			add(rules.TypeOrderAccepted, rules.Data{}).
			add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality}).events, ""},
		{"delivery missed, then intervention", fzPaid("o7", rules.SoftwareApp, 100, decT0.Add(48*time.Hour)).
			wait(week).add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered}).
			add(rules.TypeInterventionRequested, rules.Data{By: rules.Platform}).events, rules.RefundFull},
		{"customer missed announced cooperation", fzPaid("o8", rules.OperationalService, 100, time.Time{}).
			add(rules.TypeCooperationRequested, rules.Data{Due: decT0.Add(24 * time.Hour), InformedInAdvance: true}).
			wait(week).add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality}).
			add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer}).events, rules.Release},
		{"non-objective modification refused", fzPaid("o9", rules.Training, 100, time.Time{}).
			add(rules.TypeModificationRequested, rules.Data{IssueID: "i1"}).
			add(rules.TypeModificationRefused, rules.Data{IssueID: "i1"}).events, rules.Release},
	}
}

func TestApplyIdempotent(t *testing.T) {
	for _, st := range fzStories() {
		t.Run(st.name, func(t *testing.T) {
			var inputs []fzInput
			var last *rules.Ruling
			fzDrive(t, st.events, func(s func(string) rules.State, in fzInput) {
				inputs = append(inputs, in)
				for _, old := range inputs {
					fzAssertNoop(t, s(old.e.OrderID), old)
				}
				if rs := s(in.e.OrderID).Rulings; len(rs) > 0 {
					last = &rs[len(rs)-1]
				}
			})
			switch {
			case st.outcome == "" && last != nil:
				t.Errorf("ruled %s, want no ruling", last.Outcome)
			case st.outcome != "" && last == nil:
				t.Errorf("no ruling, want %s", st.outcome)
			case last != nil && last.Outcome != st.outcome:
				t.Errorf("last ruling %s (%s), want %s", last.Outcome, last.Reason, st.outcome)
			}
		})
	}
}
