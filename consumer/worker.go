package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// worker owns one partition (of every topic) for one generation: the
// partition's relay, and one session after another. A session reads the
// store's checkpoint, fetches each topic from after what the store has
// applied, merges the topics in event time, applies batches and commits their
// offsets. It ends when the store refuses a save (another owner wrote, or the
// store lost writes): the next session starts again from what the store holds,
// so nothing is ever built on a state that went back in time.
type worker struct {
	k         *Kafka
	client    *kafka.Client
	gen       *kafka.Generation
	p         int
	topics    []string
	committed map[string]int64 // committed offsets of the generation
	wakeOut   chan struct{}
	durable   atomic.Int64 // the outbox number of the last durable save, for the relay
	log       *slog.Logger
}

func newWorker(k *Kafka, client *kafka.Client, gen *kafka.Generation, p int) *worker {
	committed := make(map[string]int64)
	for t, as := range gen.Assignments {
		for _, a := range as {
			if a.ID == p {
				committed[t] = a.Offset
			}
		}
	}
	return &worker{
		k: k, client: client, gen: gen, p: p, topics: k.cfg.Topics.list(), committed: committed,
		wakeOut: make(chan struct{}, 1), log: k.log.With("partition", p),
	}
}

// run works the partition until the generation ends. It never returns early
// on an error (that would end the generation for the whole member): errors
// are retried with backoff.
func (w *worker) run(ctx context.Context) {
	var relay sync.WaitGroup
	w.durable.Store(-1) // nothing is known to be durable before a session opens
	relay.Go(func() { w.k.relay(ctx, w.p, w.wakeOut, func() int64 { return w.durable.Load() }) })
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
	w.k.setOldest(w.p, time.Time{})
	w.k.metrics.released(w.p, w.topics)
	w.log.Debug("partition released")
}

// session runs one session of the partition, until ctx ends (nil) or the
// store refuses a save (an error wrapping rules.ErrConflict).
func (w *worker) session(ctx context.Context) error {
	s, err := w.k.proc.Open(ctx, w.p)
	if err != nil {
		return err
	}
	w.k.metrics.pending(w.p, s.Checkpoint().Pending)
	w.checkBehind(s)
	// Open made what the store holds durable: its commands may go out.
	w.durable.Store(s.Checkpoint().OutboxSeq)
	w.wake()
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
		f := &fetcher{client: w.client, cfg: w.k.cfg, topic: t, ti: i, partition: w.p, metrics: w.k.metrics, log: w.log}
		fetchers.Go(func() { f.run(sctx, from, chunks[i]) })
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
			w.k.metrics.behind()
			w.log.Error("the store holds no applied offset for a topic the group committed: Redis is empty or was replaced; reading from the commit, the state of the events before it is missing",
				"topic", t, "committed", committed)
		case applied+1 < committed:
			w.k.metrics.behind()
			w.log.Error("the store is behind the committed offsets: Redis lost writes it had acknowledged; reading the lost events again",
				"topic", t, "applied", applied, "committed", committed, "events", committed-applied-1)
		}
	}
}

// loop merges the four topics in event-time order, applies batches, fires
// deadlines, commits offsets and wakes the relay.
func (w *worker) loop(ctx context.Context, s *Session, chunks []chan chunk) error {
	cfg := w.k.cfg
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
			w.durable.Store(s.Checkpoint().OutboxSeq)
			w.wake()
		}
		w.k.metrics.pending(w.p, s.Checkpoint().Pending)
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
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.k.cfg.BatchTimeout)
		res, err := s.Apply(actx, in, watermark)
		cancel()
		w.k.metrics.batchTook(time.Since(start))
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
		w.k.metrics.batchFailed(cause)
		if cause == "conflict" {
			return res, err
		}
		w.log.Warn("batch failed; retrying", "cause", cause, "err", err)
		if !b.wait(ctx) {
			return res, ctx.Err()
		}
	}
}

// wake tells the relay there may be commands to publish.
func (w *worker) wake() {
	select {
	case w.wakeOut <- struct{}{}:
	default:
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
	if err := w.gen.CommitOffsets(commit); err != nil && ctx.Err() == nil {
		// A commit refused because the member is leaving is expected.
		w.k.metrics.commitFailed()
		w.log.Warn("commit offsets failed", "err", err)
	}
}
