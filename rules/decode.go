package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidEvent marks input that is malformed under contract v1: bad JSON,
// missing or wrong-typed fields, an unknown type, negative money, or an event
// for an unknown order. Such input is dead-lettered, never retried.
var ErrInvalidEvent = errors.New("invalid event")

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
	maxArticles  = 64
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

// wireData is Data as it arrives: pointers tell absent from zero.
type wireData struct {
	CustomerID                *string   `json:"customer_id"`
	ProviderID                *string   `json:"provider_id"`
	Category                  *string   `json:"category"`
	Amount                    *int64    `json:"amount"`
	Currency                  *string   `json:"currency"`
	DeliveryDue               *string   `json:"delivery_due"`
	ModificationDays          *int64    `json:"modification_days"`
	CustomContract            *bool     `json:"custom_contract"`
	PromisedTransactionAmount *bool     `json:"promised_transaction_amount"`
	By                        *string   `json:"by"`
	Cause                     *string   `json:"cause"`
	Agreed                    *bool     `json:"agreed"`
	DeliveryNo                *string   `json:"delivery_no"`
	IssueID                   *string   `json:"issue_id"`
	Objective                 *bool     `json:"objective"`
	Due                       *string   `json:"due"`
	InformedInAdvance         *bool     `json:"informed_in_advance"`
	From                      *string   `json:"from"`
	Text                      *string   `json:"text"`
	Reason                    *string   `json:"reason"`
	Party                     *string   `json:"party"`
	Kind                      *string   `json:"kind"`
	Note                      *string   `json:"note"`
	RefundAmount              *int64    `json:"refund_amount"`
	Articles                  *[]string `json:"articles"`
	ValueRatioBP              *int64    `json:"value_ratio_bp"`
	ServiceCost               *int64    `json:"service_cost"`
	UnrealizedCost            *int64    `json:"unrealized_cost"`
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
		if err := json.Unmarshal(b, &env); err != nil {
			return Event{}, withType(jsonError("", err), env.Type)
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
	if e.Type.Topic() == "" {
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
		w = &wireData{}
	}
	if e.Data, err = validateData(e.Type, w); err != nil {
		return Event{}, err
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

func validateData(t Type, w *wireData) (Data, error) {
	var d Data
	var err error
	switch t {
	case TypeOrderPaid:
		if d.CustomerID, err = requiredID("data.customer_id", w.CustomerID); err != nil {
			return d, err
		}
		if d.ProviderID, err = requiredID("data.provider_id", w.ProviderID); err != nil {
			return d, err
		}
		if w.Category == nil {
			return d, &FieldError{Field: "data.category", Reason: "missing"}
		}
		switch c := Category(*w.Category); c {
		case SoftwareApp, OperationalService, Training, ImageDesign, Video, OtherCategory:
			d.Category = c
		default:
			return d, &FieldError{Field: "data.category", Reason: fmt.Sprintf("unknown category %q", truncate(*w.Category))}
		}
		if w.Amount == nil {
			return d, &FieldError{Field: "data.amount", Reason: "missing"}
		}
		if *w.Amount <= 0 {
			return d, &FieldError{Field: "data.amount", Reason: fmt.Sprintf("%d: must be more than 0", *w.Amount)}
		}
		d.Amount = *w.Amount
		if d.Currency, err = currency(w.Currency); err != nil {
			return d, err
		}
		if w.DeliveryDue != nil {
			if d.DeliveryDue, err = parseTime("data.delivery_due", *w.DeliveryDue); err != nil {
				return d, err
			}
		}
		if w.ModificationDays != nil {
			if *w.ModificationDays <= 0 || *w.ModificationDays > 3650 {
				return d, &FieldError{Field: "data.modification_days", Reason: fmt.Sprintf("%d: must be 1 to 3650", *w.ModificationDays)}
			}
			d.ModificationDays = int(*w.ModificationDays)
		}
		d.CustomContract = w.CustomContract != nil && *w.CustomContract
		d.PromisedTransactionAmount = w.PromisedTransactionAmount != nil && *w.PromisedTransactionAmount
	case TypeOrderAccepted, TypeCooperationProvided, TypeRefundWithdrawn, TypeSuspensionLifted:
		// No fields.
	case TypeServiceTerminated:
		if d.By, err = party("data.by", w.By, Customer, Provider, Platform); err != nil {
			return d, err
		}
		if d.Agreed, err = requiredBool("data.agreed", w.Agreed); err != nil {
			return d, err
		}
		switch {
		case w.Cause != nil:
			if d.Cause, err = party("data.cause", w.Cause, Customer, Provider); err != nil {
				return d, err
			}
		case d.By == Platform:
			return d, &FieldError{Field: "data.cause", Reason: "missing: required when by is platform"}
		default:
			d.Cause = d.By
		}
	case TypeServiceExtended:
		if d.By, err = party("data.by", w.By, Provider); err != nil {
			return d, err
		}
		if d.Agreed, err = requiredBool("data.agreed", w.Agreed); err != nil {
			return d, err
		}
	case TypeDeliverySubmitted:
		if w.DeliveryNo != nil {
			if d.DeliveryNo, err = requiredID("data.delivery_no", w.DeliveryNo); err != nil {
				return d, err
			}
		}
	case TypeModificationRequested:
		if d.IssueID, err = requiredID("data.issue_id", w.IssueID); err != nil {
			return d, err
		}
		if d.Objective, err = requiredBool("data.objective", w.Objective); err != nil {
			return d, err
		}
		if w.Due != nil {
			if d.Due, err = parseTime("data.due", *w.Due); err != nil {
				return d, err
			}
		}
	case TypeModificationRefused, TypeModificationDelivered, TypeModificationRejected:
		if d.IssueID, err = requiredID("data.issue_id", w.IssueID); err != nil {
			return d, err
		}
	case TypeCooperationRequested:
		if w.Due == nil {
			return d, &FieldError{Field: "data.due", Reason: "missing"}
		}
		if d.Due, err = parseTime("data.due", *w.Due); err != nil {
			return d, err
		}
		if d.InformedInAdvance, err = requiredBool("data.informed_in_advance", w.InformedInAdvance); err != nil {
			return d, err
		}
	case TypeChatMessage:
		if d.From, err = party("data.from", w.From, Customer, Provider, Platform); err != nil {
			return d, err
		}
		if w.Text == nil {
			return d, &FieldError{Field: "data.text", Reason: "missing"}
		}
		if d.Text, err = text("data.text", *w.Text); err != nil {
			return d, err
		}
	case TypeRefundRequested:
		if w.Reason == nil {
			return d, &FieldError{Field: "data.reason", Reason: "missing"}
		}
		switch r := Reason(*w.Reason); r {
		case ReasonNotDelivered, ReasonNotAsDescribed, ReasonQuality, ReasonEffectMismatch,
			ReasonMisleading, ReasonPromisedEffect, ReasonProviderTerminated, ReasonIllegalService,
			ReasonConflictingDescriptions, ReasonModificationOverdue, ReasonModificationFailed,
			ReasonCustomerReasons:
			d.Reason = r
		default:
			return d, &FieldError{Field: "data.reason", Reason: fmt.Sprintf("unknown refund reason %q", truncate(*w.Reason))}
		}
		if w.Amount != nil {
			if *w.Amount <= 0 {
				return d, &FieldError{Field: "data.amount", Reason: fmt.Sprintf("%d: must be more than 0 (leave it out for the whole order)", *w.Amount)}
			}
			d.Amount = *w.Amount
		}
	case TypeInterventionRequested, TypeNegotiationRequested, TypeJudicialFiled:
		if d.By, err = party("data.by", w.By, Customer, Provider, Platform); err != nil {
			return d, err
		}
	case TypeEvidenceSubmitted:
		if d.Party, err = party("data.party", w.Party, Customer, Provider, Platform); err != nil {
			return d, err
		}
		if w.Kind == nil {
			return d, &FieldError{Field: "data.kind", Reason: "missing"}
		}
		switch k := EvidenceKind(*w.Kind); k {
		case Valid, Reference:
			d.Kind = k
		default:
			return d, &FieldError{Field: "data.kind", Reason: fmt.Sprintf("%q is neither valid nor reference", truncate(*w.Kind))}
		}
		if w.Note != nil {
			if d.Note, err = text("data.note", *w.Note); err != nil {
				return d, err
			}
		}
	case TypeSettlementAgreed:
		if d.RefundAmount, err = money("data.refund_amount", w.RefundAmount, true); err != nil {
			return d, err
		}
	case TypeReviewDecided:
		if d.RefundAmount, err = money("data.refund_amount", w.RefundAmount, true); err != nil {
			return d, err
		}
		if w.Articles != nil {
			if len(*w.Articles) > maxArticles {
				return d, &FieldError{Field: "data.articles", Reason: fmt.Sprintf("%d citations, more than %d", len(*w.Articles), maxArticles)}
			}
			for i, a := range *w.Articles {
				if !ValidCitation(a) {
					return d, &FieldError{Field: "data.articles[" + strconv.Itoa(i) + "]", Reason: fmt.Sprintf("%q is not a citation of the rules text (e.g. c2.a5)", truncate(a))}
				}
			}
			d.Articles = *w.Articles
		}
		if w.Note != nil {
			if d.Note, err = text("data.note", *w.Note); err != nil {
				return d, err
			}
		}
	case TypeAssessmentRecorded:
		if w.ValueRatioBP == nil {
			return d, &FieldError{Field: "data.value_ratio_bp", Reason: "missing"}
		}
		if r := *w.ValueRatioBP; r < 0 || r > 10000 {
			return d, &FieldError{Field: "data.value_ratio_bp", Reason: fmt.Sprintf("%d: must be 0 to 10000 basis points", r)}
		}
		d.ValueRatioBP = *w.ValueRatioBP
		if d.ServiceCost, err = money("data.service_cost", w.ServiceCost, false); err != nil {
			return d, err
		}
		if d.UnrealizedCost, err = money("data.unrealized_cost", w.UnrealizedCost, false); err != nil {
			return d, err
		}
	default:
		return d, &FieldError{Field: "type", Reason: fmt.Sprintf("%q cannot be sent as an event", t)}
	}
	return d, nil
}
