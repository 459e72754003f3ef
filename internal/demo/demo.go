// Package demo plays sample dispute stories into a running disputed and
// prints the rulings and transfers as they come back from NATS: what
// `disputed demo` shows. Each story's event times are offsets from the
// demo's start, so the deadlines fall due while one watches.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
)

// stories are the sample disputes. Each file is one order's story: a "#"
// line saying what happens, then CloudEvents whose "time" is an offset from
// the demo's start ("-2h", "0s", "3s").
//
//go:embed stories/*.jsonl
var stories embed.FS

// Timeout bounds the wait for the final rulings.
const Timeout = 60 * time.Second

// Story is one order's sample dispute.
type Story struct {
	title  string
	order  string
	events []storyEvent
}

// storyEvent is an event whose time is an offset from the demo's start.
type storyEvent struct {
	offset time.Duration
	order  string
	typ    rules.Type
	event  rules.Event // decoded at load; its Time is set on stamp
}

// stamp returns the event with its time set to start+offset, as the
// encoder every writer uses writes it.
func (e storyEvent) stamp(start time.Time) ([]byte, error) {
	ev := e.event
	ev.Time = start.Add(e.offset)
	return rules.EncodeEvent(ev), nil
}

// Load returns the embedded stories.
func Load() ([]Story, error) { return load(stories) }

func load(fsys fs.FS) ([]Story, error) {
	names, err := fs.Glob(fsys, "stories/*.jsonl")
	if err != nil {
		return nil, err
	}
	var out []Story
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

func parseStory(b []byte) (Story, error) {
	var s Story
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

// parseStoryEvent reads a story's line: an event whose time is an offset
// from the start, like -2h or 3s. The rest is checked by the decoder now,
// so that a story that does not decode fails at load, not when played.
func parseStoryEvent(line []byte) (storyEvent, error) {
	var e storyEvent
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return e, err
	}
	var offset string
	if err := json.Unmarshal(fields["time"], &offset); err != nil {
		return e, fmt.Errorf("time: want an offset from the start, like -2h or 3s: %w", err)
	}
	d, err := time.ParseDuration(offset)
	if err != nil {
		return e, fmt.Errorf("time %q: want an offset from the start, like -2h or 3s", offset)
	}
	fields["time"] = json.RawMessage(`"2000-01-01T00:00:00Z"`) // set on stamp
	b, err := json.Marshal(fields)
	if err != nil {
		return e, err
	}
	ev, err := rules.Decode(b)
	if err != nil {
		return e, err
	}
	e.offset, e.order, e.typ, e.event = d, ev.OrderID, ev.Type, ev
	return e, nil
}

// Env is the running disputed the demo plays into.
type Env struct {
	Brokers   []string
	Transport kafka.RoundTripper
	Topics    consumer.Topics
	NATS      *nats.Conn
	// Joined reports whether the processor is in its consumer group: the
	// stories' clock starts when it is.
	Joined func() bool
	// Banner is printed before the stories (where the servers are).
	Banner string
}

// Play produces the stories' events when they happen and prints the
// commands that come back, until every order has its final ruling and
// transfers, or Timeout.
func Play(ctx context.Context, n Env, stories []Story, out io.Writer) error {
	msgs := make(chan *nats.Msg, 1024)
	for _, subject := range []string{"disputes.>", "finance.>"} {
		// A plain subscription sees what JetStream stores, without a
		// consumer to clean up; subscribed first, so nothing is missed.
		sub, err := n.NATS.ChanSubscribe(subject, msgs)
		if err != nil {
			return fmt.Errorf("demo: subscribe %s: %w", subject, err)
		}
		defer sub.Unsubscribe()
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(n.Brokers...), Transport: n.Transport,
		Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
	}
	defer w.Close()

	fmt.Fprintln(out, n.Banner)
	fmt.Fprintf(out, "%d stories:\n", len(stories))
	for _, s := range stories {
		fmt.Fprintf(out, "  %-11s %s\n", s.order, s.title)
	}
	if !waitJoined(ctx, n.Joined) {
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v := newDemoView(out, time.Now().Truncate(time.Millisecond), stories)
	events := timeline(stories)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for len(events) > 0 || !v.done() {
		select {
		case <-timer.C:
			var err error
			if events, err = v.produceDue(ctx, w, n.Topics, events); err != nil {
				return err
			}
			if len(events) > 0 {
				timer.Reset(time.Until(v.start.Add(events[0].offset)))
			}
		case m := <-msgs:
			v.show(m)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("demo: after %v, still no final ruling for %s", Timeout, strings.Join(v.pending(), ", "))
			}
			return nil // interrupted
		}
	}
	fmt.Fprintf(out, "all %d disputes decided in %.1fs\n", len(stories), time.Since(v.start).Seconds())
	return nil
}

// waitJoined waits until the consumer is in the group, so that the story's
// clock starts when the processor does.
func waitJoined(ctx context.Context, joined func() bool) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !joined() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// timeline returns all the events in the order they happen.
func timeline(stories []Story) []storyEvent {
	var all []storyEvent
	for _, s := range stories {
		all = append(all, s.events...)
	}
	slices.SortStableFunc(all, func(a, b storyEvent) int { return int(a.offset - b.offset) })
	return all
}
