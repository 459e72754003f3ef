package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// The worker's unit tests: a worker on the in-memory store, stream and
// offsets of fakes_test.go, fed by a fake fetcher, in a synctest bubble.

// arriving is an input and how long after the worker starts it reaches
// Kafka.
type arriving struct {
	after time.Duration
	in    Input
}

type workerFixture struct {
	store   *memStore
	stream  *memStream
	offsets *memOffsets
	letters *letterSink
	reg     *prometheus.Registry
	w       *worker

	mu  sync.Mutex
	log []string // what happened, in order: saves, commits, fetches
}

// newWorkerFixture returns a worker of partition 0 whose topics bring
// the inputs (by topic name) when they arrive.
func newWorkerFixture(t *testing.T, topicInputs map[string][]arriving) *workerFixture {
	f := &workerFixture{store: newMemStore(), stream: newMemStream(), offsets: &memOffsets{}, letters: &letterSink{}, reg: prometheus.NewRegistry()}
	metrics := NewMetrics(f.reg)
	cfg := Config{Idle: time.Second}.withDefaults()
	proc := &Processor{Policy: rules.DefaultPolicy(), Store: f.store, Deadlines: f.store, DeadLetters: f.letters, Metrics: metrics}
	relay := NewRelay(cfg, f.store, f.stream, metrics, nil)
	f.store.onSave = func(_ int, b rules.Batch) { f.record("save", b.Offsets) }
	f.offsets.onCommit = func(next map[string]int64) { f.record("commit", next) }
	start := time.Now()
	fetch := func(ctx context.Context, topic string, ti int, from int64, out chan<- chunk) {
		f.record("fetch "+topic, map[string]int64{topic: from})
		next := from
		for {
			var in []Input
			for _, a := range topicInputs[topic] {
				if a.in.Msg.Offset >= next && !start.Add(a.after).After(time.Now()) {
					in = append(in, a.in)
					next = a.in.Msg.Offset + 1
				}
			}
			select {
			case out <- chunk{topic: ti, in: in, atEnd: true, at: time.Now()}:
			case <-ctx.Done():
				return
			}
			select {
			case <-time.After(cfg.MaxWait):
			case <-ctx.Done():
				return
			}
		}
	}
	f.w = &worker{
		cfg: cfg, proc: proc, p: 0, topics: cfg.Topics.list(), committed: map[string]int64{},
		fetch: fetch, offsets: f.offsets, relay: relay.partition(0), metrics: metrics, log: slog.New(slog.DiscardHandler),
	}
	return f
}

func (f *workerFixture) record(what string, offsets map[string]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(offsets)) {
		parts = append(parts, fmt.Sprintf("%s=%d", t, offsets[t]))
	}
	f.log = append(f.log, what+" "+strings.Join(parts, ","))
}

// runFor runs the worker for d, then lets the partition go and waits for
// the worker to end.
func (f *workerFixture) runFor(t *testing.T, d time.Duration) {
	ctx, cancel := context.WithCancel(t.Context())
	var run sync.WaitGroup
	run.Go(func() { f.w.run(ctx) })
	time.Sleep(d)
	cancel()
	run.Wait()
}

// events returns the log without the fetches.
func (f *workerFixture) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(f.log), func(s string) bool { return strings.HasPrefix(s, "fetch") })
}

// checkCommitsFollowSaves checks that every commit is of the offsets of a
// save just before it (the next offset to read: one past the saved one),
// and that the last commit is want.
func (f *workerFixture) checkCommitsFollowSaves(t *testing.T, want string) {
	t.Helper()
	log := f.events()
	saved := ""
	last := ""
	for _, e := range log {
		what, offsets, _ := strings.Cut(e, " ")
		switch what {
		case "save":
			saved = offsets
		case "commit":
			if saved == "" || plusOne(saved) != offsets {
				t.Fatalf("commit %q does not follow a save of its offsets: %v", offsets, log)
			}
			saved, last = "", offsets
		}
	}
	if last != want {
		t.Fatalf("last commit %q, want %q: %v", last, want, log)
	}
}

// plusOne turns "orders=1,deliveries=0" into "orders=2,deliveries=1".
func plusOne(offsets string) string {
	var out []string
	for _, kv := range strings.Split(offsets, ",") {
		var o int64
		t, v, _ := strings.Cut(kv, "=")
		fmt.Sscan(v, &o)
		out = append(out, fmt.Sprintf("%s=%d", t, o+1))
	}
	return strings.Join(out, ",")
}

// story is two orders paid three hours ago and a delivery: o1's delivery
// deadline has passed (it fires: a notice), o2's has not.
func workerStory(late time.Duration) map[string][]arriving {
	in := inputs{base: time.Now().Add(-3 * time.Hour)}
	return map[string][]arriving{
		"orders": {
			{0, in.paid("o1", 0, time.Hour)},
			{0, in.paid("o2", time.Minute, 10*time.Hour)},
			{late, in.paid("o3", 2*time.Minute, 10*time.Hour)},
		},
		"deliveries": {{0, in.delivered("o2", 90*time.Second)}},
	}
}

// TestWorkerCommitsAfterTheSave: a session fetches from where the store
// stands, applies, saves and only then commits the saved offsets; the
// deadline that came due fired, and the relay published its notice.
func TestWorkerCommitsAfterTheSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newWorkerFixture(t, workerStory(5*time.Second))
		f.runFor(t, 10*time.Second)
		f.checkCommitsFollowSaves(t, "orders=3")
		if got := f.store.parts[0].offsets; got["orders"] != 2 || got["deliveries"] != 0 {
			t.Errorf("the store applied %v, want orders 2 and deliveries 0", got)
		}
		if got := f.stream.stored(); len(got) != 1 || !strings.HasPrefix(got[0], "o1/") {
			t.Errorf("published %v, want o1's missed-delivery notice", got)
		}
		if f.store.opens != 1 {
			t.Errorf("the partition was opened %d times, want once", f.store.opens)
		}
	})
}

// TestWorkerRetriesAFailedApply: a batch whose save fails is applied
// again, with backoff, and nothing is committed until it is saved.
func TestWorkerRetriesAFailedApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newWorkerFixture(t, workerStory(5*time.Second))
		failures := 0
		f.store.failSave = func(b rules.Batch) error {
			if len(b.Offsets) > 0 && failures < 3 {
				failures++
				f.record("save failed", b.Offsets)
				return errors.New("redis unreachable (injected)")
			}
			return nil
		}
		f.runFor(t, 10*time.Second)
		log := f.events()
		if !strings.HasPrefix(log[0], "save failed") || !strings.HasPrefix(log[3], "save ") || log[3][len("save "):] != log[0][len("save failed "):] {
			t.Fatalf("events %v, want three failed saves of the batch, then its save", log)
		}
		f.checkCommitsFollowSaves(t, "orders=3")
		if got := metric(t, f.reg, "disputed_batch_errors_total", map[string]string{"cause": "other"}); got != 3 {
			t.Errorf("%v batch errors counted, want 3", got)
		}
		if f.store.opens != 1 {
			t.Errorf("the partition was opened %d times, want once: a failed save is not a conflict", f.store.opens)
		}
	})
}

// TestWorkerReopensAfterAConflict: when another owner wrote the partition,
// the refused batch is not committed; the session ends, and the next one
// opens the partition again and fetches from what the store applied.
func TestWorkerReopensAfterAConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newWorkerFixture(t, workerStory(5*time.Second))
		saves := 0
		f.store.failSave = func(b rules.Batch) error {
			if len(b.Offsets) > 0 {
				saves++
				if saves == 2 {
					f.store.parts[0].mark = "other:1" // another member's save
				}
			}
			return nil
		}
		f.runFor(t, 10*time.Second)
		f.checkCommitsFollowSaves(t, "orders=3")
		if f.store.opens != 2 {
			t.Errorf("the partition was opened %d times, want twice", f.store.opens)
		}
		// The late batch (o3, orders offset 2) is committed once, and only
		// by the second session, which fetches orders after what the
		// store applied.
		f.mu.Lock()
		log := slices.Clone(f.log)
		f.mu.Unlock()
		reopened := slices.Index(log, "fetch orders orders=2")
		if reopened < 0 || slices.Index(log, "fetch orders orders=0") > reopened {
			t.Fatalf("events %v, want orders fetched from 0, then from 2 after the conflict", log)
		}
		late := 0
		for i, e := range log {
			if e == "commit orders=3" {
				late++
				if i < reopened {
					t.Errorf("the refused batch was committed before the partition was opened again: %v", log)
				}
			}
		}
		if late != 1 {
			t.Errorf("the late batch committed %d times, want once: %v", late, log)
		}
		for _, c := range []struct {
			name   string
			labels map[string]string
		}{
			{"disputed_batch_errors_total", map[string]string{"cause": "conflict"}},
			{"disputed_store_conflicts_total", map[string]string{"cause": conflictOtherOwner}},
		} {
			if got := metric(t, f.reg, c.name, c.labels); got != 1 {
				t.Errorf("%s%v = %v, want 1", c.name, c.labels, got)
			}
		}
	})
}

// TestWorkerReleaseWaitsForTheLastFlush: a worker let go returns only once
// its relay's last flush is over: here, after FlushTimeout, as NATS does
// not answer. The next generation starts the partition only then.
func TestWorkerReleaseWaitsForTheLastFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newWorkerFixture(t, workerStory(time.Hour))
		f.stream.hang = true
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.w.run(ctx)
		}()
		time.Sleep(10 * time.Second)
		if len(f.store.waiting(0)) != 1 {
			t.Fatalf("outbox %v, want o1's notice waiting for NATS", f.store.waiting(0))
		}
		cancel()
		released := time.Now()
		<-done
		if took := time.Since(released); took != f.w.cfg.FlushTimeout {
			t.Errorf("the worker returned %v after it was let go, want after its relay's last flush (FlushTimeout %v)", took, f.w.cfg.FlushTimeout)
		}
	})
}
