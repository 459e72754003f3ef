package follow

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Tail prints the commands of the streams as they arrive, from their start
// or from now, through an ordered consumer on each: ephemeral, in stream
// order, gone when tail ends. It waits for streams that do not exist yet
// (disputed creates them at its start). It returns nil when ctx ends. It
// is `disputed tail`.
func Tail(ctx context.Context, nc *nats.Conn, streams []string, fromStart bool, stdout, stderr io.Writer) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	policy := jetstream.DeliverNewPolicy
	if fromStart {
		policy = jetstream.DeliverAllPolicy
	}
	msgs := make(chan jetstream.Msg, 256)
	for _, stream := range streams {
		told := false
		for {
			c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{DeliverPolicy: policy})
			if err == nil {
				cc, err := c.Consume(func(m jetstream.Msg) {
					select {
					case msgs <- m:
					case <-ctx.Done():
					}
				})
				if err != nil {
					return fmt.Errorf("tail %s: %w", stream, err)
				}
				defer cc.Stop()
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if !told {
				fmt.Fprintf(stderr, "tail: waiting for stream %s on %s (%v); disputed creates it when it starts\n", stream, nc.ConnectedUrlRedacted(), err)
				told = true
			}
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
	}
	p := &Printer{Out: stdout}
	for {
		select {
		case m := <-msgs:
			at := time.Now()
			if md, err := m.Metadata(); err == nil {
				at = md.Timestamp
			}
			p.Print(at, m.Subject(), m.Data())
		case <-ctx.Done():
			return nil
		}
	}
}
