package demo

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/disputed/disputed/rules"
)

// TestStories replays the embedded stories offline with the demo's policy:
// each must end with one final ruling, as the demo waits for.
func TestStories(t *testing.T) {
	stories, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	p := rules.DefaultPolicy()
	p.EvidenceWindow, p.ModificationWindow = 3*time.Second, 3*time.Second
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := rules.NewReplay(p)
	var cmds []rules.Command
	for _, e := range timeline(stories) {
		b, err := e.stamp(start)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rules.Decode(b)
		if err != nil {
			t.Fatalf("%s of %s: %v", e.typ, e.order, err)
		}
		cs, err := r.Apply(ev)
		if err != nil {
			t.Fatalf("%s of %s: %v", e.typ, e.order, err)
		}
		cmds = append(cmds, cs...)
	}
	cs, err := r.Advance(start.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cmds = append(cmds, cs...)
	final := make(map[string]int)
	for _, c := range cmds {
		if rl, ok := c.Body.(*rules.Ruling); ok && rl.Outcome != rules.Escalated {
			final[rl.OrderID]++
		}
	}
	for _, s := range stories {
		if final[s.order] != 1 {
			t.Errorf("%s (%s): %d final rulings, want 1", s.order, s.title, final[s.order])
		}
	}
}

func TestParseStory(t *testing.T) {
	fsys := fstest.MapFS{
		"stories/bad.jsonl": {Data: []byte("# t\n" + `{"type":"order.paid","time":"yesterday","subject":"o"}` + "\n")},
	}
	if _, err := load(fsys); err == nil || !strings.Contains(err.Error(), `time "yesterday"`) {
		t.Errorf("load = %v, want an error about the time offset", err)
	}
}
