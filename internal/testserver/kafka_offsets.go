package testserver

import (
	"context"
	"testing"

	"github.com/segmentio/kafka-go"
)

// EndOffsets returns the offset of the last message of each of the topic's
// partitions, -1 for an empty one: what a consumer has to reach to have read
// everything written so far.
func (k *Kafka) EndOffsets(ctx context.Context, t testing.TB, topic string, partitions int) map[int]int64 {
	t.Helper()
	req := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		req[p] = kafka.LastOffsetOf(p)
	}
	res, err := k.client().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.Topic(topic): req}})
	if err != nil {
		t.Fatalf("list the end offsets of %s: %v", topic, err)
	}
	out := make(map[int]int64, partitions)
	for _, po := range res.Topics[k.Topic(topic)] {
		if po.Error != nil {
			t.Fatalf("list the end offset of %s/%d: %v", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset - 1
	}
	if len(out) != partitions {
		t.Fatalf("list the end offsets of %s: %d partitions answered, want %d", topic, len(out), partitions)
	}
	return out
}
