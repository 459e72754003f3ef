package rules

import (
	"fmt"
	"slices"
)

// verdict is a decision before the money is worked out.
type verdict struct {
	escalate bool    // a person must decide
	outcome  Outcome // Settled, or empty to name it by the amounts
	refund   int64   // the customer's share before any assessment or cap
	// nonPerformance marks a refund that rests on the provider not
	// performing: an assessment on record turns it into a split (rules.md).
	nonPerformance bool
	articles       []string
	reason         string
}

// settle re-examines the record and decides whatever it now decides. It is
// the last step of every input (Apply and fire call it once the input's own
// handler is done), so that no input, however it changes the order (a
// suspension lifted, a refund request withdrawn, evidence, a fault), can
// leave a ruling the record determines unmade. It rules nothing while the
// dispute is suspended or after acceptance; modification faults rule at once
// at any other stage (c2.a5); the record and the evidence decide only while
// the platform handles the dispute itself (under review), not once it is
// escalated to a person. Once the order is ruled it does nothing, so calling
// it again is harmless.
func (d *decider) settle() {
	s := &d.s
	switch s.Status {
	case StatusPaid, StatusNegotiating, StatusUnderReview, StatusEscalated:
	default:
		return
	}
	if v, ok := d.modificationVerdict(); ok {
		d.finalize(v)
		return
	}
	// An escalated dispute waits for the reviewer's review.decided.
	if s.Status != StatusUnderReview {
		return
	}
	if v, ok := d.recordVerdict(); ok {
		d.finalize(v)
		return
	}
	if v, ok := d.evidenceVerdict(); ok {
		d.finalize(v)
	}
}

// modificationVerdict rules on a modification fault (c2.a5).
func (d *decider) modificationVerdict() (verdict, bool) {
	for _, m := range d.s.Modifications {
		switch m.Fault {
		case FaultOverdue:
			return verdict{refund: d.s.Order.Amount, nonPerformance: true, articles: []string{C2A5},
				reason: fmt.Sprintf("The provider did not re-deliver modification %q within the modification cycle.", m.IssueID)}, true
		case FaultRefused:
			if !m.Objective {
				return verdict{refund: 0, articles: []string{C2A5},
					reason: fmt.Sprintf("The provider refused modification %q, which the customer did not describe objectively, so the service counts as complete.", m.IssueID)}, true
			}
			return verdict{refund: d.s.Order.Amount, nonPerformance: true, articles: []string{C2A5},
				reason: fmt.Sprintf("The provider refused modification %q, which the customer described objectively.", m.IssueID)}, true
		case FaultFailed:
			return verdict{refund: d.s.Order.Amount, nonPerformance: true, articles: []string{C2A5},
				reason: fmt.Sprintf("The provider failed modification %q three times against the agreed need.", m.IssueID)}, true
		}
	}
	return verdict{}, false
}

// recordVerdict decides what the record decides without an evidence phase
// (rules.md, "Reasons decided on the record"). A record with faults of both
// parties is for a person to weigh.
func (d *decider) recordVerdict() (verdict, bool) {
	s := &d.s
	o := s.Order
	cat := o.Category
	amount := o.Amount
	reason := s.Refund.Reason
	refund := func(article, why string) verdict {
		return verdict{refund: amount, articles: []string{article}, reason: why}
	}

	if reason == ReasonIllegalService {
		return refund(C2A1, "The service violates laws or regulations, so the transaction is refunded."), true
	}
	if o.CustomContract && (cat == ImageDesign || cat == Video) {
		return verdict{escalate: true, articles: []string{byCategory(cat, "", "", "", C3S4A5, C3S5A5, "")},
			reason: "The order is a personalised service under a contract signed by both parties, which governs the dispute; a reviewer must apply it."}, true
	}

	var provider, customer []verdict
	if cat == OperationalService && o.PromisedTransactionAmount && reason == ReasonPromisedEffect {
		provider = append(provider, refund(C3S2A2, "The agency operation service promised a transaction amount, which it may not promise."))
	}
	customerCaused := false
	if t := s.Termination; t != nil {
		switch {
		case t.By == Provider && !t.Agreed:
			provider = append(provider, refund(byCategory(cat, C3S1A2, C3S2A3, C3S3A2, C3S4A2, C3S5A2, C2A4),
				"The provider terminated the service without the customer's agreement."))
		case t.By == Platform && t.Cause == Provider:
			provider = append(provider, refund(byCategory(cat, C3S1A4, C3S2A4, C3S3A3, C3S4A3, C3S5A3, C2A4),
				"The platform terminated the service for a reason of the provider's."))
		case t.Cause == Customer:
			customerCaused = true
			if v, ok := d.customerTermination(t.By == Platform); ok {
				customer = append(customer, v)
			}
		}
	}
	if !customerCaused && reason == ReasonCustomerReasons && (cat == Training || cat == ImageDesign || cat == Video) {
		if v, ok := d.customerTermination(false); ok {
			customer = append(customer, v)
		}
	}
	if x := s.Extension; x != nil && x.By == Provider && !x.Agreed {
		provider = append(provider, refund(byCategory(cat, C3S1A2, C3S2A3, C3S3A2, C3S4A2, C3S5A2, C2A4),
			"The provider extended the service without the customer's agreement."))
	}
	if s.DeliveryMissed {
		provider = append(provider, refund(C2A4, "The provider did not deliver the service by the agreed delivery date."))
	}
	if s.CooperationMissed {
		customer = append(customer, verdict{refund: 0, articles: []string{C2A7},
			reason: "The customer did not give the cooperation the provider announced in advance by its deadline."})
	}

	switch {
	case len(provider) > 0 && len(customer) > 0:
		var articles []string
		for _, v := range append(provider, customer...) {
			articles = append(articles, v.articles...)
		}
		return verdict{escalate: true, articles: articles,
			reason: "The record holds faults of both the provider and the customer; a reviewer must weigh them."}, true
	case len(provider) > 0:
		return provider[0], true
	case len(customer) > 0:
		return customer[0], true
	}
	return verdict{}, false
}

// customerTermination decides a service ended for the customer's reasons, by
// category. byPlatform is set when the platform ended it for the customer's
// fault.
func (d *decider) customerTermination(byPlatform bool) (verdict, bool) {
	s := &d.s
	switch s.Order.Category {
	case SoftwareApp, OperationalService:
		if !byPlatform {
			return verdict{}, false
		}
		return verdict{refund: 0, articles: []string{byCategory(s.Order.Category, C3S1A5, C3S2A5, "", "", "", "")},
			reason: "The platform ended the service for a reason of the customer's, so no refund is due."}, true
	case Training:
		return verdict{refund: 0, articles: []string{C3S3A4},
			reason: "The training ended for the customer's own reasons, so no refund is due."}, true
	case Video:
		if s.Assessment == nil {
			return verdict{escalate: true, articles: []string{C3S5A4},
				reason: "The video service ended for the customer's reasons; the partial refund needs a reviewer's assessment of the value delivered."}, true
		}
		return verdict{refund: s.Order.Amount, nonPerformance: true, articles: []string{C3S5A4},
			reason: "The video service ended for the customer's reasons, so the refund is partial, by the value delivered."}, true
	case ImageDesign:
		return verdict{escalate: true, articles: []string{C3S4A4},
			reason: "The rule for image design ended for the customer's reasons is cut off in the text; a reviewer must decide."}, true
	}
	return verdict{}, false
}

// evidenceVerdict decides for the burdened party once it has submitted valid
// evidence after the refund request (c1.s4.a3, c1.s4.a4).
func (d *decider) evidenceVerdict() (verdict, bool) {
	s := &d.s
	r := s.Refund
	if r == nil || r.Burden == "" {
		return verdict{}, false
	}
	proved := slices.ContainsFunc(s.Vouchers, func(v Voucher) bool {
		return v.Party == r.Burden && v.Kind == Valid && !v.At.Before(r.RequestedAt)
	})
	if !proved {
		return verdict{}, false
	}
	if r.Burden == Provider {
		return verdict{refund: 0, articles: []string{C1S4A3},
			reason: "The provider proved delivery and performance with valid evidence."}, true
	}
	cat := s.Order.Category
	switch r.Reason {
	case ReasonConflictingDescriptions:
		return verdict{refund: s.Order.Amount, articles: []string{C1S4A4, C2A2},
			reason: "The customer proved the service was described in conflicting ways, which are read in the customer's favour."}, true
	case ReasonQuality, ReasonEffectMismatch:
		return verdict{refund: s.Order.Amount, articles: []string{C1S4A4, C2A3},
			reason: "The customer proved the quality or effect of the service does not conform to the agreement."}, true
	case ReasonCustomerReasons:
		return verdict{escalate: true, articles: []string{C1S4A4},
			reason: "The customer proved its own reasons, which decide no refund for this category by themselves; a reviewer must decide."}, true
	}
	return verdict{refund: s.Order.Amount, articles: []string{C1S4A4, byCategory(cat, C3S1A1, C3S2A1, C3S3A1, C3S4A1, C3S5A1, C2A2)},
		reason: "The customer proved the service does not match how it was described or promised."}, true
}

// finalize turns a verdict into a ruling and its transfers.
func (d *decider) finalize(v verdict) {
	s := &d.s
	amount := s.Order.Amount
	if v.escalate {
		s.Status = StatusEscalated
		d.disarm(func(t Timer) bool { return t.Kind == TimerEvidence })
		d.ruling(Escalated, 0, 0, dedupe(v.articles), v.reason, "")
		return
	}
	sp := Split{Refund: v.refund, Provider: amount - v.refund, Articles: v.articles}
	switch {
	case v.outcome == Settled:
		sp.Arithmetic = fmt.Sprintf("customer = %d as agreed; provider = %d - %d = %d", sp.Refund, amount, sp.Refund, sp.Provider)
	case v.nonPerformance && s.Assessment != nil && v.refund == amount:
		a := AssessedSplit(amount, *s.Assessment)
		a.Articles = append(slices.Clone(v.articles), a.Articles...)
		sp = a
	case sp.Refund == amount:
		sp.Arithmetic = fmt.Sprintf("customer = %d, the whole amount; provider = 0", amount)
	case sp.Refund == 0:
		sp.Arithmetic = fmt.Sprintf("provider = %d, the whole amount; customer = 0", amount)
	default:
		sp.Arithmetic = fmt.Sprintf("customer = %d; provider = %d - %d = %d", sp.Refund, amount, sp.Refund, sp.Provider)
	}
	outcome := v.outcome
	if outcome == "" {
		if s.Refund != nil {
			sp = capRefund(sp, amount, s.Refund.Amount)
		}
		outcome = outcomeOf(sp.Refund, amount)
	}
	s.Status, s.Resume = StatusRuled, ""
	d.disarm(func(Timer) bool { return true })
	d.ruling(outcome, sp.Refund, sp.Provider, dedupe(sp.Articles), v.reason, sp.Arithmetic)
}

// ruling records and emits a ruling and, when it moves money, one transfer
// per party with a share.
func (d *decider) ruling(outcome Outcome, refund, provider int64, articles []string, reason, arithmetic string) {
	s := &d.s
	id := d.base()
	r := Ruling{
		CommandID:      id + "/ruling",
		RulingID:       id,
		OrderID:        s.OrderID,
		Outcome:        outcome,
		RefundAmount:   refund,
		ProviderAmount: provider,
		Amount:         s.Order.Amount,
		Currency:       s.Order.Currency,
		Articles:       articles,
		Reason:         reason,
		Arithmetic:     arithmetic,
		DecidedAt:      d.now.UTC(),
		RuleSet:        s.RuleSet,
		Cause:          d.cause,
	}
	s.Rulings = append(s.Rulings, r)
	d.emit(r.CommandID, &r)
	if !outcome.Final() {
		return
	}
	d.transfer(id, Customer, s.Order.CustomerID, refund)
	d.transfer(id, Provider, s.Order.ProviderID, provider)
}

func (d *decider) transfer(rulingID string, to Party, partyID string, amount int64) {
	if amount <= 0 {
		return
	}
	id := rulingID + "/transfer/" + string(to)
	d.emit(id, &Transfer{
		CommandID:  id,
		TransferID: id,
		RulingID:   rulingID,
		OrderID:    d.s.OrderID,
		To:         to,
		PartyID:    partyID,
		Amount:     amount,
		Currency:   d.s.Order.Currency,
	})
}

// dedupe drops repeated citations, keeping the first of each.
func dedupe(a []string) []string {
	out := make([]string, 0, len(a))
	for _, c := range a {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
