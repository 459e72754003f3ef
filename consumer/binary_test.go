package consumer_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// toBinary rewrites a structured-mode message in the CloudEvents Kafka
// binding's binary content mode: attributes in ce_ headers, data as the
// value.
func toBinary(t *testing.T, m kafka.Message) kafka.Message {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(m.Value, &env); err != nil {
		t.Fatalf("%s: %v", m.Value, err)
	}
	m.Value = nil
	m.Headers = []kafka.Header{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range env {
			if !yield(k) {
				return
			}
		}
	}) {
		v := env[k]
		if k == "data" {
			m.Value = v
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("attribute %s of %s is not a string", k, m.Value)
		}
		name := "ce_" + k
		if k == "datacontenttype" {
			name = "content-type"
		}
		m.Headers = append(m.Headers, kafka.Header{Key: name, Value: []byte(s)})
	}
	return m
}

// TestStreamBinaryMode sends the stories with every other event in binary
// content mode and expects replay's commands; a message that is neither a
// structured nor a binary CloudEvent is dead-lettered with its headers, the
// original ones first.
func TestStreamBinaryMode(t *testing.T) {
	e := newEnv(t, 2)
	st := loadScenarios(t, "evidence_deadline_missed_assessed", "judicial_suspension", "settlement_during_negotiation", "provider_proves_delivery")
	binary := 0
	for i, m := range st.msgs {
		if _, err := rules.Decode(m.Value); err == nil && i%2 == 0 {
			st.msgs[i] = toBinary(t, m)
			binary++
		}
	}
	if binary == 0 {
		t.Fatal("no event was sent in binary mode")
	}
	e.kafka.Produce(context.Background(), t, st.msgs...)
	e.start(t, nil)
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)

	// Then two messages that are neither, of one order, so that their
	// letters are in order.
	orig := []kafka.Header{{Key: "ce_id", Value: []byte("evt-x")}, {Key: "ce_type", Value: []byte("refund.requested")}, {Key: "traceparent", Value: []byte("00-1-2-01")}}
	bad := []kafka.Message{
		{Topic: topics.RefundRequests, Key: []byte("nope-1"), Value: []byte(`{"reason":"quality"}`), Headers: orig},
		{Topic: topics.RefundRequests, Key: []byte("nope-1"), Value: []byte("reason=quality")},
	}
	e.kafka.Produce(context.Background(), t, bad...)
	var letters []kafka.Message
	testserver.WaitUntil(t, 20*time.Second, "both dead letters arrive", func() bool {
		letters = nil
		for _, l := range e.kafka.ReadAll(context.Background(), t, dlqTopic, e.partitions) {
			if string(l.Key) == "nope-1" {
				letters = append(letters, l)
			}
		}
		return len(letters) >= 2
	})
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	for i, l := range letters {
		if string(l.Value) != string(bad[i].Value) {
			t.Errorf("letter %d: value %q, want the original %q", i, l.Value, bad[i].Value)
		}
		n := len(bad[i].Headers)
		if len(l.Headers) < n || !slices.EqualFunc(l.Headers[:n], bad[i].Headers, func(a, b kafka.Header) bool {
			return a.Key == b.Key && string(a.Value) == string(b.Value)
		}) {
			t.Errorf("letter %d: headers %v do not start with the original ones %v", i, l.Headers, bad[i].Headers)
		}
		if why := headers(l)[consumer.HeaderError]; !strings.Contains(why, "neither a structured CloudEvent (JSON envelope) nor a binary one (ce_specversion header)") {
			t.Errorf("letter %d: reason %q", i, why)
		}
	}
}
