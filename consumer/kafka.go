package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/disputed/disputed/rules"
)

// Outbox holds the commands saved but not yet acknowledged by JetStream.
// Only the partition's owner reads and acknowledges them.
type Outbox interface {
	// Outbox returns up to limit commands, oldest first, and when the
	// oldest was saved.
	Outbox(ctx context.Context, partition int, limit int) ([]rules.Command, time.Time, error)
	// Ack removes the given commands, by ID, from the head of the outbox.
	Ack(ctx context.Context, partition int, ids []string) error
	// OutboxLen is the number of commands waiting.
	OutboxLen(ctx context.Context, partition int) (int64, error)
}

// Publisher publishes commands and returns once all are acknowledged. It
// must be safe to publish the same command again.
type Publisher interface {
	Publish(ctx context.Context, cmds ...rules.Command) error
}

// Topics names the four co-partitioned input topics.
type Topics struct {
	Orders, Deliveries, Chats, RefundRequests string
}

func (t Topics) list() []string {
	return []string{t.Orders, t.Deliveries, t.Chats, t.RefundRequests}
}

// Config of the Kafka consumer.
type Config struct {
	Brokers []string
	Group   string
	Topics  Topics
	// Dialer (group coordination) and Transport (fetches, dead letters)
	// carry TLS and SASL settings; nil means plain TCP.
	Dialer    *kafka.Dialer
	Transport kafka.RoundTripper

	// MaxBatch is the most inputs applied in one atomic step. Default 500.
	MaxBatch int
	// MaxWait is how long a fetch waits for data. A topic read to its end
	// holds back events of the other topics stamped after its last fetch,
	// so this bounds that wait. Default 50ms.
	MaxWait time.Duration
	// MaxBytes per fetch of one topic-partition. Default 1 MiB.
	MaxBytes int
	// Skew: an event stamped further than this ahead of the wall clock is
	// malformed. Default 5 minutes.
	Skew time.Duration
	// Group timing (kafka-go defaults are far slower than needed).
	HeartbeatInterval time.Duration // default 1s
	SessionTimeout    time.Duration // default 10s
	RebalanceTimeout  time.Duration // default 10s
	// FlushTimeout bounds the outbox flush when a partition is handed over
	// or the process stops. Default 5s.
	FlushTimeout time.Duration
	// BatchTimeout bounds one attempt at a batch, which runs to its end even
	// when the partition is being released. Default 30s.
	BatchTimeout time.Duration
}

func (c *Config) defaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 500
	}
	if c.MaxWait == 0 {
		c.MaxWait = 50 * time.Millisecond
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 1 << 20
	}
	if c.Skew == 0 {
		c.Skew = 5 * time.Minute
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 10 * time.Second
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 5 * time.Second
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 30 * time.Second
	}
}

// Kafka consumes the co-partitioned topics as a member of a consumer group.
// Partition N of every topic goes to the same member (CoPartition), which
// applies its events in event-time order, fires its deadlines, commits its
// offsets after the effects are saved, and drains its outbox.
type Kafka struct {
	cfg     Config
	proc    *Processor
	outbox  Outbox
	pub     Publisher
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time

	joined atomic.Bool
	mu     sync.Mutex
	owned  []int
	oldest map[int]time.Time // per owned partition: when its oldest waiting command was saved
}

// stuckAfter is how long a command may wait in an outbox before the
// processor reports itself not ready.
const stuckAfter = 5 * time.Minute

// OutboxHealthy returns an error when a command of an owned partition has
// waited for JetStream longer than five minutes.
func (k *Kafka) OutboxHealthy(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	for p, t := range k.oldest {
		if !t.IsZero() && now.Sub(t) > stuckAfter {
			return fmt.Errorf("outbox of partition %d: a command has waited %s for JetStream", p, now.Sub(t).Round(time.Second))
		}
	}
	return nil
}

func (k *Kafka) setOldest(p int, t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.oldest == nil {
		k.oldest = make(map[int]time.Time)
	}
	k.oldest[p] = t
}

// NewKafka returns a consumer. proc applies the batches; outbox and pub
// drain the commands to JetStream.
func NewKafka(cfg Config, proc *Processor, outbox Outbox, pub Publisher, m *Metrics, log *slog.Logger) *Kafka {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Kafka{cfg: cfg, proc: proc, outbox: outbox, pub: pub, metrics: m, log: log.With("component", "kafka_consumer"), now: time.Now}
}

// Joined reports whether the member is in a generation of the group.
func (k *Kafka) Joined() bool { return k.joined.Load() }

// Owned returns the partitions this member owns now.
func (k *Kafka) Owned() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.owned)
}

// Run joins the group and processes until ctx is cancelled; then it stops
// fetching, finishes the batches in flight, flushes the outboxes, leaves the
// group and returns nil.
func (k *Kafka) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                k.cfg.Group,
		Brokers:           k.cfg.Brokers,
		Dialer:            k.cfg.Dialer,
		Topics:            k.cfg.Topics.list(),
		GroupBalancers:    []kafka.GroupBalancer{CoPartition{}},
		HeartbeatInterval: k.cfg.HeartbeatInterval,
		SessionTimeout:    k.cfg.SessionTimeout,
		RebalanceTimeout:  k.cfg.RebalanceTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		Logger:            kafka.LoggerFunc(func(string, ...any) {}),
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { k.log.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("join group %q: %w", k.cfg.Group, err)
	}
	// Closing the group first, on cancellation, ends the generation without
	// the member trying to rejoin (which would hold Close up).
	stop := context.AfterFunc(ctx, func() { group.Close() })
	defer stop()
	defer group.Close()
	client := &kafka.Client{Addr: kafka.TCP(k.cfg.Brokers...), Timeout: 10 * time.Second, Transport: k.cfg.Transport}

	backoff := newBackoff()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			k.joined.Store(false)
			k.mu.Lock()
			k.owned = nil
			k.mu.Unlock()
			k.metrics.rebalanced(0)
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			k.log.Warn("join group failed; retrying", "group", k.cfg.Group, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		backoff.reset()
		parts, odd := assignedPartitions(gen.Assignments, k.cfg.Topics.list())
		if len(odd) > 0 {
			k.log.Error("topics are not co-partitioned: these partitions exist in some input topics only and are not consumed; give the four topics the same partition count",
				"partitions", odd)
		}
		k.mu.Lock()
		k.owned = parts
		k.mu.Unlock()
		k.joined.Store(true)
		k.metrics.rebalanced(len(parts))
		k.log.Info("joined group generation", "group", k.cfg.Group, "generation", gen.ID, "partitions", parts)
		for _, p := range parts {
			w := k.worker(client, gen, p)
			gen.Start(func(gctx context.Context) { w.run(gctx) })
		}
		if len(parts) == 0 {
			gen.Start(func(gctx context.Context) { <-gctx.Done() })
		}
		// Next returns the following generation only once every function
		// started on this one has returned: a partition is never worked
		// on by two generations of this member at once.
	}
}

// assignedPartitions returns the partitions assigned in every topic, and
// those assigned in some topics only (the topics are not co-partitioned).
func assignedPartitions(a map[string][]kafka.PartitionAssignment, topics []string) (all, some []int) {
	count := make(map[int]int)
	for _, t := range topics {
		for _, p := range a[t] {
			count[p.ID]++
		}
	}
	for p, n := range count {
		if n == len(topics) {
			all = append(all, p)
		} else {
			some = append(some, p)
		}
	}
	sort.Ints(all)
	sort.Ints(some)
	return all, some
}

// CoPartition is the group balancer that gives partition N of every topic
// to the same member, spreading partition numbers over the members in
// ranges. Every member of the group must use it.
type CoPartition struct{}

// ProtocolName implements kafka.GroupBalancer.
func (CoPartition) ProtocolName() string { return "disputed-copartition" }

// UserData implements kafka.GroupBalancer.
func (CoPartition) UserData() ([]byte, error) { return nil, nil }

// AssignGroups implements kafka.GroupBalancer.
func (CoPartition) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b kafka.GroupMember) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	out := make(kafka.GroupMemberAssignments, len(ms))
	for _, m := range ms {
		out[m.ID] = make(map[string][]int)
	}
	if len(ms) == 0 {
		return out
	}
	maxP := 0
	for _, p := range partitions {
		maxP = max(maxP, p.ID+1)
	}
	for _, p := range partitions {
		m := ms[p.ID*len(ms)/maxP]
		if slices.Contains(m.Topics, p.Topic) {
			out[m.ID][p.Topic] = append(out[m.ID][p.Topic], p.ID)
		}
	}
	for _, a := range out {
		for t := range a {
			sort.Ints(a[t])
		}
	}
	return out
}

// worker owns one partition (of every topic) for one generation.
type worker struct {
	k       *Kafka
	client  *kafka.Client
	gen     *kafka.Generation
	p       int
	topics  []string
	start   map[string]int64 // committed offsets of the generation
	chunks  []chan chunk     // one per topic, so a full topic cannot block another
	wakeOut chan struct{}
	log     *slog.Logger
}

func (k *Kafka) worker(client *kafka.Client, gen *kafka.Generation, p int) *worker {
	start := make(map[string]int64)
	for t, as := range gen.Assignments {
		for _, a := range as {
			if a.ID == p {
				start[t] = a.Offset
			}
		}
	}
	return &worker{
		k: k, client: client, gen: gen, p: p, topics: k.cfg.Topics.list(), start: start,
		chunks: newChunkChans(len(k.cfg.Topics.list())), wakeOut: make(chan struct{}, 1),
		log: k.log.With("partition", p),
	}
}

func newChunkChans(n int) []chan chunk {
	chans := make([]chan chunk, n)
	for i := range chans {
		chans[i] = make(chan chunk, 2)
	}
	return chans
}

// chunk is what one fetch of one topic-partition brought.
type chunk struct {
	topic int
	in    []Input
	atEnd bool      // read up to the high watermark
	at    time.Time // when the fetch returned
}

// run works the partition until the generation ends. It never returns early
// on an error (that would end the generation for the whole member): errors
// are retried with backoff.
func (w *worker) run(ctx context.Context) {
	applied, ok := w.offsets(ctx)
	if !ok {
		return
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range w.topics {
		// The store of record decides where to resume: after what it has
		// applied, whether the commit is behind it (a crash before the
		// commit) or ahead (Redis lost its last writes: re-apply them, with
		// the same command IDs). Without an applied offset, the commit.
		from := w.start[t]
		if a, ok := applied[t]; ok {
			from = a + 1
		}
		g.Go(func() error { return w.fetch(gctx, i, from) })
	}
	g.Go(func() error { return w.drain(gctx) })
	g.Go(func() error { return w.loop(gctx, applied) })
	g.Wait()
	w.k.setOldest(w.p, time.Time{})
	w.k.metrics.released(w.p, w.topics)
	w.log.Debug("partition released")
}

func (w *worker) offsets(ctx context.Context) (map[string]int64, bool) {
	b := newBackoff()
	for {
		applied, err := w.k.proc.Store.Offsets(ctx, w.p)
		if err == nil {
			return applied, true
		}
		w.log.Warn("read applied offsets failed; retrying", "err", err)
		if !b.wait(ctx) {
			return nil, false
		}
	}
}

// fetch reads one topic-partition from offset on and hands decoded inputs
// to the loop.
func (w *worker) fetch(ctx context.Context, ti int, offset int64) error {
	topic := w.topics[ti]
	b := newBackoff()
	wasAtEnd := false
	for {
		res, err := w.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: w.p, Offset: offset,
			MinBytes: 1, MaxBytes: int64(w.k.cfg.MaxBytes), MaxWait: w.k.cfg.MaxWait,
		})
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			if errors.Is(err, kafka.OffsetOutOfRange) {
				w.log.Warn("offset out of range; reading from the earliest", "topic", topic, "offset", offset)
				offset = kafka.FirstOffset
			} else {
				w.log.Warn("fetch failed; retrying", "topic", topic, "err", err)
			}
			if !b.wait(ctx) {
				return nil
			}
			continue
		}
		b.reset()
		in, next, err := w.decode(res, ti, offset)
		if err != nil {
			w.log.Warn("read fetched records failed; fetching again", "topic", topic, "err", err)
			continue
		}
		if next < 0 {
			// Nothing read from a symbolic start: it is the log's start.
			next = max(res.LogStartOffset, 0)
		}
		offset = next
		atEnd := offset >= res.HighWatermark
		w.k.metrics.setLag(topic, w.p, res.HighWatermark-next)
		if len(in) == 0 && !atEnd && !wasAtEnd {
			continue
		}
		// At the end, even an empty fetch is news: the topic is known
		// to hold nothing newer up to now.
		wasAtEnd = atEnd
		select {
		case w.chunks[ti] <- chunk{topic: ti, in: in, atEnd: atEnd, at: w.k.now()}:
		case <-ctx.Done():
			return nil
		}
	}
}

// decode turns fetched records into inputs. A fetch returns whole record
// batches, so records before offset are dropped.
func (w *worker) decode(res *kafka.FetchResponse, ti int, offset int64) ([]Input, int64, error) {
	topic := w.topics[ti]
	var in []Input
	next := offset
	now := w.k.now()
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, offset, err
		}
		if offset >= 0 && r.Offset < offset {
			continue
		}
		m := Message{Topic: topic, Partition: w.p, Offset: r.Offset, Time: r.Time}
		if r.Key != nil {
			m.Key, _ = io.ReadAll(r.Key)
		}
		if r.Value != nil {
			m.Value, _ = io.ReadAll(r.Value)
		}
		x := w.k.input(m, now)
		x.src = ti
		in = append(in, x)
		next = r.Offset + 1
	}
	return in, next, nil
}

// input decodes a message and checks what only the stream can tell: the
// key is the order ID, and the event is not from the future.
func (k *Kafka) input(m Message, now time.Time) Input {
	e, err := rules.Decode(m.Value)
	switch {
	case err != nil:
	case string(m.Key) != e.OrderID:
		err = &rules.FieldError{Field: "subject", Reason: fmt.Sprintf("%q is not the message key %q: events must be keyed by order ID", e.OrderID, truncate(string(m.Key)))}
	case e.Time.After(now.Add(k.cfg.Skew)):
		err = &rules.FieldError{Field: "time", Reason: fmt.Sprintf("%s is more than %s ahead of the clock", e.Time.Format(time.RFC3339), k.cfg.Skew)}
	}
	return Input{Msg: m, Event: e, Err: err}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// loop merges the four topics in event-time order, applies batches, fires
// deadlines, commits offsets and wakes the drainer.
func (w *worker) loop(ctx context.Context, applied map[string]int64) error {
	m := newMerger(len(w.topics))
	store := w.k.proc.Store
	var next time.Time
	haveNext := false
	var counted time.Time // when the pending deadlines were last counted
	refreshNext := func() {
		b := newBackoff()
		for {
			start := time.Now()
			at, ok, err := store.NextDue(ctx, w.p)
			w.k.metrics.storeCall("next_due", start)
			if err == nil {
				next, haveNext = at, ok
				// The count is for a gauge: now and then is enough.
				if time.Since(counted) > 5*time.Second {
					if n, err := store.PendingDeadlines(ctx, w.p); err == nil {
						w.k.metrics.pending(w.p, n)
						counted = time.Now()
					}
				}
				return
			}
			w.log.Warn("read next deadline failed; retrying", "err", err)
			if !b.wait(ctx) {
				return
			}
		}
	}
	refreshNext()
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for ctx.Err() == nil {
		// Take whatever the fetchers have brought, without waiting, from
		// the topics whose queue has room.
		for ti, ch := range w.chunks {
			for more := true; more && m.room(ti); {
				select {
				case c := <-ch:
					m.push(c)
				default:
					more = false
				}
			}
		}
		now := w.k.now()
		in := m.take(now, w.k.cfg.MaxBatch)
		horizon := m.horizon(now)
		if len(in) == 0 && (!haveNext || next.After(horizon)) {
			wait := time.Second
			if haveNext && next.After(now) {
				wait = min(wait, next.Sub(now))
			}
			idle.Reset(wait)
			// Wait for a topic with room; a topic whose queue is full
			// waits until the others catch up with it.
			recv := func(ti int) chan chunk {
				if m.room(ti) {
					return w.chunks[ti]
				}
				return nil
			}
			select {
			case c := <-recv(0):
				m.push(c)
			case c := <-recv(1):
				m.push(c)
			case c := <-recv(2):
				m.push(c)
			case c := <-recv(3):
				m.push(c)
			case <-idle.C:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		// With no deadline pending at all, none can be due in the batch.
		nextDue := next
		if !haveNext {
			nextDue = time.Unix(1<<62, 0)
		}
		res, retried, ok := w.apply(ctx, in, applied, horizon, nextDue)
		if !ok {
			return nil // shutting down: the batch is abandoned uncommitted
		}
		m.unread(in[res.Consumed:])
		for _, x := range in[:res.Consumed] {
			m.applied(x)
		}
		commit := make(map[string]map[int]int64, len(res.Offsets))
		for t, o := range res.Offsets {
			applied[t] = o
			commit[t] = map[int]int64{w.p: o + 1}
		}
		if len(commit) > 0 {
			if err := w.gen.CommitOffsets(commit); err != nil {
				// The batch is saved: the store's applied offsets say
				// where to resume. A commit refused because the member
				// is leaving is expected.
				if ctx.Err() == nil {
					w.k.metrics.commitFailed()
					w.log.Warn("commit offsets failed", "err", err)
				}
			}
		}
		if res.Commands > 0 {
			select {
			case w.wakeOut <- struct{}{}:
			default:
			}
		}
		if res.Fired > 0 || res.TimerChanges > 0 || retried {
			refreshNext()
		}
	}
	return nil
}

// apply runs the processor on a batch until it succeeds, and says whether
// it had to retry. The batch in flight finishes even when the generation
// ends; a failed one is retried unless the generation ended, in which case
// it is abandoned, uncommitted. A retry reads the due deadlines afresh: a
// conflict means someone else wrote the partition.
func (w *worker) apply(ctx context.Context, in []Input, applied map[string]int64, horizon, nextDue time.Time) (res Result, retried, ok bool) {
	b := newBackoff()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			nextDue, retried = time.Time{}, true
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.k.cfg.BatchTimeout)
		res, err := w.k.proc.Apply(actx, w.p, in, applied, horizon, nextDue)
		cancel()
		w.k.metrics.batchTook(time.Since(start))
		if err == nil {
			return res, retried, true
		}
		cause := "other"
		switch {
		case errors.Is(err, rules.ErrConflict):
			cause = "conflict"
		case errors.Is(err, errDeadLetter):
			cause = "dead_letter"
		}
		w.k.metrics.batchFailed(cause)
		w.log.Warn("batch failed; retrying", "cause", cause, "err", err)
		if !b.wait(ctx) {
			return res, retried, false
		}
		if cause == "conflict" {
			// Someone else wrote this partition: take the store's word
			// for what is applied.
			if fresh, ok := w.offsets(ctx); ok {
				clear(applied)
				for t, o := range fresh {
					applied[t] = o
				}
			}
		}
	}
}

var errDeadLetter = errors.New("dead letter")

// drain publishes the partition's outbox until the generation ends, then
// flushes it once more, within FlushTimeout.
func (w *worker) drain(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.k.cfg.FlushTimeout)
			defer cancel()
			if err := w.flush(fctx); err != nil {
				w.log.Warn("outbox not flushed on release; the next owner publishes it", "err", err)
			}
			return nil
		case <-w.wakeOut:
		case <-tick.C:
		}
		if err := w.flush(ctx); err != nil && ctx.Err() == nil {
			w.k.metrics.publishFailed()
			w.log.Warn("publish failed; the outbox keeps the commands", "err", err)
			// The ticker retries; a NATS outage grows the outbox meanwhile.
		}
	}
}

// flush publishes the outbox until it is empty.
func (w *worker) flush(ctx context.Context) error {
	for {
		cmds, oldest, err := w.k.outbox.Outbox(ctx, w.p, 256)
		if err != nil {
			return err
		}
		depth, err := w.k.outbox.OutboxLen(ctx, w.p)
		if err != nil {
			return err
		}
		w.k.metrics.outbox(w.p, depth, oldest, w.k.now())
		if len(cmds) == 0 {
			oldest = time.Time{}
		}
		w.k.setOldest(w.p, oldest)
		if len(cmds) == 0 {
			return nil
		}
		start := time.Now()
		err = w.k.pub.Publish(ctx, cmds...)
		w.k.metrics.publishCall(start)
		if err != nil {
			return err
		}
		ids := make([]string, len(cmds))
		for i, c := range cmds {
			ids[i] = c.ID
		}
		if err := w.k.outbox.Ack(ctx, w.p, ids); err != nil {
			return err
		}
		w.k.metrics.publishedN(len(cmds))
	}
}

// backoff waits 50ms, doubling to 5s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }
func (b *backoff) reset()  { b.d = 50 * time.Millisecond }

// wait sleeps for the current delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
