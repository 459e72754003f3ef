package story

import "github.com/disputed/disputed/internal/bench/report"

// Hostile input: malformed messages, which must be dead-lettered, and
// well-formed ones meant to hurt (events the rules refuse, huge texts, a
// flood for one order), mixed into the load at --bad-share.

// HostileKind is a kind of hostile input; NotHostile is every good event.
type HostileKind int

const (
	NotHostile    HostileKind = iota
	BadJSON                   // truncated JSON: dead letter
	UnknownType               // a type contract v1 does not have: dead letter
	UnknownOrder              // refund.requested for an order never paid: dead letter
	NestedJSON                // data nested 10,000 levels deep: dead letter
	TextAtLimit               // a chat of exactly 16,384 bytes: applied (or rejected over the order's voucher limit)
	TextOverLimit             // a chat of 17,000 bytes: dead letter
	NotAllowed                // suspension.lifted of a dispute not suspended: rejected
	FloodChat                 // one of --flood chats for one order: applied up to the order's voucher limit, then rejected
	Oversized                 // a message of --oversized-bytes: dead letter
	NHostileKinds
)

// HostileNames are the kinds as the report names them.
var HostileNames = [NHostileKinds]string{
	NotHostile: "none", BadJSON: "bad_json", UnknownType: "unknown_type", UnknownOrder: "unknown_order",
	NestedJSON: "nested_10k_levels", TextAtLimit: "text_at_16KiB_limit", TextOverLimit: "text_over_16KiB_limit",
	NotAllowed: "not_allowed_rejected", FloodChat: report.FloodKind, Oversized: "oversized_message",
}

// Outcome is what the processor must do with each kind.
type Outcome int

const (
	OutcomeDeadLetter Outcome = iota
	OutcomeApplied            // or rejected once the order is over a per-order limit
	OutcomeRejected
)

// Outcome is what the processor must do with an event of the kind.
func (k HostileKind) Outcome() Outcome {
	switch k {
	case TextAtLimit, FloodChat:
		return OutcomeApplied
	case NotAllowed:
		return OutcomeRejected
	}
	return OutcomeDeadLetter
}
