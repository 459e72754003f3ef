package rules

import "time"

// Type is a CloudEvents event type of the contract; spec.go's table says
// what each carries.
type Type string

// Event types of contract v1, by the topic they belong on.
const (
	TypeOrderPaid         Type = "order.paid"
	TypeOrderAccepted     Type = "order.accepted"
	TypeServiceTerminated Type = "service.terminated"
	TypeServiceExtended   Type = "service.extended"

	TypeDeliverySubmitted     Type = "delivery.submitted"
	TypeModificationRequested Type = "modification.requested"
	TypeModificationRefused   Type = "modification.refused"
	TypeModificationDelivered Type = "modification.delivered"
	TypeModificationRejected  Type = "modification.rejected"
	TypeCooperationRequested  Type = "cooperation.requested"
	TypeCooperationProvided   Type = "cooperation.provided"

	TypeChatMessage Type = "chat.message"

	TypeRefundRequested       Type = "refund.requested"
	TypeRefundWithdrawn       Type = "refund.withdrawn"
	TypeInterventionRequested Type = "intervention.requested"
	TypeEvidenceSubmitted     Type = "evidence.submitted"
	TypeSettlementAgreed      Type = "settlement.agreed"
	TypeNegotiationRequested  Type = "negotiation.requested"
	TypeJudicialFiled         Type = "judicial.filed"
	TypeSuspensionLifted      Type = "suspension.lifted"
	TypeAssessmentRecorded    Type = "assessment.recorded"
	TypeReviewDecided         Type = "review.decided"

	// TypeDeadline is not on the wire: it is a deadline the engine armed,
	// fired by whoever keeps the timers (the partition's owner, or replay).
	TypeDeadline Type = "deadline"
)

// Default topic names of contract v1.
const (
	TopicOrders         = "orders"
	TopicDeliveries     = "deliveries"
	TopicChats          = "chats"
	TopicRefundRequests = "refund-requests"
)

// Party is one side of a transaction, or the platform.
type Party string

const (
	Customer Party = "customer" // the merchant who bought the service
	Provider Party = "provider" // the seller of the service
	Platform Party = "platform"
)

// Category is the service category of an order (Chapter III).
type Category string

const (
	SoftwareApp        Category = "software_app"        // Chapter III section 1
	OperationalService Category = "operational_service" // Chapter III section 2
	Training           Category = "training"            // Chapter III section 3
	ImageDesign        Category = "image_design"        // Chapter III section 4
	Video              Category = "video"               // Chapter III section 5
	OtherCategory      Category = "other"               // Chapter II only
)

// Reason is why a customer asks for a refund.
type Reason string

const (
	ReasonNotDelivered            Reason = "not_delivered"
	ReasonNotAsDescribed          Reason = "not_as_described"
	ReasonQuality                 Reason = "quality"
	ReasonEffectMismatch          Reason = "effect_mismatch"
	ReasonMisleading              Reason = "misleading"
	ReasonPromisedEffect          Reason = "promised_effect"
	ReasonProviderTerminated      Reason = "provider_terminated"
	ReasonIllegalService          Reason = "illegal_service"
	ReasonConflictingDescriptions Reason = "conflicting_descriptions"
	ReasonModificationOverdue     Reason = "modification_overdue"
	ReasonModificationFailed      Reason = "modification_failed"
	ReasonCustomerReasons         Reason = "customer_reasons"
)

// EvidenceKind tells valid vouchers from reference vouchers (Chapter I
// section 2, definitions of evidence and reference vouchers).
type EvidenceKind string

const (
	// Valid vouchers: service descriptions, platform chat records, delivery records.
	Valid EvidenceKind = "valid"
	// Reference vouchers: screenshots, third-party chats, photos.
	Reference EvidenceKind = "reference"
)

// Event is one decoded, validated input. Data holds the fields of the event's
// type; the fields of other types are zero.
type Event struct {
	ID      string    // unique per event; a repeat for the same order is a duplicate
	Source  string    // the CloudEvents source
	Type    Type      // the event type
	Time    time.Time // when it happened, in UTC; deadlines are computed from it
	OrderID string    // the CloudEvents subject: the order, and the dispute key
	Data    Data

	// TimerID names the deadline that fired, for TypeDeadline events only.
	TimerID string
}

// Data is the union of the data fields of contract v1's event types. Each
// field says which types use it; optional fields are zero when absent.
type Data struct {
	// order.paid
	CustomerID                string
	ProviderID                string
	Category                  Category
	Amount                    int64 // order.paid: the order amount (>0); refund.requested: the requested refund, 0 for the whole order
	Currency                  string
	DeliveryDue               time.Time // zero when not agreed
	ModificationDays          int       // agreed modification cycle in days, 0 when not agreed
	CustomContract            bool
	PromisedTransactionAmount bool

	// service.terminated, service.extended; By also for intervention.requested,
	// negotiation.requested and judicial.filed.
	By     Party
	Cause  Party // whose fault the termination is; defaults to By unless By is the platform
	Agreed bool

	// delivery.submitted
	DeliveryNo string

	// modification.*
	IssueID   string
	Objective bool
	Due       time.Time // modification.requested (agreed time, optional) and cooperation.requested (required)

	// cooperation.requested
	InformedInAdvance bool

	// chat.message
	From Party
	Text string

	// refund.requested
	Reason Reason

	// evidence.submitted
	Party Party
	Kind  EvidenceKind
	Note  string // also review.decided

	// settlement.agreed, review.decided
	RefundAmount int64
	Articles     []string // review.decided: the reviewer's citations

	// assessment.recorded
	ValueRatioBP   int64
	ServiceCost    int64
	UnrealizedCost int64
}
