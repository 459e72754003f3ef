// Package kafkatopics holds what the bench and the tests both need of a
// Kafka broker's topics beyond kafka-go: knowing when new ones are ready.
package kafkatopics

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/segmentio/kafka-go"
)

// Ready checks once whether the broker serves every topic of want with
// its number of partitions: each in the metadata with a leader, and each
// partition answering ListOffsets at its leader. It returns nil when all
// are ready, else what is not. A real broker answers
// UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE or, for a moment after
// its metadata names a leader, NOT_LEADER_OR_FOLLOWER for a topic it has
// just created: a client that reads or writes before Ready fails on it.
func Ready(ctx context.Context, c *kafka.Client, want map[string]int) error {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: slices.Sorted(maps.Keys(want))})
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	found := map[string]bool{}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) != want[t.Name] {
			return fmt.Errorf("topic %s: %d partitions, want %d", t.Name, len(t.Partitions), want[t.Name])
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return fmt.Errorf("topic %s partition %d: %w", t.Name, p.ID, p.Error)
			}
			if p.Leader.Host == "" {
				return fmt.Errorf("topic %s partition %d: no leader", t.Name, p.ID)
			}
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
		found[t.Name] = true
	}
	for t := range want {
		if !found[t] {
			return fmt.Errorf("topic %s: not in the metadata", t)
		}
	}
	res, err := c.ListOffsets(ctx, req)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	for t, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("list offsets of %s/%d: %w", t, p.Partition, p.Error)
			}
		}
	}
	return nil
}
