package rules

import (
	"fmt"
	"slices"
)

// EventSpec is what the contract says of one event type, in one place: the
// topic it belongs on, who it says acted, whether it is a platform act, the
// quota it draws on, and its data fields with their kinds and limits. Both
// decoders (structured and binary mode), the encoder, the JSON Schemas and
// the docs' tables read the table below; an event type is added by adding
// its row (and its handler).
type EventSpec struct {
	Type  Type
	Topic string // the default name of the topic the type belongs on
	Doc   string // one sentence, for the docs and the schemas

	// Sender is who the event says acted: a fixed party, or the party a
	// data field names (Field).
	Sender Sender
	// Act says whether the event is an act of the platform.
	Act Act
	// Quota is the per-order quota the event draws on.
	Quota QuotaClass

	// Fields are the data fields, in the order the docs list them and the
	// decoder checks them (a field whose requirement depends on another,
	// RequiredIf, after the rest).
	Fields []FieldSpec
}

// Sender names who an event says acted: Party, or when Field is set, the
// party that data field holds.
type Sender struct {
	Party Party
	Field string
}

// Act says whether an event type is an act of the platform.
type Act uint8

const (
	// PartyAct: a party's (or the order system's) statement.
	PartyAct Act = iota
	// PlatformAct: always the platform's act (a reviewer's decision, an
	// assessment).
	PlatformAct
	// PlatformActWhenSender: the platform's act when its sender is the
	// platform (by: platform), a party's otherwise.
	PlatformActWhenSender
)

// QuotaClass is the per-order quota an event type draws on (quota.go).
type QuotaClass uint8

const (
	QuotaEvents QuotaClass = iota
	QuotaChats
	QuotaEvidence
)

// FieldKind is the kind of a data field: its JSON type and the checks its
// value gets.
type FieldKind uint8

const (
	KindID        FieldKind = iota // a string of 1 to MaxIDLen bytes, no control characters
	KindText                       // a string of at most MaxTextLen bytes
	KindCurrency                   // an ISO 4217 code: three capital letters
	KindMoney                      // an integer amount in minor units, 0 or more
	KindPositive                   // an integer amount in minor units, more than 0
	KindRange                      // an integer from Min to Max
	KindBool                       // true or false
	KindTime                       // an RFC 3339 time in the years 1970 to 8999
	KindEnum                       // one of Values
	KindCitations                  // an array of citations of the rules text, at most MaxArticles
)

// FieldSpec is one data field of an event type.
type FieldSpec struct {
	Name     string // the JSON member name
	Kind     FieldKind
	Required bool
	Doc      string

	Values  []string // KindEnum: the allowed values
	Unknown string   // KindEnum: the reason for another value, with one %q; default "%q is not one of [values]"
	Min     int64    // KindRange
	Max     int64    // KindRange
	Unit    string   // KindRange: what the numbers count, for the error ("basis points")
	Hint    string   // KindPositive: appended to the error ("leave it out for the whole order")

	// RequiredIf makes the field required when another field of the event
	// has a value: {"by", "platform"}. Otherwise it takes Default's field's
	// value when absent.
	RequiredIf [2]string
	Default    string

	// at points at the field in Data: a *string (or a pointer to a
	// string type), *int64, *int, *bool, *time.Time or *[]string.
	at func(*Data) any
	// wire is the field's index in wireFields; path is "data." and the
	// name, as errors name the field.
	wire int
	path string
}

func partyField(name, doc string, required bool, allowed []Party, at func(*Data) any) FieldSpec {
	return FieldSpec{Name: name, Kind: KindEnum, Required: required, Doc: doc, Values: words(allowed), at: at}
}

var (
	anyParty   = parties
	twoParties = []Party{Customer, Provider}
	atBy       = func(d *Data) any { return &d.By }
	atIssue    = func(d *Data) any { return &d.IssueID }
	atNote     = func(d *Data) any { return &d.Note }
	atRefundTo = func(d *Data) any { return &d.RefundAmount }
	atAgreed   = func(d *Data) any { return &d.Agreed }
	atDue      = func(d *Data) any { return &d.Due }
)

// eventSpecs is the contract's table of event types.
var eventSpecs = []EventSpec{
	{Type: TypeOrderPaid, Topic: TopicOrders, Sender: Sender{Party: Platform},
		Doc: "The order is paid; the platform holds `amount` until a ruling.",
		Fields: []FieldSpec{
			{Name: "customer_id", Kind: KindID, Required: true, Doc: "the buyer's ID; the party_id of the customer's transfers", at: func(d *Data) any { return &d.CustomerID }},
			{Name: "provider_id", Kind: KindID, Required: true, Doc: "the seller's ID; the party_id of the provider's transfers", at: func(d *Data) any { return &d.ProviderID }},
			{Name: "category", Kind: KindEnum, Required: true, Doc: "the service category (Chapter III)", Values: words(categories), Unknown: "unknown category %q", at: func(d *Data) any { return &d.Category }},
			{Name: "amount", Kind: KindPositive, Required: true, Doc: "the order amount in minor units, more than 0", at: func(d *Data) any { return &d.Amount }},
			{Name: "currency", Kind: KindCurrency, Required: true, Doc: "ISO 4217 code: three capital letters (the shape is checked, not a list of codes)", at: func(d *Data) any { return &d.Currency }},
			{Name: "delivery_due", Kind: KindTime, Doc: "agreed delivery date; arms the delivery deadline", at: func(d *Data) any { return &d.DeliveryDue }},
			{Name: "modification_days", Kind: KindRange, Min: 1, Max: 3650, Doc: "agreed modification cycle in days", at: func(d *Data) any { return &d.ModificationDays }},
			{Name: "custom_contract", Kind: KindBool, Doc: "a personalised service under a contract signed by both parties; absent is false", at: func(d *Data) any { return &d.CustomContract }},
			{Name: "promised_transaction_amount", Kind: KindBool, Doc: "the listing promised a sales figure; absent is false", at: func(d *Data) any { return &d.PromisedTransactionAmount }},
		}},
	{Type: TypeOrderAccepted, Topic: TopicOrders, Sender: Sender{Party: Customer},
		Doc: "The customer accepted the service. No fields."},
	{Type: TypeServiceTerminated, Topic: TopicOrders, Sender: Sender{Field: "by"}, Act: PlatformActWhenSender,
		Doc: "The service was ended before it was complete.",
		Fields: []FieldSpec{
			partyField("by", "who ended it", true, anyParty, atBy),
			withRequiredIf(partyField("cause", "whose fault it is; required when `by` is platform, else it defaults to `by`", false, twoParties,
				func(d *Data) any { return &d.Cause }), "by", string(Platform), "by"),
			{Name: "agreed", Kind: KindBool, Required: true, Doc: "the other party agreed to the termination", at: atAgreed},
		}},
	{Type: TypeServiceExtended, Topic: TopicOrders, Sender: Sender{Field: "by"},
		Doc: "The provider extended the service period.",
		Fields: []FieldSpec{
			partyField("by", "only the provider extends", true, []Party{Provider}, atBy),
			{Name: "agreed", Kind: KindBool, Required: true, Doc: "the customer agreed to the extension", at: atAgreed},
		}},
	{Type: TypeDeliverySubmitted, Topic: TopicDeliveries, Sender: Sender{Party: Provider},
		Doc: "The provider delivered the service.",
		Fields: []FieldSpec{
			{Name: "delivery_no", Kind: KindID, Doc: "the delivery's number; if present, not empty", at: func(d *Data) any { return &d.DeliveryNo }},
		}},
	{Type: TypeModificationRequested, Topic: TopicDeliveries, Sender: Sender{Party: Customer},
		Doc: "The customer asks for a modification.",
		Fields: []FieldSpec{
			{Name: "issue_id", Kind: KindID, Required: true, Doc: "names the issue; later events about it carry the same ID", at: atIssue},
			{Name: "objective", Kind: KindBool, Required: true, Doc: "the customer described the change objectively", at: func(d *Data) any { return &d.Objective }},
			{Name: "due", Kind: KindTime, Doc: "the agreed re-delivery time", at: atDue},
		}},
	{Type: TypeModificationRefused, Topic: TopicDeliveries, Sender: Sender{Party: Provider},
		Doc: "The provider refuses to make the requested modification.",
		Fields: []FieldSpec{
			{Name: "issue_id", Kind: KindID, Required: true, Doc: "the issue of modification.requested", at: atIssue},
		}},
	{Type: TypeModificationDelivered, Topic: TopicDeliveries, Sender: Sender{Party: Provider},
		Doc: "The provider re-delivered the modified service.",
		Fields: []FieldSpec{
			{Name: "issue_id", Kind: KindID, Required: true, Doc: "the issue of modification.requested", at: atIssue},
		}},
	{Type: TypeModificationRejected, Topic: TopicDeliveries, Sender: Sender{Party: Customer},
		Doc: "The customer says the re-delivery still misses the agreed need.",
		Fields: []FieldSpec{
			{Name: "issue_id", Kind: KindID, Required: true, Doc: "the issue of modification.requested", at: atIssue},
		}},
	{Type: TypeCooperationRequested, Topic: TopicDeliveries, Sender: Sender{Party: Provider},
		Doc: "The provider asks the customer for help it needs to perform the service.",
		Fields: []FieldSpec{
			{Name: "due", Kind: KindTime, Required: true, Doc: "the customer must cooperate by then", at: atDue},
			{Name: "informed_in_advance", Kind: KindBool, Required: true, Doc: "the need was announced on the listing or agreed beforehand", at: func(d *Data) any { return &d.InformedInAdvance }},
		}},
	{Type: TypeCooperationProvided, Topic: TopicDeliveries, Sender: Sender{Party: Customer},
		Doc: "The customer gave the requested cooperation. No fields."},
	{Type: TypeChatMessage, Topic: TopicChats, Sender: Sender{Field: "from"}, Quota: QuotaChats,
		Doc: "A message between the parties on the platform, kept as a voucher.",
		Fields: []FieldSpec{
			partyField("from", "who wrote it", true, anyParty, func(d *Data) any { return &d.From }),
			{Name: "text", Kind: KindText, Required: true, Doc: "at most 16384 bytes; may be empty", at: func(d *Data) any { return &d.Text }},
		}},
	{Type: TypeRefundRequested, Topic: TopicRefundRequests, Sender: Sender{Party: Customer},
		Doc: "The customer asks for a refund; this opens a dispute.",
		Fields: []FieldSpec{
			{Name: "reason", Kind: KindEnum, Required: true, Doc: "why", Values: words(reasons), Unknown: "unknown refund reason %q", at: func(d *Data) any { return &d.Reason }},
			{Name: "amount", Kind: KindPositive, Hint: "leave it out for the whole order", Doc: "the refund asked for, more than 0; absent, the whole order. Above the order amount it is rejected (the decoder cannot know the order amount)", at: func(d *Data) any { return &d.Amount }},
		}},
	{Type: TypeRefundWithdrawn, Topic: TopicRefundRequests, Sender: Sender{Party: Customer},
		Doc: "The customer withdraws the open refund request. No fields."},
	{Type: TypeInterventionRequested, Topic: TopicRefundRequests, Sender: Sender{Field: "by"}, Act: PlatformActWhenSender,
		Doc: "A party asks the platform to handle the dispute.",
		Fields: []FieldSpec{
			partyField("by", "who asks", true, anyParty, atBy),
		}},
	{Type: TypeEvidenceSubmitted, Topic: TopicRefundRequests, Sender: Sender{Field: "party"}, Quota: QuotaEvidence,
		Doc: "A party submits evidence.",
		Fields: []FieldSpec{
			partyField("party", "who submits it", true, anyParty, func(d *Data) any { return &d.Party }),
			{Name: "kind", Kind: KindEnum, Required: true, Doc: "valid: service descriptions, platform chat records, delivery records; reference: screenshots, third-party chats, photos",
				Values: words(evidenceKinds), Unknown: "%q is neither valid nor reference", at: func(d *Data) any { return &d.Kind }},
			{Name: "note", Kind: KindText, Doc: "at most 16384 bytes", at: atNote},
		}},
	{Type: TypeSettlementAgreed, Topic: TopicRefundRequests, Sender: Sender{Party: Platform},
		Doc: "The parties agreed the refund themselves.",
		Fields: []FieldSpec{
			{Name: "refund_amount", Kind: KindMoney, Required: true, Doc: "0 to the order amount; above it is rejected", at: atRefundTo},
		}},
	{Type: TypeNegotiationRequested, Topic: TopicRefundRequests, Sender: Sender{Field: "by"},
		Doc: "A party asks to settle the dispute without the platform.",
		Fields: []FieldSpec{
			partyField("by", "customer or provider; platform decodes but is rejected", true, anyParty, atBy),
		}},
	{Type: TypeJudicialFiled, Topic: TopicRefundRequests, Sender: Sender{Field: "by"},
		Doc: "A party took the dispute to a court or the police.",
		Fields: []FieldSpec{
			partyField("by", "who filed", true, anyParty, atBy),
		}},
	{Type: TypeSuspensionLifted, Topic: TopicRefundRequests, Sender: Sender{Party: Platform},
		Doc: "The suspension ends. No fields."},
	{Type: TypeAssessmentRecorded, Topic: TopicRefundRequests, Sender: Sender{Party: Platform}, Act: PlatformAct,
		Doc: "A platform reviewer's assessment of what was delivered.",
		Fields: []FieldSpec{
			{Name: "value_ratio_bp", Kind: KindRange, Required: true, Min: 0, Max: 10000, Unit: "basis points", Doc: "share of the service's value delivered, in basis points", at: func(d *Data) any { return &d.ValueRatioBP }},
			{Name: "service_cost", Kind: KindMoney, Doc: "cost the provider incurred; absent is 0", at: func(d *Data) any { return &d.ServiceCost }},
			{Name: "unrealized_cost", Kind: KindMoney, Doc: "cost incurred on the part not delivered; absent is 0", at: func(d *Data) any { return &d.UnrealizedCost }},
		}},
	{Type: TypeReviewDecided, Topic: TopicRefundRequests, Sender: Sender{Party: Platform}, Act: PlatformAct,
		Doc: "A platform reviewer's final decision.",
		Fields: []FieldSpec{
			{Name: "refund_amount", Kind: KindMoney, Required: true, Doc: "0 to the refund the customer asked for; above it is rejected", at: atRefundTo},
			{Name: "articles", Kind: KindCitations, Doc: "the reviewer's citations, at most 64, each one the rules text has", at: func(d *Data) any { return &d.Articles }},
			{Name: "note", Kind: KindText, Doc: "at most 16384 bytes", at: atNote},
		}},
}

func withRequiredIf(f FieldSpec, field, value, def string) FieldSpec {
	f.RequiredIf = [2]string{field, value}
	f.Default = def
	return f
}

// specIndex finds a type's row: by the length of the type's name, then
// the name (a map's hashing cost more than the rest of a small lookup, and
// every event looks its row up several times).
var specIndex = func() [][]*EventSpec {
	var by [][]*EventSpec
	seen := map[Type]bool{}
	for i := range eventSpecs {
		s := &eventSpecs[i]
		if seen[s.Type] {
			panic(fmt.Sprintf("rules: event type %s twice in the table", s.Type))
		}
		seen[s.Type] = true
		for len(by) <= len(s.Type) {
			by = append(by, nil)
		}
		by[len(s.Type)] = append(by[len(s.Type)], s)
	}
	return by
}()

// specOf returns the row of a type, or nil for a type the contract does
// not know.
func specOf(t Type) *EventSpec {
	if len(t) >= len(specIndex) {
		return nil
	}
	for _, s := range specIndex[len(t)] {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// Specs returns the table of event types, in its order.
func Specs() []EventSpec { return slices.Clone(eventSpecs) }

// Spec returns the row of an event type of the contract.
func Spec(t Type) (EventSpec, bool) {
	s := specOf(t)
	if s == nil {
		return EventSpec{}, false
	}
	return *s, true
}

// Field returns the spec of one of the type's data fields.
func (s EventSpec) Field(name string) (FieldSpec, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldSpec{}, false
}

// Topic is the default topic the event type belongs on, or "" for a type
// the contract does not know.
func (t Type) Topic() string {
	if s := specOf(t); s != nil {
		return s.Topic
	}
	return ""
}

// Types lists the wire event types of the contract in a fixed order.
func Types() []Type {
	out := make([]Type, len(eventSpecs))
	for i, s := range eventSpecs {
		out[i] = s.Type
	}
	return out
}

// Sender is the party an event comes from: the customer, the provider, or
// the platform (which also stands for both parties together: a settlement,
// and for the order system: order.paid). Upstream systems write events on
// the parties' behalf; the sender is what the event says of who acted.
func (e Event) Sender() Party {
	s := specOf(e.Type)
	if s == nil {
		return Platform
	}
	switch s.Sender.Field {
	case "":
		return s.Sender.Party
	case "by":
		return e.Data.By
	case "from":
		return e.Data.From
	case "party":
		return e.Data.Party
	}
	panic("rules: sender field " + s.Sender.Field + " of " + string(e.Type) + " is not a party field of Data")
}

// senderFields are the data fields Sender reads (a switch, not the table's
// accessors, so that asking an event its sender costs no allocation); the
// table's init checks every row's sender field is one of them.
var senderFields = map[string]bool{"by": true, "from": true, "party": true}

// PlatformAct reports whether the event is an act of the platform: a
// reviewer's decision or assessment, or a party-field event the platform
// itself sent (intervention.requested by the platform).
func (e Event) PlatformAct() bool {
	s := specOf(e.Type)
	if s == nil {
		return false
	}
	switch s.Act {
	case PlatformAct:
		return true
	case PlatformActWhenSender:
		return e.Sender() == Platform
	}
	return false
}
