package inspect

import (
	"context"

	"github.com/disputed/disputed/rules"
)

// Disputes is the read side of the store of record. It must be safe for
// concurrent use: every request calls it from its own goroutine.
type Disputes interface {
	// Find looks an order up in every partition; ok is false when none
	// holds it.
	Find(ctx context.Context, order string, partitions int) (st rules.State, partition int, ok bool, err error)
	// List returns up to limit open disputes in any of the statuses,
	// longest in their status first, and the cursor of the next page ("":
	// none). A cursor it did not hand out is an error wrapping
	// rules.ErrBadCursor.
	List(ctx context.Context, statuses []rules.Status, partitions int, after string, limit int) ([]rules.Summary, string, error)
	// Held returns the order's commands the sink refused, kept in its
	// partition for a person.
	Held(ctx context.Context, order string, partition int) ([]rules.Held, error)
	// OpenDisputes counts the open disputes by status.
	OpenDisputes(ctx context.Context, partitions int) (map[rules.Status]int64, error)
}

// Partitions returns the number of partitions of the input topics.
type Partitions func(ctx context.Context) (int, error)
