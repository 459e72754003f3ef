package consumer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// The Redis-loss tests: Redis comes back without its last acknowledged
// writes (restored from a snapshot, as after a failover to a lagging replica
// or a restore from backup) while the processor runs, or while it is down.
//
// The load is built to be hurt by such a loss. Orders go into their evidence
// phase (the provider must prove delivery within 72 hours of event time);
// Redis is snapshot; the providers' evidence comes, and each order is
// released to its provider; Redis is restored to the snapshot, which has the
// orders back in their evidence phase without the evidence; then later
// events move event time past the evidence deadlines. A processor that
// builds on the restored state without reading the evidence again lets the
// deadlines fire and refunds the customers too: paid twice, as the review of
// the money-safety issue found. disputed must detect the loss, read the
// evidence again, and pay each order once.

const lossOrders = 60

// lossWindow is the evidence window of the loss tests: the deadlines fall
// due, by the wall clock, while the test runs.
const lossWindow = 8 * time.Second

func lossPolicy() rules.Policy {
	p := rules.DefaultPolicy()
	p.EvidenceWindow = lossWindow
	return p
}

func lossEvent(order, id string, typ rules.Type, at time.Time, data string) kafka.Message {
	return testevent.Message(id, "test", typ, at, order, data)
}

// The three waves of the load, stamped when they are produced: into the
// evidence phase; the evidence; a chat after the deadlines.
func lossIntoEvidence(now time.Time) []kafka.Message {
	var out []kafka.Message
	for i := range lossOrders {
		o := fmt.Sprintf("loss-%03d", i)
		out = append(out,
			lossEvent(o, o+"-1", rules.TypeOrderPaid, now.Add(-3*time.Second), `{"customer_id":"mer-1","provider_id":"sp-1","category":"software_app","amount":10000,"currency":"CNY"}`),
			lossEvent(o, o+"-2", rules.TypeRefundRequested, now.Add(-2*time.Second), `{"reason":"not_delivered"}`),
			lossEvent(o, o+"-3", rules.TypeInterventionRequested, now.Add(-time.Second), `{"by":"customer"}`))
	}
	return out
}

func lossWave(now time.Time, n int, typ rules.Type, data string) []kafka.Message {
	var out []kafka.Message
	for i := range lossOrders {
		o := fmt.Sprintf("loss-%03d", i)
		out = append(out, lossEvent(o, fmt.Sprintf("%s-%d", o, n), typ, now, data))
	}
	return out
}

// money checks what JetStream holds: per order at most one final ruling,
// and transfers that pay exactly it. It returns the orders paid twice.
func money(t *testing.T, got []testserver.Msg) (paidTwice []string) {
	t.Helper()
	type body struct {
		OrderID        string        `json:"order_id"`
		RulingID       string        `json:"ruling_id"`
		Outcome        rules.Outcome `json:"outcome"`
		RefundAmount   int64         `json:"refund_amount"`
		ProviderAmount int64         `json:"provider_amount"`
		Amount         int64         `json:"amount"`
		To             rules.Party   `json:"to"`
	}
	final := map[string][]body{}
	paid := map[string]int64{}
	for _, m := range got {
		var b body
		if err := json.Unmarshal(m.Data, &b); err != nil {
			t.Fatalf("%s: %v", m.MsgID, err)
		}
		switch {
		case strings.HasPrefix(m.Subject, rules.SubjectRuling+".") && b.Outcome.Final():
			final[b.OrderID] = append(final[b.OrderID], b)
		case strings.HasPrefix(m.Subject, rules.SubjectTransfer+"."):
			paid[b.OrderID] += b.Amount
		}
	}
	for order, rs := range final {
		if len(rs) > 1 || paid[order] > rs[0].RefundAmount+rs[0].ProviderAmount {
			paidTwice = append(paidTwice, fmt.Sprintf("%s (%d final rulings, %d paid)", order, len(rs), paid[order]))
		}
	}
	return paidTwice
}

// lossRun runs the load with Redis restored to a snapshot between the
// evidence and the later events; restart stops the processor around the
// restore (the restarted-worker case), otherwise it runs through it.
func lossRun(t *testing.T, restart bool, defences options) (got []testserver.Msg, want story, reg *prometheus.Registry, e *env) {
	t.Helper()
	e = newEnv(t, 2)
	policy := lossPolicy()
	reg = prometheus.NewRegistry()
	o := defences
	o.reg, o.policy = reg, &policy
	m := e.startWith(t, o)
	testserver.WaitUntil(t, 20*time.Second, "the member joins", func() bool { return len(m.k.Owned()) == 2 })
	ctx := context.Background()
	var produced []kafka.Message

	// Into the evidence phase: the notices come out.
	start := time.Now().UTC()
	wave := lossIntoEvidence(start)
	e.kafka.Produce(ctx, t, wave...)
	produced = append(produced, wave...)
	e.waitFor(t, lossOrders, 20*time.Second)
	e.redis.Snapshot()
	// The evidence: every order released to its provider.
	wave = lossWave(time.Now().UTC(), 4, rules.TypeEvidenceSubmitted, `{"party":"provider","kind":"valid","note":"delivery records"}`)
	e.kafka.Produce(ctx, t, wave...)
	produced = append(produced, wave...)
	if got := e.waitFor(t, 3*lossOrders, 20*time.Second); len(got) != 3*lossOrders {
		t.Fatalf("%d commands before the loss, want %d (notices, releases, transfers)", len(got), 3*lossOrders)
	}
	if restart {
		m.stop(t)
	}
	e.redis.RestoreSnapshot() // Redis is back in the evidence phase, deadlines armed
	if restart {
		reg = prometheus.NewRegistry() // the new member's metrics
		o.reg = reg
		e.startWith(t, o)
	}
	// After the deadlines, by the wall clock and by event time.
	time.Sleep(time.Until(start.Add(lossWindow + testIdle)))
	wave = lossWave(time.Now().UTC(), 5, rules.TypeChatMessage, `{"from":"customer","text":"still waiting"}`)
	e.kafka.Produce(ctx, t, wave...)
	produced = append(produced, wave...)

	var lines [][]byte
	for _, msg := range produced {
		lines = append(lines, msg.Value)
	}
	want = replayWith(t, lines, time.Now(), policy)
	e.waitFor(t, len(want.want), 20*time.Second)
	time.Sleep(2 * testIdle) // what would come late has come
	return e.published(t), want, reg, e
}

// TestRedisLosesWritesWhileRunning restores Redis to an older snapshot
// under a running processor: the next save finds an older mark, the session
// reads the lost events again, and every order is paid once, by exactly
// replay's commands.
func TestRedisLosesWritesWhileRunning(t *testing.T) {
	got, want, reg, _ := lossRun(t, false, options{})
	if twice := money(t, got); len(twice) > 0 {
		t.Errorf("%d orders paid twice: %v", len(twice), twice)
	}
	checkSame(t, got, want.want)
	if n := gatheredWith(t, reg, "disputed_store_conflicts_total", "cause", "lost_writes"); n < 1 {
		t.Errorf("lost writes detected %v times, want at least once", n)
	}
	if n := gathered(t, reg, "disputed_held_commands"); n != 0 {
		t.Errorf("%v commands held", n)
	}
}

// TestRedisLosesWritesWhileStopped restores Redis while no processor runs:
// the next one finds Redis behind the committed offsets and reads the lost
// events again.
func TestRedisLosesWritesWhileStopped(t *testing.T) {
	got, want, reg, _ := lossRun(t, true, options{})
	if twice := money(t, got); len(twice) > 0 {
		t.Errorf("%d orders paid twice: %v", len(twice), twice)
	}
	checkSame(t, got, want.want)
	if n := gathered(t, reg, "disputed_store_behind_commits_total"); n < 1 {
		t.Errorf("Redis behind the commits detected %v times, want at least once", n)
	}
}

// TestRedisLossWithoutDefencesPaysTwice is the negative control: with the
// compare-and-set and the guard switched off, the same run pays orders
// twice, as disputed did before. It shows the checks above can fail.
func TestRedisLossWithoutDefencesPaysTwice(t *testing.T) {
	got, _, _, _ := lossRun(t, false, options{blind: true, unguarded: true})
	twice := money(t, got)
	if len(twice) == 0 {
		t.Fatal("without the defences no order was paid twice: the loss tests show nothing")
	}
	t.Logf("without the defences %d of %d orders were paid twice, e.g. %s", len(twice), lossOrders, twice[0])
}

// TestGuardHoldsWhatALossDecidesAgain switches the compare-and-set off and
// keeps the guard: the processor builds on the restored state and decides
// the orders again, refunding the customers, and JetStream itself refuses
// those second rulings and their transfers. They are held, counted and
// readable, the partitions go on, and no order is paid twice.
func TestGuardHoldsWhatALossDecidesAgain(t *testing.T) {
	got, _, reg, e := lossRun(t, false, options{blind: true})
	if twice := money(t, got); len(twice) > 0 {
		t.Errorf("%d orders paid twice despite the guard: %v", len(twice), twice)
	}
	held := gathered(t, reg, "disputed_held_commands")
	refused := gathered(t, reg, "disputed_guard_refusals_total")
	if held == 0 || held != refused {
		t.Fatalf("held %v, refused %v: want the refused second rulings and their transfers held", held, refused)
	}
	st := state.NewRedis(e.redis.Client(), state.Config{Prefix: e.prefix})
	var n int
	for p := range 2 {
		for i := range lossOrders {
			h, err := st.Held(context.Background(), fmt.Sprintf("loss-%03d", i), p)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range h {
				if !strings.Contains(c.Reason, "already has its final ruling on record") && !strings.Contains(c.Reason, "not paid") {
					t.Errorf("held %s: %s", c.CommandID, c.Reason)
				}
			}
			n += len(h)
		}
	}
	if float64(n) != held {
		t.Errorf("the store holds %d commands, the gauge says %v", n, held)
	}
	t.Logf("the guard held %d commands (second rulings and their transfers)", n)
	if depth := gathered(t, reg, "disputed_outbox_depth"); depth != 0 {
		t.Errorf("outbox depth %v: a held command must not stall its partition", depth)
	}
}

// TestRedisFailoverToReplica kills the Redis primary under load and
// promotes one of its two replicas, which the other then follows; a proxy,
// as a Service would, sends the processor to the new primary. With
// durability replicas every save waited for the replica, so nothing
// acknowledged is lost; with fsync the replica may lag and lose the last
// batches, which are detected and read again. Either way
// JetStream ends with exactly replay's commands, each once.
func TestRedisFailoverToReplica(t *testing.T) {
	for _, mode := range []string{state.DurabilityReplicas, state.DurabilityFsync} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, 2)
			replica := testserver.StartRedisReplica(t, e.redis)
			second := testserver.StartRedisReplica(t, e.redis)
			proxy := testserver.StartProxy(t, e.redis.Addr)
			reg := prometheus.NewRegistry()
			e.startWith(t, options{reg: reg, maxBatch: 5, redisAddr: proxy.Addr,
				durability: state.Durability{Mode: mode, Replicas: 1, Timeout: 200 * time.Millisecond}})
			st := replayLines(t, copies(scenarioLines(t), 3), time.Now())
			e.kafka.Produce(context.Background(), t, st.msgs...)
			testserver.WaitUntil(t, 20*time.Second, "the processor works", func() bool { return len(e.published(t)) > 20 })
			e.redis.Kill()
			replica.Promote()
			second.ReplicaOf(replica)
			proxy.Switch(replica.Addr)
			got := e.waitFor(t, len(st.want), 60*time.Second)
			checkSame(t, got, st.want)
			if twice := money(t, got); len(twice) > 0 {
				t.Errorf("paid twice: %v", twice)
			}
			if n := gathered(t, reg, "disputed_held_commands"); n != 0 {
				t.Errorf("%v commands held", n)
			}
			t.Logf("%s: lost writes detected %v times", mode, gatheredWith(t, reg, "disputed_store_conflicts_total", "cause", "lost_writes"))
		})
	}
}
