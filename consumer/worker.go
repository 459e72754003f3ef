package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/disputed/disputed/rules"
)

// worker owns one partition (of every topic) for one generation: it runs
// the partition's relay, and one session after another. A session reads the
// store's checkpoint, fetches each topic from after what the store has
// applied, merges the topics in event time, applies batches and commits their
// offsets. It ends when the store refuses a save (another owner wrote, or the
// store lost writes): the next session starts again from what the store holds,
// so nothing is ever built on a state that went back in time.
//
// A worker is given what it needs and nothing of the group: the processor,
// how to fetch a topic of its partition, where to commit, and the partition's
// relay, which it tells how far the outbox is durable.
type worker struct {
	cfg       Config // MaxBatch, Idle, BatchTimeout, Now
	proc      *Processor
	p         int
	topics    []string
	committed map[string]int64 // committed offsets of the generation
	fetch     fetchFunc
	offsets   committer
	relay     *partitionRelay
	metrics   *Metrics
	log       *slog.Logger
}

// fetchFunc fetches topic (the ti-th of the worker's) of the worker's
// partition from offset from on, and sends what it reads on out, until ctx
// ends. It runs on the caller's goroutine.
type fetchFunc func(ctx context.Context, topic string, ti int, from int64, out chan<- chunk)

// committer commits offsets to the consumer group: the generation's
// CommitOffsets (kafka.Generation), by topic and partition.
type committer interface {
	CommitOffsets(offsets map[string]map[int]int64) error
}

// run works the partition until the generation ends. It never returns early
// on an error (that would end the generation for the whole member): errors
// are retried with backoff. It returns once the partition's relay has made
// its last flush.
func (w *worker) run(ctx context.Context) {
	var relay sync.WaitGroup
	relay.Go(func() { w.relay.run(ctx) })
	b := newBackoff()
	for {
		err := w.session(ctx)
		if ctx.Err() != nil {
			break
		}
		w.log.Warn("partition session ended; opening it again from the store", "err", err)
		if !b.wait(ctx) {
			break
		}
	}
	relay.Wait()
	w.metrics.released(w.p, w.topics)
	w.log.Debug("partition released")
}

// session runs one session of the partition, until ctx ends (nil) or the
// store refuses a save (an error wrapping rules.ErrConflict).
func (w *worker) session(ctx context.Context) error {
	s, err := w.proc.Open(ctx, w.p)
	if err != nil {
		return err
	}
	w.metrics.pending(w.p, s.Checkpoint().Pending)
	w.checkBehind(s)
	// Open made what the store holds durable: its commands may go out.
	w.relay.publishUpTo(s.Checkpoint().OutboxSeq)
	sctx, cancel := context.WithCancel(ctx)
	chunks := make([]chan chunk, len(w.topics))
	var fetchers sync.WaitGroup
	defer func() {
		// The fetchers stop before the session ends: the next session
		// fetches from what the store holds.
		cancel()
		fetchers.Wait()
	}()
	for i, t := range w.topics {
		chunks[i] = make(chan chunk, 2) // one per topic, so a full topic cannot block another
		// The store of record decides where to resume: after what it has
		// applied, whether the commit is behind it (a crash before the
		// commit) or ahead (the store lost its last writes: they are
		// applied again). Without an applied offset, the commit.
		from := w.committed[t]
		if a, ok := s.Applied(t); ok {
			from = a + 1
		}
		fetchers.Go(func() { w.fetch(sctx, t, i, from, chunks[i]) })
	}
	return w.loop(sctx, s, chunks)
}

// checkBehind reports a store that went back behind what the group
// committed: it lost writes it had acknowledged (a failover to a replica
// that did not have them, a restore from a snapshot). The session reads the
// lost events again from what the store applied; with no offset at all for
// a topic the store is empty or was replaced, and the session starts from
// the commit: the orders' states before it are gone (docs/operations.md).
func (w *worker) checkBehind(s *Session) {
	for _, t := range w.topics {
		committed := w.committed[t]
		if committed <= 0 {
			continue
		}
		applied, ok := s.Applied(t)
		switch {
		case !ok:
			w.metrics.behind()
			w.log.Error("the store holds no applied offset for a topic the group committed: Redis is empty or was replaced; reading from the commit, the state of the events before it is missing",
				"topic", t, "committed", committed)
		case applied+1 < committed:
			w.metrics.behind()
			w.log.Error("the store is behind the committed offsets: Redis lost writes it had acknowledged; reading the lost events again",
				"topic", t, "applied", applied, "committed", committed, "events", committed-applied-1)
		}
	}
}

// loop merges the four topics in event-time order, applies batches, fires
// deadlines, commits offsets and tells the relay what it may publish.
func (w *worker) loop(ctx context.Context, s *Session, chunks []chan chunk) error {
	cfg := w.cfg
	m := newMerger(len(w.topics), cfg.Idle)
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for ctx.Err() == nil {
		// Take whatever the fetchers have brought, without waiting, from
		// the topics whose queue has room.
		for ti, ch := range chunks {
			for more := true; more && m.room(ti); {
				select {
				case c := <-ch:
					m.push(c)
				default:
					more = false
				}
			}
		}
		now := cfg.Now()
		in := m.take(now, cfg.MaxBatch)
		watermark := m.watermark(now)
		next, haveNext := s.NextDue()
		if len(in) == 0 && (!haveNext || next.After(watermark)) {
			wait := time.Second
			if haveNext && next.After(now) {
				wait = min(wait, next.Sub(now))
			}
			idle.Reset(wait)
			// Wait for a topic with room; a topic whose queue is full
			// waits until the others catch up with it.
			recv := func(ti int) chan chunk {
				if m.room(ti) {
					return chunks[ti]
				}
				return nil
			}
			select {
			case c := <-recv(0):
				m.push(c)
			case c := <-recv(1):
				m.push(c)
			case c := <-recv(2):
				m.push(c)
			case c := <-recv(3):
				m.push(c)
			case <-idle.C:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		res, err := w.apply(ctx, s, in, watermark)
		if err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the batch is abandoned uncommitted
			}
			return err
		}
		m.unread(in[res.Consumed:])
		for _, x := range in[:res.Consumed] {
			m.applied(x)
		}
		w.commit(ctx, res.Offsets)
		if res.Commands > 0 {
			w.relay.publishUpTo(s.Checkpoint().OutboxSeq)
		}
		w.metrics.pending(w.p, s.Checkpoint().Pending)
	}
	return nil
}

// apply runs a batch until it is saved. The batch in flight finishes even
// when the generation ends; a failed one is retried with backoff, unless the
// generation ended (it is abandoned, uncommitted) or the store refused it
// (the session is over: ErrConflict).
func (w *worker) apply(ctx context.Context, s *Session, in []Input, watermark time.Time) (Result, error) {
	b := newBackoff()
	for {
		start := time.Now()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.BatchTimeout)
		res, err := s.Apply(actx, in, watermark)
		cancel()
		w.metrics.batchTook(time.Since(start))
		if err == nil {
			return res, nil
		}
		cause := "other"
		switch {
		case errors.Is(err, rules.ErrConflict):
			cause = "conflict"
		case errors.Is(err, errDeadLetter):
			cause = "dead_letter"
		}
		w.metrics.batchFailed(cause)
		if cause == "conflict" {
			return res, err
		}
		w.log.Warn("batch failed; retrying", "cause", cause, "err", err)
		if !b.wait(ctx) {
			return res, ctx.Err()
		}
	}
}

// commit commits the offsets after a saved batch. A failed commit loses
// nothing: the store's applied offsets say where to resume.
func (w *worker) commit(ctx context.Context, offsets map[string]int64) {
	if len(offsets) == 0 {
		return
	}
	commit := make(map[string]map[int]int64, len(offsets))
	for t, o := range offsets {
		commit[t] = map[int]int64{w.p: o + 1}
	}
	if err := w.offsets.CommitOffsets(commit); err != nil && ctx.Err() == nil {
		// A commit refused because the member is leaving is expected.
		w.metrics.commitFailed()
		w.log.Warn("commit offsets failed", "err", err)
	}
}
