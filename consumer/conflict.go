package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/disputed/disputed/rules"
)

// checkMark returns an error wrapping rules.ErrConflict when the store no
// longer holds the mark this session last wrote.
func (s *Session) checkMark(ctx context.Context) error {
	cp, err := s.p.Store.Open(ctx, s.part)
	if err != nil {
		return fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	if cp.Mark != s.cp.Mark {
		err := &markError{stored: cp.Mark}
		s.p.Metrics.conflict(s.conflictCause(err, ""))
		return fmt.Errorf("apply batch of partition %d: %w", s.part, err)
	}
	return nil
}

// markError is a store found holding another mark than the session's.
type markError struct{ stored string }

func (e *markError) Error() string {
	return fmt.Sprintf("the store's last write is %q, not this session's: %v", e.stored, rules.ErrConflict)
}
func (e *markError) Unwrap() error      { return rules.ErrConflict }
func (e *markError) StoredMark() string { return e.stored }

// Conflict causes, the label values of disputed_store_conflicts_total.
const (
	conflictOtherOwner = "other_owner" // another member wrote the partition (a stale owner after a rebalance)
	conflictLostWrites = "lost_writes" // the store went back before this session's own last write
	conflictReplyLost  = "reply_lost"  // the write landed but its answer did not arrive
	conflictState      = "state"       // an order or an offset changed under an unchanged mark
)

// conflictCause tells why a save was refused, from the mark the store holds.
// attempted is the mark the refused save would have written; "" when no
// write was attempted (checkMark), which no answer can have been lost of.
func (s *Session) conflictCause(err error, attempted string) string {
	var mh markHolder
	if !errors.As(err, &mh) {
		return conflictState
	}
	stored := mh.StoredMark()
	switch {
	case attempted != "" && stored == attempted:
		return conflictReplyLost
	case stored == s.cp.Mark:
		return conflictState
	case stored == "":
		return conflictLostWrites
	}
	owner, seq := splitMark(stored)
	if owner == s.owner {
		return conflictLostWrites // one of ours, older than our last
	}
	if o, n := splitMark(s.opened); owner == o && seq <= n {
		return conflictLostWrites // from before we opened the partition
	}
	return conflictOtherOwner
}

// splitMark splits a mark into its owner and sequence number.
func splitMark(m string) (string, int64) {
	owner, seq, _ := strings.Cut(m, ":")
	n, _ := strconv.ParseInt(seq, 10, 64)
	return owner, n
}
