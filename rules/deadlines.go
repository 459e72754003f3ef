package rules

import (
	"fmt"
	"slices"
)

// What a fired deadline does, by its kind; fire (apply.go) calls these.

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
