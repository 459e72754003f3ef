package rules

import (
	"fmt"
	"slices"
	"time"
)

func (d *decider) negotiationRequested() {
	s, e := &d.s, d.e
	switch {
	case e.Data.By == Platform:
		d.reject(CodeNotAParty, "only the customer and the provider can ask to settle a dispute themselves", C1S5I1)
		return
	case !s.Status.Open():
		d.reject(CodeNoDispute, "there is no open dispute to negotiate", C1S3A1)
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
		d.reject(CodeNoDispute, "there is no open dispute to suspend", C1S5I2)
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
		d.reject(CodeNotSuspended, "the dispute is not suspended", C1S5I1, C1S5I2)
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
