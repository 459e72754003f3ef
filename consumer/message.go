package consumer

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// Message is one Kafka message, as read.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	// Headers are the record's headers: a binary-mode CloudEvent's
	// attributes (ce_id, ...) and content-type, or anything else the
	// producer set. A dead letter keeps them.
	Headers []kafka.Header
	Time    time.Time // the broker's timestamp
}

// Input is a message of a partition with its decoded event, or the error
// that makes it malformed.
type Input struct {
	Msg   Message
	Event rules.Event
	Err   error // wraps rules.ErrInvalidEvent

	src       int  // index of the topic, for the merger
	misrouted bool // read from another topic than its type's
}

// DeadLetter is a message that could not be applied, and why.
type DeadLetter struct {
	Msg    Message
	Reason string
	Code   string // machine-readable: rules.DeadLetterCode
}
