package rules

import (
	"fmt"
	"time"
)

func (d *decider) modificationRequested() {
	s, e := &d.s, d.e
	i := s.modification(e.Data.IssueID)
	if i >= 0 && s.Modifications[i].Fault != "" {
		d.reject(CodeModificationDecided, fmt.Sprintf("modification %q is already decided (%s)", e.Data.IssueID, s.Modifications[i].Fault), C2A5)
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
		d.reject(CodeNoModification, fmt.Sprintf("no modification was requested for issue %q", e.Data.IssueID), C2A5)
		return
	}
	m := &s.Modifications[i]
	if m.Fault != "" {
		d.reject(CodeModificationDecided, fmt.Sprintf("modification %q is already decided (%s)", m.IssueID, m.Fault), C2A5)
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
