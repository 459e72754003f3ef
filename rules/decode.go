package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidEvent marks input that is malformed under contract v1: bad JSON,
// missing or wrong-typed fields, an unknown type, negative money, or an event
// for an unknown order. Such input is dead-lettered, never retried.
var ErrInvalidEvent = errors.New("invalid event")

// Machine-readable reasons of dead letters (the disputed-code header).
const (
	CodeMalformed    = "malformed"     // not an event of the contract: JSON, fields, limits, time
	CodeUnknownOrder = "unknown_order" // an event other than order.paid for an order never paid
	CodeMisrouted    = "misrouted"     // an event type on another topic than its own
)

// DeadLetterCode is the machine-readable reason of a dead letter for err.
func DeadLetterCode(err error) string {
	var fe *FieldError
	switch {
	case errors.As(err, &fe) && fe.Code != "":
		return fe.Code
	case errors.Is(err, ErrUnknownOrder):
		return CodeUnknownOrder
	}
	return CodeMalformed
}

// ErrUnknownOrder marks an event, other than order.paid, for an order the
// engine has not seen. It wraps ErrInvalidEvent.
var ErrUnknownOrder = fmt.Errorf("%w: unknown order", ErrInvalidEvent)

// FieldError says which field of an event is wrong and why. It wraps
// ErrInvalidEvent.
type FieldError struct {
	Field  string // JSON path, e.g. "data.amount"; empty for the whole message
	Reason string
	// Type is the event's type when the message named one contract v1
	// knows, for counting malformed events by type; empty otherwise. It
	// is not part of the message.
	Type Type
	// Code is the machine-readable reason (DeadLetterCode); empty is
	// "malformed".
	Code string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "invalid event: " + e.Reason
	}
	return "invalid event: " + e.Field + ": " + e.Reason
}

func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// Limits on what one event may carry. They keep one hostile message from
// costing more than a small, known amount of memory.
const (
	MaxIDLen     = 256     // event id, source, customer_id, provider_id, issue_id, delivery_no
	MaxTextLen   = 16384   // chat text, evidence and review notes
	MaxEventSize = 1 << 20 // a whole message, in bytes
	MaxArticles  = 64      // citations in review.decided's articles
)

type envelope struct {
	SpecVersion     *string   `json:"specversion"`
	ID              *string   `json:"id"`
	Source          *string   `json:"source"`
	Type            *string   `json:"type"`
	Time            *string   `json:"time"`
	Subject         *string   `json:"subject"`
	DataContentType *string   `json:"datacontenttype"`
	Data            *wireData `json:"data"` // decoded in the same pass
}

// Decode parses one CloudEvents 1.0 event in structured JSON mode and
// validates it against contract v1. Errors wrap ErrInvalidEvent and, where one
// field is to blame, are a *FieldError naming it. Decode checks what one
// message can tell; whether the event fits the order (an unknown order, a
// refund above the order amount) is Apply's to say. On error the Event is
// zero.
func Decode(b []byte) (Event, error) {
	if len(b) > MaxEventSize {
		return Event{}, &FieldError{Reason: fmt.Sprintf("message is %d bytes, more than the %d allowed", len(b), MaxEventSize)}
	}
	var env envelope
	if !decodeFast(b, &env) {
		env = envelope{}
		if json.Valid(b) {
			if err := checkOneReading(b, "", knownNames); err != nil {
				return Event{}, withType(err, typeOf(b))
			}
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return Event{}, withType(jsonError("", err), env.Type)
		}
		if env.Data != nil && env.Data.err != nil {
			return Event{}, withType(env.Data.err, env.Type)
		}
	}
	return env.event()
}

// event validates the envelope, however it arrived (structured or binary
// mode), and returns its event.
func (env *envelope) event() (Event, error) {
	e, err := env.validate()
	if err != nil {
		return Event{}, withType(err, env.Type)
	}
	return e, nil
}

// typeOf is the type a message names, if it names one as a plain string,
// for counting a malformed message by its type.
func typeOf(b []byte) *string {
	var head struct {
		Type *string `json:"type"`
	}
	json.Unmarshal(b, &head)
	return head.Type
}

// withType records the event's type in a FieldError, when t is a type
// contract v1 knows.
func withType(err error, t *string) error {
	var fe *FieldError
	if t != nil && Type(*t).Topic() != "" && errors.As(err, &fe) {
		fe.Type = Type(*t)
	}
	return err
}

func (env *envelope) validate() (Event, error) {
	var e Event
	var err error
	if env.SpecVersion == nil {
		return Event{}, &FieldError{Field: "specversion", Reason: "missing"}
	}
	if *env.SpecVersion != "1.0" {
		return Event{}, &FieldError{Field: "specversion", Reason: fmt.Sprintf("%q is not 1.0", truncate(*env.SpecVersion))}
	}
	if e.ID, err = requiredID("id", env.ID); err != nil {
		return Event{}, err
	}
	if e.Source, err = requiredID("source", env.Source); err != nil {
		return Event{}, err
	}
	if env.Type == nil || *env.Type == "" {
		return Event{}, &FieldError{Field: "type", Reason: "missing"}
	}
	e.Type = Type(*env.Type)
	if specOf(e.Type) == nil {
		return Event{}, &FieldError{Field: "type", Reason: fmt.Sprintf("unknown event type %q", truncate(*env.Type))}
	}
	if env.Time == nil {
		return Event{}, &FieldError{Field: "time", Reason: "missing"}
	}
	if e.Time, err = parseTime("time", *env.Time); err != nil {
		return Event{}, err
	}
	if env.Subject == nil || *env.Subject == "" {
		return Event{}, &FieldError{Field: "subject", Reason: "missing: it carries the order ID"}
	}
	if err := ValidOrderID(*env.Subject); err != nil {
		return Event{}, &FieldError{Field: "subject", Reason: err.Error()}
	}
	e.OrderID = *env.Subject
	if ct := env.DataContentType; ct != nil && !jsonMediaType(*ct) {
		return Event{}, &FieldError{Field: "datacontenttype", Reason: fmt.Sprintf("%q is not application/json", truncate(*ct))}
	}
	// Types without fields may leave data out or null; validateData
	// catches the types that need it.
	w := env.Data
	if w == nil {
		w = &wireData{} // get on no hits finds nothing
	}
	if e.Data, err = validateData(e.Type, w); err != nil {
		return Event{}, err
	}
	// An order whose delivery date is not after its payment would arm its
	// delivery deadline in the past: it is no order (v2), and the order
	// exists only once a correct order.paid arrives.
	if e.Type == TypeOrderPaid && !e.Data.DeliveryDue.IsZero() && !e.Data.DeliveryDue.After(e.Time) {
		return Event{}, &FieldError{Field: "data.delivery_due", Code: CodeBadDue,
			Reason: fmt.Sprintf("%s is not after the order's payment at %s", e.Data.DeliveryDue.Format(time.RFC3339), e.Time.Format(time.RFC3339))}
	}
	return e, nil
}

// jsonMediaType reports whether a datacontenttype says JSON: empty, or
// application/json, with or without parameters ("application/json;
// charset=utf-8", as the CloudEvents bindings show it).
func jsonMediaType(ct string) bool {
	if ct == "" {
		return true
	}
	rest, ok := strings.CutPrefix(ct, "application/json")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// ValidOrderID reports why id cannot be an order ID, or nil. Order IDs become
// NATS subject tokens and parts of Redis keys and command IDs, so they are
// limited to letters, digits and - _ : @ + = # ~, at most 128 bytes.
func ValidOrderID(id string) error {
	if id == "" {
		return errors.New("empty order ID")
	}
	if len(id) > 128 {
		return fmt.Errorf("order ID is %d bytes, more than 128", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == ':', c == '@', c == '+', c == '=', c == '#', c == '~':
		default:
			return fmt.Errorf("order ID %q has %q at byte %d: only letters, digits and - _ : @ + = # ~ are allowed", truncate(id), c, i)
		}
	}
	return nil
}
