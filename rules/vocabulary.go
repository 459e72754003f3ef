package rules

import "slices"

// The closed sets of words of the contract, each listed once. The
// decoders, the JSON Schemas, the docs, the metrics' label values and the
// API's filters all read these lists; a word added here is known
// everywhere.

var (
	categories = []Category{SoftwareApp, OperationalService, Training, ImageDesign, Video, OtherCategory}

	reasons = []Reason{
		ReasonNotDelivered, ReasonNotAsDescribed, ReasonQuality, ReasonEffectMismatch,
		ReasonMisleading, ReasonPromisedEffect, ReasonProviderTerminated, ReasonIllegalService,
		ReasonConflictingDescriptions, ReasonModificationOverdue, ReasonModificationFailed,
		ReasonCustomerReasons,
	}

	parties = []Party{Customer, Provider, Platform}

	evidenceKinds = []EvidenceKind{Valid, Reference}

	outcomes = []Outcome{RefundFull, RefundPartial, Release, Settled, Escalated}
)

// Rejection codes: why an event was rejected, in a word a program can
// match (v2.md section 4). The sentence beside it is for people.
const (
	CodeAlreadyRuled        = "already_ruled"
	CodeQuota               = "quota"
	CodeRefundOpen          = "refund_open"
	CodeAboveAmount         = "above_amount"
	CodeAboveRequest        = "above_request"
	CodeNoRefundRequest     = "no_refund_request"
	CodeUnderReview         = "under_review"
	CodeNotUnderReview      = "not_under_review"
	CodeSuspended           = "suspended"
	CodeNotSuspended        = "not_suspended"
	CodeNoDispute           = "no_dispute"
	CodeAfterCompletion     = "after_completion"
	CodeAlreadyPaid         = "already_paid"
	CodeNoModification      = "no_modification"
	CodeModificationDecided = "modification_decided"
	CodeNotAParty           = "not_a_party"
	CodeBeforePayment       = "before_payment"
	CodeBadDue              = "bad_due"
)

// rejectionCodes are the codes with what each means, in a fixed order.
var rejectionCodes = []struct{ code, doc string }{
	{CodeAlreadyRuled, "the order has its final ruling"},
	{CodeQuota, "its sender used up its per-order quota of events of the kind"},
	{CodeRefundOpen, "a refund request is open already"},
	{CodeAboveAmount, "the amount is more than the order amount"},
	{CodeAboveRequest, "the refund is more than the customer asked for"},
	{CodeNoRefundRequest, "no refund request is open"},
	{CodeUnderReview, "the platform handles the dispute already"},
	{CodeNotUnderReview, "no dispute of the order is under review or escalated"},
	{CodeSuspended, "the dispute is suspended"},
	{CodeNotSuspended, "the dispute is not suspended"},
	{CodeNoDispute, "no dispute of the order is open"},
	{CodeAfterCompletion, "the customer accepted the service: the order is complete"},
	{CodeAlreadyPaid, "the order was paid already (a second order.paid)"},
	{CodeNoModification, "no modification was requested for the issue"},
	{CodeModificationDecided, "the issue's modification is decided already"},
	{CodeNotAParty, "only the customer and the provider may do it"},
	{CodeBeforePayment, "it is stamped before the order's payment"},
	{CodeBadDue, "the due time it sets is not after its own time: no deadline is armed in the past"},
}

// RejectionCodes lists the codes of disputes.rejected, in a fixed order.
func RejectionCodes() []string {
	out := make([]string, len(rejectionCodes))
	for i, c := range rejectionCodes {
		out[i] = c.code
	}
	return out
}

// RejectionCodeDoc says what a rejection code means, or "".
func RejectionCodeDoc(code string) string {
	for _, c := range rejectionCodes {
		if c.code == code {
			return c.doc
		}
	}
	return ""
}

// Categories lists the service categories of contract v1, in a fixed order.
func Categories() []Category { return slices.Clone(categories) }

// Reasons lists the refund reasons of contract v1, in a fixed order.
func Reasons() []Reason { return slices.Clone(reasons) }

// Parties lists the parties: customer, provider, platform.
func Parties() []Party { return slices.Clone(parties) }

// EvidenceKinds lists the kinds of evidence: valid, reference.
func EvidenceKinds() []EvidenceKind { return slices.Clone(evidenceKinds) }

// Outcomes lists the outcomes of a ruling, in a fixed order.
func Outcomes() []Outcome { return slices.Clone(outcomes) }

// words returns the values of an enumeration as strings.
func words[S ~string](vs []S) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
