package rules

import (
	"errors"
	"time"
)

// Summary is what a queue of open disputes shows of one: enough for a
// reviewer to pick it up, without its whole state. Stores keep one beside
// each open dispute's state, so a page of a queue costs a small, known
// amount of memory whatever the disputes hold.
type Summary struct {
	OrderID     string      `json:"order_id"`
	Status      Status      `json:"status"`
	Category    Category    `json:"category"`
	Amount      int64       `json:"amount"`
	Currency    string      `json:"currency"`
	Reason      Reason      `json:"reason,omitempty"`
	RequestedAt time.Time   `json:"requested_at,omitzero"`
	Awaiting    *Obligation `json:"awaiting,omitempty"` // the first of Obligations

	// Set by the store when it reads the summary: where the dispute is
	// kept, and since when (by the processor's clock) it has its status.
	Partition int       `json:"partition"`
	Since     time.Time `json:"since,omitzero"`
}

// SummaryOf summarizes an order's state.
func SummaryOf(s State) Summary {
	sum := Summary{
		OrderID: s.OrderID, Status: s.Status, Category: s.Order.Category,
		Amount: s.Order.Amount, Currency: s.Order.Currency,
	}
	if s.Refund != nil {
		sum.Reason, sum.RequestedAt = s.Refund.Reason, s.Refund.RequestedAt
	}
	if ob := Obligations(s); len(ob) > 0 {
		sum.Awaiting = &ob[0]
	}
	return sum
}

// ErrBadCursor is returned by a store for a page cursor it did not hand out.
var ErrBadCursor = errors.New("bad cursor")
