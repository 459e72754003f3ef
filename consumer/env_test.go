package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

var topics = consumer.DefaultTopics()

// testIdle is how long a quiet topic holds the partition back in these
// tests: the producers here write a story's topics at most half of it apart.
const testIdle = time.Second

const dlqTopic = "disputes.dlq"

// env is one set of real servers: Kafka (the run's real broker, with
// topics of the test's own, or kfake; see testserver.StartKafka), a
// redis-server process and an in-process NATS server.
type env struct {
	kafka      *testserver.Kafka
	redis      *testserver.Redis
	nats       *testserver.NATS
	partitions int
	prefix     string
	// topics are the input topics' names on this Kafka; tests name them
	// as topics does, and e.kafka maps them.
	topics consumer.Topics
}

func newEnv(t *testing.T, partitions int) *env {
	t.Helper()
	e := &env{
		kafka:      testserver.StartKafka(t, partitions, topics.Orders, topics.Deliveries, topics.Chats, topics.RefundRequests, dlqTopic),
		redis:      testserver.StartRedis(t),
		nats:       testserver.StartNATS(t),
		partitions: partitions,
		prefix:     "e2e",
	}
	// The input topics take the oversized messages tests send on purpose;
	// the dead-letter topic has the brokers' usual limit of about 1 MiB.
	e.kafka.SetTopicConfig(t, dlqTopic, "max.message.bytes", "1048588")
	e.topics = consumer.Topics{
		Orders: e.kafka.Topic(topics.Orders), Deliveries: e.kafka.Topic(topics.Deliveries),
		Chats: e.kafka.Topic(topics.Chats), RefundRequests: e.kafka.Topic(topics.RefundRequests),
	}
	pub, err := producer.NewNATS(e.nats.Conn(), producer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// faults lets a test crash a member at a step boundary: once armed, the
// named step does its work (or not) and then every call of the member
// fails, as if the process had died there.
type faults struct {
	mu      sync.Mutex
	step    string // "after-save", "before-publish", "after-publish", "before-commit"
	crashed atomic.Bool
	crash   func()

	// failSaves makes the first saves fail, as an unreachable Redis does;
	// saveFailures counts them and saved says a save got through since.
	failSaves    int64
	saveFailures atomic.Int64
	saved        atomic.Bool
}

var errCrashed = errors.New("crashed")

func (f *faults) at(step string) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.step == step && !f.crashed.Load() {
		f.crashed.Store(true)
		f.crash()
		return true
	}
	return false
}

func (f *faults) dead() bool { return f != nil && f.crashed.Load() }

// store wraps the Redis store with the crash points. A blind store (the
// negative control of the Redis-loss tests) saves on whatever mark Redis
// holds, as disputed did before its saves were a compare-and-set.
type store struct {
	*state.Redis
	f     *faults
	blind *redis.Client
}

func (s store) Save(ctx context.Context, p int, b rules.Batch) (rules.Checkpoint, error) {
	if s.f.dead() {
		return rules.Checkpoint{}, errCrashed
	}
	if s.f != nil && s.f.saveFailures.Load() < s.f.failSaves {
		s.f.saveFailures.Add(1)
		return rules.Checkpoint{}, errors.New("redis unreachable (injected)")
	}
	if s.blind != nil {
		b.Prev, _ = s.blind.HGet(ctx, state.Key("e2e", p, "meta"), "m").Result()
	}
	cp, err := s.Redis.Save(ctx, p, b)
	if err != nil {
		return cp, err
	}
	if s.f != nil {
		s.f.saved.Store(true)
	}
	hasCommands := slices.ContainsFunc(b.Decisions, func(d rules.Decision) bool { return len(d.Commands) > 0 })
	if hasCommands && s.f.at("after-save") {
		return rules.Checkpoint{}, errCrashed
	}
	if len(b.Offsets) > 0 && s.f.at("before-commit") {
		// Saved, and the loop would commit next: it never does.
		return rules.Checkpoint{}, errCrashed
	}
	return cp, nil
}

func (s store) Load(ctx context.Context, p int, orders []string) ([]rules.State, error) {
	if s.f.dead() {
		return nil, errCrashed
	}
	return s.Redis.Load(ctx, p, orders)
}

func (s store) Ack(ctx context.Context, p int, ids []string) error {
	if s.f.dead() {
		return errCrashed
	}
	return s.Redis.Ack(ctx, p, ids)
}

func (s store) Outbox(ctx context.Context, p int, limit int, upTo int64) ([]rules.Command, time.Time, int64, error) {
	if s.f.dead() {
		return nil, time.Time{}, 0, errCrashed
	}
	return s.Redis.Outbox(ctx, p, limit, upTo)
}

// publisher wraps the JetStream publisher with the crash points. An
// unguarded one (the negative control) publishes without the guard stream.
type publisher struct {
	*producer.NATS
	f         *faults
	unguarded jetstream.JetStream
}

func (p publisher) Publish(ctx context.Context, cmds ...rules.Command) ([]rules.Refusal, error) {
	if p.f.dead() || p.f.at("before-publish") {
		return nil, errCrashed
	}
	if p.unguarded != nil {
		for _, c := range cmds {
			data, _ := c.Data()
			if _, err := p.unguarded.PublishMsg(ctx, &nats.Msg{Subject: c.Subject, Data: data}, jetstream.WithMsgID(c.ID)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	refused, err := p.NATS.Publish(ctx, cmds...)
	if err != nil {
		return nil, err
	}
	if p.f.at("after-publish") {
		return nil, errCrashed // published, never acknowledged in the outbox
	}
	return refused, nil
}

type deadLetters struct {
	*consumer.KafkaDeadLetters
	f *faults
}

func (d deadLetters) DeadLetter(ctx context.Context, letters ...consumer.DeadLetter) error {
	if d.f.dead() {
		return errCrashed
	}
	return d.KafkaDeadLetters.DeadLetter(ctx, letters...)
}

// member is one running processor.
type member struct {
	k       *consumer.Kafka
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
}

func (e *env) start(t *testing.T, f *faults) *member { return e.startBatch(t, f, 0) }

func (e *env) startBatch(t *testing.T, f *faults, maxBatch int) *member {
	t.Helper()
	return e.startWith(t, options{faults: f, maxBatch: maxBatch})
}

type options struct {
	faults   *faults
	maxBatch int
	policy   *rules.Policy
	reg      *prometheus.Registry
	// blind saves on whatever mark Redis holds (no compare-and-set), and
	// unguarded publishes without the guard stream: the defences against a
	// Redis that loses writes, switched off for the loss tests' controls.
	blind, unguarded bool
	// redisAddr, when set, is where the store connects instead of the
	// env's Redis (a proxy in front of a primary and its replica), with
	// durability.
	redisAddr  string
	durability state.Durability
}

func (e *env) startWith(t *testing.T, o options) *member {
	t.Helper()
	f, maxBatch := o.faults, o.maxBatch
	policy := rules.DefaultPolicy()
	if o.policy != nil {
		policy = *o.policy
	}
	var reg prometheus.Registerer
	if o.reg != nil {
		reg = o.reg
	}
	metrics := consumer.NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	if f != nil {
		f.crash = cancel
	}
	rdb := e.redis.Client()
	if o.redisAddr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: o.redisAddr})
		t.Cleanup(func() { rdb.Close() })
	}
	redisStore := state.NewRedis(rdb, state.Config{Prefix: e.prefix, Durability: o.durability})
	nats, err := producer.NewNATS(e.nats.Conn(), producer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dl := consumer.NewKafkaDeadLetters(e.kafka.Brokers, e.kafka.Topic(dlqTopic), nil)
	t.Cleanup(func() { dl.Close() })
	s := store{Redis: redisStore, f: f}
	pub := publisher{NATS: nats, f: f}
	if o.blind {
		s.blind = e.redis.Client()
	}
	if o.unguarded {
		js, err := jetstream.New(e.nats.Conn())
		if err != nil {
			t.Fatal(err)
		}
		pub.unguarded = js
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	proc := &consumer.Processor{Policy: policy, Store: s, Deadlines: s, DeadLetters: deadLetters{dl, f}, Metrics: metrics, Logger: log}
	cfg := consumer.Config{
		Brokers: e.kafka.Brokers, Group: e.kafka.Group("disputed"), Topics: e.topics, MaxBatch: maxBatch,
		MaxWait: 50 * time.Millisecond, Idle: testIdle, HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout: 2 * time.Second, RebalanceTimeout: 2 * time.Second, FlushTimeout: time.Second,
	}
	k := consumer.NewKafka(cfg, proc, consumer.NewRelay(cfg, s, pub, metrics, log), metrics, log)
	m := &member{k: k, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- k.Run(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop cancels the member and waits for it to leave.
func (m *member) stop(t *testing.T) {
	m.stopped.Do(func() {
		m.cancel()
		select {
		case err := <-m.done:
			if err != nil {
				t.Errorf("member returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("member did not stop within 20s")
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(b, "\n"))
	return len(b), nil
}

// story is the lines of scenario files and what replay makes of them.
type story struct {
	msgs []kafka.Message
	want map[string]testserver.Msg // by command ID
	bad  int                       // lines that must be dead-lettered
}

func loadScenarios(t *testing.T, names ...string) story {
	t.Helper()
	return replayLines(t, scenarioLines(t, names...), time.Now())
}

// scenarioLines returns the lines of the named stories of
// internal/scenario (all without names).
func scenarioLines(t *testing.T, names ...string) [][]byte {
	t.Helper()
	lines, err := scenario.Lines(names...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// copies repeats the lines n times, each copy with its own order IDs.
func copies(lines [][]byte, n int) [][]byte {
	var out [][]byte
	for i := range n {
		prefix := []byte(fmt.Sprintf(`"subject":"c%d-`, i))
		for _, l := range lines {
			out = append(out, bytes.ReplaceAll(l, []byte(`"subject":"`), prefix))
		}
	}
	return out
}

// replayLines builds the Kafka messages of the lines (keyed by order, on
// their type's topic) and the commands replay gives for them, with every
// deadline up to now fired, as the live processor fires them.
func replayLines(t *testing.T, lines [][]byte, now time.Time) story {
	t.Helper()
	return replayWith(t, lines, now, rules.DefaultPolicy())
}

// replayWith is replayLines under another policy.
func replayWith(t *testing.T, lines [][]byte, now time.Time, policy rules.Policy) story {
	t.Helper()
	// Upstream writes each topic in about the order things happen; the
	// scenario files, put together, are not. Send (and replay) the events
	// in time order, ties by topic as the processor's merge breaks them.
	rank := func(line []byte) (time.Time, int) {
		e, err := rules.Decode(line)
		if err != nil {
			return time.Time{}, 0
		}
		return e.Time, slices.Index([]string{topics.Orders, topics.Deliveries, topics.Chats, topics.RefundRequests}, e.Type.Topic())
	}
	lines = slices.Clone(lines)
	slices.SortStableFunc(lines, func(a, b []byte) int {
		ta, ia := rank(a)
		tb, ib := rank(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return ia - ib
	})
	r := rules.NewReplay(policy)
	st := story{want: make(map[string]testserver.Msg)}
	keep := func(cmds []rules.Command) {
		for _, c := range cmds {
			data, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			st.want[c.ID] = testserver.Msg{Subject: c.Subject, MsgID: c.ID, Data: data}
		}
	}
	for _, line := range lines {
		e, err := rules.Decode(line)
		topic, key := topics.Orders, "malformed"
		if err == nil {
			topic, key = e.Type.Topic(), e.OrderID
			var cmds []rules.Command
			cmds, err = r.Apply(e)
			keep(cmds)
		} else {
			var env struct{ Subject string }
			if json.Unmarshal(line, &env) == nil && env.Subject != "" {
				key = env.Subject
			}
		}
		if err != nil {
			st.bad++
		}
		st.msgs = append(st.msgs, kafka.Message{Topic: topic, Key: []byte(key), Value: line})
	}
	cmds, err := r.Advance(now)
	if err != nil {
		t.Fatal(err)
	}
	keep(cmds)
	return st
}

// published reads both streams.
func (e *env) published(t *testing.T) []testserver.Msg {
	t.Helper()
	ctx := context.Background()
	nc := e.nats.Conn()
	msgs := testserver.Messages(ctx, t, nc, "DISPUTES")
	return append(msgs, testserver.Messages(ctx, t, nc, "FINANCE")...)
}

// deadLetters waits until the dead-letter topic (of one partition) holds n
// letters, and fails the test unless it then holds exactly n.
func (e *env) deadLetters(t *testing.T, n int, what string) []kafka.Message {
	t.Helper()
	var letters []kafka.Message
	testserver.WaitUntil(t, 10*time.Second, what, func() bool {
		letters = e.kafka.ReadAll(context.Background(), t, dlqTopic, 1)
		return len(letters) >= n
	})
	if len(letters) != n {
		t.Fatalf("%d dead letters, want %d", len(letters), n)
	}
	return letters
}

// waitFor waits until the streams hold n messages, then a little longer to
// see that no more come.
func (e *env) waitFor(t *testing.T, n int, within time.Duration) []testserver.Msg {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := e.published(t)
		if len(got) >= n {
			time.Sleep(300 * time.Millisecond)
			return e.published(t)
		}
		if time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSame asserts the streams hold exactly the wanted commands, byte for
// byte, each once, with Nats-Msg-Id = command_id.
func checkSame(t *testing.T, got []testserver.Msg, want map[string]testserver.Msg) {
	t.Helper()
	seen := make(map[string]bool)
	for _, m := range got {
		if seen[m.MsgID] {
			t.Errorf("command %s published twice", m.MsgID)
		}
		seen[m.MsgID] = true
		var body struct {
			CommandID string `json:"command_id"`
		}
		if err := json.Unmarshal(m.Data, &body); err != nil || body.CommandID != m.MsgID {
			t.Errorf("message %s: Nats-Msg-Id is not command_id %q (%v)", m.MsgID, body.CommandID, err)
		}
		w, ok := want[m.MsgID]
		switch {
		case !ok:
			t.Errorf("unexpected command %s on %s: %s", m.MsgID, m.Subject, m.Data)
		case w.Subject != m.Subject || !bytes.Equal(w.Data, m.Data):
			t.Errorf("command %s differs from replay:\n got %s %s\nwant %s %s", m.MsgID, m.Subject, m.Data, w.Subject, w.Data)
		}
	}
	var missing []string
	for id := range want {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d commands of replay never published: %v", len(missing), missing)
	}
}
