package rules_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// bnOrders is how many orders the benchmark stories cover.
const bnOrders = 400

// bnStory builds the events of one order's story; i picks the story and
// staggers its start.
func bnStory(i int) []rules.Event {
	order := fmt.Sprintf("ord-%06d", i)
	start := decT0.Add(time.Duration(i) * 7 * time.Minute)
	s := &fzStory{order: order, now: start}
	cats := []rules.Category{rules.SoftwareApp, rules.OperationalService, rules.Training, rules.ImageDesign, rules.Video, rules.OtherCategory}
	cat := cats[i%len(cats)]
	amount := int64(1000 + 37*i)
	paid := func(due time.Time) {
		s.add(rules.TypeOrderPaid, rules.Data{CustomerID: "cus-" + order, ProviderID: "pro-" + order, Category: cat,
			Amount: amount, Currency: "EUR", DeliveryDue: due, ModificationDays: 3})
	}
	chat := func(from rules.Party) {
		s.add(rules.TypeChatMessage, rules.Data{From: from, Text: "Hello, about the order: the delivered design does not match the brief we agreed on. Could you have a look?"})
	}
	const day = 24 * time.Hour
	switch i % 8 {
	case 0: // the provider proves delivery
		paid(time.Time{})
		s.add(rules.TypeDeliverySubmitted, rules.Data{DeliveryNo: "d1"})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered})
		chat(rules.Customer)
		chat(rules.Provider)
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})
		s.add(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Provider, Kind: rules.Valid, Note: "delivery record d1"})
	case 1: // the customer proves nothing: the evidence deadline fires
		paid(time.Time{})
		s.add(rules.TypeDeliverySubmitted, rules.Data{})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality, Amount: amount / 2})
		chat(rules.Customer)
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Provider})
		chat(rules.Customer)
		s.wait(4 * day)
		chat(rules.Platform)
	case 2: // reference evidence only: escalated, then a reviewer decides
		paid(time.Time{})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered})
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})
		s.add(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Provider, Kind: rules.Reference, Note: "screenshot"})
		s.wait(4 * day)
		s.add(rules.TypeAssessmentRecorded, rules.Data{ValueRatioBP: 6000, UnrealizedCost: 100})
		s.add(rules.TypeReviewDecided, rules.Data{RefundAmount: amount / 3, Articles: []string{rules.C2A9}, Note: "60% delivered"})
	case 3: // both ask to negotiate: suspended, lifted, settled
		paid(time.Time{})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonEffectMismatch})
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})
		s.add(rules.TypeNegotiationRequested, rules.Data{By: rules.Customer})
		s.add(rules.TypeNegotiationRequested, rules.Data{By: rules.Provider})
		s.wait(2 * day)
		s.add(rules.TypeSuspensionLifted, rules.Data{})
		s.add(rules.TypeSettlementAgreed, rules.Data{RefundAmount: amount / 4})
	case 4: // modifications, then acceptance
		paid(start.Add(10 * day))
		s.add(rules.TypeDeliverySubmitted, rules.Data{DeliveryNo: "d1"})
		s.add(rules.TypeModificationRequested, rules.Data{IssueID: "i1", Objective: true})
		s.add(rules.TypeModificationDelivered, rules.Data{IssueID: "i1"})
		s.add(rules.TypeModificationRejected, rules.Data{IssueID: "i1"})
		s.add(rules.TypeModificationDelivered, rules.Data{IssueID: "i1"})
		chat(rules.Customer)
		s.add(rules.TypeOrderAccepted, rules.Data{})
	case 5: // an objective modification overdue, split by the assessment
		paid(time.Time{})
		s.add(rules.TypeAssessmentRecorded, rules.Data{ValueRatioBP: 2500, ServiceCost: 50})
		s.add(rules.TypeModificationRequested, rules.Data{IssueID: "i1", Objective: true})
		chat(rules.Customer)
		s.wait(4 * day)
		chat(rules.Customer)
	case 6: // delivery missed, then decided on the record
		paid(start.Add(2 * day))
		chat(rules.Customer)
		s.wait(3 * day)
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered})
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})
	case 7: // the customer proves a misdescription of part of the order
		paid(time.Time{})
		s.add(rules.TypeDeliverySubmitted, rules.Data{})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotAsDescribed, Amount: amount / 2})
		s.add(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})
		chat(rules.Provider)
		s.add(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Customer, Kind: rules.Valid, Note: "service description"})
		s.add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality}) // after the ruling: rejected
	}
	return s.events
}

// bnEvents returns every story's events, merged in time order.
func bnEvents() []rules.Event {
	var all []rules.Event
	for i := range bnOrders {
		all = append(all, bnStory(i)...)
	}
	slices.SortStableFunc(all, func(a, b rules.Event) int { return a.Time.Compare(b.Time) })
	return all
}

// bnInputs returns the events with the deadlines that fire between them, as
// the engine sees them.
func bnInputs(b *testing.B) []fzInput {
	var inputs []fzInput
	fzDrive(b, bnEvents(), func(_ func(string) rules.State, in fzInput) { inputs = append(inputs, in) })
	return inputs
}

// BenchmarkDecide measures the engine alone: Policy.Apply on decoded events
// and fired deadlines, with the states in a map. One op is one input.
func BenchmarkDecide(b *testing.B) {
	inputs := bnInputs(b)
	p := rules.DefaultPolicy()
	states := make(map[string]rules.State, bnOrders)
	var n, cmds int
	i := 0
	for b.Loop() {
		in := &inputs[i]
		d, err := p.Apply(states[in.e.OrderID], in.e, in.now)
		if err != nil {
			b.Fatal(err)
		}
		if d.Changed {
			states[in.e.OrderID] = d.State
		}
		cmds += len(d.Commands)
		n++
		if i++; i == len(inputs) {
			i = 0
			clear(states)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cmds)/float64(n), "cmds/event")
}

// BenchmarkDecode measures rules.Decode on the stories' events as JSON.
func BenchmarkDecode(b *testing.B) {
	events := bnEvents()
	raw := make([][]byte, len(events))
	size := 0
	for i, e := range events {
		raw[i] = fzEncode(b, e)
		size += len(raw[i])
	}
	b.SetBytes(int64(size / len(raw)))
	var n int
	i := 0
	for b.Loop() {
		if _, err := rules.Decode(raw[i]); err != nil {
			b.Fatal(err)
		}
		n++
		if i++; i == len(raw) {
			i = 0
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplay measures rules.Replay: deadlines kept in its queue and
// fired on event time. One op is one event.
func BenchmarkReplay(b *testing.B) {
	events := bnEvents()
	r := rules.NewReplay(rules.DefaultPolicy())
	var n int
	i := 0
	for b.Loop() {
		if _, err := r.Apply(events[i]); err != nil {
			b.Fatal(err)
		}
		n++
		if i++; i == len(events) {
			i = 0
			r = rules.NewReplay(rules.DefaultPolicy())
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// TestBenchStories checks that the benchmark stories decide what they say,
// so the benchmarks measure the paths they claim to.
func TestBenchStories(t *testing.T) {
	outcomes := make(map[rules.Outcome]int)
	var inputs []fzInput
	fzDrive(t, bnEvents(), func(_ func(string) rules.State, in fzInput) { inputs = append(inputs, in) })
	p := rules.DefaultPolicy()
	states := make(map[string]rules.State)
	deadlines := 0
	for _, in := range inputs {
		d, err := p.Apply(states[in.e.OrderID], in.e, in.now)
		if err != nil {
			t.Fatal(err)
		}
		if d.Changed {
			states[in.e.OrderID] = d.State
		}
		if in.e.Type == rules.TypeDeadline {
			deadlines++
		}
		for _, c := range d.Commands {
			if r, ok := c.Body.(*rules.Ruling); ok {
				outcomes[r.Outcome]++
			}
		}
		if in.e.Type != rules.TypeDeadline {
			if _, err := rules.Decode(fzEncode(t, in.e)); err != nil {
				t.Fatalf("story event %+v does not encode to a valid event: %v", in.e, err)
			}
		}
	}
	for _, o := range []rules.Outcome{rules.RefundFull, rules.RefundPartial, rules.Release, rules.Settled, rules.Escalated} {
		if outcomes[o] == 0 {
			t.Errorf("no %s ruling in the benchmark stories: %v", o, outcomes)
		}
	}
	if deadlines == 0 {
		t.Error("no deadline fires in the benchmark stories")
	}
	keys := slices.Sorted(maps.Keys(outcomes))
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%d ", k, outcomes[k])
	}
	t.Logf("%d inputs (%d deadlines) for %d orders; rulings: %s", len(inputs), deadlines, bnOrders, sb.String())
}

// BenchmarkDecideChattyOrder measures one more chat message on an order that
// already holds n inputs: Apply copies the whole state and scans every seen
// event ID, so the cost per event grows with the order's history.
func BenchmarkDecideChattyOrder(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			p := rules.DefaultPolicy()
			s := fzPaid("ord-chatty", rules.Video, 10000, time.Time{}).add(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonQuality})
			for range n - 2 {
				s.add(rules.TypeChatMessage, rules.Data{From: rules.Customer, Text: "any news on my refund?"})
			}
			var st rules.State
			for _, e := range s.events {
				d, err := p.Apply(st, e, e.Time)
				if err != nil {
					b.Fatal(err)
				}
				st = d.State
			}
			next := rules.Event{ID: "next", Source: "test", Type: rules.TypeChatMessage, Time: s.now.Add(time.Minute), OrderID: s.order,
				Data: rules.Data{From: rules.Provider, Text: "working on it"}}
			var n int
			for b.Loop() {
				if _, err := p.Apply(st, next, next.Time); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
