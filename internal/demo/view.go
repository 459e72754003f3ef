package demo

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/follow"
	"github.com/disputed/disputed/rules"
	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"
)

// demoView tracks and prints what the demo sees.
type demoView struct {
	printer   *follow.Printer
	start     time.Time
	undecided map[string]bool // orders without their final ruling
	transfers map[string]int  // order: transfers announced by its ruling and not yet seen
}

func newDemoView(out io.Writer, start time.Time, stories []Story) *demoView {
	v := &demoView{printer: &follow.Printer{Out: out, Start: start}, start: start, undecided: map[string]bool{}, transfers: map[string]int{}}
	for _, s := range stories {
		v.undecided[s.order] = true
	}
	return v
}

func (v *demoView) done() bool {
	if len(v.undecided) > 0 {
		return false
	}
	for _, n := range v.transfers {
		if n > 0 {
			return false
		}
	}
	return true
}

func (v *demoView) pending() []string {
	return slices.Sorted(maps.Keys(v.undecided))
}

// produceDue writes the events due by now, keyed by order ID to their
// type's topic, and returns the rest.
func (v *demoView) produceDue(ctx context.Context, w *kafka.Writer, topics consumer.Topics, events []storyEvent) ([]storyEvent, error) {
	elapsed := time.Since(v.start)
	var msgs []kafka.Message
	for len(events) > 0 && events[0].offset <= elapsed {
		e := events[0]
		events = events[1:]
		value, err := e.stamp(v.start)
		if err != nil {
			return nil, fmt.Errorf("demo: encode %s of %s: %w", e.typ, e.order, err)
		}
		msgs = append(msgs, kafka.Message{Topic: topics.Of(e.typ), Key: []byte(e.order), Value: value})
		when := ""
		if e.offset < 0 {
			when = fmt.Sprintf(" (happened %v ago)", -e.offset)
		}
		v.line("event", e.order, "%s%s", e.typ, when)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("demo: produce %d events: %w", len(msgs), err)
	}
	return events, nil
}

func (v *demoView) line(kind, order, format string, args ...any) {
	v.printer.Line(time.Now(), kind, order, format, args...)
}

// show prints one command as a line and keeps count of the rulings and
// transfers still to come.
func (v *demoView) show(m *nats.Msg) {
	switch b := v.printer.Print(time.Now(), m.Subject, m.Data).(type) {
	case *rules.Ruling:
		if b.Outcome == rules.Escalated {
			return // a reviewer decides later
		}
		delete(v.undecided, b.OrderID)
		for _, a := range []int64{b.RefundAmount, b.ProviderAmount} {
			if a > 0 {
				v.transfers[b.OrderID]++
			}
		}
	case *rules.Transfer:
		v.transfers[b.OrderID]--
	}
}
