package story

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// TestStoriesMixTopics checks the scheduler under a producer slower than
// the lanes (the flat-out bench): after a few seconds every 50 ms of events
// holds every topic, rather than the lanes moving through their stories in
// step (all paying, then all asking for refunds, ...), which would leave
// topics quiet for seconds.
func TestStoriesMixTopics(t *testing.T) {
	p := rules.DefaultPolicy()
	kinds := Kinds(10 * time.Second)
	if err := CountCommands(kinds, p, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	// 2,000 lanes could give 6,667 events/s; the producer takes 2,000.
	st := NewStories(kinds, "test", "", 2000, 300*time.Millisecond, start, rng)
	const tick, perTick = 10 * time.Millisecond, 20
	topics := []string{rules.TopicOrders, rules.TopicDeliveries, rules.TopicChats, rules.TopicRefundRequests}
	window := map[string]int{}
	for i := range 1000 { // 10 s
		now := start.Add(time.Duration(i) * tick)
		for range perTick {
			ev, ok := st.Next(now)
			if !ok {
				break // the lanes' staggered start
			}
			window[ev.Type.Topic()]++
		}
		if i%5 < 4 {
			continue
		}
		if i >= 300 { // from 3 s on
			for _, topic := range topics {
				if window[topic] == 0 {
					t.Fatalf("at %v: no %s event in 50 ms (%v)", now.Sub(start), topic, window)
				}
			}
		}
		clear(window)
	}
	cmds, _ := st.Stop()
	if cmds == 0 {
		t.Error("stories cut short owe no deadline commands")
	}
}

// TestStoryKinds checks that every story of the mix decodes, is never
// rejected, ends decided, and causes commands, cut short anywhere or told
// whole.
func TestStoryKinds(t *testing.T) {
	p := rules.DefaultPolicy()
	p.EvidenceWindow, p.ModificationWindow = 2*time.Second, 2*time.Second
	kinds := Kinds(p.EvidenceWindow)
	if err := CountCommands(kinds, p, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	withDeadline := 0
	for _, k := range kinds {
		total := k.DeadlineCmds
		for _, n := range k.eventCmds {
			total += n
		}
		if total == 0 && k.name != "accepted" && k.name != "withdrawn" {
			t.Errorf("story %s causes no command", k.name)
		}
		if k.DeadlineRulings > 0 {
			withDeadline++
		}
		if k.prefixDeadlineCmds[len(k.steps)] != k.DeadlineCmds {
			t.Errorf("story %s: whole-story deadline commands %d, prefix says %d", k.name, k.DeadlineCmds, k.prefixDeadlineCmds[len(k.steps)])
		}
	}
	if withDeadline < 3 {
		t.Errorf("%d stories end on a deadline, want at least 3", withDeadline)
	}
}
