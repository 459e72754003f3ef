// Package consumer is disputed's stream processor: it consumes the four
// co-partitioned input topics as a Kafka consumer group, applies each
// partition's events and deadlines through the rules in event-time order,
// saves the effects atomically, commits offsets after the save, dead-letters
// malformed input, and drains each partition's outbox to JetStream.
//
// The invariant is persist, then publish, then commit: a crash anywhere
// loses nothing, and what is done again is a no-op (applied offsets and
// event IDs in the store) or dropped downstream (command IDs).
package consumer
