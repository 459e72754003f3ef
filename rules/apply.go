package rules

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Policy holds the settings of the engine that the rules text leaves to the
// platform. The zero Policy is not valid; start from DefaultPolicy.
type Policy struct {
	// RuleSet is the rules text new orders are decided under.
	RuleSet string
	// EvidenceWindow is how long the burdened party has to submit evidence
	// once the platform intervenes (c1.s4.a2). Default 72 hours.
	EvidenceWindow time.Duration
	// ModificationWindow is the modification cycle when none was agreed
	// (c2.a5: 3 days).
	ModificationWindow time.Duration

	// Per-order limits, so that one order flooded with events (by mistake
	// or on purpose) costs a small, known amount of memory and time.
	// MaxEvents: events kept per order; later ones are rejected, and not
	// recorded, so a redelivery is rejected again under the same command
	// ID. MaxVouchers: evidence and chat messages kept per order; later
	// ones are rejected. MaxVoucherText: bytes of a voucher's text kept in
	// the state (the whole text stays in the event stream). Zero means no
	// limit.
	MaxEvents      int
	MaxVouchers    int
	MaxVoucherText int
}

// DefaultPolicy returns the platform's defaults.
func DefaultPolicy() Policy {
	return Policy{
		RuleSet:            RuleSet2018,
		EvidenceWindow:     72 * time.Hour,
		ModificationWindow: 72 * time.Hour,
		MaxEvents:          1000,
		MaxVouchers:        200,
		MaxVoucherText:     1024,
	}
}

// Validate reports every setting that is out of range.
func (p Policy) Validate() error {
	var errs []error
	if p.RuleSet != RuleSet2018 {
		errs = append(errs, fmt.Errorf("rule set %q: only %q is implemented", p.RuleSet, RuleSet2018))
	}
	const maxWindow = 10 * 365 * 24 * time.Hour // keeps every deadline encodable (see maxTime)
	if p.EvidenceWindow <= 0 || p.EvidenceWindow > maxWindow {
		errs = append(errs, fmt.Errorf("evidence window %v: must be positive and at most 10 years", p.EvidenceWindow))
	}
	if p.ModificationWindow <= 0 || p.ModificationWindow > maxWindow {
		errs = append(errs, fmt.Errorf("modification window %v: must be positive and at most 10 years", p.ModificationWindow))
	}
	if p.MaxEvents < 0 || p.MaxVouchers < 0 || p.MaxVoucherText < 0 {
		errs = append(errs, errors.New("per-order limits cannot be negative"))
	}
	return errors.Join(errs...)
}

// Decision is what applying one input to one order produced.
type Decision struct {
	// State is the order's new state.
	State State
	// Changed is false when the input had no effect (a duplicate event, a
	// stale deadline): there is no state to write.
	Changed bool
	// Commands to publish, in order.
	Commands []Command
	// Arm lists deadlines to set (running timers, At set); Disarm the IDs of
	// deadlines to remove. An ID is never in both.
	Arm    []Timer
	Disarm []string
}

// ErrConflict is returned by a store when a write lost a race: the state or
// the offsets changed since they were loaded (another owner of the partition
// wrote them). The caller reloads and applies its batch again.
var ErrConflict = errors.New("conflicting write")

// ErrRuleSet is returned for a state recorded under a rules text this build
// does not implement.
var ErrRuleSet = errors.New("unsupported rule set")

// Apply applies one event, or one fired deadline (Type == TypeDeadline, Time
// the deadline's due time, TimerID its ID), to the order's state s and
// returns the decision. now is the decision's clock; the stream processor
// and replay both pass the event's own time (a deadline's due time), which
// is what makes them agree byte for byte.
//
// Apply never modifies s. A repeated event ID has no effect. An event other
// than order.paid for an order never paid returns an error wrapping
// ErrUnknownOrder (and so ErrInvalidEvent). Events the rules do not allow
// are not errors: they produce a Rejection command.
func (p Policy) Apply(s State, e Event, now time.Time) (Decision, error) {
	if s.Status != StatusNew {
		if s.OrderID != e.OrderID {
			return Decision{State: s}, fmt.Errorf("apply %s: event for order %q given the state of order %q", e.Type, e.OrderID, s.OrderID)
		}
		if s.RuleSet != RuleSet2018 {
			return Decision{State: s}, fmt.Errorf("apply %s to order %q: %w %q", e.Type, e.OrderID, ErrRuleSet, s.RuleSet)
		}
	}
	if e.Type == TypeDeadline {
		return p.fire(s, e, now), nil
	}
	if s.Status == StatusNew && e.Type != TypeOrderPaid {
		return Decision{State: s}, fmt.Errorf("%w %q: %s before order.paid", ErrUnknownOrder, e.OrderID, e.Type)
	}
	if s.seen(e.ID) {
		return Decision{State: s}, nil
	}
	if p.MaxEvents > 0 && s.Events >= p.MaxEvents {
		return p.overLimit(s, e, fmt.Sprintf("order %s has reached its limit of %d events", e.OrderID, p.MaxEvents)), nil
	}
	d := p.start(s, e, now, "event:"+e.ID)
	d.s.log(e.Time, string(e.Type), e.ID)
	d.s.Events++
	if s.Status == StatusRuled {
		d.reject(fmt.Sprintf("order %s already has its final ruling", e.OrderID), C1S6A2)
	} else {
		d.handle()
		d.settle()
	}
	return d.finish(), nil
}

// overLimit rejects an event beyond a per-order limit without recording it:
// the state stays as it is, and a redelivery gets the same rejection, with
// the same command ID.
func (p Policy) overLimit(s State, e Event, reason string) Decision {
	d := p.start(s, e, e.Time, "event:"+e.ID)
	d.reject(reason)
	return Decision{State: s, Commands: d.out.Commands}
}

// fire applies a fired deadline. A deadline the state no longer holds, holds
// paused, or holds with another due time, is stale: it changes no state, and
// the decision disarms it or arms it again at its due time. One fired early
// is armed again.
func (p Policy) fire(s State, e Event, now time.Time) Decision {
	i := s.timer(e.TimerID)
	if s.Status == StatusNew || i < 0 {
		s.OrderID = e.OrderID // the order may be gone; its stale timer must still go
		return Decision{State: s, Disarm: []string{e.TimerID}}
	}
	// The stores keep one entry per timer, set in the same step as the
	// state, so these two should not come due; if one does, put the store
	// right rather than let it come due again and again.
	t := s.Timers[i]
	if t.Paused {
		return Decision{State: s, Disarm: []string{t.ID}}
	}
	if !t.At.Equal(e.Time) {
		return Decision{State: s, Arm: []Timer{t}}
	}
	if now.Before(t.At) {
		return Decision{State: s, Arm: []Timer{t}}
	}
	d := p.start(s, e, now, "deadline:"+t.ID)
	d.s.log(t.At, string(TypeDeadline), t.ID)
	d.s.Timers = slices.Delete(d.s.Timers, i, i+1)
	d.out.Disarm = append(d.out.Disarm, t.ID)
	switch t.Kind {
	case TimerEvidence:
		d.evidenceDue()
	case TimerModification:
		d.modificationDue(t.IssueID)
	case TimerDelivery:
		d.deliveryDue()
	case TimerCooperation:
		d.cooperationDue()
	}
	d.settle()
	return d.finish()
}

// decider carries one application of an input: a private copy of the state
// and the effects produced so far.
type decider struct {
	p     Policy
	s     State
	e     Event
	now   time.Time
	cause string // "event:<id>" or "deadline:<timer id>"
	out   Decision
}

func (p Policy) start(s State, e Event, now time.Time, cause string) *decider {
	return &decider{p: p, s: s.clone(), e: e, now: now, cause: cause}
}

func (d *decider) finish() Decision {
	for _, c := range d.out.Commands {
		d.s.log(d.now, LogCommand, c.ID)
	}
	out := d.out
	out.State = d.s
	out.Changed = true
	// A timer armed and disarmed by the same input never reaches the store.
	if len(out.Arm) > 0 && len(out.Disarm) > 0 {
		inBoth := func(id string) bool {
			return slices.Contains(d.out.Disarm, id) && slices.ContainsFunc(d.out.Arm, func(t Timer) bool { return t.ID == id })
		}
		out.Arm = slices.DeleteFunc(slices.Clone(d.out.Arm), func(t Timer) bool { return inBoth(t.ID) })
		out.Disarm = slices.DeleteFunc(slices.Clone(d.out.Disarm), inBoth)
	}
	return out
}

func (d *decider) handle() {
	s, e := &d.s, d.e
	switch e.Type {
	case TypeOrderPaid:
		d.orderPaid()
	case TypeOrderAccepted:
		d.orderAccepted()
	case TypeChatMessage, TypeEvidenceSubmitted:
		if max := d.p.MaxVouchers; max > 0 && len(s.Vouchers) >= max {
			d.reject(fmt.Sprintf("order %s has reached its limit of %d vouchers (evidence and chat messages)", e.OrderID, max))
			return
		}
		v := Voucher{EventID: e.ID, At: e.Time, Party: e.Data.From, Text: e.Data.Text}
		if e.Type == TypeEvidenceSubmitted {
			v = Voucher{EventID: e.ID, At: e.Time, Party: e.Data.Party, Kind: e.Data.Kind, Text: e.Data.Note}
		}
		v.Text = clip(v.Text, d.p.MaxVoucherText)
		s.Vouchers = append(s.Vouchers, v)
	case TypeDeliverySubmitted:
		s.Delivered = true
		d.disarm(func(t Timer) bool { return t.Kind == TimerDelivery })
	case TypeCooperationProvided:
		if s.Cooperation != nil {
			s.Cooperation.Provided = true
			d.disarm(func(t Timer) bool { return t.Kind == TimerCooperation })
		}
	case TypeAssessmentRecorded:
		s.Assessment = &Assessment{ValueRatioBP: e.Data.ValueRatioBP, ServiceCost: e.Data.ServiceCost, UnrealizedCost: e.Data.UnrealizedCost}
	case TypeRefundWithdrawn:
		d.refundWithdrawn()
	case TypeSuspensionLifted:
		d.suspensionLifted()
	default:
		// The rest can lead to a refund, which acceptance rules out (c1.s3.a2).
		if s.Status == StatusAccepted {
			d.reject("the customer accepted the service; a refund dispute can only arise before acceptance", C1S3A2)
			return
		}
		d.handleDispute()
	}
}

func (d *decider) handleDispute() {
	s, e := &d.s, d.e
	switch e.Type {
	case TypeServiceTerminated:
		s.Termination = &Termination{By: e.Data.By, Cause: e.Data.Cause, Agreed: e.Data.Agreed, At: e.Time}
	case TypeServiceExtended:
		s.Extension = &Extension{By: e.Data.By, Agreed: e.Data.Agreed, At: e.Time}
	case TypeModificationRequested:
		d.modificationRequested()
	case TypeModificationRefused, TypeModificationDelivered, TypeModificationRejected:
		d.modificationAnswered()
	case TypeCooperationRequested:
		d.disarm(func(t Timer) bool { return t.Kind == TimerCooperation })
		s.Cooperation = &Cooperation{Due: e.Data.Due, Informed: e.Data.InformedInAdvance}
		d.arm(TimerCooperation, e.Data.Due, "")
	case TypeRefundRequested:
		d.refundRequested()
	case TypeInterventionRequested:
		d.interventionRequested()
	case TypeSettlementAgreed:
		d.settlementAgreed()
	case TypeNegotiationRequested:
		d.negotiationRequested()
	case TypeJudicialFiled:
		d.judicialFiled()
	case TypeReviewDecided:
		d.reviewDecided()
	}
}

func (d *decider) orderPaid() {
	s, e := &d.s, d.e
	if s.Status != StatusNew {
		first, _ := ParseLogEntry(s.Log[0])
		d.reject(fmt.Sprintf("order %s was already paid by event %s", e.OrderID, first.ID))
		return
	}
	s.OrderID = e.OrderID
	s.RuleSet = d.p.RuleSet
	s.Status = StatusPaid
	s.Order = Order{
		CustomerID:                e.Data.CustomerID,
		ProviderID:                e.Data.ProviderID,
		Category:                  e.Data.Category,
		Amount:                    e.Data.Amount,
		Currency:                  e.Data.Currency,
		PaidAt:                    e.Time,
		DeliveryDue:               e.Data.DeliveryDue,
		ModificationDays:          e.Data.ModificationDays,
		CustomContract:            e.Data.CustomContract,
		PromisedTransactionAmount: e.Data.PromisedTransactionAmount,
	}
	if !e.Data.DeliveryDue.IsZero() {
		d.arm(TimerDelivery, e.Data.DeliveryDue, "")
	}
}

func (d *decider) orderAccepted() {
	s := &d.s
	switch {
	case s.Status == StatusAccepted:
		d.reject("the customer already accepted the service", C1S3A2)
	case s.Status.Open():
		d.reject("a refund request is open; the customer can accept the service only once it is withdrawn or settled", C1S3A2)
	default:
		// Accepted: no refund can follow (c1.s3.a2), so no deadline can
		// decide anything any more.
		s.Status = StatusAccepted
		d.disarm(func(Timer) bool { return true })
	}
}

func (d *decider) refundRequested() {
	s, e := &d.s, d.e
	if s.Status.Open() {
		d.reject(fmt.Sprintf("a refund request (event %s) is already open for this order", s.Refund.EventID), C1S3A1)
		return
	}
	amount := e.Data.Amount
	if amount == 0 {
		amount = s.Order.Amount
	}
	if amount > s.Order.Amount {
		d.reject(fmt.Sprintf("the request asks %d, more than the order amount %d", amount, s.Order.Amount), C1S3A2)
		return
	}
	s.Refund = &Refund{EventID: e.ID, Reason: e.Data.Reason, Amount: amount, RequestedAt: e.Time}
	s.Status = StatusNegotiating
}

func (d *decider) refundWithdrawn() {
	s := &d.s
	if !s.Status.Open() {
		d.reject("there is no open refund request to withdraw", C1S3A1)
		return
	}
	if s.Status == StatusSuspended {
		d.resumeTimers()
	}
	d.disarm(func(t Timer) bool { return t.Kind == TimerEvidence })
	s.Status, s.Resume = StatusPaid, ""
	s.Refund, s.Negotiation, s.Judicial = nil, nil, false
}

func (d *decider) interventionRequested() {
	s, e := &d.s, d.e
	switch s.Status {
	case StatusNegotiating:
	case StatusUnderReview, StatusEscalated:
		d.reject("the platform is already handling this dispute", C1S3A1)
		return
	case StatusSuspended:
		d.reject("the dispute is suspended; the platform resumes it when the suspension is lifted", d.suspensionArticles()...)
		return
	default:
		d.reject("there is no open refund request for the platform to intervene in", C1S3A1)
		return
	}
	s.Status = StatusUnderReview
	s.Refund.InterventionBy, s.Refund.InterventionAt = e.Data.By, e.Time
	s.Refund.Burden, s.Refund.BurdenArticle = burdenOf(s.Refund.Reason)
	// The record or the evidence already in may decide it now; only if not
	// does the evidence phase start.
	d.settle()
	if s.Status != StatusUnderReview {
		return // the record or the evidence already decided it
	}
	due := d.arm(TimerEvidence, e.Time.Add(d.p.EvidenceWindow), "").At
	s.Refund.EvidenceDue = due
	d.notice(NoticeEvidenceRequested, s.Refund.Burden, due,
		fmt.Sprintf("The %s bears the burden of proof and must submit valid evidence by the deadline; without it the dispute is decided on what was collected.", s.Refund.Burden),
		C1S4A1, C1S4A2, s.Refund.BurdenArticle)
}

// burdenOf says who must prove what for a refund reason (rules.md).
func burdenOf(r Reason) (Party, string) {
	switch r {
	case ReasonNotDelivered, ReasonProviderTerminated, ReasonModificationOverdue, ReasonModificationFailed:
		return Provider, C1S4A3
	}
	return Customer, C1S4A4
}

func (d *decider) settlementAgreed() {
	s, e := &d.s, d.e
	if !s.Status.Open() {
		d.reject("there is no open dispute to settle", C1S3A1)
		return
	}
	if e.Data.RefundAmount > s.Order.Amount {
		d.reject(fmt.Sprintf("refund_amount %d is more than the order amount %d", e.Data.RefundAmount, s.Order.Amount), C1S6A1)
		return
	}
	// The parties' own agreement is not the platform's ruling, so it may
	// close a suspended dispute too.
	d.finalize(verdict{
		outcome:  Settled,
		refund:   e.Data.RefundAmount,
		articles: []string{C1S6A1},
		reason:   "The customer and the provider agreed the refund themselves.",
	})
}

func (d *decider) negotiationRequested() {
	s, e := &d.s, d.e
	switch {
	case e.Data.By == Platform:
		d.reject("only the customer and the provider can ask to settle a dispute themselves", C1S5I1)
		return
	case !s.Status.Open():
		d.reject("there is no open dispute to negotiate", C1S3A1)
		return
	}
	if !slices.Contains(s.Negotiation, e.Data.By) {
		s.Negotiation = append(s.Negotiation, e.Data.By)
	}
	if suspendable(s.Status) && slices.Contains(s.Negotiation, Customer) && slices.Contains(s.Negotiation, Provider) {
		d.suspend(C1S5I1, "Both parties asked to settle the dispute themselves; its handling is suspended.")
	}
}

func (d *decider) judicialFiled() {
	s := &d.s
	if !s.Status.Open() {
		d.reject("there is no open dispute to suspend", C1S5I2)
		return
	}
	s.Judicial = true
	if suspendable(s.Status) {
		d.suspend(C1S5I2, fmt.Sprintf("The %s took the dispute to a court or the police; its handling is suspended until the outcome.", d.e.Data.By))
	}
}

// suspendable reports whether the platform's handling of a dispute at this
// stage can be suspended (c1.s5): while the parties negotiate or the
// platform reviews it, by its rules or, once escalated, by a person.
func suspendable(s Status) bool {
	return s == StatusNegotiating || s == StatusUnderReview || s == StatusEscalated
}

func (d *decider) suspend(article, message string) {
	s := &d.s
	s.Resume, s.Status = s.Status, StatusSuspended
	for i := range s.Timers {
		t := &s.Timers[i]
		if t.Paused {
			continue
		}
		t.Remaining = max(0, t.At.Sub(d.e.Time))
		t.At, t.Paused = time.Time{}, true
		d.out.Disarm = append(d.out.Disarm, t.ID)
	}
	d.notice(NoticeSuspended, "", time.Time{}, message+" Every running deadline is paused.", article)
}

func (d *decider) suspensionArticles() []string {
	var a []string
	if len(d.s.Negotiation) == 2 {
		a = append(a, C1S5I1)
	}
	if d.s.Judicial {
		a = append(a, C1S5I2)
	}
	if len(a) == 0 {
		a = []string{C1S5I1, C1S5I2}
	}
	return a
}

func (d *decider) suspensionLifted() {
	s := &d.s
	if s.Status != StatusSuspended {
		d.reject("the dispute is not suspended", C1S5I1, C1S5I2)
		return
	}
	articles := d.suspensionArticles()
	s.Status, s.Resume = s.Resume, ""
	s.Negotiation, s.Judicial = nil, false
	d.resumeTimers()
	// The evidence deadline moved by the time suspended: say when it is now.
	var due time.Time
	if s.Status == StatusUnderReview && s.Refund != nil {
		due = s.Refund.EvidenceDue
	}
	d.notice(NoticeResumed, "", due, "The suspension is lifted; the dispute and its deadlines resume with the time they had left.", articles...)
}

func (d *decider) resumeTimers() {
	s := &d.s
	for i := range s.Timers {
		t := &s.Timers[i]
		if !t.Paused {
			continue
		}
		t.At, t.Remaining, t.Paused = deadline(d.e.Time.Add(t.Remaining)), 0, false
		if t.Kind == TimerEvidence && s.Refund != nil {
			s.Refund.EvidenceDue = t.At
		}
		d.out.Arm = append(d.out.Arm, *t)
	}
}

func (d *decider) reviewDecided() {
	s, e := &d.s, d.e
	switch s.Status {
	case StatusUnderReview, StatusEscalated:
	case StatusSuspended:
		d.reject("the dispute is suspended; no ruling is made until the suspension is lifted", d.suspensionArticles()...)
		return
	default:
		d.reject("no dispute of this order is under review or escalated", C1S1A4)
		return
	}
	if e.Data.RefundAmount > s.Refund.Amount {
		d.reject(fmt.Sprintf("refund_amount %d is more than the %d the customer asked for", e.Data.RefundAmount, s.Refund.Amount), C1S1A4, C1S3A2)
		return
	}
	reason := "A platform reviewer decided the dispute."
	if e.Data.Note != "" {
		reason = "A platform reviewer decided the dispute: " + oneLine(e.Data.Note)
	}
	d.finalize(verdict{
		refund:   e.Data.RefundAmount,
		articles: append([]string{C1S1A4}, e.Data.Articles...),
		reason:   reason,
	})
}

func (d *decider) modificationRequested() {
	s, e := &d.s, d.e
	i := s.modification(e.Data.IssueID)
	if i >= 0 && s.Modifications[i].Fault != "" {
		d.reject(fmt.Sprintf("modification %q is already decided (%s)", e.Data.IssueID, s.Modifications[i].Fault), C2A5)
		return
	}
	m := Modification{IssueID: e.Data.IssueID, Objective: e.Data.Objective, Due: e.Data.Due}
	if i >= 0 {
		// A new request for the same issue replaces the old one; the
		// failures on the issue still count (c2.a5).
		m.Rejections = s.Modifications[i].Rejections
		d.disarm(func(t Timer) bool { return t.Kind == TimerModification && t.IssueID == m.IssueID })
		s.Modifications[i] = m
	} else {
		s.Modifications = append(s.Modifications, m)
		i = len(s.Modifications) - 1
	}
	if !m.Objective {
		return // the provider may refuse it (c2.a5); no deadline runs
	}
	if m.Due.IsZero() {
		window := d.p.ModificationWindow
		if s.Order.ModificationDays > 0 {
			window = time.Duration(s.Order.ModificationDays) * 24 * time.Hour
		}
		s.Modifications[i].Due = e.Time.Add(window)
	}
	d.arm(TimerModification, s.Modifications[i].Due, m.IssueID)
}

func (d *decider) modificationAnswered() {
	s, e := &d.s, d.e
	i := s.modification(e.Data.IssueID)
	if i < 0 {
		d.reject(fmt.Sprintf("no modification was requested for issue %q", e.Data.IssueID), C2A5)
		return
	}
	m := &s.Modifications[i]
	if m.Fault != "" {
		d.reject(fmt.Sprintf("modification %q is already decided (%s)", m.IssueID, m.Fault), C2A5)
		return
	}
	switch e.Type {
	case TypeModificationRefused:
		m.Fault = FaultRefused
	case TypeModificationDelivered:
		m.Delivered = true
	case TypeModificationRejected:
		m.Rejections++
		m.Delivered = false
		if m.Rejections >= 3 {
			m.Fault = FaultFailed
		}
	}
	if e.Type != TypeModificationRejected || m.Fault != "" {
		d.disarm(func(t Timer) bool { return t.Kind == TimerModification && t.IssueID == m.IssueID })
	}
}

func (d *decider) evidenceDue() {
	s := &d.s
	if s.Status != StatusUnderReview || s.Refund == nil {
		return
	}
	if v, ok := d.evidenceVerdict(); ok {
		d.finalize(v)
		return
	}
	r := s.Refund
	if slices.ContainsFunc(s.Vouchers, func(v Voucher) bool {
		return v.Party == r.Burden && v.Kind == Reference && !v.At.Before(r.RequestedAt)
	}) {
		d.finalize(verdict{
			escalate: true,
			articles: []string{C1S4A2, r.BurdenArticle, C1S2ReferenceVoucher},
			reason:   fmt.Sprintf("By the evidence deadline the %s submitted only reference vouchers, which a formal examination cannot rest on; a reviewer must weigh them.", r.Burden),
		})
		return
	}
	if r.Burden == Provider {
		d.finalize(verdict{
			refund:         s.Order.Amount,
			nonPerformance: true,
			articles:       []string{C1S4A2, C1S4A3},
			reason:         "The provider did not prove delivery or performance by the evidence deadline.",
		})
		return
	}
	d.finalize(verdict{
		refund:   0,
		articles: []string{C1S4A2, C1S4A4},
		reason:   "The customer did not prove the claim by the evidence deadline.",
	})
}

func (d *decider) modificationDue(issue string) {
	s := &d.s
	i := s.modification(issue)
	if i < 0 || s.Modifications[i].Delivered || s.Modifications[i].Fault != "" {
		return
	}
	s.Modifications[i].Fault = FaultOverdue
}

func (d *decider) deliveryDue() {
	s := &d.s
	if s.Delivered {
		return
	}
	s.DeliveryMissed = true
	d.notice(NoticeDeadlineMissed, Customer, s.Order.DeliveryDue,
		"The provider did not deliver the service by the agreed delivery date.", C2A4)
}

func (d *decider) cooperationDue() {
	s := &d.s
	c := s.Cooperation
	if c == nil || c.Provided || !c.Informed {
		// Not announced in advance: the customer may refuse (c2.a6), so
		// the missed deadline is no fault of the customer's.
		return
	}
	s.CooperationMissed = true
}

// arm sets a new deadline and returns it. While the dispute is suspended it
// is created paused, with all its time left.
func (d *decider) arm(kind TimerKind, at time.Time, issue string) Timer {
	s := &d.s
	s.TimerSeq++
	t := Timer{ID: string(kind) + "-" + strconv.Itoa(s.TimerSeq), Kind: kind, At: deadline(at), IssueID: issue}
	if s.Status == StatusSuspended {
		t.Remaining, t.At, t.Paused = max(0, t.At.Sub(d.e.Time)), time.Time{}, true
	} else {
		d.out.Arm = append(d.out.Arm, t)
	}
	s.Timers = append(s.Timers, t)
	return t
}

// deadline rounds a due time down to the millisecond: timers are kept with
// millisecond scores, and a fired deadline must match its timer exactly.
func deadline(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// disarm removes the deadlines that match.
func (d *decider) disarm(match func(Timer) bool) {
	d.s.Timers = slices.DeleteFunc(d.s.Timers, func(t Timer) bool {
		if !match(t) {
			return false
		}
		if !t.Paused {
			d.out.Disarm = append(d.out.Disarm, t.ID)
		}
		return true
	})
}

// base is the prefix of the IDs of everything this input causes.
func (d *decider) base() string { return d.s.OrderID + "/" + d.cause }

func (d *decider) emit(subject, id string, body any) {
	d.out.Commands = append(d.out.Commands, Command{ID: id, Subject: subject + "." + d.s.OrderID, Body: body})
}

func (d *decider) reject(reason string, articles ...string) {
	id := d.base() + "/rejected"
	if d.s.OrderID == "" {
		id = d.e.OrderID + "/" + d.cause + "/rejected"
	}
	d.out.Commands = append(d.out.Commands, Command{ID: id, Subject: SubjectRejected + "." + d.e.OrderID, Body: &Rejection{
		CommandID: id,
		OrderID:   d.e.OrderID,
		EventID:   d.e.ID,
		EventType: d.e.Type,
		Reason:    reason,
		Articles:  nonNil(articles),
	}})
}

func (d *decider) notice(kind string, party Party, due time.Time, message string, articles ...string) {
	id := d.base() + "/notice/" + kind
	n := &Notice{CommandID: id, OrderID: d.s.OrderID, Kind: kind, Party: party, Articles: nonNil(articles), Message: message}
	if !due.IsZero() {
		n.Due = &due
	}
	d.emit(SubjectNotice, id, n)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// clip keeps at most n bytes of s, cut at a character boundary; n <= 0
// keeps it whole.
func clip(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// oneLine keeps a reviewer's note to one line of reasonable length.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' || c == '\t' {
			b[i] = ' '
		}
	}
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
