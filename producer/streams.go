package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of the streams. Commands go to disputes.> and finance.>
// (contract v1); the guard's messages to disputed.guard.<order ID>.
const (
	DisputesSubjects = "disputes.>"
	FinanceSubjects  = "finance.>"
	GuardSubjects    = "disputed.guard.>"
	guardPrefix      = "disputed.guard."
)

// streams returns the configuration disputed needs of each stream.
func (n *NATS) streams() []jetstream.StreamConfig {
	c := n.cfg
	return []jetstream.StreamConfig{
		{Name: c.DisputesStream, Subjects: []string{DisputesSubjects}, Storage: jetstream.FileStorage, Duplicates: c.DisputesDuplicates, Replicas: c.Replicas},
		{Name: c.FinanceStream, Subjects: []string{FinanceSubjects}, Storage: jetstream.FileStorage, Duplicates: c.FinanceDuplicates, Replicas: c.Replicas},
		{
			// One message per order, for ever: the second final ruling of an
			// order is refused by the server itself (guard.go).
			Name: c.GuardStream, Subjects: []string{GuardSubjects}, Storage: jetstream.FileStorage,
			Duplicates: c.FinanceDuplicates, Replicas: c.Replicas,
			MaxMsgsPerSubject: 1, Discard: jetstream.DiscardNew, DiscardNewPerSubject: true,
		},
	}
}

// EnsureStreams creates the streams that are missing and brings the others
// up to what disputed needs, without ever lowering what an operator set:
// a longer duplicate window, more replicas, other limits and retention are
// kept, and the notes returned say where the configuration asked for less.
// The guard stream's one message per subject with discard-new is its
// contract, and is always restored.
func (n *NATS) EnsureStreams(ctx context.Context) (notes []string, err error) {
	for _, want := range n.streams() {
		s, err := n.js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if _, err := n.js.CreateStream(ctx, want); err != nil {
				return notes, fmt.Errorf("create stream %s: %w", want.Name, err)
			}
			continue
		}
		if err != nil {
			return notes, fmt.Errorf("stream %s: %w", want.Name, err)
		}
		have := s.CachedInfo().Config
		merged, ns := merge(have, want)
		notes = append(notes, ns...)
		if !equalConfig(have, merged) {
			if _, err := n.js.UpdateStream(ctx, merged); err != nil {
				return notes, fmt.Errorf("update stream %s: %w", want.Name, err)
			}
		}
	}
	return notes, nil
}

// merge returns the stream configuration have brought up to want: want's
// subjects added, the duplicate window and the replicas raised to want's
// (never lowered), and, for the guard, its per-subject limit restored.
// Everything else is the operator's.
func merge(have, want jetstream.StreamConfig) (jetstream.StreamConfig, []string) {
	out := have
	var notes []string
	for _, s := range want.Subjects {
		if !slices.Contains(out.Subjects, s) {
			out.Subjects = append(slices.Clone(out.Subjects), s)
		}
	}
	switch {
	case have.Duplicates < want.Duplicates:
		out.Duplicates = want.Duplicates
	case have.Duplicates > want.Duplicates:
		notes = append(notes, fmt.Sprintf("stream %s keeps its duplicate window %v, longer than the %v configured", have.Name, have.Duplicates, want.Duplicates))
	}
	switch {
	case have.Replicas < want.Replicas:
		out.Replicas = want.Replicas
	case have.Replicas > want.Replicas:
		notes = append(notes, fmt.Sprintf("stream %s keeps its %d replicas, more than the %d configured", have.Name, have.Replicas, want.Replicas))
	}
	if have.Storage != want.Storage {
		notes = append(notes, fmt.Sprintf("stream %s has %s storage, not %s: JetStream cannot change it in place", have.Name, have.Storage, want.Storage))
	}
	if want.MaxMsgsPerSubject > 0 {
		if have.MaxMsgsPerSubject != want.MaxMsgsPerSubject || have.Discard != want.Discard || !have.DiscardNewPerSubject {
			notes = append(notes, fmt.Sprintf("stream %s had max %d messages per subject, discard %s, per subject %v: restored to %d, discard new, per subject, without which a second final ruling of an order is not refused",
				have.Name, have.MaxMsgsPerSubject, have.Discard, have.DiscardNewPerSubject, want.MaxMsgsPerSubject))
		}
		out.MaxMsgsPerSubject, out.Discard, out.DiscardNewPerSubject = want.MaxMsgsPerSubject, want.Discard, true
		if have.MaxAge != 0 {
			notes = append(notes, fmt.Sprintf("stream %s removes guard messages after %v: a ruling published again after that is not refused", have.Name, time.Duration(have.MaxAge)))
		}
	}
	return out, notes
}

// equalConfig compares what merge may change.
func equalConfig(a, b jetstream.StreamConfig) bool {
	return slices.Equal(a.Subjects, b.Subjects) && a.Duplicates == b.Duplicates && a.Replicas == b.Replicas &&
		a.MaxMsgsPerSubject == b.MaxMsgsPerSubject && a.Discard == b.Discard && a.DiscardNewPerSubject == b.DiscardNewPerSubject
}
