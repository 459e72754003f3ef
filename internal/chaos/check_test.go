package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"
)

// endOffsets returns the last offset of each input topic-partition: what
// every partition has to apply. It is read from Kafka rather than counted
// from what the producer wrote: a write retried after its answer was lost
// stores its messages twice.
func (c *chaos) endOffsets() map[string]map[int]int64 {
	c.t.Helper()
	out := make(map[string]map[int]int64)
	for _, t := range chaosTopics {
		out[t] = c.kafka.EndOffsets(context.Background(), c.t, t, chaosPartitions)
	}
	return out
}

// waitQuiet waits until every partition has applied every message up to
// the end offsets, every deadline due by notBefore has fired, the outboxes
// are empty and the streams have not grown for three seconds. It returns
// how long that took.
func (c *chaos) waitQuiet(want map[string]map[int]int64, notBefore time.Time) time.Duration {
	c.t.Helper()
	start := time.Now()
	js, err := jetstream.New(c.nc)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx := context.Background()
	var last uint64
	var stableSince time.Time
	var why string
	for {
		c.checkChildren()
		why = c.busy(ctx, want)
		n, err := chaosStreamMsgs(ctx, js)
		if err != nil && why == "" {
			why = err.Error()
		}
		if time.Now().Before(notBefore) && why == "" {
			why = "deadlines of the last events not due yet"
		}
		if why != "" || n != last {
			stableSince = time.Time{}
		} else if stableSince.IsZero() {
			stableSince = time.Now()
		}
		last = n
		if !stableSince.IsZero() && time.Since(stableSince) >= 3*time.Second {
			return time.Since(start)
		}
		if time.Since(start) > c.cfg.quietWithin {
			c.t.Errorf("not quiet %v after the load stopped: %s (streams hold %d)", c.cfg.quietWithin, why, n)
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// busy says what a partition still has to do, or "" when nothing.
func (c *chaos) busy(ctx context.Context, want map[string]map[int]int64) string {
	var why []string
	for p := range chaosPartitions {
		applied, err := c.rdb.HGetAll(ctx, state.Key(chaosPrefix, p, "offsets")).Result()
		if err != nil {
			return err.Error()
		}
		for _, topic := range chaosTopics {
			w := want[topic][p]
			if w < 0 {
				continue
			}
			got := int64(-1)
			if v, ok := applied[c.kafka.Topic(topic)]; ok {
				got, _ = strconv.ParseInt(v, 10, 64)
			}
			if got != w {
				why = append(why, fmt.Sprintf("partition %d applied %s up to %d of %d", p, topic, got, w))
			}
		}
		n, err := c.rdb.LLen(ctx, state.Key(chaosPrefix, p, "outbox")).Result()
		if err != nil {
			return err.Error()
		}
		if n > 0 {
			why = append(why, fmt.Sprintf("partition %d outbox holds %d", p, n))
		}
		due, err := c.rdb.ZCount(ctx, state.Key(chaosPrefix, p, "timers"), "-inf", strconv.FormatInt(time.Now().UnixMilli(), 10)).Result()
		if err != nil {
			return err.Error()
		}
		if due > 0 {
			why = append(why, fmt.Sprintf("partition %d has %d deadlines due", p, due))
		}
	}
	return strings.Join(why, "; ")
}

func chaosStreamMsgs(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var n uint64
	for _, name := range []string{"DISPUTES", "FINANCE"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		n += info.State.Msgs
	}
	return n, nil
}

func (c *chaos) published() []testserver.Msg {
	c.t.Helper()
	ctx := context.Background()
	msgs := testserver.Messages(ctx, c.t, c.nc, "DISPUTES")
	return append(msgs, testserver.Messages(ctx, c.t, c.nc, "FINANCE")...)
}

// compare asserts that the streams hold exactly replay's commands, byte for
// byte, each once, with Nats-Msg-Id = command_id. A difference is reported
// with the order's partition and the processes' log lines about the order.
func (c *chaos) compare(p *chaosProducer, ref chaosRef, got []testserver.Msg) {
	c.t.Helper()
	seen := make(map[string]int)
	var problems []string
	suspects := make(map[string]bool) // orders to explain
	for _, m := range got {
		seen[m.MsgID]++
		order := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if seen[m.MsgID] == 2 {
			problems = append(problems, fmt.Sprintf("command %s published twice (order %s, partition %d)", m.MsgID, order, consumer.PartitionOf(order, chaosPartitions)))
			suspects[order] = true
		}
		var body struct {
			CommandID string `json:"command_id"`
		}
		if err := json.Unmarshal(m.Data, &body); err != nil || body.CommandID != m.MsgID {
			problems = append(problems, fmt.Sprintf("message %s: Nats-Msg-Id is not command_id %q (%v)", m.MsgID, body.CommandID, err))
		}
		w, ok := ref.want[m.MsgID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("command %s is not replay's (order %s, partition %d): %s %s", m.MsgID, order, consumer.PartitionOf(order, chaosPartitions), m.Subject, m.Data))
			suspects[order] = true
		case w.Subject != m.Subject || !bytes.Equal(w.Data, m.Data):
			problems = append(problems, fmt.Sprintf("command %s differs from replay (order %s, partition %d):\n got %s %s\nwant %s %s", m.MsgID, order, consumer.PartitionOf(order, chaosPartitions), m.Subject, m.Data, w.Subject, w.Data))
			suspects[order] = true
		}
	}
	var missing []string
	for id, w := range ref.want {
		if seen[id] == 0 {
			order := w.Subject[strings.LastIndexByte(w.Subject, '.')+1:]
			missing = append(missing, fmt.Sprintf("%s (partition %d)", id, consumer.PartitionOf(order, chaosPartitions)))
			suspects[order] = true
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d commands of replay never published: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(problems) == 0 {
		return
	}
	const most = 40
	if len(problems) > most {
		problems = append(problems[:most], fmt.Sprintf("... and %d more", len(problems)-most))
	}
	c.t.Errorf("JetStream differs from replay:\n%s", strings.Join(problems, "\n"))
	orders := slices.Sorted(func(yield func(string) bool) {
		for o := range suspects {
			if !yield(o) {
				return
			}
		}
	})
	if len(orders) > 5 {
		orders = orders[:5]
	}
	for _, o := range orders {
		c.t.Logf("order %s (partition %d): events produced:\n%s", o, consumer.PartitionOf(o, chaosPartitions), strings.Join(p.eventsOf(o), "\n"))
		c.t.Logf("order %s: replay's commands:\n%s", o, strings.Join(ref.byOrder[o], "\n"))
		var lines []string
		for _, ch := range c.procs {
			for l := range strings.SplitSeq(ch.log.String(), "\n") {
				if strings.Contains(l, o) {
					lines = append(lines, ch.name+": "+l)
				}
			}
		}
		c.t.Logf("order %s: log lines naming it:\n%s", o, strings.Join(lines, "\n"))
	}
}

// checkMoney asserts that every final ruling splits the order amount, and
// that its transfers pay exactly the split.
func (c *chaos) checkMoney(got []testserver.Msg) {
	c.t.Helper()
	type ruling struct {
		RulingID       string `json:"ruling_id"`
		Outcome        string `json:"outcome"`
		RefundAmount   int64  `json:"refund_amount"`
		ProviderAmount int64  `json:"provider_amount"`
		Amount         int64  `json:"amount"`
	}
	type transfer struct {
		CommandID string `json:"command_id"`
		RulingID  string `json:"ruling_id"`
		To        string `json:"to"`
		Amount    int64  `json:"amount"`
	}
	rulings := make(map[string]ruling)
	paid := make(map[string]map[string]int64) // ruling -> party -> amount
	for _, m := range got {
		switch {
		case strings.HasPrefix(m.Subject, rules.SubjectRuling+"."):
			var r ruling
			if err := json.Unmarshal(m.Data, &r); err != nil {
				c.t.Errorf("ruling %s: %v", m.MsgID, err)
				continue
			}
			rulings[r.RulingID] = r
		case strings.HasPrefix(m.Subject, rules.SubjectTransfer+"."):
			var tr transfer
			if err := json.Unmarshal(m.Data, &tr); err != nil {
				c.t.Errorf("transfer %s: %v", m.MsgID, err)
				continue
			}
			if tr.Amount <= 0 {
				c.t.Errorf("transfer %s moves %d", tr.CommandID, tr.Amount)
			}
			if paid[tr.RulingID] == nil {
				paid[tr.RulingID] = make(map[string]int64)
			}
			paid[tr.RulingID][tr.To] += tr.Amount
		}
	}
	for id, r := range rulings {
		p := paid[id]
		if r.Outcome == string(rules.Escalated) {
			if r.RefundAmount != 0 || r.ProviderAmount != 0 || len(p) > 0 {
				c.t.Errorf("escalated ruling %s moves money: refund %d, provider %d, transfers %v", id, r.RefundAmount, r.ProviderAmount, p)
			}
			continue
		}
		if r.RefundAmount < 0 || r.ProviderAmount < 0 || r.RefundAmount+r.ProviderAmount != r.Amount {
			c.t.Errorf("ruling %s: refund %d + provider %d != amount %d", id, r.RefundAmount, r.ProviderAmount, r.Amount)
		}
		if p["customer"] != r.RefundAmount || p["provider"] != r.ProviderAmount || p["customer"]+p["provider"] != r.Amount {
			c.t.Errorf("ruling %s (refund %d, provider %d of %d): transfers %v do not pay it", id, r.RefundAmount, r.ProviderAmount, r.Amount, p)
		}
	}
	for id := range paid {
		if _, ok := rulings[id]; !ok {
			c.t.Errorf("transfers %v of ruling %s, which was never published", paid[id], id)
		}
	}
}

// checkDeadLetters asserts that the dead-letter topic holds each malformed
// message (a crash may write one twice: the source headers tell) and no
// other. It returns the number of distinct letters.
func (c *chaos) checkDeadLetters(ref chaosRef, letters []kafka.Message) int {
	c.t.Helper()
	distinct := make(map[string]string) // source -> value
	for _, l := range letters {
		h := make(map[string]string)
		for _, x := range l.Headers {
			h[x.Key] = string(x.Value)
		}
		src := h[consumer.HeaderSourceTopic] + "/" + h[consumer.HeaderSourcePartition] + "@" + h[consumer.HeaderSourceOffset]
		if v, ok := distinct[src]; ok && v != string(l.Value) {
			c.t.Errorf("two different dead letters from %s", src)
		}
		distinct[src] = string(l.Value)
		if !ref.badValues[string(l.Value)] {
			c.t.Errorf("dead letter from %s is not a malformed message: %s (%s)", src, l.Value, h[consumer.HeaderError])
		}
	}
	values := make(map[string]bool)
	for _, v := range distinct {
		values[v] = true
	}
	for v := range ref.badValues {
		if !values[v] {
			c.t.Errorf("malformed message never dead-lettered: %s", v)
		}
	}
	return len(distinct)
}

// chaosRef is what replay makes of the produced events.
type chaosRef struct {
	want      map[string]testserver.Msg // by command ID
	byOrder   map[string][]string       // command IDs by order, for reports
	bad       int                       // messages that must be dead-lettered
	badValues map[string]bool
}

// chaosReference replays the produced events, sorted stably by event time and
// topic as the processor's merge orders them, then fires every deadline due
// by end.
func chaosReference(t *testing.T, records []chaosRecord, end time.Time) chaosRef {
	t.Helper()
	recs := slices.Clone(records)
	slices.SortStableFunc(recs, func(a, b chaosRecord) int {
		if c := a.stamp.Compare(b.stamp); c != 0 {
			return c
		}
		return a.topic - b.topic
	})
	ref := chaosRef{want: make(map[string]testserver.Msg), byOrder: make(map[string][]string), badValues: make(map[string]bool)}
	r := rules.NewReplay(rules.Policy{RuleSet: rules.RuleSet2018, EvidenceWindow: chaosEvidence, ModificationWindow: chaosModify})
	keep := func(cmds []rules.Command) {
		for _, cmd := range cmds {
			data, err := cmd.Data()
			if err != nil {
				t.Fatal(err)
			}
			ref.want[cmd.ID] = testserver.Msg{Subject: cmd.Subject, MsgID: cmd.ID, Data: data}
			order := cmd.Subject[strings.LastIndexByte(cmd.Subject, '.')+1:]
			ref.byOrder[order] = append(ref.byOrder[order], cmd.Subject+" "+cmd.ID)
		}
	}
	orders := make(map[string]bool)
	for _, rec := range recs {
		if rec.streamBad {
			// Malformed, or refused by what only the stream checks (the
			// key, the clock): dead-lettered, never replayed.
			ref.bad++
			ref.badValues[string(rec.msg.Value)] = true
			continue
		}
		e, err := rules.Decode(rec.msg.Value)
		if err != nil {
			t.Fatalf("produced event does not decode: %v: %s", err, rec.msg.Value)
		}
		orders[e.OrderID] = true
		cmds, err := r.Apply(e)
		keep(cmds)
		if err != nil {
			if !errors.Is(err, rules.ErrInvalidEvent) {
				t.Fatalf("replay %s: %v", rec.msg.Value, err)
			}
			ref.bad++
			ref.badValues[string(rec.msg.Value)] = true
		}
	}
	cmds, err := r.Advance(end)
	if err != nil {
		t.Fatal(err)
	}
	keep(cmds)
	// The run waited for every deadline: none may still be running.
	for o := range orders {
		for _, tm := range r.State(o).Timers {
			if !tm.Paused && tm.At.After(end) {
				t.Errorf("order %s: deadline %s at %v is still to come after the run: the stories end too late", o, tm.ID, tm.At)
			}
		}
	}
	return ref
}
