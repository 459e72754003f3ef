package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
)

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
