package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// The ceilings are what each server does alone for this workload, measured
// in the same run after the processor stopped: Kafka read, the store's
// atomic save, and JetStream publish. The processor can go no faster than
// the lowest.

func (b *run) ceilings(ctx context.Context) error {
	rep := &b.rep.Ceilings
	msgs, secs, err := b.kafkaCeiling(ctx)
	if err != nil {
		return fmt.Errorf("bench: kafka ceiling: %w", err)
	}
	rep.KafkaMessages, rep.KafkaSeconds = msgs, secs
	rep.KafkaReadEventsPerSec = float64(msgs) / secs
	b.log.Info("bench: kafka read ceiling", "messages", msgs, "per_s", fmt.Sprintf("%.0f", rep.KafkaReadEventsPerSec))

	batchSize := int(b.rep.Load.ProcessorMetrics.AvgBatchSize + 0.5)
	batchSize = min(max(batchSize, 1), b.cfg.MaxBatch)
	rep.RedisBatchSize = batchSize
	batches, cmds, events, err := buildSaveBatches(b.ceilingInput, b.cfg.Partitions, b.policy, batchSize)
	if err != nil {
		return fmt.Errorf("bench: redis ceiling: %w", err)
	}
	rep.RedisEvents = events
	prefix := b.env.prefix + "-ceiling"
	secs, saves, err := redisCeiling(ctx, state.NewRedis(b.env.rdb, state.Config{Prefix: prefix}), batches)
	if n, derr := deleteKeys(context.WithoutCancel(ctx), b.env.rdb, prefix+":*"); derr == nil {
		b.rep.Redis.KeysDeleted += n
	}
	if err != nil {
		return fmt.Errorf("bench: redis ceiling: %w", err)
	}
	rep.RedisSaves, rep.RedisSeconds = saves, secs
	rep.RedisSaveEventsPerSec = float64(events) / secs
	b.log.Info("bench: redis save ceiling", "events", events, "saves", saves, "per_s", fmt.Sprintf("%.0f", rep.RedisSaveEventsPerSec))

	published, secs, err := b.natsCeiling(ctx, cmds)
	if err != nil {
		return fmt.Errorf("bench: jetstream ceiling: %w", err)
	}
	rep.JetStreamCommands, rep.JetStreamSeconds = published, secs
	rep.JetStreamCommandsPerSec = float64(published) / secs
	if r := b.rep.Load.CommandsPerEvent; r > 0 {
		rep.JetStreamEventsPerSec = rep.JetStreamCommandsPerSec / r
	}
	b.log.Info("bench: jetstream publish ceiling", "commands", published, "per_s", fmt.Sprintf("%.0f", rep.JetStreamCommandsPerSec))
	return nil
}

// kafkaCeiling reads every input topic-partition from the start to its end
// with kafka.Client.Fetch, one reader per topic-partition as the processor
// has, doing nothing with the messages but reading their bytes.
func (b *run) kafkaCeiling(ctx context.Context) (int64, float64, error) {
	topics := b.env.allTopics()
	hw, err := b.env.highWatermarks(ctx, topics, b.cfg.Partitions)
	if err != nil {
		return 0, 0, err
	}
	tr := &kafka.Transport{ClientID: "disputed-bench-ceiling", DialTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.env.brokers...), Timeout: 30 * time.Second, Transport: tr}
	var total atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range topics {
		for p := range b.cfg.Partitions {
			end := hw[t][p]
			g.Go(func() error {
				var offset int64
				for offset < end {
					res, err := client.Fetch(gctx, &kafka.FetchRequest{
						Topic: t, Partition: p, Offset: offset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
					})
					if err == nil && res.Error != nil {
						err = res.Error
					}
					if err != nil {
						return fmt.Errorf("fetch %s/%d@%d: %w", t, p, offset, err)
					}
					for {
						r, err := res.Records.ReadRecord()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							return fmt.Errorf("read %s/%d: %w", t, p, err)
						}
						if r.Offset < offset {
							continue
						}
						if r.Key != nil {
							io.ReadAll(r.Key)
						}
						if r.Value != nil {
							io.ReadAll(r.Value)
						}
						offset = r.Offset + 1
						total.Add(1)
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	return total.Load(), time.Since(start).Seconds(), nil
}

// saveBatch is one atomic save of a partition, as the processor makes it.
type saveBatch struct {
	ds      []rules.Decision
	offsets map[string]int64
	events  int
}

// buildSaveBatches runs the load's events of each partition, in the order
// they were produced, through the partition engine, which fires the
// deadlines in between as the processor fires them, and cuts the decisions
// into batches of batchSize events. It returns them per partition, with the
// commands they emit, their bodies encoded as the outbox holds them.
func buildSaveBatches(msgs []kafka.Message, partitions int, policy rules.Policy, batchSize int) ([][]saveBatch, [][]rules.Command, int, error) {
	byPart := make([][]kafka.Message, partitions)
	for _, m := range msgs {
		p := consumer.PartitionOf(string(m.Key), partitions)
		byPart[p] = append(byPart[p], m)
	}
	batches := make([][]saveBatch, partitions)
	cmds := make([][]rules.Command, partitions)
	events := 0
	for p, ms := range byPart {
		bb := &batchBuilder{engine: rules.NewEngine(policy), changed: map[string]bool{}, size: batchSize}
		offsets := map[string]int64{}
		for _, m := range ms {
			e, err := rules.Decode(m.Value)
			if err != nil {
				continue
			}
			steps, err := bb.engine.Apply(e)
			bb.take(steps)
			if errors.Is(err, rules.ErrInvalidEvent) {
				continue // an unknown order: a dead letter
			}
			if err != nil {
				return nil, nil, 0, fmt.Errorf("partition %d: %w", p, err)
			}
			offsets[m.Topic]++
			if bb.cur.offsets == nil {
				bb.cur.offsets = map[string]int64{}
			}
			bb.cur.offsets[m.Topic] = offsets[m.Topic]
			bb.cur.events++
			events++
			if bb.cur.events >= batchSize {
				bb.cut()
			}
		}
		steps, err := bb.engine.FireUntil(time.Date(8999, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return nil, nil, 0, fmt.Errorf("partition %d: %w", p, err)
		}
		bb.take(steps)
		bb.cut()
		batches[p] = bb.out
		for _, sb := range bb.out {
			for _, d := range sb.ds {
				for _, c := range d.Commands {
					data, err := c.Data()
					if err != nil {
						return nil, nil, 0, err
					}
					// As the outbox gives them back: decoded, with their bytes.
					rc, err := rules.ReadCommand(c.ID, c.Subject, data)
					if err != nil {
						return nil, nil, 0, err
					}
					cmds[p] = append(cmds[p], rc)
				}
			}
		}
	}
	return batches, cmds, events, nil
}

// batchBuilder cuts a partition's decisions into save batches, and keeps
// the versions of the orders in its engine as the store will hold them: an
// order's version goes up by one with each batch that changed it.
type batchBuilder struct {
	engine  *rules.Engine
	changed map[string]bool // orders the current batch changed
	cur     saveBatch
	out     []saveBatch
	size    int
}

// take appends the decisions of an input's steps to the current batch. A
// fired deadline cuts the batch once it holds 4*size decisions (the caller
// cuts it at size events). The decisions after such a cut were made before
// it, on the versions the cut raised: they get the raised ones.
func (bb *batchBuilder) take(steps []rules.Step) {
	var raised map[string]int64
	for _, s := range steps {
		d := s.Decision
		d.State.Version += raised[d.State.OrderID]
		if d.Changed {
			bb.changed[d.State.OrderID] = true
		}
		bb.cur.ds = append(bb.cur.ds, d)
		if s.Input.Type == rules.TypeDeadline && len(bb.cur.ds) >= 4*bb.size {
			if raised == nil {
				raised = make(map[string]int64)
			}
			for o := range bb.changed {
				raised[o]++
			}
			bb.cut()
		}
	}
}

// cut ends the current batch and raises the version of every order it
// changed.
func (bb *batchBuilder) cut() {
	if len(bb.cur.ds) == 0 {
		return
	}
	bb.out = append(bb.out, bb.cur)
	bb.cur = saveBatch{}
	for o := range bb.changed {
		s := bb.engine.State(o)
		s.Version++
		bb.engine.Put(s)
	}
	clear(bb.changed)
}

// redisCeiling runs the saves, one goroutine per partition as the
// processor has, each chaining its marks on the partition's, and times only
// the Save calls.
func redisCeiling(ctx context.Context, store *state.Redis, batches [][]saveBatch) (float64, int, error) {
	marks := make([]string, len(batches))
	for p := range batches {
		cp, err := store.Open(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		marks[p] = cp.Mark
	}
	var saves atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for p, bs := range batches {
		g.Go(func() error {
			prev := marks[p]
			for i, sb := range bs {
				mark := "bench-ceiling:" + strconv.Itoa(i+1)
				if _, err := store.Save(gctx, p, rules.Batch{Decisions: sb.ds, Offsets: sb.offsets, Prev: prev, Mark: mark}); err != nil {
					return err
				}
				prev = mark
				saves.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	return time.Since(start).Seconds(), int(saves.Load()), nil
}

// natsCeiling publishes the commands with producer.NATS, in runs of 256 as
// the outbox drain does, one publisher per partition, into fresh streams
// (on subjects of the run's own, so that they do not overlap the
// processor's streams). It goes over the commands again, under new IDs,
// until it has run for two seconds, at most five times.
func (b *run) natsCeiling(ctx context.Context, cmds [][]rules.Command) (int, float64, error) {
	nc, err := nats.Connect(b.env.natsURL, nats.Name("disputed-bench-ceiling"))
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, err
	}
	root := "bench" + b.rep.RunID
	names := []string{"BENCH_" + strings.ToUpper(b.rep.RunID) + "_DISPUTES", "BENCH_" + strings.ToUpper(b.rep.RunID) + "_FINANCE"}
	for i, subj := range []string{root + ".disputes.>", root + ".finance.>"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: names[i], Subjects: []string{subj}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
		}); err != nil {
			return 0, 0, fmt.Errorf("create stream %s: %w", names[i], err)
		}
	}
	defer func() {
		for _, n := range names {
			js.DeleteStream(context.WithoutCancel(ctx), n)
		}
	}()
	pub, err := producer.NewNATS(nc, producer.Config{})
	if err != nil {
		return 0, 0, err
	}
	for _, cs := range cmds {
		for i := range cs {
			cs[i].Subject = root + "." + cs[i].Subject
		}
	}
	published := 0
	start := time.Now()
	for round := 0; round < 5 && (round == 0 || time.Since(start) < 2*time.Second); round++ {
		g, gctx := errgroup.WithContext(ctx)
		for _, cs := range cmds {
			if round > 0 {
				cs = slices.Clone(cs)
				for i := range cs {
					cs[i].ID += "/r" + strconv.Itoa(round)
				}
			}
			published += len(cs)
			g.Go(func() error {
				for i := 0; i < len(cs); i += 256 {
					if _, err := pub.Publish(gctx, cs[i:min(i+256, len(cs))]...); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return 0, 0, err
		}
	}
	return published, time.Since(start).Seconds(), nil
}
