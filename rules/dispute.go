package rules

import "fmt"

func (d *decider) refundRequested() {
	s, e := &d.s, d.e
	if s.Status.Open() {
		d.reject(CodeRefundOpen, fmt.Sprintf("a refund request (event %s) is already open for this order", s.Refund.EventID), C1S3A1)
		return
	}
	amount := e.Data.Amount
	if amount == 0 {
		amount = s.Order.Amount
	}
	if amount > s.Order.Amount {
		d.reject(CodeAboveAmount, fmt.Sprintf("the request asks %d, more than the order amount %d", amount, s.Order.Amount), C1S3A2)
		return
	}
	s.Refund = &Refund{EventID: e.ID, Reason: e.Data.Reason, Amount: amount, RequestedAt: e.Time}
	s.Status = StatusNegotiating
}

func (d *decider) refundWithdrawn() {
	s := &d.s
	if !s.Status.Open() {
		d.reject(CodeNoRefundRequest, "there is no open refund request to withdraw", C1S3A1)
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
		d.reject(CodeUnderReview, "the platform is already handling this dispute", C1S3A1)
		return
	case StatusSuspended:
		d.reject(CodeSuspended, "the dispute is suspended; the platform resumes it when the suspension is lifted", d.suspensionArticles()...)
		return
	default:
		d.reject(CodeNoRefundRequest, "there is no open refund request for the platform to intervene in", C1S3A1)
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
		d.reject(CodeNoDispute, "there is no open dispute to settle", C1S3A1)
		return
	}
	if e.Data.RefundAmount > s.Order.Amount {
		d.reject(CodeAboveAmount, fmt.Sprintf("refund_amount %d is more than the order amount %d", e.Data.RefundAmount, s.Order.Amount), C1S6A1)
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
