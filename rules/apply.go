package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"
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

	// Per-order quotas, each per party (quota.go): chat messages,
	// pieces of evidence, and other events each party may send. Later ones
	// are rejected and not recorded. MaxVoucherText: bytes of a voucher's
	// text kept in the state (the whole text stays in the event stream).
	// Zero means no limit.
	MaxChats       int
	MaxEvidence    int
	MaxEvents      int
	MaxVoucherText int
}

// DefaultPolicy returns the platform's defaults.
func DefaultPolicy() Policy {
	return Policy{
		RuleSet:            RuleSet2018,
		EvidenceWindow:     72 * time.Hour,
		ModificationWindow: 72 * time.Hour,
		MaxChats:           200,
		MaxEvidence:        50,
		MaxEvents:          500,
		MaxVoucherText:     1024,
	}
}

// Validate reports every setting that is out of range, each as a
// *ConfigError naming its field.
func (p Policy) Validate() error {
	var f ConfigErrors
	if p.RuleSet != RuleSet2018 {
		f.Add("RuleSet", "%q: only %q is implemented", p.RuleSet, RuleSet2018)
	}
	const maxWindow = 10 * 365 * 24 * time.Hour // keeps every deadline encodable (see maxTime)
	if p.EvidenceWindow <= 0 || p.EvidenceWindow > maxWindow {
		f.Add("EvidenceWindow", "%v: must be positive and at most 10 years", p.EvidenceWindow)
	}
	if p.ModificationWindow <= 0 || p.ModificationWindow > maxWindow {
		f.Add("ModificationWindow", "%v: must be positive and at most 10 years", p.ModificationWindow)
	}
	for _, l := range []struct {
		field string
		n     int
	}{{"MaxChats", p.MaxChats}, {"MaxEvidence", p.MaxEvidence}, {"MaxEvents", p.MaxEvents}, {"MaxVoucherText", p.MaxVoucherText}} {
		if l.n < 0 {
			f.Add(l.field, "%d: a per-order limit cannot be negative (0: no limit)", l.n)
		}
	}
	return f.Err()
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
	if reason := p.overQuota(s, e); reason != "" {
		return p.overLimit(s, e, reason), nil
	}
	d := p.start(s, e, now, "event:"+e.ID)
	d.s.log(e.Time, string(e.Type), e.ID)
	n, _ := d.s.Counts.counter(e)
	*n++
	switch code, reason := p.timeBounds(s, e); {
	case code != "":
		d.reject(code, reason)
	case s.Status == StatusRuled:
		d.reject(CodeAlreadyRuled, fmt.Sprintf("order %s already has its final ruling", e.OrderID), C1S6A2)
	default:
		d.handle()
		d.settle()
	}
	if d.rejected {
		// A rejected event never counts against its sender's quota (v2):
		// a flood of events the rules refuse cannot use up the room the
		// sender's, or the platform's, legitimate events need.
		*n--
	}
	return d.finish(), nil
}

// timeBounds says why an event's times do not fit the order's history
// (v2.md section 1), or "": an event stamped before the order's payment
// (before_payment), or a due time that is not after the event's own time
// (bad_due), so that no deadline is ever armed in the past. They are
// checked before the state's own rules.
func (p Policy) timeBounds(s State, e Event) (code, reason string) {
	if e.Type == TypeOrderPaid {
		return "", "" // its times are checked by the decoder
	}
	if e.Time.Before(s.Order.PaidAt) {
		return CodeBeforePayment, fmt.Sprintf("the event is stamped %s, before the order's payment at %s", e.Time.Format(time.RFC3339), s.Order.PaidAt.Format(time.RFC3339))
	}
	switch e.Type {
	case TypeModificationRequested, TypeCooperationRequested:
		if d := e.Data.Due; !d.IsZero() && !d.After(e.Time) {
			return CodeBadDue, fmt.Sprintf("due %s is not after the event's time %s", d.Format(time.RFC3339), e.Time.Format(time.RFC3339))
		}
	}
	return "", ""
}

// overLimit rejects an event beyond a per-order quota without recording it:
// the state stays as it is, and a redelivery gets the same rejection, with
// the same command ID.
func (p Policy) overLimit(s State, e Event, reason string) Decision {
	d := p.start(s, e, e.Time, "event:"+e.ID)
	d.reject(CodeQuota, reason)
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

	rejected bool // the input was rejected
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
