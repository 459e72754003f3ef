package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is where an order stands in the dispute lifecycle.
type Status string

const (
	StatusNew         Status = ""             // no order.paid seen yet
	StatusPaid        Status = "paid"         // paid, no open refund request
	StatusAccepted    Status = "accepted"     // the customer accepted the service (c1.s3.a2)
	StatusNegotiating Status = "negotiating"  // refund requested; the parties negotiate (c1.s3.a1)
	StatusUnderReview Status = "under_review" // the platform intervened; evidence phase
	StatusEscalated   Status = "escalated"    // a person must decide
	StatusSuspended   Status = "suspended"    // handling paused (c1.s5)
	StatusRuled       Status = "ruled"        // a final ruling was made
)

// openStatuses are the statuses of an open dispute, in the order of the
// lifecycle. OpenStatuses hands out copies; everything that lists or indexes
// open disputes (the store's status index, the API's queue, the gauge) takes
// them from there.
var openStatuses = [...]Status{StatusNegotiating, StatusUnderReview, StatusEscalated, StatusSuspended}

// OpenStatuses lists the statuses of an open dispute: a refund request that
// is neither withdrawn nor finally ruled.
func OpenStatuses() []Status { return openStatuses[:] }

// Open reports whether a dispute is open: a refund request that is neither
// withdrawn nor finally ruled.
func (s Status) Open() bool {
	for _, o := range openStatuses {
		if s == o {
			return true
		}
	}
	return false
}

// State is everything the engine knows about one order. The zero value is a
// new order. A State is plain data: it encodes to JSON deterministically, and
// Apply never modifies the State it is given.
type State struct {
	// Version counts the writes of this state in the store; the store sets
	// it when loading and checks it when saving. It is not part of the
	// encoding.
	Version int64 `json:"-"`

	OrderID string `json:"order_id"`
	RuleSet string `json:"rule_set,omitempty"`
	Status  Status `json:"status,omitempty"`
	// Resume is the status a suspended dispute returns to.
	Resume Status `json:"resume,omitempty"`

	Order  Order   `json:"order"`
	Refund *Refund `json:"refund,omitempty"`

	Delivered         bool           `json:"delivered,omitempty"`
	DeliveryMissed    bool           `json:"delivery_missed,omitempty"`    // fault: delivery_due passed undelivered (c2.a4)
	CooperationMissed bool           `json:"cooperation_missed,omitempty"` // fault: announced cooperation not given (c2.a7)
	Termination       *Termination   `json:"termination,omitempty"`
	Extension         *Extension     `json:"extension,omitempty"`
	Cooperation       *Cooperation   `json:"cooperation,omitempty"`
	Modifications     []Modification `json:"modifications,omitempty"`
	Assessment        *Assessment    `json:"assessment,omitempty"`

	// Negotiation lists the parties that asked to settle it themselves
	// (c1.s5.i1); Judicial is set once a party went to a court or the police
	// (c1.s5.i2). Both are cleared when a suspension is lifted.
	Negotiation []Party `json:"negotiation,omitempty"`
	Judicial    bool    `json:"judicial,omitempty"`

	Vouchers []Voucher `json:"vouchers,omitempty"`
	Timers   []Timer   `json:"timers,omitempty"`
	TimerSeq int       `json:"timer_seq,omitempty"`
	Rulings  []Ruling  `json:"rulings,omitempty"`

	// Log is the order's timeline: each event applied (rejected ones too),
	// each deadline fired and each command issued, in order. It is how a
	// repeated event is known and has no effect. In JSON each entry is one
	// line of text (see LogEntry).
	Log []LogEntry `json:"log,omitempty"`
	// Counts are what the parties have used of their quotas (quota.go).
	Counts Counts `json:"counts,omitzero"`
}

// LogEntry is one entry of State.Log. In JSON it is one line of three
// tab-separated fields: the time (RFC 3339, UTC), then the event type,
// "deadline" for a fired deadline or "command" for a command, then the event
// ID, the timer ID or the command ID. IDs never hold control characters, so
// a tab cannot occur in them.
type LogEntry struct {
	At   time.Time
	Kind string // an event type, "deadline" or "command"
	ID   string
}

// LogCommand is the kind of a command's log entry.
const LogCommand = "command"

func (l LogEntry) String() string {
	return l.At.UTC().Format(time.RFC3339Nano) + "\t" + l.Kind + "\t" + l.ID
}

// MarshalText encodes the entry as its line.
func (l LogEntry) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a line.
func (l *LogEntry) UnmarshalText(b []byte) error {
	e, err := ParseLogEntry(string(b))
	if err != nil {
		return err
	}
	*l = e
	return nil
}

// ParseLogEntry decodes a line of State.Log.
func ParseLogEntry(line string) (LogEntry, error) {
	at, rest, ok1 := strings.Cut(line, "\t")
	kind, id, ok2 := strings.Cut(rest, "\t")
	if !ok1 || !ok2 {
		return LogEntry{}, fmt.Errorf("log entry %q: want time, kind and ID separated by tabs", line)
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return LogEntry{}, fmt.Errorf("log entry %q: %w", line, err)
	}
	return LogEntry{At: t.UTC(), Kind: kind, ID: id}, nil
}

// Order is what order.paid said.
type Order struct {
	CustomerID                string    `json:"customer_id,omitempty"`
	ProviderID                string    `json:"provider_id,omitempty"`
	Category                  Category  `json:"category,omitempty"`
	Amount                    int64     `json:"amount,omitempty"`
	Currency                  string    `json:"currency,omitempty"`
	PaidAt                    time.Time `json:"paid_at,omitzero"`
	DeliveryDue               time.Time `json:"delivery_due,omitzero"`
	ModificationDays          int       `json:"modification_days,omitempty"`
	CustomContract            bool      `json:"custom_contract,omitempty"`
	PromisedTransactionAmount bool      `json:"promised_transaction_amount,omitempty"`
}

// Refund is the open refund request and its progress.
type Refund struct {
	EventID        string    `json:"event_id"`
	Reason         Reason    `json:"reason"`
	Amount         int64     `json:"amount"` // what the customer asked for; never more is refunded
	RequestedAt    time.Time `json:"requested_at"`
	InterventionBy Party     `json:"intervention_by,omitempty"`
	InterventionAt time.Time `json:"intervention_at,omitzero"`
	Burden         Party     `json:"burden,omitempty"`         // who must prove, once under review
	BurdenArticle  string    `json:"burden_article,omitempty"` // c1.s4.a3 or c1.s4.a4
	EvidenceDue    time.Time `json:"evidence_due,omitzero"`
}

// Termination records service.terminated.
type Termination struct {
	By     Party     `json:"by"`
	Cause  Party     `json:"cause"`
	Agreed bool      `json:"agreed"`
	At     time.Time `json:"at"`
}

// Extension records service.extended.
type Extension struct {
	By     Party     `json:"by"`
	Agreed bool      `json:"agreed"`
	At     time.Time `json:"at"`
}

// Cooperation is the provider's latest request for the customer's help.
type Cooperation struct {
	Due      time.Time `json:"due"`
	Informed bool      `json:"informed"`
	Provided bool      `json:"provided,omitempty"`
}

// Modification is one modification issue (c2.a5).
type Modification struct {
	IssueID    string    `json:"issue_id"`
	Objective  bool      `json:"objective"`
	Due        time.Time `json:"due,omitzero"`
	Delivered  bool      `json:"delivered,omitempty"`
	Rejections int       `json:"rejections,omitempty"`
	// Fault is set once the issue decides the dispute against a party:
	// FaultOverdue, FaultRefused or FaultFailed.
	Fault string `json:"fault,omitempty"`
}

// Modification faults.
const (
	FaultOverdue = "overdue" // not re-delivered in time
	FaultRefused = "refused" // the provider refused
	FaultFailed  = "failed"  // rejected three times
)

// Assessment is a platform reviewer's assessment of what was delivered.
type Assessment struct {
	ValueRatioBP   int64 `json:"value_ratio_bp"`
	ServiceCost    int64 `json:"service_cost,omitempty"`
	UnrealizedCost int64 `json:"unrealized_cost,omitempty"`
}

// Voucher is an entry of the dispute's timeline that a party can point to:
// submitted evidence, or a chat message (which alone meets no burden).
type Voucher struct {
	EventID string       `json:"event_id"`
	At      time.Time    `json:"at"`
	Party   Party        `json:"party"`
	Kind    EvidenceKind `json:"kind,omitempty"` // empty for a chat message
	Text    string       `json:"text,omitempty"`
}

// TimerKind is what a deadline is for.
type TimerKind string

const (
	TimerEvidence     TimerKind = "evidence"     // c1.s4.a2
	TimerModification TimerKind = "modification" // c2.a5
	TimerDelivery     TimerKind = "delivery"     // c2.a4
	TimerCooperation  TimerKind = "cooperation"  // c2.a6, c2.a7
)

// Timer is a deadline the engine set. A running timer has At set; a paused
// one (the dispute is suspended) has Remaining instead.
type Timer struct {
	ID        string        `json:"id"`
	Kind      TimerKind     `json:"kind"`
	At        time.Time     `json:"at,omitzero"`
	Remaining time.Duration `json:"remaining,omitempty"`
	Paused    bool          `json:"paused,omitempty"`
	IssueID   string        `json:"issue_id,omitempty"`
}

// seen reports whether an event with this ID was applied: an entry with
// the ID whose kind is an event type.
func (s *State) seen(id string) bool {
	for _, l := range s.Log {
		if l.ID == id && l.Kind != LogCommand && l.Kind != string(TypeDeadline) {
			return true
		}
	}
	return false
}

func (s *State) log(at time.Time, kind, id string) {
	s.Log = append(s.Log, LogEntry{At: at.UTC(), Kind: kind, ID: id})
}

func (s *State) timer(id string) int {
	return slices.IndexFunc(s.Timers, func(t Timer) bool { return t.ID == id })
}

func (s *State) modification(issue string) int {
	return slices.IndexFunc(s.Modifications, func(m Modification) bool { return m.IssueID == issue })
}

// clone returns a copy that Apply can change without touching s. Slices that
// Apply changes in place are copied; those it only appends to (Log,
// Vouchers, Rulings, Negotiation) are capped at their length instead, so the
// first append copies them and s's backing arrays are never written.
func (s State) clone() State {
	c := s
	c.Refund = clonePtr(s.Refund)
	c.Termination = clonePtr(s.Termination)
	c.Extension = clonePtr(s.Extension)
	c.Cooperation = clonePtr(s.Cooperation)
	c.Assessment = clonePtr(s.Assessment)
	c.Modifications = slices.Clone(s.Modifications)
	c.Timers = slices.Clone(s.Timers)
	c.Negotiation = s.Negotiation[:len(s.Negotiation):len(s.Negotiation)]
	c.Vouchers = s.Vouchers[:len(s.Vouchers):len(s.Vouchers)]
	c.Rulings = s.Rulings[:len(s.Rulings):len(s.Rulings)]
	c.Log = s.Log[:len(s.Log):len(s.Log)]
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	c := s.clone()
	c.Negotiation = slices.Clone(s.Negotiation)
	c.Vouchers = slices.Clone(s.Vouchers)
	c.Rulings = slices.Clone(s.Rulings)
	c.Log = slices.Clone(s.Log)
	return c
}
