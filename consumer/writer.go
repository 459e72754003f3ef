package consumer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// EventWriter writes events disputed itself originates (a reviewer's
// decision from the console) to the input topics, where they are read,
// deduplicated and decided like every upstream event.
type EventWriter struct {
	w      *kafka.Writer
	topics Topics
}

// NewEventWriter returns a writer to the input topics. transport carries TLS
// and SASL settings (nil: plain TCP). Close it when done.
func NewEventWriter(brokers []string, topics Topics, transport kafka.RoundTripper) *EventWriter {
	return &EventWriter{topics: topics, w: &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               toPartition{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           time.Millisecond, // one event per click: nothing to wait for
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}}
}

// WriteEvent writes one event to the configured topic of its type, keyed by
// key (the order ID), to the given partition: the one the order's state is
// kept in. That partition, not the partitioner, decides, so the event
// reaches the order's state whichever partitioner upstream producers use. It
// returns once every in-sync replica has it. Safe for concurrent use.
func (e *EventWriter) WriteEvent(ctx context.Context, typ rules.Type, partition int, key string, value []byte) error {
	topic := e.topics.Of(typ)
	err := e.w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte(key), Value: value, WriterData: partition})
	if err != nil {
		return fmt.Errorf("write %s event for %q to %s/%d: %w", typ, key, topic, partition, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (e *EventWriter) Close() error { return e.w.Close() }

// toPartition sends a message to the partition in its WriterData. A
// message without one, or with one the topic does not have, goes where
// kafka-go's Hash balancer puts its key, as the project's own producers do.
type toPartition struct{}

func (toPartition) Balance(m kafka.Message, partitions ...int) int {
	if p, ok := m.WriterData.(int); ok && slices.Contains(partitions, p) {
		return p
	}
	return (&kafka.Hash{}).Balance(m, partitions...)
}
