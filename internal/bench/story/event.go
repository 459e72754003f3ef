package story

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// Event is an event on its way to Kafka, and what it should cause.
type Event struct {
	ID, Order string
	Type      rules.Type
	Topic     string // "" = the type's topic
	At        time.Time
	Phase     int
	Value     []byte
	Cmds      int // commands the event causes
	// The story's last event carries what the story's deadlines give.
	DeadlineCmds, DeadlineRulings int
	Hostile                       HostileKind
}

// Message is the event as written to Kafka: on the topic it names, else
// on its type's, either with the run's own topicPrefix (external Kafka).
func (e Event) Message(topicPrefix string) kafka.Message {
	t := e.Topic
	if t == "" {
		t = e.Type.Topic()
	}
	return kafka.Message{Topic: topicPrefix + t, Key: []byte(e.Order), Value: e.Value}
}
