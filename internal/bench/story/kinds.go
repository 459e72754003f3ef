package story

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/rules"
)

// Kind is a kind of story: its steps, and how many commands each step
// and its deadlines produce (worked out once by replaying an instance).
type Kind struct {
	name   string
	weight int
	steps  []Step

	eventCmds       []int // commands caused by each step's event
	DeadlineCmds    int   // commands caused by the story's deadlines
	DeadlineRulings int   // rulings among them
	// For a story cut short after k events (the load's end): the commands
	// and rulings its deadlines still give, index k.
	prefixDeadlineCmds, prefixDeadlineRulings []int
}

// Step is one event of a story.
type Step struct {
	Type rules.Type
	// after is waited before the event on top of the gap: for an event
	// that must come after a deadline fired.
	after time.Duration
	data  func(o *Order, at time.Time) rules.Data
}

// Order is the order a story is about.
type Order struct {
	ID     string
	Amount int64
}

// EventID is the ID of the order's event at step.
func (o *Order) EventID(step int) string { return o.ID + "-" + strconv.Itoa(step) }

func paid(category rules.Category) func(o *Order, _ time.Time) rules.Data {
	return func(o *Order, _ time.Time) rules.Data {
		return rules.Data{CustomerID: "mer-" + o.ID, ProviderID: "sp-" + strconv.Itoa(int(o.Amount%977)),
			Category: category, Amount: o.Amount, Currency: "CNY"}
	}
}

func fixed(d rules.Data) func(*Order, time.Time) rules.Data {
	return func(*Order, time.Time) rules.Data { return d }
}

func chat(from rules.Party, text string) Step {
	return Step{Type: rules.TypeChatMessage, data: fixed(rules.Data{From: from, Text: text})}
}

func refund(reason rules.Reason) Step {
	return Step{Type: rules.TypeRefundRequested, data: fixed(rules.Data{Reason: reason})}
}

func evidence(party rules.Party, kind rules.EvidenceKind, note string) Step {
	return Step{Type: rules.TypeEvidenceSubmitted, data: fixed(rules.Data{Party: party, Kind: kind, Note: note})}
}

var (
	delivered    = Step{Type: rules.TypeDeliverySubmitted, data: func(o *Order, _ time.Time) rules.Data { return rules.Data{DeliveryNo: "dlv-" + o.ID} }}
	intervention = Step{Type: rules.TypeInterventionRequested, data: fixed(rules.Data{By: rules.Customer})}
)

// Kinds returns the mix of stories; window is the processor's evidence
// and modification window.
func Kinds(window time.Duration) []*Kind {
	modification := func(dueIn time.Duration) Step {
		return Step{Type: rules.TypeModificationRequested, data: func(_ *Order, at time.Time) rules.Data {
			return rules.Data{IssueID: "logo-colour", Objective: true, Due: at.Add(dueIn)}
		}}
	}
	return []*Kind{
		{name: "settled", weight: 3, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, delivered, refund(rules.ReasonNotAsDescribed),
			chat(rules.Customer, "The bulk listing export the page promised is missing."),
			chat(rules.Provider, "It ships next month; we can refund part of the fee."),
			{Type: rules.TypeSettlementAgreed, data: func(o *Order, _ time.Time) rules.Data {
				return rules.Data{RefundAmount: o.Amount * 2 / 5}
			}},
		}},
		{name: "evidence_missed", weight: 3, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.Training)}, refund(rules.ReasonNotDelivered), intervention,
			chat(rules.Provider, "The recording link was sent by e-mail."),
		}},
		{name: "provider_proves_delivery", weight: 2, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.OperationalService)}, delivered, refund(rules.ReasonNotDelivered), intervention,
			evidence(rules.Provider, rules.Valid, "delivery record and platform chat log"),
		}},
		{name: "customer_proves_misdescription", weight: 1, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, refund(rules.ReasonNotAsDescribed),
			evidence(rules.Customer, rules.Valid, "listing text vs. product screenshot in platform chat"), intervention,
		}},
		{name: "modification_overdue", weight: 2, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, modification(window),
			chat(rules.Customer, "The logo colours still do not match the brief."),
		}},
		{name: "modification_refused", weight: 1, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, modification(window),
			{Type: rules.TypeModificationRefused, data: fixed(rules.Data{IssueID: "logo-colour"})},
		}},
		{name: "suspended_and_lifted", weight: 2, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.Video)}, delivered, refund(rules.ReasonQuality), intervention,
			{Type: rules.TypeJudicialFiled, data: fixed(rules.Data{By: rules.Customer})},
			{Type: rules.TypeSuspensionLifted},
			evidence(rules.Customer, rules.Valid, "frame-by-frame comparison against the storyboard"),
		}},
		{name: "escalated_then_reviewed", weight: 1, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, refund(rules.ReasonQuality), intervention,
			evidence(rules.Customer, rules.Reference, "phone photos of the banners"),
			{Type: rules.TypeReviewDecided, after: window + time.Second, data: func(o *Order, _ time.Time) rules.Data {
				return rules.Data{RefundAmount: o.Amount / 3, Articles: []string{"c2.a3", "c2.a9"}, Note: "Two of five banners below the agreed resolution."}
			}},
		}},
		{name: "negotiated_settlement", weight: 1, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.OtherCategory)}, refund(rules.ReasonQuality),
			{Type: rules.TypeNegotiationRequested, data: fixed(rules.Data{By: rules.Customer})},
			{Type: rules.TypeNegotiationRequested, data: fixed(rules.Data{By: rules.Provider})},
			{Type: rules.TypeSettlementAgreed, data: func(o *Order, _ time.Time) rules.Data {
				return rules.Data{RefundAmount: o.Amount / 2}
			}},
		}},
		{name: "accepted", weight: 2, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.Training)}, delivered,
			chat(rules.Customer, "Thanks, the course was useful."), {Type: rules.TypeOrderAccepted},
		}},
		{name: "withdrawn", weight: 1, steps: []Step{
			{Type: rules.TypeOrderPaid, data: paid(rules.OperationalService)}, refund(rules.ReasonQuality),
			chat(rules.Provider, "We fixed the campaign settings this morning."), {Type: rules.TypeRefundWithdrawn},
		}},
	}
}

// CountCommands replays one instance of each story, with the given gap and
// window, and records how many commands each event and the deadlines give,
// for the whole story and for each story cut short. A story that does not
// decode or apply cleanly is an error: the bench would measure the wrong
// thing.
func CountCommands(kinds []*Kind, policy rules.Policy, gap time.Duration) error {
	for _, k := range kinds {
		n := len(k.steps)
		k.prefixDeadlineCmds, k.prefixDeadlineRulings = make([]int, n+1), make([]int, n+1)
		for cut := 1; cut <= n; cut++ {
			part := &Kind{name: k.name, steps: k.steps[:cut]}
			if err := countStory(part, policy, gap, cut == n); err != nil {
				return err
			}
			k.prefixDeadlineCmds[cut], k.prefixDeadlineRulings[cut] = part.DeadlineCmds, part.DeadlineRulings
			if cut == n {
				k.eventCmds, k.DeadlineCmds, k.DeadlineRulings = part.eventCmds, part.DeadlineCmds, part.DeadlineRulings
			}
		}
	}
	return nil
}

func countStory(k *Kind, policy rules.Policy, gap time.Duration, whole bool) error {
	o := &Order{ID: "ord-" + strings.ReplaceAll(k.name, "_", "-"), Amount: 120000}
	r := rules.NewReplay(policy)
	k.eventCmds = make([]int, len(k.steps))
	evs := k.Tell(o, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), gap)
	for i, ev := range evs {
		e, err := rules.Decode(ev.Value)
		if err != nil {
			return fmt.Errorf("story %s step %d (%s): %w", k.name, i, ev.Type, err)
		}
		cmds, err := r.Apply(e)
		if err != nil {
			return fmt.Errorf("story %s step %d (%s): %w", k.name, i, ev.Type, err)
		}
		for _, c := range cmds {
			if _, cause := SplitCommandID(c.ID); strings.HasPrefix(cause, "event:") {
				if _, ok := c.Body.(*rules.Rejection); ok {
					return fmt.Errorf("story %s step %d (%s) is rejected: %+v", k.name, i, ev.Type, c.Body)
				}
				k.eventCmds[i]++
			} else {
				k.DeadlineCmds++
				if _, ok := c.Body.(*rules.Ruling); ok {
					k.DeadlineRulings++
				}
			}
		}
	}
	cmds, err := r.Advance(evs[len(evs)-1].At.AddDate(1, 0, 0))
	if err != nil {
		return fmt.Errorf("story %s: deadlines: %w", k.name, err)
	}
	for _, c := range cmds {
		k.DeadlineCmds++
		if _, ok := c.Body.(*rules.Ruling); ok {
			k.DeadlineRulings++
		}
	}
	if st := r.State(o.ID).Status; whole && st.Open() {
		return fmt.Errorf("story %s ends with the dispute still open (%s)", k.name, st)
	}
	return nil
}

// DeadlineKind is the deadline phase's story: an order paid, a refund asked
// for as not delivered, an intervention; then its evidence deadline decides.
func DeadlineKind() *Kind {
	return &Kind{name: "deadline", steps: []Step{
		{Type: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, refund(rules.ReasonNotDelivered), intervention,
	}}
}

// Event is step number step of the story of order o, at time at, in phase:
// its bytes, and the commands it causes (once CountCommands counted them).
func (k *Kind) Event(step int, o *Order, at time.Time, phase int) Event {
	st := k.steps[step]
	var data rules.Data
	if st.data != nil {
		data = st.data(o, at)
	}
	id := o.EventID(step)
	ev := Event{ID: id, Order: o.ID, Type: st.Type, At: at, Phase: phase, Value: EncodeEvent(id, o.ID, st.Type, at, data)}
	if step < len(k.eventCmds) {
		ev.Cmds = k.eventCmds[step]
	}
	return ev
}

// Tell returns the whole story of order o in the load phase, from start,
// its events gap apart (and more before a step that waits for a deadline).
func (k *Kind) Tell(o *Order, start time.Time, gap time.Duration) []Event {
	evs := make([]Event, len(k.steps))
	at := start
	for i, st := range k.steps {
		if i > 0 {
			at = at.Add(gap + st.after)
		}
		evs[i] = k.Event(i, o, at, PhaseLoad)
	}
	return evs
}
