package consumer

import (
	"time"

	"github.com/disputed/disputed/rules"
)

// Message is one Kafka message, as read.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time // the broker's timestamp
}

// Input is a message of a partition with its decoded event, or the error
// that makes it malformed.
type Input struct {
	Msg   Message
	Event rules.Event
	Err   error // wraps rules.ErrInvalidEvent

	src int // index of the topic, for the merger
}

// DeadLetter is a message that could not be applied, and why.
type DeadLetter struct {
	Msg    Message
	Reason string
}
