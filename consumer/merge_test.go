package consumer

import (
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

func TestMerger(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	at := func(topic int, id string, minutes int) Input {
		return Input{Msg: Message{Offset: int64(minutes)}, Event: rules.Event{ID: id, Time: t0.Add(time.Duration(minutes) * time.Minute)}, src: topic}
	}
	bad := func(topic int, id string) Input {
		return Input{Msg: Message{Key: []byte(id)}, Err: rules.ErrInvalidEvent, src: topic}
	}
	ids := func(in []Input) string {
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
	tests := []struct {
		name        string
		chunks      []chunk
		want        string
		wantHorizon time.Time
	}{
		{
			name: "earliest head first across topics",
			chunks: []chunk{
				{topic: 0, in: []Input{at(0, "paid", 1), at(0, "acc", 9)}, atEnd: true},
				{topic: 1, in: []Input{at(1, "del", 5)}, atEnd: true},
				{topic: 2, atEnd: true},
				{topic: 3, in: []Input{at(3, "refund", 3)}, atEnd: true},
			},
			want:        "paid,refund,del,acc",
			wantHorizon: now,
		},
		{
			name: "a topic not yet read holds the others back",
			chunks: []chunk{
				{topic: 0, in: []Input{at(0, "paid", 1)}, atEnd: true},
				{topic: 1, atEnd: true},
				{topic: 2, atEnd: true},
			},
			want:        "",
			wantHorizon: time.Time{},
		},
		{
			name: "a topic still being read holds the others back after its last event",
			chunks: []chunk{
				{topic: 0, in: []Input{at(0, "a", 1), at(0, "b", 7)}, atEnd: true},
				{topic: 1, in: []Input{at(1, "c", 2)}, atEnd: false},
				{topic: 2, atEnd: true},
				{topic: 3, atEnd: true},
			},
			want:        "a,c",
			wantHorizon: t0.Add(2 * time.Minute),
		},
		{
			name: "malformed messages go at once",
			chunks: []chunk{
				{topic: 0, in: []Input{bad(0, "x"), at(0, "paid", 1)}, atEnd: true},
				{topic: 1, in: []Input{bad(1, "y")}, atEnd: false},
			},
			want:        "x,y",
			wantHorizon: time.Time{},
		},
		{
			name: "an event from the future waits for the clock",
			chunks: []chunk{
				{topic: 0, in: []Input{at(0, "early", 1), at(0, "future", 90)}, atEnd: true},
				{topic: 1, atEnd: true},
				{topic: 2, atEnd: true},
				{topic: 3, atEnd: true},
			},
			want:        "early",
			wantHorizon: now,
		},
		{
			// The orders topic was last found empty at 0:05; a refund
			// stamped 0:06 waits for its next fetch, which may bring the
			// order.paid written meanwhile.
			name: "an event after a quiet topic's last fetch waits for the next",
			chunks: []chunk{
				{topic: 0, atEnd: true, at: t0.Add(5 * time.Minute)},
				{topic: 1, atEnd: true},
				{topic: 2, atEnd: true},
				{topic: 3, in: []Input{at(3, "before", 4), at(3, "refund", 6)}, atEnd: true},
			},
			want:        "before",
			wantHorizon: t0.Add(5 * time.Minute),
		},
		{
			name: "ties go to the topic listed first",
			chunks: []chunk{
				{topic: 3, in: []Input{at(3, "refund", 4)}, atEnd: true},
				{topic: 0, in: []Input{at(0, "paid", 4)}, atEnd: true},
				{topic: 1, atEnd: true},
				{topic: 2, atEnd: true},
			},
			want:        "paid,refund",
			wantHorizon: now,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(4)
			for _, c := range tt.chunks {
				if c.at.IsZero() {
					c.at = now
				}
				m.push(c)
			}
			got := m.take(now, 100)
			for _, x := range got {
				m.applied(x)
			}
			if ids(got) != tt.want {
				t.Errorf("take = %q, want %q", ids(got), tt.want)
			}
			if h := m.horizon(now); !h.Equal(tt.wantHorizon) {
				t.Errorf("horizon = %v, want %v", h, tt.wantHorizon)
			}
		})
	}
}

func TestMergerUnread(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := newMerger(2)
	in := func(topic int, id string, min int) Input {
		return Input{Event: rules.Event{ID: id, Time: t0.Add(time.Duration(min) * time.Minute)}}
	}
	m.push(chunk{topic: 0, in: []Input{in(0, "a", 1), in(0, "c", 3)}, atEnd: true, at: t0.Add(time.Hour)})
	m.push(chunk{topic: 1, in: []Input{in(1, "b", 2), in(1, "d", 4)}, atEnd: true, at: t0.Add(time.Hour)})
	got := m.take(t0.Add(time.Hour), 3) // a, b, c
	m.unread(got[1:])                   // only a was applied
	again := m.take(t0.Add(time.Hour), 10)
	var ids []string
	for _, x := range again {
		ids = append(ids, x.Event.ID)
	}
	if strings.Join(ids, ",") != "b,c,d" {
		t.Errorf("after unread: %v, want b,c,d", ids)
	}
}
