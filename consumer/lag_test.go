package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/internal/testserver"
)

// TestStreamEqualsReplayLaggingTopics is the case of one upstream system's
// topic lagging another's: each round writes every story, topic by topic,
// each topic up to half the idle time after the first, into a processor that
// has idled at the end of every topic for longer than the idle time (so no
// topic's quiet time can excuse it). Live must still give replay's commands:
// a deadline never fires, and a later event is never applied, ahead of an
// earlier event still on its way. LAG_ROUNDS sets the rounds (default 4).
// Rounds, like live traffic, move forward in event time: a topic whose
// event times go back is not something the merge can wait for.
func TestStreamEqualsReplayLaggingTopics(t *testing.T) {
	rounds := 4
	if v := os.Getenv("LAG_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LAG_ROUNDS=%q: want a count", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))

	e := newEnv(t, 4)
	m := e.start(t, nil)
	testserver.WaitUntil(t, 20*time.Second, "the member owns every partition", func() bool { return len(m.k.Owned()) == 4 })

	ctx := context.Background()
	w := e.kafka.Writer()
	defer w.Close()
	all := scenarioLines(t)
	var lines [][]byte
	for round := range rounds {
		// Idle at the end of every topic for longer than the idle time.
		time.Sleep(testIdle + testIdle/2)
		// Each round is a new set of orders, later in time than the last:
		// event time moves forward on every topic, as it does live.
		var batch [][]byte
		for _, l := range all {
			l = bytes.ReplaceAll(l, []byte(`"subject":"`), []byte(fmt.Sprintf(`"subject":"r%d-`, round)))
			batch = append(batch, shiftTimes(l, time.Duration(round-rounds+1)*roundSpan))
		}
		st := replayLines(t, batch, time.Now())
		byTopic := make(map[string][]kafka.Message)
		for _, msg := range st.msgs {
			byTopic[msg.Topic] = append(byTopic[msg.Topic], msg)
		}
		lags := make(map[string]time.Duration)
		for topic := range byTopic {
			lags[topic] = time.Duration(rng.Int64N(int64(testIdle / 2)))
		}
		t.Logf("round %d: topic lags %v", round, lags)
		start := time.Now()
		var g errgroup.Group
		for topic, msgs := range byTopic {
			g.Go(func() error {
				time.Sleep(time.Until(start.Add(lags[topic])))
				return w.WriteMessages(ctx, e.kafka.Messages(msgs...)...)
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, batch...)
	}
	st := replayLines(t, lines, time.Now())
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)
}

// roundSpan is more than the stories' times span (March 1 to April 25), so
// rounds laid out back to back, the last at the stories' own dates, never
// overlap.
const roundSpan = 60 * 24 * time.Hour

var stamp = regexp.MustCompile(`20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z`)

// shiftTimes moves every time of an event line by d.
func shiftTimes(line []byte, d time.Duration) []byte {
	return stamp.ReplaceAllFunc(line, func(b []byte) []byte {
		t, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return b
		}
		return []byte(t.Add(d).Format(time.RFC3339Nano))
	})
}
