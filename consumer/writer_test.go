package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// The event goes to the configured topic of its type and to the partition
// asked for, whatever the key would hash to.
func TestEventWriterWritesToThePartition(t *testing.T) {
	kf := testserver.StartKafka(t, 3, "orders", "deliveries", "chats", "refund-requests")
	topics := Topics{Orders: kf.Topic("orders"), Deliveries: kf.Topic("deliveries"), Chats: kf.Topic("chats"), RefundRequests: kf.Topic("refund-requests")}
	w := NewEventWriter(kf.Brokers, topics, nil)
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const key = "ord-1"
	other := (PartitionOf(key, 3) + 1) % 3
	if err := w.WriteEvent(ctx, rules.TypeReviewDecided, other, key, []byte(`{"id":"e1"}`)); err != nil {
		t.Fatal(err)
	}
	// Out of range: where the Hash balancer puts the key.
	if err := w.WriteEvent(ctx, rules.TypeReviewDecided, 7, key, []byte(`{"id":"e2"}`)); err != nil {
		t.Fatal(err)
	}
	msgs := kf.ReadAll(ctx, t, "refund-requests", 3)
	want := map[string]int{`{"id":"e1"}`: other, `{"id":"e2"}`: PartitionOf(key, 3)}
	if len(msgs) != 2 {
		t.Fatalf("read %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if p, ok := want[string(m.Value)]; !ok || m.Partition != p || string(m.Key) != key {
			t.Errorf("%s with key %q in partition %d, want partition %d", m.Value, m.Key, m.Partition, p)
		}
	}
	if n := len(kf.ReadAll(ctx, t, "orders", 3)); n != 0 {
		t.Errorf("%d messages on orders", n)
	}
	var _ kafka.Balancer = toPartition{}
}
