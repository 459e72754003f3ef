package rules

import (
	"encoding/json"
	"time"
)

// Outcome is the kind of a ruling.
type Outcome string

const (
	RefundFull    Outcome = "refund_full"    // the whole amount goes back to the customer
	RefundPartial Outcome = "refund_partial" // the amount is split
	Release       Outcome = "release"        // the whole amount goes to the provider
	Settled       Outcome = "settled"        // the parties' own agreement decided it
	Escalated     Outcome = "escalated"      // a person must decide; no money moves
)

// Final reports whether a ruling with this outcome closes the order.
func (o Outcome) Final() bool { return o != Escalated }

// Subjects of the commands, followed by "." and the order ID.
const (
	SubjectRuling   = "disputes.ruling"
	SubjectTransfer = "finance.transfer"
	SubjectNotice   = "disputes.notice"
	SubjectRejected = "disputes.rejected"
)

// Notice kinds.
const (
	NoticeEvidenceRequested = "evidence_requested"
	NoticeSuspended         = "suspended"
	NoticeResumed           = "resumed"
	NoticeDeadlineMissed    = "deadline_missed"
)

// Command is one message for NATS JetStream. ID is the Nats-Msg-Id and the
// consumers' idempotency key: it is derived from the order and the input that
// caused the command, so it is the same on every retry and in every replay.
// Body is a *Ruling, *Transfer, *Notice or *Rejection.
type Command struct {
	ID      string
	Subject string
	Body    any
}

// Data encodes the command's body, the message payload. The encoding is
// deterministic: the same command always gives the same bytes. A body that
// is already encoded (json.RawMessage, as read back from an outbox) is
// returned as it is.
func (c Command) Data() ([]byte, error) {
	if raw, ok := c.Body.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(c.Body)
}

// MarshalJSON encodes the command as replay prints it:
// {"subject": ..., "data": {...}}.
func (c Command) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Subject string `json:"subject"`
		Data    any    `json:"data"`
	}{c.Subject, c.Body})
}

// Ruling decides a dispute, or escalates it to a person. It is also kept in
// the order's State.
type Ruling struct {
	CommandID      string    `json:"command_id"`
	RulingID       string    `json:"ruling_id"`
	OrderID        string    `json:"order_id"`
	Outcome        Outcome   `json:"outcome"`
	RefundAmount   int64     `json:"refund_amount"`
	ProviderAmount int64     `json:"provider_amount"`
	Amount         int64     `json:"amount"` // the order amount, held by the platform until ruled
	Currency       string    `json:"currency"`
	Articles       []string  `json:"articles"`
	Reason         string    `json:"reason"`
	Arithmetic     string    `json:"arithmetic,omitempty"`
	DecidedAt      time.Time `json:"decided_at"`
	RuleSet        string    `json:"rule_set"`
	Cause          string    `json:"cause"` // the event ID, or "deadline:" and the timer ID
}

// Transfer moves a party's share of a ruling.
type Transfer struct {
	CommandID  string `json:"command_id"`
	TransferID string `json:"transfer_id"` // equal to CommandID
	RulingID   string `json:"ruling_id"`
	OrderID    string `json:"order_id"`
	To         Party  `json:"to"`
	PartyID    string `json:"party_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
}

// Notice tells a party, or both when Party is empty, something they need to
// know or do.
type Notice struct {
	CommandID string     `json:"command_id"`
	OrderID   string     `json:"order_id"`
	Kind      string     `json:"kind"`
	Party     Party      `json:"party,omitempty"`
	Due       *time.Time `json:"due,omitempty"`
	Articles  []string   `json:"articles"`
	Message   string     `json:"message"`
}

// Rejection answers an event that is well-formed but not allowed by the rules.
type Rejection struct {
	CommandID string   `json:"command_id"`
	OrderID   string   `json:"order_id"`
	EventID   string   `json:"event_id"`
	EventType Type     `json:"event_type"`
	Reason    string   `json:"reason"`
	Articles  []string `json:"articles"`
}
