package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/disputed/disputed/rules"
)

// chunk is what one fetch of one topic-partition brought.
type chunk struct {
	topic int
	in    []Input
	atEnd bool      // read up to the high watermark
	at    time.Time // when the fetch returned
}

// fetcher reads one topic-partition for a session and hands decoded inputs
// to the session's loop.
type fetcher struct {
	client    *kafka.Client
	cfg       Config
	topic     string
	ti        int // the topic's index, for the merger
	partition int
	metrics   *Metrics
	log       *slog.Logger
	lastN     int // inputs the last fetch decoded
}

// run fetches from offset on until ctx ends. Errors are retried with
// backoff: a partition never gives up on a topic.
func (f *fetcher) run(ctx context.Context, offset int64, out chan<- chunk) {
	b := newBackoff()
	wasAtEnd := false
	for {
		res, err := f.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: f.topic, Partition: f.partition, Offset: offset,
			MinBytes: 1, MaxBytes: int64(f.cfg.MaxBytes), MaxWait: f.cfg.MaxWait,
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			if errors.Is(err, kafka.OffsetOutOfRange) {
				f.log.Warn("offset out of range; reading from the earliest", "topic", f.topic, "offset", offset)
				offset = kafka.FirstOffset
			} else {
				f.log.Warn("fetch failed; retrying", "topic", f.topic, "err", err)
			}
			if !b.wait(ctx) {
				return
			}
			continue
		}
		b.reset()
		in, next, err := f.decode(res, offset)
		if err != nil {
			f.log.Warn("read fetched records failed; fetching again", "topic", f.topic, "err", err)
			continue
		}
		if next < 0 {
			// Nothing read from a symbolic start: it is the log's start.
			next = max(res.LogStartOffset, 0)
		}
		offset = next
		atEnd := offset >= res.HighWatermark
		f.metrics.setLag(f.topic, f.partition, res.HighWatermark-next)
		if atEnd && len(in) > 0 {
			// Records just written: how far their timestamps are from this
			// processor's clock (their delivery time besides).
			f.metrics.clockOffset(f.cfg.Now().Sub(in[len(in)-1].Msg.Time))
		}
		if len(in) == 0 && !atEnd && !wasAtEnd {
			continue
		}
		// At the end, even an empty fetch is news: the topic is known
		// to hold nothing newer up to now.
		wasAtEnd = atEnd
		select {
		case out <- chunk{topic: f.ti, in: in, atEnd: atEnd, at: f.cfg.Now()}:
		case <-ctx.Done():
			return
		}
	}
}

// decode turns fetched records into inputs. A fetch returns whole record
// batches, so records before offset are dropped.
func (f *fetcher) decode(res *kafka.FetchResponse, offset int64) ([]Input, int64, error) {
	// Sized as the last fetch was: a fetch does not say how many records
	// it holds, and an Input is large enough that growing by doubling
	// cost more than decoding.
	in := make([]Input, 0, f.lastN)
	next := offset
	now := f.cfg.Now()
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, offset, err
		}
		if offset >= 0 && r.Offset < offset {
			continue
		}
		m := Message{Topic: f.topic, Partition: f.partition, Offset: r.Offset, Time: r.Time, Headers: r.Headers}
		m.Key, m.Value = readKeyValue(r.Key, r.Value)
		x := decodeInput(m, now, f.cfg.Skew)
		x.src = f.ti
		// On another topic than its type's, as the processor is told
		// the topics' names (the defaults' are only defaults): a topic's
		// writer may send only its own types (v2), so that the chat
		// service cannot, say, write a reviewer's decision.
		if own := f.cfg.Topics.Of(x.Event.Type); x.Err == nil && own != f.topic {
			x.misrouted = true
			x.Err = &rules.FieldError{Field: "type", Type: x.Event.Type, Code: rules.CodeMisrouted,
				Reason: fmt.Sprintf("%s belongs on topic %s, not %s: a topic's writer may send only the types of that topic", x.Event.Type, own, f.topic)}
		}
		in = append(in, x)
		next = r.Offset + 1
	}
	f.lastN = len(in)
	return in, next, nil
}

// readKeyValue reads a record's key and value into one allocation of their
// size (io.ReadAll would start each at 512 bytes and grow). A nil key or
// value stays nil.
func readKeyValue(key, value protocol.Bytes) (k, v []byte) {
	n := 0
	if key != nil {
		n += key.Len()
	}
	if value != nil {
		n += value.Len()
	}
	buf := make([]byte, n)
	if key != nil {
		k = buf[:key.Len():key.Len()]
		io.ReadFull(key, k)
		buf = buf[len(k):]
	}
	if value != nil {
		v = buf[:value.Len()]
		io.ReadFull(value, v)
	}
	return k, v
}

// decodeInput decodes a message, a CloudEvent in structured or binary
// content mode (rules.DecodeMessage tells which from its headers), and
// checks what only the stream can tell: the key is the order ID, and the
// event is not from the future of the wall clock. The record's timestamp is
// no measure of the future: with CreateTime the producer sets it, and an
// event stamped a year ahead would otherwise pass and hold its
// topic-partition in the merge until the clock caught up. A processor whose
// own clock runs behind is DisputedClockSkew's business.
func decodeInput(m Message, now time.Time, skew time.Duration) Input {
	e, err := rules.DecodeMessage(ruleHeaders(m.Headers), m.Value)
	switch {
	case err != nil:
	case string(m.Key) != e.OrderID:
		err = &rules.FieldError{Field: "subject", Reason: fmt.Sprintf("%q is not the message key %q: events must be keyed by order ID", e.OrderID, truncate(string(m.Key)))}
	case e.Time.After(now.Add(skew)):
		err = &rules.FieldError{Field: "time", Reason: fmt.Sprintf("%s is more than %s ahead of the clock", e.Time.Format(time.RFC3339), skew)}
	}
	return Input{Msg: m, Event: e, Err: err}
}

// ruleHeaders hands a record's headers to the decoder; most records have
// none, and cost nothing.
func ruleHeaders(hs []kafka.Header) []rules.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]rules.Header, len(hs))
	for i, h := range hs {
		out[i] = rules.Header(h)
	}
	return out
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
