package rules

import (
	"fmt"
	"slices"
	"time"
)

// Obligation is something a party must do for the dispute to move, by when,
// and what the engine does if it is not done.
type Obligation struct {
	Party    Party      `json:"party"`
	Must     string     `json:"must"`
	Due      *time.Time `json:"due,omitempty"`       // nil: no deadline runs
	Paused   bool       `json:"paused,omitempty"`    // the dispute is suspended; the time left is Remaining
	Left     string     `json:"remaining,omitempty"` // time left on a paused deadline
	IfNot    string     `json:"if_not"`
	Articles []string   `json:"articles"`
}

// Obligations lists what the parties (and the platform's reviewers) must do
// in the order's present state, earliest deadline first. It reads the state
// only.
func Obligations(s State) []Obligation {
	var out []Obligation
	add := func(o Obligation, t *Timer) {
		if t != nil {
			if t.Paused {
				o.Paused, o.Left = true, t.Remaining.String()
			} else {
				at := t.At
				o.Due = &at
			}
		}
		out = append(out, o)
	}
	timer := func(kind TimerKind, issue string) *Timer {
		i := slices.IndexFunc(s.Timers, func(t Timer) bool { return t.Kind == kind && t.IssueID == issue })
		if i < 0 {
			return nil
		}
		return &s.Timers[i]
	}
	if t := timer(TimerEvidence, ""); t != nil && s.Refund != nil {
		r := s.Refund
		ifNot := "the dispute is decided against the customer: the provider keeps the payment"
		if r.Burden == Provider {
			ifNot = "the dispute is decided against the provider: the customer is refunded (split by an assessment on record)"
		}
		add(Obligation{
			Party:    r.Burden,
			Must:     "submit valid evidence (service description, platform chat records, delivery records)",
			IfNot:    ifNot + "; reference vouchers alone send it to a reviewer",
			Articles: []string{C1S4A1, C1S4A2, r.BurdenArticle},
		}, t)
	}
	for _, m := range s.Modifications {
		if t := timer(TimerModification, m.IssueID); t != nil {
			add(Obligation{
				Party:    Provider,
				Must:     fmt.Sprintf("re-deliver modification %q", m.IssueID),
				IfNot:    "the customer is refunded in full (split by an assessment on record)",
				Articles: []string{C2A5},
			}, t)
		}
	}
	if t := timer(TimerDelivery, ""); t != nil {
		add(Obligation{
			Party:    Provider,
			Must:     "deliver the service",
			IfNot:    "the missed delivery is on record, and under review the customer is refunded in full",
			Articles: []string{C2A4},
		}, t)
	}
	if t := timer(TimerCooperation, ""); t != nil && s.Cooperation != nil {
		o := Obligation{Party: Customer, Must: "give the cooperation the provider asked for"}
		if s.Cooperation.Informed {
			o.IfNot, o.Articles = "the customer's fault is on record, and under review the provider keeps the payment", []string{C2A7}
		} else {
			o.IfNot, o.Articles = "nothing: the request was not announced in advance, so the customer may refuse", []string{C2A6}
		}
		add(o, t)
	}
	switch s.Status {
	case StatusEscalated:
		add(Obligation{
			Party:    Platform,
			Must:     "decide the dispute (review.decided)",
			IfNot:    "the dispute stays escalated; no money moves",
			Articles: []string{C1S1A4},
		}, nil)
	case StatusSuspended:
		var articles []string
		if len(s.Negotiation) == 2 {
			articles = append(articles, C1S5I1)
		}
		if s.Judicial {
			articles = append(articles, C1S5I2)
		}
		add(Obligation{
			Party:    Platform,
			Must:     "lift the suspension once the parties' negotiation or the court case ends (suspension.lifted)",
			IfNot:    "every deadline stays paused and nothing is ruled",
			Articles: articles,
		}, nil)
	case StatusNegotiating:
		add(Obligation{
			Party:    Customer,
			Must:     "settle with the provider, or ask the platform to intervene (intervention.requested)",
			IfNot:    "nothing is decided while the parties negotiate",
			Articles: []string{C1S3A1},
		}, nil)
	}
	slices.SortStableFunc(out, func(a, b Obligation) int {
		switch {
		case a.Due == nil && b.Due == nil:
			return 0
		case a.Due == nil:
			return 1
		case b.Due == nil:
			return -1
		}
		return a.Due.Compare(*b.Due)
	})
	return out
}
