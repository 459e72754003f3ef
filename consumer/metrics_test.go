package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// letterSink keeps the dead letters in memory.
type letterSink struct{ letters []DeadLetter }

func (l *letterSink) DeadLetter(_ context.Context, letters ...DeadLetter) error {
	l.letters = append(l.letters, letters...)
	return nil
}

// TestMetricsCountWhatHappened: a deadline that fired counts as fired, not
// also as cancelled (the firing disarms it too), and a dead-lettered event
// is counted under the type its message named, "unknown" only when none
// could be read.
func TestMetricsCountWhatHappened(t *testing.T) {
	ctx := context.Background()
	r := testserver.StartRedis(t)
	store := state.NewRedis(r.Client(), state.Config{Prefix: "metrics", Durability: state.Durability{Mode: state.DurabilityUnsafe}})
	reg := prometheus.NewRegistry()
	sink := &letterSink{}
	p := &Processor{Policy: rules.DefaultPolicy(), Store: store, Deadlines: store, DeadLetters: sink, Metrics: NewMetrics(reg)}
	s, err := p.Open(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	due := t0.Add(time.Hour).Format(time.RFC3339)
	event := func(id, typ, order string, at time.Duration, data string) string {
		return string(testevent.JSON(id, "test", rules.Type(typ), t0.Add(at), order, data))
	}
	paid := func(id, order string) string {
		return event(id, "order.paid", order, 0, `{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR","delivery_due":"`+due+`"}`)
	}
	msgs := []struct {
		topic, key, value string
		headers           []kafka.Header
	}{
		// o1's delivery deadline fires; o2's is met by its delivery.
		{"orders", "o1", paid("e1", "o1"), nil},
		{"orders", "o2", paid("e2", "o2"), nil},
		{"deliveries", "o2", event("e3", "delivery.submitted", "o2", 10*time.Minute, `{}`), nil},
		// Dead letters: a malformed order.paid, a chat message keyed
		// wrongly, a message with no type to tell, a binary one whose
		// attributes are missing.
		{"orders", "o3", `{"specversion":"1.0","id":"e4","source":"test","type":"order.paid","time":"2026-03-01T10:00:00Z","subject":"o3","data":{"customer_id":"c"}}`, nil},
		{"chats", "o9", event("e5", "chat.message", "o1", time.Minute, `{"from":"customer","text":"hi"}`), nil},
		{"orders", "o1", "not an event", nil},
		{"orders", "o1", "", []kafka.Header{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_type", Value: []byte("refund.requested")}}},
	}
	var in []Input
	for i, m := range msgs {
		in = append(in, decodeInput(Message{Topic: m.topic, Key: []byte(m.key), Value: []byte(m.value), Headers: m.headers, Offset: int64(i)}, t0.Add(3*time.Hour), 5*time.Minute))
	}
	res, err := s.Apply(ctx, in, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// o2's deadline, disarmed by the delivery, still comes due in the
	// engine, stale: it decides nothing, and is neither fired nor
	// cancelled again.
	if res.Fired != 2 || len(sink.letters) != 4 {
		t.Fatalf("fired %d deadlines (stale included) and wrote %d letters, want 2 and 4", res.Fired, len(sink.letters))
	}

	delivery := map[string]string{"kind": "delivery"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"disputed_deadlines_set_total", delivery, 2},
		{"disputed_deadlines_fired_total", delivery, 1},
		{"disputed_deadlines_cancelled_total", delivery, 1}, // o2's, met by the delivery
		{"disputed_events_total", map[string]string{"type": "order.paid", "result": "dead_lettered"}, 1},
		{"disputed_events_total", map[string]string{"type": "chat.message", "result": "dead_lettered"}, 1},
		{"disputed_events_total", map[string]string{"type": "refund.requested", "result": "dead_lettered"}, 1},
		{"disputed_events_total", map[string]string{"type": "unknown", "result": "dead_lettered"}, 1},
		{"disputed_events_total", map[string]string{"type": "order.paid", "result": "applied"}, 2},
	} {
		if got := metric(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
