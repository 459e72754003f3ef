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
