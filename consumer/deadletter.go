package consumer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Headers of a dead letter.
const (
	HeaderError           = "disputed-error"
	HeaderSourceTopic     = "disputed-source-topic"
	HeaderSourcePartition = "disputed-source-partition"
	HeaderSourceOffset    = "disputed-source-offset"
)

// KafkaDeadLetters writes dead letters to a Kafka topic: the original key and
// value, and headers with the reason and where the message came from. A
// crash between this write and the batch's save writes a letter twice on
// redelivery; the source headers identify the repeat.
type KafkaDeadLetters struct {
	w *kafka.Writer
}

// NewKafkaDeadLetters returns a writer to topic. transport carries TLS and
// SASL settings (nil: plain TCP).
func NewKafkaDeadLetters(brokers []string, topic string, transport kafka.RoundTripper) *KafkaDeadLetters {
	return &KafkaDeadLetters{w: &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}}
}

// DeadLetter writes the letters and returns once Kafka has them.
func (d *KafkaDeadLetters) DeadLetter(ctx context.Context, letters ...DeadLetter) error {
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		msgs[i] = kafka.Message{
			Key:   l.Msg.Key,
			Value: l.Msg.Value,
			Headers: []kafka.Header{
				{Key: HeaderError, Value: []byte(l.Reason)},
				{Key: HeaderSourceTopic, Value: []byte(l.Msg.Topic)},
				{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(l.Msg.Partition))},
				{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(l.Msg.Offset, 10))},
			},
		}
	}
	if err := d.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write %d dead letters to %s: %w", len(msgs), d.w.Topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (d *KafkaDeadLetters) Close() error { return d.w.Close() }
