package consumer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// The relay's unit tests: the in-memory outbox and stream of fakes_test.go;
// the ones with the relay's ticker run in a synctest bubble.

// notices returns n commands as an outbox returns them, bodies encoded.
func notices(n int) []rules.Command {
	cmds := make([]rules.Command, n)
	for i := range cmds {
		id := fmt.Sprintf("o%d/event:e%d/notice", i, i)
		c, err := rules.ReadCommand(id, rules.SubjectNotice+fmt.Sprintf(".o%d", i), fmt.Appendf(nil, `{"command_id":%q,"order_id":"o%d"}`, id, i))
		if err != nil {
			panic(err)
		}
		cmds[i] = c
	}
	return cmds
}

func commandIDs(cmds []rules.Command) []string {
	ids := make([]string, len(cmds))
	for i, c := range cmds {
		ids[i] = c.ID
	}
	return ids
}

type relayFixture struct {
	store  *memStore
	stream *memStream
	reg    *prometheus.Registry
	relay  *Relay
}

func newRelayFixture(cfg Config) *relayFixture {
	f := &relayFixture{store: newMemStore(), stream: newMemStream(), reg: prometheus.NewRegistry()}
	f.relay = NewRelay(cfg, f.store, f.stream, NewMetrics(f.reg), nil)
	return f
}

// TestRelayPublishFailsHalfWay: when a flush fails after some of the
// outbox was published and acknowledged, the outbox keeps exactly the
// commands not acknowledged, and the next flush publishes those, so that
// the stream holds every command once, under its command ID.
func TestRelayPublishFailsHalfWay(t *testing.T) {
	ctx := context.Background()
	t.Run("between two runs", func(t *testing.T) {
		f := newRelayFixture(Config{})
		cmds := notices(outboxRun + 44)
		ids := commandIDs(cmds)
		f.store.appendOutbox(0, cmds...)
		// The first run goes out; the second fails after 10 of its
		// commands reached the stream.
		f.stream.failAfter = func(call int) int {
			if call == 2 {
				return 10
			}
			return -1
		}
		pr := f.relay.partition(0)
		if err := pr.flush(ctx, math.MaxInt64); !errors.Is(err, errNATSDown) {
			t.Fatalf("flush: %v, want the publish's error", err)
		}
		if got := f.store.waiting(0); !slices.Equal(got, ids[outboxRun:]) {
			t.Fatalf("the outbox keeps %d commands, want the %d of the failed run", len(got), len(ids)-outboxRun)
		}
		if got := metric(t, f.reg, "disputed_commands_published_total", nil); got != outboxRun {
			t.Errorf("%v published counted, want %d", got, outboxRun)
		}
		if err := pr.flush(ctx, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if got := f.store.waiting(0); len(got) != 0 {
			t.Fatalf("the outbox keeps %v after the next flush", got)
		}
		if got := f.stream.stored(); !slices.Equal(got, ids) {
			t.Fatalf("the stream holds %d messages, want the %d commands each once, in order", len(got), len(ids))
		}
		for i, id := range ids {
			want := 1
			if i >= outboxRun && i < outboxRun+10 {
				want = 2 // sent before the failure, and again: JetStream drops the copy by its ID
			}
			if got := f.stream.sentTimes(id); got != want {
				t.Errorf("command %d sent %d times, want %d", i, got, want)
			}
		}
		if got := metric(t, f.reg, "disputed_commands_published_total", nil); got != float64(len(ids)) {
			t.Errorf("%v published counted, want %d", got, len(ids))
		}
	})
	t.Run("within one run", func(t *testing.T) {
		f := newRelayFixture(Config{})
		cmds := notices(20)
		f.store.appendOutbox(0, cmds...)
		f.stream.failAfter = func(call int) int {
			if call == 1 {
				return 7 // JetStream took 7, then the connection broke
			}
			return -1
		}
		pr := f.relay.partition(0)
		if err := pr.flush(ctx, math.MaxInt64); !errors.Is(err, errNATSDown) {
			t.Fatalf("flush: %v, want the publish's error", err)
		}
		// Which of the run JetStream took is unknown: all of it waits.
		if got := f.store.waiting(0); !slices.Equal(got, commandIDs(cmds)) {
			t.Fatalf("the outbox keeps %v, want all of the failed run", got)
		}
		if err := pr.flush(ctx, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if got := f.stream.stored(); !slices.Equal(got, commandIDs(cmds)) || len(f.store.waiting(0)) != 0 {
			t.Fatalf("the stream holds %v and the outbox %v, want every command once, the outbox empty", got, f.store.waiting(0))
		}
	})
}

// TestRelayPublishesOnlyWhatIsDurable: a flush stops at the last command of
// a durable save.
func TestRelayPublishesOnlyWhatIsDurable(t *testing.T) {
	f := newRelayFixture(Config{})
	cmds := notices(5)
	f.store.appendOutbox(0, cmds...)
	pr := f.relay.partition(0)
	if err := pr.flush(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if got := f.stream.stored(); !slices.Equal(got, commandIDs(cmds[:3])) {
		t.Fatalf("published %v, want the first 3", got)
	}
	if got := f.store.waiting(0); !slices.Equal(got, commandIDs(cmds[3:])) {
		t.Fatalf("the outbox keeps %v, want the last 2", got)
	}
}

// TestRelayHoldsRefusals: a command the sink refuses for good is held for a
// person and leaves the outbox; it is counted, and the rest are published.
// Before its session opens the partition, the relay knows nothing to be
// durable, and publishes nothing, however long the opening takes.
func TestRelayPublishesNothingBeforeTheSessionOpens(t *testing.T) {
	f := newRelayFixture(Config{})
	cmds := notices(3)
	f.store.appendOutbox(0, cmds...)
	pr := f.relay.partition(0)
	if err := pr.flush(context.Background(), pr.durable.Load()); err != nil {
		t.Fatal(err)
	}
	if got := f.stream.stored(); len(got) != 0 {
		t.Fatalf("published %v before the session opened", got)
	}
	pr.publishUpTo(3)
	if err := pr.flush(context.Background(), pr.durable.Load()); err != nil {
		t.Fatal(err)
	}
	if got := f.stream.stored(); !slices.Equal(got, commandIDs(cmds)) {
		t.Fatalf("published %v once the session said 3, want all 3", got)
	}
}

func TestRelayHoldsRefusals(t *testing.T) {
	f := newRelayFixture(Config{})
	cmds := notices(3)
	cmds[1].Subject = rules.SubjectTransfer + ".o1"
	f.store.appendOutbox(0, cmds...)
	f.stream.refuse = func(c rules.Command) string {
		if strings.HasPrefix(c.Subject, rules.SubjectTransfer) {
			return "not the order's final ruling's transfer"
		}
		return ""
	}
	if err := f.relay.partition(0).flush(context.Background(), math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if got := f.stream.stored(); !slices.Equal(got, []string{cmds[0].ID, cmds[2].ID}) {
		t.Errorf("published %v, want all but the refused", got)
	}
	if _, ok := f.store.parts[0].held[cmds[1].ID]; !ok || len(f.store.waiting(0)) != 0 {
		t.Errorf("held %v, outbox %v: want the refused command held and the outbox empty", f.store.parts[0].held, f.store.waiting(0))
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"disputed_guard_refusals_total", map[string]string{"kind": "transfer"}, 1},
		{"disputed_held_commands", map[string]string{"partition": "0"}, 1},
		{"disputed_commands_published_total", nil, 2},
	} {
		if got := metric(t, f.reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestRelayRun: a partition's relay publishes when it is woken, retries a
// failed publish on its ticker, says the outbox is unhealthy once a command
// has waited longer than OutboxStuck, and flushes what is durable once more
// when the partition is let go.
func TestRelayRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRelayFixture(Config{OutboxStuck: time.Minute, FlushTimeout: time.Second})
		f.stream.failAfter = func(int) int { return 0 } // NATS is down
		pr := f.relay.partition(0)
		ctx, cancel := context.WithCancel(t.Context())
		var run sync.WaitGroup
		run.Go(func() { pr.run(ctx) })

		cmds := notices(4)
		f.store.appendOutbox(0, cmds[:2]...)
		pr.publishUpTo(2)
		synctest.Wait()
		if got := metric(t, f.reg, "disputed_publish_errors_total", nil); got != 1 {
			t.Fatalf("%v publish errors counted after a wake, want 1", got)
		}
		if err := f.relay.Healthy(ctx); err != nil {
			t.Fatalf("healthy after a moment: %v", err)
		}
		time.Sleep(2 * time.Minute)
		if err := f.relay.Healthy(ctx); err == nil || !strings.Contains(err.Error(), "partition 0") {
			t.Fatalf("healthy with a command waiting 2m (stuck after 1m): %v", err)
		}

		f.stream.set(func(m *memStream) { m.failAfter = nil }) // NATS is back
		time.Sleep(relayRetry)
		synctest.Wait()
		if got := f.stream.stored(); !slices.Equal(got, commandIDs(cmds[:2])) {
			t.Fatalf("published %v after a tick, want the first 2", got)
		}
		if err := f.relay.Healthy(ctx); err != nil {
			t.Fatalf("healthy with the outbox empty: %v", err)
		}

		// The last batch saved two more, and the partition is let go
		// before the relay was woken for them.
		f.store.appendOutbox(0, cmds[2:]...)
		pr.durable.Store(4)
		cancel()
		run.Wait()
		if got := f.stream.stored(); !slices.Equal(got, commandIDs(cmds)) {
			t.Fatalf("published %v on release, want all 4", got)
		}
		if _, ok := f.relay.oldest[0]; ok {
			t.Errorf("the released partition still counts for Healthy")
		}
	})
}

// TestRelayReleaseFlushIsBounded: a last flush that cannot reach NATS gives
// up after FlushTimeout, and the outbox keeps its commands for the next
// owner.
func TestRelayReleaseFlushIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRelayFixture(Config{FlushTimeout: 3 * time.Second})
		f.stream.hang = true
		cmds := notices(2)
		f.store.appendOutbox(0, cmds...)
		pr := f.relay.partition(0)
		pr.durable.Store(2)
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // released at once
		start := time.Now()
		pr.run(ctx)
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("the last flush took %v, want FlushTimeout (3s)", took)
		}
		if got := f.store.waiting(0); !slices.Equal(got, commandIDs(cmds)) {
			t.Errorf("the outbox keeps %v, want both commands", got)
		}
	})
}
