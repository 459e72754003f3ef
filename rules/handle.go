package rules

import "fmt"

// The event handlers: what each event type does to an order, before the
// record is re-examined (settle, in decide.go).

func (d *decider) handle() {
	s, e := &d.s, d.e
	switch e.Type {
	case TypeOrderPaid:
		d.orderPaid()
	case TypeOrderAccepted:
		d.orderAccepted()
	case TypeChatMessage, TypeEvidenceSubmitted:
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
			d.reject(CodeAfterCompletion, "the customer accepted the service; a refund dispute can only arise before acceptance", C1S3A2)
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
		d.reject(CodeAlreadyPaid, fmt.Sprintf("order %s was already paid by event %s", e.OrderID, s.Log[0].ID))
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
		d.reject(CodeAfterCompletion, "the customer already accepted the service", C1S3A2)
	case s.Status.Open():
		d.reject(CodeRefundOpen, "a refund request is open; the customer can accept the service only once it is withdrawn or settled", C1S3A2)
	default:
		// Accepted: no refund can follow (c1.s3.a2), so no deadline can
		// decide anything any more.
		s.Status = StatusAccepted
		d.disarm(func(Timer) bool { return true })
	}
}

func (d *decider) reviewDecided() {
	s, e := &d.s, d.e
	switch s.Status {
	case StatusUnderReview, StatusEscalated:
	case StatusSuspended:
		d.reject(CodeSuspended, "the dispute is suspended; no ruling is made until the suspension is lifted", d.suspensionArticles()...)
		return
	default:
		d.reject(CodeNotUnderReview, "no dispute of this order is under review or escalated", C1S1A4)
		return
	}
	if e.Data.RefundAmount > s.Refund.Amount {
		d.reject(CodeAboveRequest, fmt.Sprintf("refund_amount %d is more than the %d the customer asked for", e.Data.RefundAmount, s.Refund.Amount), C1S1A4, C1S3A2)
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
