package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/disputed/disputed/rules"
)

// The store keeps an order's state in a compact binary form of its own:
// JSON, which the API still shows, took a third of the processor's CPU to
// encode and decode and twice the memory in Redis. The form:
//
//   - a version byte (stateV1); a state that begins with '{' is the JSON
//     of earlier releases, and still decodes;
//   - then the fields of rules.State in a fixed order (appendState), as
//     unsigned and zigzag varints, strings with their length first, and
//     bytes for booleans. A slice is its length plus one (0 is nil, so that
//     nil and empty decode as they were), then its elements. A time is 0
//     for the zero time, else its Unix seconds (zigzag) shifted left once,
//     with the low bit set when nanoseconds follow, plus one. Times decode
//     in UTC, as the rules keep them.
//   - Strings that are the rules' own words (statuses, parties, articles,
//     event types and the like) are written as their index in symbols plus
//     one; any other string as 0 and the string. IDs that begin with the
//     order's ID and a slash (command IDs) are written without it.
//
// The format is stable: symbols only ever grow at the end, and the fields
// are only ever appended under a new version byte, which decodeState must
// then still read. TestStateCodecGolden pins it.

const stateV1 = 1

// symbols are the words written as an index. Append only: an index, once
// written to a store, must keep its meaning. It is the stored format, not
// the contract's vocabulary (rules' tables, which may be reordered): a word
// that is not here, such as a new event type's name, is written as itself
// (sym's index 0) and reads back the same, so a new type or enumeration
// value needs nothing here; appending it only makes states smaller.
var symbols = []string{
	// statuses
	"paid", "accepted", "negotiating", "under_review", "escalated", "suspended", "ruled",
	// parties
	"customer", "provider", "platform",
	// categories
	"software_app", "operational_service", "training", "image_design", "video", "other",
	// reasons
	"not_delivered", "not_as_described", "quality", "effect_mismatch", "misleading", "promised_effect",
	"provider_terminated", "illegal_service", "conflicting_descriptions", "modification_overdue",
	"modification_failed", "customer_reasons",
	// evidence kinds, timer kinds, faults, outcomes, log kinds
	"valid", "reference",
	"evidence", "modification", "delivery", "cooperation",
	"overdue", "refused", "failed",
	"refund_full", "refund_partial", "release", "settled",
	"deadline", "command",
	// event types
	"order.paid", "order.accepted", "service.terminated", "service.extended", "delivery.submitted",
	"modification.requested", "modification.refused", "modification.delivered", "modification.rejected",
	"cooperation.requested", "cooperation.provided", "chat.message", "refund.requested", "refund.withdrawn",
	"intervention.requested", "evidence.submitted", "settlement.agreed", "negotiation.requested",
	"judicial.filed", "suspension.lifted", "assessment.recorded", "review.decided",
	// the rule set, and currencies
	"2018-03-12", "CNY", "EUR", "USD", "GBP", "JPY", "HKD",
	// articles
	"c1.s1.a1", "c1.s1.a2", "c1.s1.a3", "c1.s1.a4", "c1.s2.service_provider", "c1.s2.merchant",
	"c1.s2.application", "c1.s2.service_cost", "c1.s2.evidence", "c1.s2.reference_vouchers", "c1.s2.delivery",
	"c1.s3.a1", "c1.s3.a2", "c1.s4.a1", "c1.s4.a2", "c1.s4.a3", "c1.s4.a4", "c1.s4.a5", "c1.s5.i1", "c1.s5.i2",
	"c1.s6.a1", "c1.s6.a2", "c2.a1", "c2.a2", "c2.a3", "c2.a4", "c2.a5", "c2.a6", "c2.a7", "c2.a8", "c2.a9",
	"c2.a10", "c3.s1.a1", "c3.s1.a2", "c3.s1.a3", "c3.s1.a4", "c3.s1.a5", "c3.s2.a1", "c3.s2.a2", "c3.s2.a3",
	"c3.s2.a4", "c3.s2.a5", "c3.s3.a1", "c3.s3.a2", "c3.s3.a3", "c3.s3.a4", "c3.s4.a1", "c3.s4.a2", "c3.s4.a3",
	"c3.s4.a4", "c3.s4.a5", "c3.s5.a1", "c3.s5.a2", "c3.s5.a3", "c3.s5.a4", "c3.s5.a5", "c3.s5.a6",
}

var symbolIndex = func() map[string]int {
	m := make(map[string]int, len(symbols))
	for i, s := range symbols {
		if _, dup := m[s]; dup {
			panic("state: symbol " + s + " twice")
		}
		m[s] = i
	}
	return m
}()

// Flags of appendState's first varint: booleans and which optional parts
// follow.
const (
	flagDelivered = 1 << iota
	flagDeliveryMissed
	flagCooperationMissed
	flagJudicial
	flagRefund
	flagTermination
	flagExtension
	flagCooperation
	flagAssessment
)

// encodeState appends the binary form of s to b.
func encodeState(b []byte, s *rules.State) []byte {
	e := encoder{b: append(b, stateV1), order: s.OrderID}
	e.str(s.OrderID)
	e.sym(s.RuleSet)
	e.sym(string(s.Status))
	e.sym(string(s.Resume))

	var flags uint64
	set := func(f uint64, on bool) {
		if on {
			flags |= f
		}
	}
	set(flagDelivered, s.Delivered)
	set(flagDeliveryMissed, s.DeliveryMissed)
	set(flagCooperationMissed, s.CooperationMissed)
	set(flagJudicial, s.Judicial)
	set(flagRefund, s.Refund != nil)
	set(flagTermination, s.Termination != nil)
	set(flagExtension, s.Extension != nil)
	set(flagCooperation, s.Cooperation != nil)
	set(flagAssessment, s.Assessment != nil)
	e.uvarint(flags)

	o := &s.Order
	e.str(o.CustomerID)
	e.str(o.ProviderID)
	e.sym(string(o.Category))
	e.varint(o.Amount)
	e.sym(o.Currency)
	e.time(o.PaidAt)
	e.time(o.DeliveryDue)
	e.varint(int64(o.ModificationDays))
	e.bool(o.CustomContract)
	e.bool(o.PromisedTransactionAmount)

	if r := s.Refund; r != nil {
		e.id(r.EventID)
		e.sym(string(r.Reason))
		e.varint(r.Amount)
		e.time(r.RequestedAt)
		e.sym(string(r.InterventionBy))
		e.time(r.InterventionAt)
		e.sym(string(r.Burden))
		e.sym(r.BurdenArticle)
		e.time(r.EvidenceDue)
	}
	if t := s.Termination; t != nil {
		e.sym(string(t.By))
		e.sym(string(t.Cause))
		e.bool(t.Agreed)
		e.time(t.At)
	}
	if x := s.Extension; x != nil {
		e.sym(string(x.By))
		e.bool(x.Agreed)
		e.time(x.At)
	}
	if c := s.Cooperation; c != nil {
		e.time(c.Due)
		e.bool(c.Informed)
		e.bool(c.Provided)
	}
	if a := s.Assessment; a != nil {
		e.varint(a.ValueRatioBP)
		e.varint(a.ServiceCost)
		e.varint(a.UnrealizedCost)
	}

	e.count(len(s.Modifications), s.Modifications == nil)
	for _, m := range s.Modifications {
		e.str(m.IssueID)
		e.bool(m.Objective)
		e.time(m.Due)
		e.bool(m.Delivered)
		e.varint(int64(m.Rejections))
		e.sym(m.Fault)
	}
	e.count(len(s.Negotiation), s.Negotiation == nil)
	for _, p := range s.Negotiation {
		e.sym(string(p))
	}
	e.count(len(s.Vouchers), s.Vouchers == nil)
	for _, v := range s.Vouchers {
		e.id(v.EventID)
		e.time(v.At)
		e.sym(string(v.Party))
		e.sym(string(v.Kind))
		e.str(v.Text)
	}
	e.count(len(s.Timers), s.Timers == nil)
	for _, t := range s.Timers {
		e.str(t.ID)
		e.sym(string(t.Kind))
		e.time(t.At)
		e.varint(int64(t.Remaining))
		e.bool(t.Paused)
		e.str(t.IssueID)
	}
	e.varint(int64(s.TimerSeq))
	e.count(len(s.Rulings), s.Rulings == nil)
	for i := range s.Rulings {
		r := &s.Rulings[i]
		e.id(r.CommandID)
		e.id(r.RulingID)
		e.str(r.OrderID)
		e.sym(string(r.Outcome))
		e.varint(r.RefundAmount)
		e.varint(r.ProviderAmount)
		e.varint(r.Amount)
		e.sym(r.Currency)
		e.count(len(r.Articles), r.Articles == nil)
		for _, a := range r.Articles {
			e.sym(a)
		}
		e.str(r.Reason)
		e.str(r.Arithmetic)
		e.time(r.DecidedAt)
		e.sym(r.RuleSet)
		e.id(r.Cause)
	}
	e.count(len(s.Log), s.Log == nil)
	for _, l := range s.Log {
		e.time(l.At)
		e.sym(l.Kind)
		e.id(l.ID)
	}
	c := &s.Counts
	for _, n := range [...]int{c.CustomerEvents, c.ProviderEvents, c.PlatformEvents, c.CustomerChats, c.ProviderChats,
		c.PlatformChats, c.CustomerEvidence, c.ProviderEvidence, c.PlatformEvidence} {
		e.varint(int64(n))
	}
	return e.b
}

// errCorrupt is what a state that does not decode wraps.
var errCorrupt = errors.New("corrupt state")

// decodeState decodes a stored state into s: the binary form, or the JSON
// of earlier releases.
func decodeState(b []byte, s *rules.State) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, s)
	}
	if len(b) == 0 || b[0] != stateV1 {
		return fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := decoder{b: b[1:]}
	*s = rules.State{}
	s.OrderID = d.str()
	d.order = s.OrderID
	s.RuleSet = d.sym()
	s.Status = rules.Status(d.sym())
	s.Resume = rules.Status(d.sym())
	flags := d.uvarint()
	s.Delivered = flags&flagDelivered != 0
	s.DeliveryMissed = flags&flagDeliveryMissed != 0
	s.CooperationMissed = flags&flagCooperationMissed != 0
	s.Judicial = flags&flagJudicial != 0

	o := &s.Order
	o.CustomerID = d.str()
	o.ProviderID = d.str()
	o.Category = rules.Category(d.sym())
	o.Amount = d.varint()
	o.Currency = d.sym()
	o.PaidAt = d.time()
	o.DeliveryDue = d.time()
	o.ModificationDays = d.int()
	o.CustomContract = d.bool()
	o.PromisedTransactionAmount = d.bool()

	if flags&flagRefund != 0 {
		s.Refund = &rules.Refund{
			EventID: d.id(), Reason: rules.Reason(d.sym()), Amount: d.varint(), RequestedAt: d.time(),
			InterventionBy: rules.Party(d.sym()), InterventionAt: d.time(), Burden: rules.Party(d.sym()),
			BurdenArticle: d.sym(), EvidenceDue: d.time(),
		}
	}
	if flags&flagTermination != 0 {
		s.Termination = &rules.Termination{By: rules.Party(d.sym()), Cause: rules.Party(d.sym()), Agreed: d.bool(), At: d.time()}
	}
	if flags&flagExtension != 0 {
		s.Extension = &rules.Extension{By: rules.Party(d.sym()), Agreed: d.bool(), At: d.time()}
	}
	if flags&flagCooperation != 0 {
		s.Cooperation = &rules.Cooperation{Due: d.time(), Informed: d.bool(), Provided: d.bool()}
	}
	if flags&flagAssessment != 0 {
		s.Assessment = &rules.Assessment{ValueRatioBP: d.varint(), ServiceCost: d.varint(), UnrealizedCost: d.varint()}
	}

	if n, ok := d.count(); ok {
		s.Modifications = make([]rules.Modification, n)
		for i := range s.Modifications {
			s.Modifications[i] = rules.Modification{
				IssueID: d.str(), Objective: d.bool(), Due: d.time(), Delivered: d.bool(), Rejections: d.int(), Fault: d.sym(),
			}
		}
	}
	if n, ok := d.count(); ok {
		s.Negotiation = make([]rules.Party, n)
		for i := range s.Negotiation {
			s.Negotiation[i] = rules.Party(d.sym())
		}
	}
	if n, ok := d.count(); ok {
		s.Vouchers = make([]rules.Voucher, n)
		for i := range s.Vouchers {
			s.Vouchers[i] = rules.Voucher{
				EventID: d.id(), At: d.time(), Party: rules.Party(d.sym()), Kind: rules.EvidenceKind(d.sym()), Text: d.str(),
			}
		}
	}
	if n, ok := d.count(); ok {
		s.Timers = make([]rules.Timer, n)
		for i := range s.Timers {
			s.Timers[i] = rules.Timer{
				ID: d.str(), Kind: rules.TimerKind(d.sym()), At: d.time(), Remaining: time.Duration(d.varint()), Paused: d.bool(), IssueID: d.str(),
			}
		}
	}
	s.TimerSeq = d.int()
	if n, ok := d.count(); ok {
		s.Rulings = make([]rules.Ruling, n)
		for i := range s.Rulings {
			r := &s.Rulings[i]
			r.CommandID, r.RulingID, r.OrderID = d.id(), d.id(), d.str()
			r.Outcome = rules.Outcome(d.sym())
			r.RefundAmount, r.ProviderAmount, r.Amount = d.varint(), d.varint(), d.varint()
			r.Currency = d.sym()
			if n, ok := d.count(); ok {
				r.Articles = make([]string, n)
				for j := range r.Articles {
					r.Articles[j] = d.sym()
				}
			}
			r.Reason, r.Arithmetic = d.str(), d.str()
			r.DecidedAt = d.time()
			r.RuleSet = d.sym()
			r.Cause = d.id()
		}
	}
	if n, ok := d.count(); ok {
		s.Log = make([]rules.LogEntry, n)
		for i := range s.Log {
			s.Log[i] = rules.LogEntry{At: d.time(), Kind: d.sym(), ID: d.id()}
		}
	}
	c := &s.Counts
	for _, p := range [...]*int{&c.CustomerEvents, &c.ProviderEvents, &c.PlatformEvents, &c.CustomerChats, &c.ProviderChats,
		&c.PlatformChats, &c.CustomerEvidence, &c.ProviderEvidence, &c.PlatformEvidence} {
		*p = d.int()
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the state", len(d.b))
	}
	return d.err
}
