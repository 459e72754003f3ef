package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// Headers of a dead letter.
const (
	HeaderError           = "disputed-error"
	HeaderCode            = "disputed-code" // the reason, machine-readable (rules.DeadLetterCode)
	HeaderSourceTopic     = "disputed-source-topic"
	HeaderSourcePartition = "disputed-source-partition"
	HeaderSourceOffset    = "disputed-source-offset"
	// HeaderOriginalSize is set when the letter carries only the first
	// bytes of the message's value; HeaderOriginalKeySize likewise for its
	// key.
	HeaderOriginalSize    = "disputed-original-size"
	HeaderOriginalKeySize = "disputed-original-key-size"
	// HeaderStub is set on a letter that carries neither key nor value:
	// the dead-letter topic refused even the cut one. The source headers
	// say where the message is.
	HeaderStub = "disputed-stub"
)

// A letter carries the original bytes whenever the dead-letter topic takes
// them. One it refuses for its size (a message as large as its own topic
// allows can be larger than the dead-letter topic does) keeps the first
// truncatedValue bytes of the value and maxLetterKey of the key, so that one
// huge message, however huge its key or value, never stops its partition.
const (
	truncatedValue = 64 << 10
	maxLetterKey   = 1 << 10
	maxReason      = 4 << 10
)

// KafkaDeadLetters writes dead letters to a Kafka topic: the original key,
// value and headers, then headers of disputed's own with the reason and
// where the message came from (after the original ones, so that a letter
// re-driven and refused again reads last why it was refused this time). A
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
// the topic refuses for its size is written again with the first 64 KiB of
// the value and 1 KiB of the key, and headers with their original sizes;
// one refused even so becomes a stub with the reason and the source only.
// Any other failure is returned: the batch is retried.
func (d *KafkaDeadLetters) DeadLetter(ctx context.Context, letters ...DeadLetter) error {
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		msgs[i] = letter(l, false)
	}
	err := d.w.WriteMessages(ctx, msgs...)
	if err == nil || !tooLarge(err) {
		return wrapLetters(err, len(msgs), d.w.Topic)
	}
	// One or more is too large for the topic: one by one, so that the
	// others go whole. A write that failed for size wrote nothing of its
	// batch.
	for _, l := range letters {
		err := d.w.WriteMessages(ctx, letter(l, false))
		if tooLarge(err) {
			err = d.w.WriteMessages(ctx, letter(l, true))
		}
		if tooLarge(err) {
			err = d.w.WriteMessages(ctx, stub(l))
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

// letter is the dead letter of l: its original key, value and headers, or
// with cut only the first bytes of the key and value and headers with their
// sizes.
func letter(l DeadLetter, cut bool) kafka.Message {
	h := make([]kafka.Header, 0, len(l.Msg.Headers)+6)
	m := kafka.Message{Key: l.Msg.Key, Value: l.Msg.Value, Headers: append(append(h, l.Msg.Headers...), source(l)...)}
	if cut && len(m.Key) > maxLetterKey {
		m.Key = m.Key[:maxLetterKey]
		m.Headers = append(m.Headers, kafka.Header{Key: HeaderOriginalKeySize, Value: []byte(strconv.Itoa(len(l.Msg.Key)))})
	}
	if cut && len(m.Value) > truncatedValue {
		m.Value = m.Value[:truncatedValue]
		m.Headers = append(m.Headers, kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(l.Msg.Value)))})
	}
	return m
}

// stub is a letter with only the reason and where the message is: not even
// the original headers, which may be what made the letter too large.
func stub(l DeadLetter) kafka.Message {
	return kafka.Message{Headers: append(source(l),
		kafka.Header{Key: HeaderStub, Value: []byte("true")},
		kafka.Header{Key: HeaderOriginalKeySize, Value: []byte(strconv.Itoa(len(l.Msg.Key)))},
		kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(l.Msg.Value)))})}
}

func source(l DeadLetter) []kafka.Header {
	reason := l.Reason
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	return []kafka.Header{
		{Key: HeaderError, Value: []byte(reason)},
		{Key: HeaderCode, Value: []byte(cmp.Or(l.Code, rules.CodeMalformed))},
		{Key: HeaderSourceTopic, Value: []byte(l.Msg.Topic)},
		{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(l.Msg.Partition))},
		{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(l.Msg.Offset, 10))},
	}
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
