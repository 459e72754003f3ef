package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"
)

// demoView tracks and prints what the demo sees.
type demoView struct {
	out       io.Writer
	start     time.Time
	seen      map[string]bool // command IDs: a command published again prints once
	undecided map[string]bool // orders without their final ruling
	transfers map[string]int  // order: transfers announced by its ruling and not yet seen
}

func newDemoView(out io.Writer, start time.Time, stories []Story) *demoView {
	v := &demoView{out: out, start: start, seen: map[string]bool{}, undecided: map[string]bool{}, transfers: map[string]int{}}
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
	fmt.Fprintf(v.out, "%+7.1fs  %-9s %-11s %s\n", time.Since(v.start).Seconds(), kind, order, fmt.Sprintf(format, args...))
}

// show prints one command as a line.
func (v *demoView) show(m *nats.Msg) {
	var head struct {
		CommandID string `json:"command_id"`
	}
	if json.Unmarshal(m.Data, &head) != nil || v.seen[head.CommandID] {
		return
	}
	v.seen[head.CommandID] = true
	kind, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(m.Subject, "disputes."), "finance."), ".")
	switch kind {
	case "ruling":
		var r rules.Ruling
		if json.Unmarshal(m.Data, &r) == nil {
			v.ruling(r)
		}
	case "transfer":
		var t rules.Transfer
		if json.Unmarshal(m.Data, &t) == nil {
			v.transfers[t.OrderID]--
			v.line("transfer", t.OrderID, "%s to %s %s", money(t.Amount, t.Currency), t.To, t.PartyID)
		}
	case "notice":
		var n rules.Notice
		if json.Unmarshal(m.Data, &n) == nil {
			v.line("notice", n.OrderID, "%s%s %v: %s", n.Kind, v.noticeTail(n), n.Articles, n.Message)
		}
	case "rejected":
		var r rules.Rejection
		if json.Unmarshal(m.Data, &r) == nil {
			v.line("rejected", r.OrderID, "%s %s: %s %v", r.EventType, r.EventID, r.Reason, r.Articles)
		}
	}
}

func (v *demoView) ruling(r rules.Ruling) {
	v.line("ruling", r.OrderID, "%s: customer %s, provider %s %v: %s",
		r.Outcome, money(r.RefundAmount, r.Currency), money(r.ProviderAmount, r.Currency), r.Articles, r.Reason)
	if r.Outcome == rules.Escalated {
		return // a reviewer decides later
	}
	delete(v.undecided, r.OrderID)
	for _, a := range []int64{r.RefundAmount, r.ProviderAmount} {
		if a > 0 {
			v.transfers[r.OrderID]++
		}
	}
}

func (v *demoView) noticeTail(n rules.Notice) string {
	var s string
	if n.Party != "" {
		s += " for " + string(n.Party)
	}
	if n.Due != nil {
		s += fmt.Sprintf(", due at %+.1fs", n.Due.Sub(v.start).Seconds())
	}
	return s
}

// money formats minor units with two decimals, which fits the stories'
// currency (CNY); it is for display only.
func money(minor int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", minor/100, minor%100, currency)
}
