package consumer

import (
	"context"
	"time"

	"github.com/disputed/disputed/rules"
)

// The interfaces the stream processor needs from its adapters. state.Redis
// implements Store, Deadlines and Outbox; producer.NATS implements
// Publisher; KafkaDeadLetters implements DeadLetterer. All calls for one
// partition come from that partition's owner; different partitions are
// worked on concurrently, so implementations must be safe for concurrent use
// across partitions.

// Store is the store of record of the orders' states.
type Store interface {
	// Open returns the partition's checkpoint: the offsets applied, the
	// mark of its last write, its next deadline.
	Open(ctx context.Context, partition int) (rules.Checkpoint, error)
	// Load returns the states of the orders, in one round trip; the zero
	// State for an order the store does not hold. Each carries the
	// Version it was stored with.
	Load(ctx context.Context, partition int, orders []string) ([]rules.State, error)
	// Save writes the batch in one atomic step and returns the new
	// checkpoint, or writes nothing and returns an error wrapping
	// rules.ErrConflict when the store no longer holds what the batch was
	// built on: an order's version changed, a topic's offset is already
	// at or past the batch's, or the partition's mark is not b.Prev. The
	// error then tells the mark the store holds (StoredMark), so the
	// caller can tell another owner's write from its own lost ones.
	Save(ctx context.Context, partition int, b rules.Batch) (rules.Checkpoint, error)
}

// Deadlines reads the partition's armed deadlines, which Save keeps.
type Deadlines interface {
	// Due returns the deadlines due at or before t, earliest first: at
	// least limit of them, or all, and then every other one due at the
	// same instant as the last, so that a batch never fires part of an
	// instant.
	Due(ctx context.Context, partition int, t time.Time, limit int) ([]rules.Event, error)
}

// Outbox holds the commands saved but not yet acknowledged by JetStream.
// Only the partition's owner reads and acknowledges them.
type Outbox interface {
	// Outbox returns up to limit commands, oldest first, among those
	// numbered upTo or less (rules.Checkpoint.OutboxSeq of a durable save;
	// upTo < 0: any), when the oldest waiting was saved, and how many wait
	// in all.
	Outbox(ctx context.Context, partition int, limit int, upTo int64) (cmds []rules.Command, oldest time.Time, depth int64, err error)
	// Ack removes the given commands, by ID, from the head of the outbox.
	// An ID no longer at the head was removed already and is skipped.
	Ack(ctx context.Context, partition int, ids []string) error
	// Hold keeps commands the sink refused for good, with why, for a
	// person; it returns how many the partition holds in all. Held
	// commands are acknowledged like published ones afterwards.
	Hold(ctx context.Context, partition int, refused []rules.Refusal) (int64, error)
}

// Publisher publishes commands and returns once all are acknowledged. It
// must be safe to publish the same command again: the command ID is the
// message ID. A command the sink refuses for good (a second final ruling of
// an order, a transfer that is not its final ruling's) is not published and
// not an error: it comes back among the refusals.
type Publisher interface {
	Publish(ctx context.Context, cmds ...rules.Command) ([]rules.Refusal, error)
}

// DeadLetterer sends malformed input to the dead-letter topic. It must be
// durable when it returns: the offsets are committed after it.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, letters ...DeadLetter) error
}

// markHolder is what a Save conflict tells about the store's mark.
type markHolder interface {
	StoredMark() string
}
