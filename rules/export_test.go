package rules

import "time"

// PendingRuling reports the ruling the record of s already determines but
// that has not been made: what re-examining the record now would rule. The
// property tests use it to check that no input leaves one pending.
func PendingRuling(p Policy, s State) (Outcome, []string, bool) {
	if s.Status == StatusNew {
		return "", nil, false
	}
	d := p.start(s, Event{OrderID: s.OrderID}, time.Time{}, "probe")
	d.settle()
	for _, c := range d.out.Commands {
		if r, ok := c.Body.(*Ruling); ok {
			return r.Outcome, r.Articles, true
		}
	}
	return "", nil, false
}
