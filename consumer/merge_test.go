package consumer

import (
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// The merger is pure: these tests drive it with chunks and a clock.

var (
	mt0   = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) // event times
	mNow  = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	mIdle = 3 * time.Second
)

// ev is an event of topic stamped minutes after mt0; written is its
// broker timestamp (zero: none).
func ev(topic int, id string, minutes int, written time.Time) Input {
	return Input{
		Msg:   Message{Offset: int64(minutes), Time: written},
		Event: rules.Event{ID: id, Time: mt0.Add(time.Duration(minutes) * time.Minute)},
		src:   topic,
	}
}

func bad(topic int, id string) Input {
	return Input{Msg: Message{Key: []byte(id)}, Err: rules.ErrInvalidEvent, src: topic}
}

func ids(in []Input) string {
	var s []string
	for _, x := range in {
		if x.Err != nil {
			s = append(s, string(x.Msg.Key))
		} else {
			s = append(s, x.Event.ID)
		}
	}
	return strings.Join(s, ",")
}

// step is one moment of a merger's life: chunks arrive at `at` (offset
// from mNow), then take and watermark are asked at the same time.
type step struct {
	at            time.Duration
	chunks        []chunk
	want          string
	wantWatermark time.Time
}

// quiet is a fetch that found the topic at its end with nothing new.
func quiet(topics ...int) []chunk {
	var cs []chunk
	for _, t := range topics {
		cs = append(cs, chunk{topic: t, atEnd: true})
	}
	return cs
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	m := newMerger(4, mIdle)
	for i, s := range steps {
		now := mNow.Add(s.at)
		for _, c := range s.chunks {
			c.at = now
			m.push(c)
		}
		got := m.take(now, 100)
		for _, x := range got {
			m.applied(x)
		}
		if ids(got) != s.want {
			t.Errorf("step %d (+%v): take = %q, want %q", i, s.at, ids(got), s.want)
		}
		if h := m.watermark(now); !h.Equal(s.wantWatermark) {
			t.Errorf("step %d (+%v): watermark = %v, want %v", i, s.at, h, s.wantWatermark)
		}
	}
}

func TestMerger(t *testing.T) {
	old := mNow.Add(-time.Hour) // a backlog written an hour ago
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a backlog merges in event time at once",
			steps: []step{{
				chunks: []chunk{
					{topic: 0, in: []Input{ev(0, "paid", 1, old), ev(0, "acc", 9, old)}, atEnd: true},
					{topic: 1, in: []Input{ev(1, "del", 5, old)}, atEnd: true},
					{topic: 2, atEnd: true},
					{topic: 3, in: []Input{ev(3, "refund", 3, old)}, atEnd: true},
				},
				want:          "paid,refund,del,acc",
				wantWatermark: mNow,
			}},
		},
		{
			// The processor idled at the end of every topic; one topic's
			// events (stamped later) arrive, the lagging topic's (stamped
			// earlier) half the idle time after: replay's order.
			name: "a topic lagging another by less than the idle time is waited for",
			steps: []step{
				{chunks: quiet(0, 1, 2, 3), wantWatermark: mNow},
				{at: time.Minute, chunks: []chunk{{topic: 3, in: []Input{ev(3, "refund", 6, mNow.Add(time.Minute))}, atEnd: true}}},
				{at: time.Minute + mIdle/2, chunks: append(quiet(1, 2, 3), chunk{topic: 0, in: []Input{ev(0, "paid", 1, time.Time{})}, atEnd: true})},
				{at: time.Minute + mIdle + time.Millisecond, chunks: quiet(0, 1, 2, 3), want: "paid,refund", wantWatermark: mt0.Add(6 * time.Minute)},
				{at: time.Minute + 2*mIdle, chunks: quiet(0, 1, 2, 3), wantWatermark: mNow.Add(time.Minute + 2*mIdle)},
			},
		},
		{
			name: "an event is applied once every quiet topic was seen at its end the idle time after it arrived",
			steps: []step{
				{chunks: append(quiet(1, 2, 3), chunk{topic: 0, in: []Input{ev(0, "paid", 1, mNow)}, atEnd: true})},
				{at: mIdle - time.Millisecond, chunks: quiet(0, 1, 2, 3)},
				{at: mIdle, chunks: quiet(0, 1, 2, 3), want: "paid", wantWatermark: mNow.Add(mIdle)},
			},
		},
		{
			// Records stamped by a producer with the events' own times
			// look an hour old; they reached Kafka after the topic's
			// previous fetch found nothing, so they are fresh.
			name: "a record timestamp older than the topic's last empty fetch does not count",
			steps: []step{
				{chunks: quiet(0, 1, 2, 3), wantWatermark: mNow},
				{at: time.Second, chunks: []chunk{{topic: 3, in: []Input{ev(3, "refund", 6, old)}, atEnd: true}}},
				{at: time.Second + mIdle/2, chunks: quiet(0, 1, 2, 3)},
				{at: time.Second + mIdle, chunks: quiet(0, 1, 2, 3), want: "refund", wantWatermark: mNow.Add(time.Second + mIdle)},
			},
		},
		{
			// Live traffic on one topic, none on the others: each event
			// waits the idle time, no more, and the watermark follows the
			// events that old.
			name: "a quiet topic delays live events by the idle time",
			steps: []step{
				{chunks: append(quiet(1, 2, 3), chunk{topic: 0, in: []Input{ev(0, "a", 1, mNow)}, atEnd: true})},
				{at: time.Second, chunks: []chunk{{topic: 0, in: []Input{ev(0, "b", 2, mNow.Add(time.Second))}, atEnd: true}}},
				{at: mIdle, chunks: quiet(1, 2, 3), want: "a", wantWatermark: mt0.Add(1 * time.Minute)},
				{at: mIdle + time.Second, chunks: quiet(0, 1, 2, 3), want: "b", wantWatermark: mNow.Add(mIdle + time.Second)},
			},
		},
		{
			name: "a topic not yet read holds the others back",
			steps: []step{{
				chunks: []chunk{
					{topic: 0, in: []Input{ev(0, "paid", 1, old)}, atEnd: true},
					{topic: 1, atEnd: true},
					{topic: 2, atEnd: true},
				},
			}},
		},
		{
			name: "a topic still being read holds the others back after its last event",
			steps: []step{{
				chunks: []chunk{
					{topic: 0, in: []Input{ev(0, "a", 1, old), ev(0, "b", 7, old)}, atEnd: true},
					{topic: 1, in: []Input{ev(1, "c", 2, old)}, atEnd: false},
					{topic: 2, atEnd: true},
					{topic: 3, atEnd: true},
				},
				want:          "a,c",
				wantWatermark: mt0.Add(2 * time.Minute),
			}},
		},
		{
			name: "malformed messages go at once",
			steps: []step{{
				chunks: []chunk{
					{topic: 0, in: []Input{bad(0, "x"), ev(0, "paid", 1, old)}, atEnd: true},
					{topic: 1, in: []Input{bad(1, "y")}, atEnd: false},
				},
				want: "x,y",
			}},
		},
		{
			name: "an event from the future waits for the clock",
			steps: []step{{
				chunks: []chunk{
					{topic: 0, in: []Input{ev(0, "early", 1, old), {Msg: Message{Time: old}, Event: rules.Event{ID: "future", Time: mNow.Add(time.Minute)}}}, atEnd: true},
					{topic: 1, atEnd: true},
					{topic: 2, atEnd: true},
					{topic: 3, atEnd: true},
				},
				want:          "early",
				wantWatermark: mNow,
			}},
		},
		{
			name: "ties go to the topic listed first",
			steps: []step{{
				chunks: []chunk{
					{topic: 3, in: []Input{ev(3, "refund", 4, old)}, atEnd: true},
					{topic: 0, in: []Input{ev(0, "paid", 4, old)}, atEnd: true},
					{topic: 1, atEnd: true},
					{topic: 2, atEnd: true},
				},
				want:          "paid,refund",
				wantWatermark: mNow,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.steps) })
	}
}

// A topic whose queue drained after its last fetch was taken counts only
// once a fresher fetch says it is still at its end: what was folded since
// may have arrived after that fetch.
func TestMergerStaleFetchWaits(t *testing.T) {
	m := newMerger(2, mIdle)
	now := mNow
	m.push(chunk{topic: 0, in: []Input{ev(0, "a", 1, now)}, atEnd: true, at: now})
	m.push(chunk{topic: 1, atEnd: true, at: now})
	now = now.Add(10 * time.Second)
	m.push(chunk{topic: 1, atEnd: true, at: now})
	// Topic 0 has a queue, so the fold goes to topic 1's fetch.
	if got := ids(m.take(now, 10)); got != "a" {
		t.Fatalf("take = %q, want a", got)
	}
	m.applied(Input{Event: rules.Event{Time: mt0.Add(time.Minute)}, src: 0})
	// Topic 0's last fetch (at mNow) is older than what was folded.
	if w := m.topicWatermark(0); !w.Equal(mt0.Add(time.Minute)) {
		t.Errorf("watermark of a topic last fetched before the fold = %v, want its last event's time", w)
	}
	m.push(chunk{topic: 0, atEnd: true, at: now})
	if w := m.topicWatermark(0); !w.Equal(now) {
		t.Errorf("after a fresh fetch, watermark = %v, want %v", w, now)
	}
}

func TestMergerUnread(t *testing.T) {
	m := newMerger(2, mIdle)
	old := mNow.Add(-time.Hour)
	m.push(chunk{topic: 0, in: []Input{ev(0, "a", 1, old), ev(0, "c", 3, old)}, atEnd: true, at: mNow})
	m.push(chunk{topic: 1, in: []Input{ev(1, "b", 2, old), ev(1, "d", 4, old)}, atEnd: true, at: mNow})
	got := m.take(mNow, 3) // a, b, c
	m.unread(got[1:])      // only a was applied
	if again := ids(m.take(mNow, 10)); again != "b,c,d" {
		t.Errorf("after unread: %v, want b,c,d", again)
	}
}
