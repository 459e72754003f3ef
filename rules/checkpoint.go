package rules

import (
	"encoding/json"
	"time"
)

// Checkpoint is where a partition stands in its store of record: what the
// stream processor needs to resume it and to know when its next deadline is
// due. The store returns one when a partition is opened and after every save.
type Checkpoint struct {
	// Offsets is the last offset applied of each topic.
	Offsets map[string]int64
	// Mark names the last write of the partition. A save must present the
	// mark it expects (Batch.Prev), so that a store that lost writes, or
	// was written by another owner, refuses to be built on.
	Mark string
	// NextDue is when the partition's earliest deadline is due; zero when
	// none is armed. Pending counts the deadlines armed.
	NextDue time.Time
	Pending int64
	// OutboxSeq numbers the partition's commands: the last one saved has
	// this sequence number.
	OutboxSeq int64
}

// Batch is the effects of one batch of a partition, saved in one atomic
// step: the decisions in the order they were made (states, deadline
// changes, commands), the offsets consumed, and the write marks.
type Batch struct {
	Decisions []Decision
	// Offsets is the last offset consumed per topic.
	Offsets map[string]int64
	// Prev is the mark the store must still hold (the Checkpoint's);
	// Mark replaces it.
	Prev, Mark string
}

// Refusal is a command the sink refused for good, and why: publishing it
// would record a second final ruling for its order, or pay a transfer that
// is not the order's final ruling's. It is held for a person to look at,
// never published and never dropped silently.
type Refusal struct {
	Command Command
	Reason  string
}

// Held is a refused command as the store keeps it.
type Held struct {
	CommandID string          `json:"command_id"`
	Subject   string          `json:"subject"`
	Data      json.RawMessage `json:"data"`
	Reason    string          `json:"reason"`
	At        time.Time       `json:"at"`
}
