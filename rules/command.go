package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
type Command struct {
	ID      string
	Subject string
	Body    Body

	// data is the body as it was published, for a command read back from
	// an outbox (ReadCommand): it is published again byte for byte.
	data []byte
}

// Body is a command's payload: *Ruling, *Transfer, *Notice or *Rejection,
// whether the command is fresh from a decision or read back from an outbox.
type Body interface {
	subjectPrefix() string
	order() string
}

func (*Ruling) subjectPrefix() string    { return SubjectRuling }
func (*Transfer) subjectPrefix() string  { return SubjectTransfer }
func (*Notice) subjectPrefix() string    { return SubjectNotice }
func (*Rejection) subjectPrefix() string { return SubjectRejected }

func (r *Ruling) order() string    { return r.OrderID }
func (t *Transfer) order() string  { return t.OrderID }
func (n *Notice) order() string    { return n.OrderID }
func (r *Rejection) order() string { return r.OrderID }

// ErrBadCommand marks a published form that is not a command of the
// contract: an unknown subject, or a body that does not decode.
var ErrBadCommand = errors.New("not a command")

// ReadCommand returns the command published with subject and data (as an
// outbox keeps it): its body decoded into the type its subject names, and
// data kept, so that the command is published again with the same bytes.
func ReadCommand(id, subject string, data []byte) (Command, error) {
	prefix, order, ok := strings.Cut(subject, ".")
	if ok {
		kind, rest, _ := strings.Cut(order, ".")
		prefix, order = prefix+"."+kind, rest
	}
	var body Body
	switch prefix {
	case SubjectRuling:
		body = new(Ruling)
	case SubjectTransfer:
		body = new(Transfer)
	case SubjectNotice:
		body = new(Notice)
	case SubjectRejected:
		body = new(Rejection)
	default:
		return Command{}, fmt.Errorf("%w: subject %q", ErrBadCommand, subject)
	}
	if err := ValidOrderID(order); err != nil {
		return Command{}, fmt.Errorf("%w: subject %q: %v", ErrBadCommand, subject, err)
	}
	if err := json.Unmarshal(data, body); err != nil {
		return Command{}, fmt.Errorf("%w: %s %s: %v", ErrBadCommand, subject, id, err)
	}
	// The guard keys its records by the body's order: it must be the
	// subject's (a null body decodes to none).
	if body.order() != order {
		return Command{}, fmt.Errorf("%w: %s %s: the body is of order %q", ErrBadCommand, subject, id, truncate(body.order()))
	}
	return Command{ID: id, Subject: subject, Body: body, data: data}, nil
}

// Data encodes the command's body, the message payload. The encoding is
// deterministic: the same command always gives the same bytes; a command
// read back from an outbox gives the bytes it was read from.
func (c Command) Data() ([]byte, error) {
	if c.data != nil {
		return c.data, nil
	}
	return json.Marshal(c.Body)
}

// MarshalJSON encodes the command as replay prints it:
// {"subject": ..., "data": {...}}.
func (c Command) MarshalJSON() ([]byte, error) {
	data, err := c.Data()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Subject string          `json:"subject"`
		Data    json.RawMessage `json:"data"`
	}{c.Subject, data})
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
	Code      string   `json:"code"` // why, in a word: one of RejectionCodes
	Reason    string   `json:"reason"`
	Articles  []string `json:"articles"`
}
