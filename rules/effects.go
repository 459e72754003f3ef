package rules

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The effects an input can have: deadlines armed and disarmed, commands
// emitted (rulings and transfers are in decide.go).

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

// emit adds a command; its subject is its body's, on the order.
func (d *decider) emit(id string, body Body) {
	d.out.Commands = append(d.out.Commands, Command{ID: id, Subject: body.subjectPrefix() + "." + d.s.OrderID, Body: body})
}

// reject answers the event with a disputes.rejected command: code says why
// in a word (RejectionCodes), reason in a sentence.
func (d *decider) reject(code, reason string, articles ...string) {
	d.rejected = true
	id := d.base() + "/rejected"
	if d.s.OrderID == "" {
		id = d.e.OrderID + "/" + d.cause + "/rejected"
	}
	d.out.Commands = append(d.out.Commands, Command{ID: id, Subject: SubjectRejected + "." + d.e.OrderID, Body: &Rejection{
		CommandID: id,
		OrderID:   d.e.OrderID,
		EventID:   d.e.ID,
		EventType: d.e.Type,
		Code:      code,
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
	d.emit(id, n)
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
