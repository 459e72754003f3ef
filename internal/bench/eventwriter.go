package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/bench/observe"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
)

// eventWriter writes the run's events to Kafka, telling the observer first
// what each should cause, and counts them: the flat-out load keeps its
// backlog (produced, less the processors' consumed that run.pollConsumed
// keeps) within bounds. It keeps load events for the ceilings to replay.
type eventWriter struct {
	w           *kafka.Writer
	obs         *observe.Observer
	topicPrefix string
	keep        int // most load events kept for the ceilings

	produced atomic.Int64 // messages Kafka took, all phases
	consumed atomic.Int64 // the processors' disputed_events_total, last scraped

	hostileProduced [story.NHostileKinds]int
	writeMs         []float64       // produce call durations of the load phase
	ceilingInput    []kafka.Message // load events kept for the Redis and JetStream ceilings
}

func newEventWriter(e *servers.Env, obs *observe.Observer, keep int) *eventWriter {
	// BatchSize is also the room kafka-go allocates for every batch, of
	// every partition, of every write: at 20,000 the producer's small
	// writes spent a third of the bench process's CPU clearing memory.
	w := &kafka.Writer{
		Addr: kafka.TCP(e.Brokers...), Transport: e.Transport, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000, MaxAttempts: 3,
		WriteTimeout: 30 * time.Second,
	}
	if e.MaxMessage > 0 {
		w.BatchBytes = int64(e.MaxMessage - 1024)
	}
	return &eventWriter{w: w, obs: obs, topicPrefix: e.TopicPrefix, keep: keep}
}

func (p *eventWriter) close() error { return p.w.Close() }

// backlog is the events produced and not yet consumed.
func (p *eventWriter) backlog() int64 { return p.produced.Load() - p.consumed.Load() }

// write produces events, and records them with the observer first (a
// command may come back before the write returns).
func (p *eventWriter) write(ctx context.Context, evs []story.Event) error {
	if len(evs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(evs))
	for i, e := range evs {
		msgs[i] = e.Message(p.topicPrefix)
	}
	p.obs.Produced(evs)
	start := time.Now()
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("bench: produce %d events: %w", len(msgs), err)
	}
	if evs[0].Phase == story.PhaseLoad {
		p.writeMs = append(p.writeMs, float64(time.Since(start))/1e6)
	}
	p.produced.Add(int64(len(msgs)))
	for i, e := range evs {
		p.hostileProduced[e.Hostile]++
		if e.Phase == story.PhaseLoad && len(p.ceilingInput) < p.keep {
			p.ceilingInput = append(p.ceilingInput, msgs[i])
		}
	}
	return nil
}

// produceFlat writes n events as fast as the processors consume them,
// within a backlog of limit.
func (p *eventWriter) produceFlat(ctx context.Context, n, limit int, build func(i int, now time.Time) story.Event) error {
	for i := 0; i < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		budget := min(limit-int(p.backlog()), 5000, n-i)
		if budget <= 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		now := time.Now()
		batch := make([]story.Event, budget)
		for j := range batch {
			batch[j] = build(i+j, now)
		}
		if err := p.write(ctx, batch); err != nil {
			return err
		}
		i += budget
	}
	return nil
}

// hostileTotal is the hostile events produced so far.
func (p *eventWriter) hostileTotal() int {
	n := 0
	for k := story.HostileKind(1); k < story.NHostileKinds; k++ {
		n += p.hostileProduced[k]
	}
	return n
}
