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

	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// ceilings is the last phase: what each server does alone for this
// workload, measured in the same run after the processors stopped: Kafka
// read, the store's atomic save, and JetStream publish. The processor can
// go no faster than the lowest.
type ceilings struct {
	b *run
}

func (c *ceilings) run(ctx context.Context) error {
	b := c.b
	rep := &b.rep.Ceilings
	msgs, secs, err := c.kafka(ctx)
	if err != nil {
		return fmt.Errorf("bench: kafka ceiling: %w", err)
	}
	rep.KafkaMessages, rep.KafkaSeconds = msgs, secs
	rep.KafkaReadEventsPerSec = float64(msgs) / secs
	b.log.Info("bench: kafka read ceiling", "messages", msgs, "per_s", fmt.Sprintf("%.0f", rep.KafkaReadEventsPerSec))

	batchSize := int(b.rep.Load.ProcessorMetrics.AvgBatchSize + 0.5)
	batchSize = min(max(batchSize, 1), b.cfg.MaxBatch)
	rep.RedisBatchSize = batchSize
	batches, cmds, events, err := buildSaveBatches(b.prod.ceilingInput, b.cfg.Partitions, b.policy, batchSize)
	if err != nil {
		return fmt.Errorf("bench: redis ceiling: %w", err)
	}
	rep.RedisEvents = events
	prefix := b.env.Prefix + "-ceiling"
	secs, saves, err := redisCeiling(ctx, state.NewRedis(b.env.RDB, state.Config{Prefix: prefix}), batches)
	if n, derr := servers.DeleteKeys(context.WithoutCancel(ctx), b.env.RDB, prefix+":*"); derr == nil {
		b.rep.Redis.KeysDeleted += n
	}
	if err != nil {
		return fmt.Errorf("bench: redis ceiling: %w", err)
	}
	rep.RedisSaves, rep.RedisSeconds = saves, secs
	rep.RedisSaveEventsPerSec = float64(events) / secs
	b.log.Info("bench: redis save ceiling", "events", events, "saves", saves, "per_s", fmt.Sprintf("%.0f", rep.RedisSaveEventsPerSec))

	published, secs, err := c.jetStream(ctx, cmds)
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

// kafka reads every input topic-partition from the start to its end
// with kafka.Client.Fetch, one reader per topic-partition as the processor
// has, doing nothing with the messages but reading their bytes.
func (c *ceilings) kafka(ctx context.Context) (int64, float64, error) {
	b := c.b
	topics := b.env.AllTopics()
	hw, err := b.env.HighWatermarks(ctx, topics, b.cfg.Partitions)
	if err != nil {
		return 0, 0, err
	}
	tr := &kafka.Transport{ClientID: "disputed-bench-ceiling", DialTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.env.Brokers...), Timeout: 30 * time.Second, Transport: tr}
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

// jetStream publishes the commands with producer.NATS, in runs of 256 as
// the outbox drain does, one publisher per partition, into fresh streams
// (on subjects of the run's own, so that they do not overlap the
// processor's streams). It goes over the commands again, under new IDs,
// until it has run for two seconds, at most five times.
func (c *ceilings) jetStream(ctx context.Context, cmds [][]rules.Command) (int, float64, error) {
	b := c.b
	nc, err := nats.Connect(b.env.NATSURL, nats.Name("disputed-bench-ceiling"))
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
