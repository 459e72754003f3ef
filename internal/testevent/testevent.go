// Package testevent writes the tests' events through the contract's
// encoder (rules.EncodeEvent), so that no test keeps an envelope of its
// own. A test that wants a malformed event writes its bytes itself.
package testevent

import (
	"bytes"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// JSON returns the event of type typ for the order, with data (the JSON
// object the contract's tables describe, "" for none), encoded as every
// writer encodes it. It panics when data does not decode for the type: the
// test is wrong, not the system under test.
func JSON(id, source string, typ rules.Type, at time.Time, order, data string) []byte {
	d, err := rules.DecodeData(typ, []byte(data))
	if err != nil {
		panic(fmt.Sprintf("testevent: %s %s: %v", typ, data, err))
	}
	return rules.EncodeEvent(rules.Event{ID: id, Source: source, Type: typ, Time: at, OrderID: order, Data: d})
}

// Raw returns the envelope of an event of type typ as the encoder writes
// it, with data (any bytes, "" for none) as its data member: for the
// tests' malformed events, whose data is wrong on purpose.
func Raw(id, source string, typ rules.Type, at time.Time, order, data string) []byte {
	b := rules.EncodeEvent(rules.Event{ID: id, Source: source, Type: typ, Time: at, OrderID: order})
	if i := bytes.Index(b, []byte(`,"data":`)); i >= 0 {
		b = b[:i]
	} else {
		b = b[:len(b)-1]
	}
	if data != "" {
		b = append(append(b, `,"data":`...), data...)
	}
	return append(b, '}')
}

// Message is JSON as a Kafka message of the type's default topic, keyed by
// the order.
func Message(id, source string, typ rules.Type, at time.Time, order, data string) kafka.Message {
	return kafka.Message{Topic: typ.Topic(), Key: []byte(order), Value: JSON(id, source, typ, at, order, data)}
}
