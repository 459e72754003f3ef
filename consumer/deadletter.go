package consumer

import (
	"context"
	"errors"
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
	// HeaderOriginalSize is set when the dead-letter topic refused the
	// message whole: the letter then carries only its first bytes.
	HeaderOriginalSize = "disputed-original-size"
)

// A letter keeps at most the first truncatedValue bytes of a message whose
// value is over maxLetterValue: Kafka's default limit on a record batch is
// 1 MiB, and one huge message must not stop its partition.
const (
	maxLetterValue = 900 << 10
	truncatedValue = 64 << 10
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
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		// An input message may be as large as its topic allows; the
		// writer's own 1 MiB default would refuse it for ever.
		BatchBytes:             64 << 20,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}}
}

// DeadLetter writes the letters and returns once Kafka has them. A letter
// over 900 KiB, or one the topic refuses for its size, keeps only the first
// 64 KiB of the message and a header with its original size.
func (d *KafkaDeadLetters) DeadLetter(ctx context.Context, letters ...DeadLetter) error {
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		msgs[i] = letter(l, len(l.Msg.Value) > maxLetterValue)
	}
	err := d.w.WriteMessages(ctx, msgs...)
	if err == nil || !tooLarge(err) {
		return wrapLetters(err, len(msgs), d.w.Topic)
	}
	// The topic takes less than we thought: one by one, cutting what is
	// large, so that the small letters go whole.
	for _, l := range letters {
		m := letter(l, false)
		err := d.w.WriteMessages(ctx, m)
		if tooLarge(err) && len(l.Msg.Value) > truncatedValue {
			err = d.w.WriteMessages(ctx, letter(l, true))
		}
		if err != nil {
			return wrapLetters(err, 1, d.w.Topic)
		}
	}
	return nil
}

func wrapLetters(err error, n int, topic string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write %d dead letters to %s: %w", n, topic, err)
}

func letter(l DeadLetter, truncate bool) kafka.Message {
	m := kafka.Message{
		Key:   l.Msg.Key,
		Value: l.Msg.Value,
		Headers: []kafka.Header{
			{Key: HeaderError, Value: []byte(l.Reason)},
			{Key: HeaderSourceTopic, Value: []byte(l.Msg.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(l.Msg.Partition))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(l.Msg.Offset, 10))},
		},
	}
	if truncate {
		m.Value = l.Msg.Value[:truncatedValue]
		m.Headers = append(m.Headers, kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(l.Msg.Value)))})
	}
	return m
}

// tooLarge reports whether Kafka, or the writer, refused a message for its
// size (kafka.MessageTooLargeError unwraps to MessageSizeTooLarge).
func tooLarge(err error) bool {
	var werr kafka.WriteErrors
	if errors.As(err, &werr) {
		for _, e := range werr {
			if tooLarge(e) {
				return true
			}
		}
	}
	return errors.Is(err, kafka.MessageSizeTooLarge)
}

// Close flushes and closes the writer.
func (d *KafkaDeadLetters) Close() error { return d.w.Close() }
