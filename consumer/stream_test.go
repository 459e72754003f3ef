package consumer_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
)

// TestStreamEqualsReplay sends every scenario through Kafka and expects on
// JetStream exactly the commands `disputed replay` gives, with the same IDs
// and bodies; malformed lines land in the dead-letter topic.
func TestStreamEqualsReplay(t *testing.T) {
	e := newEnv(t, 4)
	st := loadScenarios(t)
	// The processor catches up on a backlog, as after an outage: every
	// topic holds its events before the first fetch, so the event-time
	// merge sees them all (a topic read to its end counts as the wall
	// clock, which would let a later topic's events overtake it).
	e.kafka.Produce(context.Background(), t, st.msgs...)
	e.start(t, nil)
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)
	letters := e.kafka.ReadAll(context.Background(), t, dlqTopic, 4)
	if len(letters) != st.bad {
		t.Errorf("dead letters = %d, want %d", len(letters), st.bad)
	}
}

// TestCrashAtEveryStep kills the processor at each step boundary, starts a
// new one, and expects the same commands as replay, none twice.
func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"after-save", "before-publish", "after-publish", "before-commit"} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t, 2)
			st := loadScenarios(t, "evidence_deadline_missed_assessed", "judicial_suspension", "settlement_during_negotiation", "modification_failed_assessed")
			f := &faults{step: step}
			e.kafka.Produce(context.Background(), t, st.msgs...)
			first := e.start(t, f)
			deadline := time.Now().Add(30 * time.Second)
			for !f.crashed.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !f.crashed.Load() {
				t.Fatalf("the processor never reached %s", step)
			}
			first.stop(t)
			e.start(t, nil)
			got := e.waitFor(t, len(st.want), 30*time.Second)
			checkSame(t, got, st.want)
		})
	}
}

// TestRebalanceMidStream starts a second member while the first is busy,
// then stops the first: every command comes out once.
func TestRebalanceMidStream(t *testing.T) {
	e := newEnv(t, 4)
	st := replayLines(t, copies(scenarioLines(t), 6), time.Now())
	e.kafka.Produce(context.Background(), t, st.msgs...)
	// Small batches keep the first member busy while the second joins.
	a := e.startBatch(t, nil, 5)
	testserver.WaitUntil(t, 10*time.Second, "the first member works", func() bool { return len(e.published(t)) > 0 })
	b := e.startBatch(t, nil, 5)
	testserver.WaitUntil(t, 10*time.Second, "both members own partitions", func() bool {
		return len(a.k.Owned()) > 0 && len(b.k.Owned()) > 0 && len(a.k.Owned())+len(b.k.Owned()) == 4
	})
	if n := len(e.published(t)); n >= len(st.want) {
		t.Fatalf("all %d commands were out before the rebalance; the test shows nothing", n)
	}
	a.stop(t)
	testserver.WaitUntil(t, 10*time.Second, "the second member owns every partition", func() bool { return len(b.k.Owned()) == 4 })
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)
}

// TestDeadLetters sends each malformed case of the contract and expects each
// in the dead-letter topic with its reason and source, and the good events
// around them processed.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t, 1)
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	ev := func(id, typ, subject, data string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test","type":%q,"time":%q,"subject":%q,"data":%s}`, id, typ, at, subject, data)
	}
	paid := `{"customer_id":"c","provider_id":"p","category":"other","amount":1000,"currency":"EUR"}`
	cases := []struct {
		name, key, value, reason string
		code                     string // "" is malformed
	}{
		{"bad JSON", "o1", `{"specversion":`, "malformed JSON", ""},
		{"missing field", "o1", ev("e2", "order.paid", "o1", `{"provider_id":"p","category":"other","amount":1000,"currency":"EUR"}`), "data.customer_id: missing", ""},
		{"wrong type", "o1", ev("e3", "order.paid", "o1", `{"customer_id":"c","provider_id":"p","category":"other","amount":"1000","currency":"EUR"}`), "data.amount", ""},
		{"unknown type", "o1", ev("e4", "order.shipped", "o1", `{}`), "unknown event type", ""},
		{"negative money", "o1", ev("e5", "settlement.agreed", "o1", `{"refund_amount":-5}`), "negative", ""},
		{"unknown order", "o9", ev("e6", "refund.requested", "o9", `{"reason":"quality"}`), "unknown order", rules.CodeUnknownOrder},
		{"future time", "o1", strings.Replace(ev("e7", "chat.message", "o1", `{"from":"customer","text":"hi"}`), at, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 1), "ahead of the clock", ""},
		{"key is not the subject", "o2", ev("e8", "chat.message", "o1", `{"from":"customer","text":"hi"}`), "message key", ""},
		{"oversized", "o1", ev("e11", "chat.message", "o1", `{"from":"customer","text":"`+strings.Repeat("x", 3<<19)+`"}`), "more than the 1048576 allowed", ""},
		// Over the 900 KiB letters were once cut at, under the topic's
		// limit: it goes whole.
		{"large", "o1", `{"specversion":"` + strings.Repeat("x", 950<<10), "malformed JSON", ""},
		// A key of about 1 MiB once stopped its partition for ever: the
		// letter was refused and only the value was ever cut.
		{"huge key", strings.Repeat("k", 1<<20+1000), ev("e12", "chat.message", "o1", `{"from":"customer","text":"hi"}`), "message key", ""},
		// v2: a topic's writer sends only its own types.
		{"misrouted", "o1", ev("e13", "chat.message", "o1", `{"from":"customer","text":"hi"}`), "belongs on topic", rules.CodeMisrouted},
	}
	var msgs []kafka.Message
	msgs = append(msgs, kafka.Message{Topic: topics.Orders, Key: []byte("o1"), Value: []byte(ev("e1", "order.paid", "o1", paid))})
	for _, c := range cases {
		msgs = append(msgs, kafka.Message{Topic: topics.RefundRequests, Key: []byte(c.key), Value: []byte(c.value)})
	}
	settle := ev("e9", "refund.requested", "o1", `{"reason":"quality"}`)
	agree := ev("e10", "settlement.agreed", "o1", `{"refund_amount":250}`)
	msgs = append(msgs,
		kafka.Message{Topic: topics.RefundRequests, Key: []byte("o1"), Value: []byte(settle)},
		kafka.Message{Topic: topics.RefundRequests, Key: []byte("o1"), Value: []byte(agree)})
	e.start(t, nil)
	e.kafka.Produce(context.Background(), t, msgs...)
	got := e.waitFor(t, 3, 30*time.Second) // the settled ruling and two transfers
	if len(got) != 3 {
		t.Errorf("published %d commands, want the settlement's 3", len(got))
	}
	letters := e.deadLetters(t, len(cases), "every dead letter arrives")
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := letters[i]
			h := headers(l)
			switch {
			case len(c.value) > 1<<20:
				// Too large for the dead-letter topic to keep whole: its first 64 KiB and its size.
				if string(l.Value) != c.value[:64<<10] || h[consumer.HeaderOriginalSize] != fmt.Sprint(len(c.value)) {
					t.Errorf("oversized dead letter: %d bytes, original size header %q; want the first 65536 bytes and %d",
						len(l.Value), h[consumer.HeaderOriginalSize], len(c.value))
				}
			case len(c.key) > 1024:
				// Its value whole, its key's first KiB and its size.
				if string(l.Value) != c.value || string(l.Key) != c.key[:1024] || h[consumer.HeaderOriginalKeySize] != fmt.Sprint(len(c.key)) {
					t.Errorf("huge-key dead letter: key of %d bytes, original key size header %q", len(l.Key), h[consumer.HeaderOriginalKeySize])
				}
			case string(l.Value) != c.value || string(l.Key) != c.key:
				t.Errorf("dead letter is not the original message: key %q value %s", l.Key, l.Value)
			}
			if !strings.Contains(h[consumer.HeaderError], c.reason) {
				t.Errorf("reason %q does not say %q", h[consumer.HeaderError], c.reason)
			}
			if want := cmp.Or(c.code, rules.CodeMalformed); h[consumer.HeaderCode] != want {
				t.Errorf("code %q, want %q", h[consumer.HeaderCode], want)
			}
			if h[consumer.HeaderSourceTopic] != e.topics.RefundRequests || h[consumer.HeaderSourcePartition] != "0" || h[consumer.HeaderSourceOffset] != fmt.Sprint(i) {
				t.Errorf("source headers = %v, want %s/0@%d", h, e.topics.RefundRequests, i)
			}
		})
	}
}

func headers(m kafka.Message) map[string]string {
	h := make(map[string]string)
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// TestDeadlineFiresAfterRestart stops the processor before a deadline is
// due and starts another after: the deadline fires once, soon after.
func TestDeadlineFiresAfterRestart(t *testing.T) {
	e := newEnv(t, 1)
	now := time.Now().UTC()
	due := now.Add(3 * time.Second)
	ev := func(id, typ string, at time.Time, data string) kafka.Message {
		return testevent.Message(id, "test", rules.Type(typ), at, "o1", data)
	}
	e.kafka.Produce(context.Background(), t,
		ev("e1", "order.paid", now.Add(-time.Minute), fmt.Sprintf(`{"customer_id":"c","provider_id":"p","category":"other","amount":500,"currency":"EUR","delivery_due":%q}`, due.Format(time.RFC3339Nano))),
		ev("e2", "refund.requested", now.Add(-50*time.Second), `{"reason":"not_delivered"}`),
		ev("e3", "intervention.requested", now.Add(-40*time.Second), `{"by":"customer"}`),
	)
	first := e.start(t, nil)
	got := e.waitFor(t, 1, 10*time.Second) // the evidence_requested notice
	if len(got) != 1 {
		t.Fatalf("before the deadline: %d commands, want the evidence notice", len(got))
	}
	first.stop(t)
	time.Sleep(time.Until(due) + 500*time.Millisecond)
	if n := len(e.published(t)); n != 1 {
		t.Fatalf("with no processor running, %d commands appeared", n)
	}
	reg := prometheus.NewRegistry()
	e.startWith(t, options{reg: reg})
	// The delivery deadline: a notice and the ruling with its transfer.
	got = e.waitFor(t, 4, 10*time.Second)
	kinds := map[string]int{}
	for _, m := range got {
		kinds[m.Subject]++
	}
	want := map[string]int{"disputes.notice.o1": 2, "disputes.ruling.o1": 1, "finance.transfer.o1": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("published %v, want %v", kinds, want)
	}
	if n := gathered(t, reg, "disputed_deadline_lateness_seconds"); n != 1 {
		t.Errorf("lateness observed %v times, want once", n)
	}
}

// gathered sums a metric family's values (a histogram's sample counts).
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return gatheredWith(t, reg, name, "", "")
}

// gatheredWith sums the values of a metric family's series that have the
// label value; with label "", of every series.
func gatheredWith(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == label && l.GetValue() == value
			}) {
				continue
			}
			switch {
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

// TestRedisRestartMidStream kills Redis (append-only file on) while the
// processor works and starts it again: nothing is lost or doubled.
func TestRedisRestartMidStream(t *testing.T) {
	e := newEnv(t, 2)
	st := replayLines(t, copies(scenarioLines(t), 3), time.Now())
	e.kafka.Produce(context.Background(), t, st.msgs...)
	e.startBatch(t, nil, 5)
	testserver.WaitUntil(t, 10*time.Second, "the processor works", func() bool { return len(e.published(t)) > 0 })
	e.redis.Kill()
	time.Sleep(300 * time.Millisecond)
	e.redis.Restart()
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)
}

// TestNATSOutage stops NATS: the processor goes on deciding, the outbox
// grows (as its metric shows), and once NATS is back every command is
// published once.
func TestNATSOutage(t *testing.T) {
	e := newEnv(t, 1)
	st := loadScenarios(t)
	e.nats.Shutdown()
	reg := prometheus.NewRegistry()
	e.startWith(t, options{reg: reg})
	e.kafka.Produce(context.Background(), t, st.msgs...)
	testserver.WaitUntil(t, 30*time.Second, "the outbox holds every command", func() bool {
		return gathered(t, reg, "disputed_outbox_depth") >= float64(len(st.want))
	})
	e.nats.Restart()
	got := e.waitFor(t, len(st.want), 60*time.Second)
	checkSame(t, got, st.want)
	testserver.WaitUntil(t, 10*time.Second, "the outbox drains", func() bool { return gathered(t, reg, "disputed_outbox_depth") == 0 })
}

// TestLiveCrossTopicOrder writes, while the processor idles at the end of
// every topic, each order's order.paid and, right after its ack, its
// refund request and settlement on another topic: none may overtake the
// payment (and be dead-lettered as for an unknown order).
func TestLiveCrossTopicOrder(t *testing.T) {
	e := newEnv(t, 2)
	e.start(t, nil)
	time.Sleep(500 * time.Millisecond) // every topic read to its end
	ctx := context.Background()
	w := e.kafka.Writer()
	defer w.Close()
	var (
		mu    sync.Mutex
		lines [][]byte
		g     errgroup.Group
	)
	// Four writers at once keep both cores busy, which is when a fetch
	// result can lag behind a write to another topic.
	for n := range 4 {
		g.Go(func() error {
			for i := range 100 {
				story, err := liveStory(ctx, e.kafka, w, fmt.Sprintf("x%d-%d", n, i))
				if err != nil {
					return err
				}
				mu.Lock()
				lines = append(lines, story...)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	st := replayLines(t, lines, time.Now())
	got := e.waitFor(t, len(st.want), 30*time.Second)
	checkSame(t, got, st.want)
	if letters := e.kafka.ReadAll(ctx, t, dlqTopic, 2); len(letters) != 0 {
		t.Errorf("%d events dead-lettered, e.g. %s", len(letters), headers(letters[0])[consumer.HeaderError])
	}
}

// liveStory writes an order's payment, then, once Kafka has it, its refund
// request and settlement, stamped with the wall clock.
func liveStory(ctx context.Context, k *testserver.Kafka, w *kafka.Writer, order string) ([][]byte, error) {
	ev := func(id, typ, data string) []byte {
		return testevent.JSON(id, "test", rules.Type(typ), time.Now(), order, data)
	}
	paid := ev(order+"-1", "order.paid", `{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR"}`)
	if err := w.WriteMessages(ctx, k.Messages(kafka.Message{Topic: topics.Orders, Key: []byte(order), Value: paid})...); err != nil {
		return nil, err
	}
	refund := ev(order+"-2", "refund.requested", `{"reason":"quality"}`)
	settle := ev(order+"-3", "settlement.agreed", `{"refund_amount":40}`)
	err := w.WriteMessages(ctx, k.Messages(
		kafka.Message{Topic: topics.RefundRequests, Key: []byte(order), Value: refund},
		kafka.Message{Topic: topics.RefundRequests, Key: []byte(order), Value: settle})...)
	return [][]byte{paid, refund, settle}, err
}

// TestDeadLetterWrittenOnce fails the save of a batch with a malformed
// message three times: the batch is retried, and the letter is written
// once, not once per attempt.
func TestDeadLetterWrittenOnce(t *testing.T) {
	e := newEnv(t, 1)
	f := &faults{failSaves: 3}
	e.start(t, f)
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
	paid := fmt.Sprintf(`{"specversion":"1.0","id":"p","source":"t","type":"order.paid","time":%q,"subject":"o1","data":{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR"}}`, at)
	e.kafka.Produce(context.Background(), t,
		kafka.Message{Topic: topics.Orders, Key: []byte("o1"), Value: []byte(paid)},
		kafka.Message{Topic: topics.Orders, Key: []byte("o1"), Value: []byte(`{"specversion":"1.0"`)})
	testserver.WaitUntil(t, 20*time.Second, "the batch is saved after the failures", func() bool { return f.saveFailures.Load() == 3 && f.saved.Load() })
	time.Sleep(500 * time.Millisecond)
	if letters := e.kafka.ReadAll(context.Background(), t, dlqTopic, 1); len(letters) != 1 {
		t.Errorf("%d dead letters after 3 failed saves and a good one, want 1", len(letters))
	}
}

// TestChatFloodDecidesNothing floods an order under review with the
// customer's chat messages through Kafka; the provider's evidence that
// follows still decides it, and the customer is not refunded.
func TestChatFloodDecidesNothing(t *testing.T) {
	e := newEnv(t, 1)
	e.start(t, nil)
	base := time.Now().UTC().Add(-time.Hour)
	ev := func(id, typ string, at time.Time, data string) kafka.Message {
		return testevent.Message(id, "t", rules.Type(typ), at, "o1", data)
	}
	msgs := []kafka.Message{
		ev("p", "order.paid", base, `{"customer_id":"c","provider_id":"s","category":"software_app","amount":5000,"currency":"EUR"}`),
		ev("r", "refund.requested", base.Add(time.Minute), `{"reason":"not_delivered"}`),
		ev("i", "intervention.requested", base.Add(2*time.Minute), `{"by":"customer"}`),
	}
	for i := range 1000 {
		msgs = append(msgs, ev(fmt.Sprintf("c%d", i), "chat.message", base.Add(3*time.Minute), `{"from":"customer","text":"spam"}`))
	}
	msgs = append(msgs, ev("ev", "evidence.submitted", base.Add(4*time.Minute), `{"party":"provider","kind":"valid","note":"delivery records"}`))
	e.kafka.Produce(context.Background(), t, msgs...)
	var rulings []string
	testserver.WaitUntil(t, 30*time.Second, "the ruling", func() bool {
		rulings = nil
		for _, m := range e.published(t) {
			if strings.HasPrefix(m.Subject, rules.SubjectRuling) {
				rulings = append(rulings, string(m.Data))
			}
		}
		return len(rulings) > 0
	})
	if len(rulings) != 1 || !strings.Contains(rulings[0], `"outcome":"release"`) {
		t.Errorf("rulings after 1000 chats and the provider's evidence: %v, want one release", rulings)
	}
}
