package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
)

// demoStories are the sample disputes. Each file is one order's story: a
// "#" line saying what happens, then CloudEvents whose "time" is an offset
// from the demo's start ("-2h", "0s", "3s"), so that the deadlines fall due
// while the demo runs.
//
//go:embed demo/*.jsonl
var demoStories embed.FS

// demoTimeout bounds the wait for the final rulings.
const demoTimeout = 60 * time.Second

func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	def := defaultConfig()
	// Short windows make the deadlines fire while one watches; the stories
	// are written for them.
	def.Policy.EvidenceWindow = 3 * time.Second
	def.Policy.ModificationWindow = 3 * time.Second
	def.HTTPAddr = "127.0.0.1:0"
	def.LogLevel = "warn" // stdout tells the story; stderr is for trouble
	cfg, err := parseConfig("demo", def, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if !cfg.embedded() {
		// Its order IDs are fixed: on real servers a second run would find
		// them already ruled.
		return fmt.Errorf("%w: demo runs on in-process servers only: drop --kafka-brokers, --redis-url and --nats-url", errUsage)
	}
	stories, err := loadStories(demoStories)
	if err != nil {
		return err
	}
	return runService(ctx, cfg, newLogger(stderr, cfg), func(ctx context.Context, n *node) error {
		return playDemo(ctx, n, stories, stdout)
	})
}

// story is one order's sample dispute.
type story struct {
	title  string
	order  string
	events []storyEvent
}

// storyEvent is an event whose time is an offset from the demo's start.
type storyEvent struct {
	offset time.Duration
	order  string
	typ    rules.Type
	fields map[string]json.RawMessage // the CloudEvent, "time" set on stamp
}

// stamp returns the event with its time set to start+offset.
func (e storyEvent) stamp(start time.Time) ([]byte, error) {
	f := maps.Clone(e.fields)
	f["time"], _ = json.Marshal(start.Add(e.offset).UTC().Format(time.RFC3339Nano))
	return json.Marshal(f)
}

func loadStories(fsys fs.FS) ([]story, error) {
	names, err := fs.Glob(fsys, "demo/*.jsonl")
	if err != nil {
		return nil, err
	}
	var out []story
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		s, err := parseStory(b)
		if err != nil {
			return nil, fmt.Errorf("demo story %s: %w", name, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no demo stories embedded")
	}
	return out, nil
}

func parseStory(b []byte) (story, error) {
	var s story
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if title, ok := strings.CutPrefix(string(line), "#"); ok {
			s.title = strings.TrimSpace(title)
			continue
		}
		if len(line) == 0 {
			continue
		}
		e, err := parseStoryEvent(line)
		if err != nil {
			return s, fmt.Errorf("line %d: %w", n, err)
		}
		if s.order != "" && e.order != s.order {
			return s, fmt.Errorf("line %d: order %q in the story of %q", n, e.order, s.order)
		}
		s.order = e.order
		s.events = append(s.events, e)
	}
	if len(s.events) == 0 {
		return s, errors.New("no events")
	}
	return s, sc.Err()
}

func parseStoryEvent(line []byte) (storyEvent, error) {
	var e storyEvent
	var head struct {
		Time    string     `json:"time"`
		Type    rules.Type `json:"type"`
		Subject string     `json:"subject"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return e, err
	}
	if err := json.Unmarshal(line, &e.fields); err != nil {
		return e, err
	}
	d, err := time.ParseDuration(head.Time)
	if err != nil {
		return e, fmt.Errorf("time %q: want an offset from the start, like -2h or 3s", head.Time)
	}
	if head.Type.Topic() == "" {
		return e, fmt.Errorf("unknown event type %q", head.Type)
	}
	e.offset, e.order, e.typ = d, head.Subject, head.Type
	return e, nil
}

// playDemo produces the stories' events when they happen and prints the
// commands that come back, until every order has its final ruling and
// transfers.
func playDemo(ctx context.Context, n *node, stories []story, out io.Writer) error {
	msgs := make(chan *nats.Msg, 1024)
	for _, subject := range []string{"disputes.>", "finance.>"} {
		// A plain subscription sees what JetStream stores, without a
		// consumer to clean up; subscribed first, so nothing is missed.
		sub, err := n.nc.ChanSubscribe(subject, msgs)
		if err != nil {
			return fmt.Errorf("demo: subscribe %s: %w", subject, err)
		}
		defer sub.Unsubscribe()
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(n.cfg.Kafka.Brokers...), Transport: n.transport,
		Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
	}
	defer w.Close()

	fmt.Fprintf(out, "disputed demo: kafka %s, nats %s, redis %s, metrics http://%s/metrics\n",
		strings.Join(n.cfg.Kafka.Brokers, ","), n.cfg.NATS.URL, strings.TrimPrefix(n.cfg.Redis.URL, "redis://"), n.httpAddr)
	fmt.Fprintf(out, "evidence window %v; %d stories:\n", n.cfg.Policy.EvidenceWindow, len(stories))
	for _, s := range stories {
		fmt.Fprintf(out, "  %-11s %s\n", s.order, s.title)
	}
	if !waitJoined(ctx, n.kafka) {
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	v := newDemoView(out, time.Now().Truncate(time.Millisecond), stories)
	events := timeline(stories)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for len(events) > 0 || !v.done() {
		select {
		case <-timer.C:
			var err error
			if events, err = v.produceDue(ctx, w, n.cfg.Kafka.Topics, events); err != nil {
				return err
			}
			if len(events) > 0 {
				timer.Reset(time.Until(v.start.Add(events[0].offset)))
			}
		case m := <-msgs:
			v.show(m)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("demo: after %v, still no final ruling for %s", demoTimeout, strings.Join(v.pending(), ", "))
			}
			return nil // interrupted
		}
	}
	fmt.Fprintf(out, "all %d disputes decided in %.1fs\n", len(stories), time.Since(v.start).Seconds())
	return nil
}

// waitJoined waits until the consumer is in the group, so that the story's
// clock starts when the processor does.
func waitJoined(ctx context.Context, k *consumer.Kafka) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !k.Joined() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// timeline returns all the events in the order they happen.
func timeline(stories []story) []storyEvent {
	var all []storyEvent
	for _, s := range stories {
		all = append(all, s.events...)
	}
	slices.SortStableFunc(all, func(a, b storyEvent) int { return int(a.offset - b.offset) })
	return all
}

// demoView tracks and prints what the demo sees.
type demoView struct {
	out       io.Writer
	start     time.Time
	seen      map[string]bool // command IDs: a command published again prints once
	undecided map[string]bool // orders without their final ruling
	transfers map[string]int  // order: transfers announced by its ruling and not yet seen
}

func newDemoView(out io.Writer, start time.Time, stories []story) *demoView {
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
		msgs = append(msgs, kafka.Message{Topic: topicOf(e.typ, topics), Key: []byte(e.order), Value: value})
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

// topicOf maps an event type to the configured name of its topic.
func topicOf(t rules.Type, topics consumer.Topics) string {
	switch t.Topic() {
	case rules.TopicOrders:
		return topics.Orders
	case rules.TopicDeliveries:
		return topics.Deliveries
	case rules.TopicChats:
		return topics.Chats
	}
	return topics.RefundRequests
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
