package console

import (
	"context"

	"github.com/disputed/disputed/rules"
)

// Submitter writes an event disputed originates to the input topic of its
// type. It returns once the event is durably in Kafka (every in-sync
// replica has it), so that the stream processor will read it; an error
// means it may or may not be there, and the caller retries with the same
// event (same ID), which the engine takes once. It must be safe for
// concurrent use: every request calls it from its own goroutine.
type Submitter interface {
	// WriteEvent writes value, keyed by key (the order ID), to the given
	// partition of the topic of typ: the partition the order's state is
	// kept in.
	WriteEvent(ctx context.Context, typ rules.Type, partition int, key string, value []byte) error
}

// Orders finds an order's state and the partition that keeps it (the
// store's read side, as the API has it). It must be safe for concurrent
// use.
type Orders interface {
	// Find looks an order up in every partition; ok is false when none
	// holds it.
	Find(ctx context.Context, order string, partitions int) (st rules.State, partition int, ok bool, err error)
}
