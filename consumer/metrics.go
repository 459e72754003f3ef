package consumer

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/disputed/disputed/rules"
)

// Results of an event, the label values of disputed_events_total.
const (
	resultApplied    = "applied"
	resultDuplicate  = "duplicate"
	resultRejected   = "rejected"
	resultDeadLetter = "dead_lettered"
)

// Metrics of the stream processor. A nil *Metrics records nothing.
type Metrics struct {
	events           *prometheus.CounterVec
	misroutedEvents  *prometheus.CounterVec
	rulings          *prometheus.CounterVec
	transfers        *prometheus.CounterVec
	transferAmount   *prometheus.CounterVec
	deadlinesSet     *prometheus.CounterVec
	deadlinesFired   *prometheus.CounterVec
	deadlinesCleared *prometheus.CounterVec
	lateness         prometheus.Histogram
	batchSeconds     prometheus.Histogram
	batchErrors      *prometheus.CounterVec
	outboxDepth      *prometheus.GaugeVec
	outboxOldest     *prometheus.GaugeVec
	published        prometheus.Counter
	publishErrors    prometheus.Counter
	pendingDeadlines *prometheus.GaugeVec
	lag              *prometheus.GaugeVec
	rebalances       prometheus.Counter
	partitionsOwned  prometheus.Gauge
	commitErrors     prometheus.Counter
	conflicts        *prometheus.CounterVec
	refusals         *prometheus.CounterVec
	storeBehind      prometheus.Counter
	clock            prometheus.Gauge
	heldCommands     *prometheus.GaugeVec
	storeSeconds     *prometheus.HistogramVec
	publishSeconds   prometheus.Histogram
}

// NewMetrics registers the processor's metrics on reg (nil: unregistered,
// for tests that do not read them).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := newMetrics(reg)
	// Series of known, bounded label sets start at zero, so that rates and
	// alerts see them before the first event of a kind.
	for _, o := range rules.Outcomes() {
		for _, c := range rules.Categories() {
			m.rulings.WithLabelValues(string(o), string(c))
		}
	}
	for _, to := range []rules.Party{rules.Customer, rules.Provider} {
		m.transfers.WithLabelValues(string(to))
	}
	for _, k := range []rules.TimerKind{rules.TimerEvidence, rules.TimerModification, rules.TimerDelivery, rules.TimerCooperation} {
		m.deadlinesSet.WithLabelValues(string(k))
		m.deadlinesFired.WithLabelValues(string(k))
		m.deadlinesCleared.WithLabelValues(string(k))
	}
	for _, cause := range []string{"conflict", "dead_letter", "other"} {
		m.batchErrors.WithLabelValues(cause)
	}
	for _, cause := range []string{conflictOtherOwner, conflictLostWrites, conflictReplyLost, conflictState} {
		m.conflicts.WithLabelValues(cause)
	}
	for _, kind := range []string{"ruling", "transfer"} {
		m.refusals.WithLabelValues(kind)
	}
	return m
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_events_total",
			Help: "Events consumed, by topic, event type and result (applied, duplicate, rejected, dead_lettered).",
		}, []string{"topic", "type", "result"}),
		misroutedEvents: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_events_misrouted_total",
			Help: "Events that arrived on a topic other than their type's own, by topic and type.",
		}, []string{"topic", "type"}),
		rulings: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_rulings_total",
			Help: "Rulings made, by outcome and order category.",
		}, []string{"outcome", "category"}),
		transfers: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_transfers_total",
			Help: "Transfer commands issued, by direction (to customer or provider).",
		}, []string{"to"}),
		transferAmount: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_transfer_amount_minor_total",
			Help: "Money moved by transfer commands, in minor units, by direction and currency.",
		}, []string{"to", "currency"}),
		deadlinesSet: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_deadlines_set_total",
			Help: "Deadlines armed, by kind.",
		}, []string{"kind"}),
		deadlinesFired: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_deadlines_fired_total",
			Help: "Deadlines that fired, by kind.",
		}, []string{"kind"}),
		deadlinesCleared: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_deadlines_cancelled_total",
			Help: "Deadlines disarmed before they fired (met, superseded or paused), by kind.",
		}, []string{"kind"}),
		lateness: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "disputed_deadline_lateness_seconds",
			Help:    "How long after its due time a deadline fired, by the wall clock.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		batchSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "disputed_batch_duration_seconds",
			Help:    "Time to apply and save one batch of a partition.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batchErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_batch_errors_total",
			Help: "Batches that failed, by cause (conflict: the store refused the save, and the partition's session reopens from Redis; dead_letter: the dead-letter topic, retried; other: Redis or an engine error, retried).",
		}, []string{"cause"}),
		outboxDepth: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "disputed_outbox_depth",
			Help: "Commands saved but not yet acknowledged by JetStream, by partition.",
		}, []string{"partition"}),
		outboxOldest: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "disputed_outbox_oldest_age_seconds",
			Help: "Age of the oldest command waiting in the outbox, by partition (0 when empty).",
		}, []string{"partition"}),
		published: f.NewCounter(prometheus.CounterOpts{
			Name: "disputed_commands_published_total",
			Help: "Commands acknowledged by JetStream (repeats within the duplicate window included).",
		}),
		publishErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "disputed_publish_errors_total",
			Help: "Failed attempts to publish a run of outbox commands; they are retried.",
		}),
		pendingDeadlines: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "disputed_deadlines_pending",
			Help: "Deadlines armed and not yet fired, by partition.",
		}, []string{"partition"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "disputed_consumer_lag_messages",
			Help: "Messages behind the high watermark, by topic and partition.",
		}, []string{"topic", "partition"}),
		rebalances: f.NewCounter(prometheus.CounterOpts{
			Name: "disputed_rebalances_total",
			Help: "Consumer group generations joined.",
		}),
		partitionsOwned: f.NewGauge(prometheus.GaugeOpts{
			Name: "disputed_partitions_owned",
			Help: "Partitions (of each co-partitioned topic) this member owns.",
		}),
		storeSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "disputed_redis_call_duration_seconds",
			Help:    "Latency of the store's Redis calls, by operation (load, save, due).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"op"}),
		publishSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "disputed_nats_publish_duration_seconds",
			Help:    "Time to publish a run of outbox commands and get JetStream's acks.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		conflicts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_store_conflicts_total",
			Help: "Saves the store refused because it no longer held what the partition's session last wrote, by cause (other_owner: another member wrote it; lost_writes: the store went back in time; reply_lost: the write landed but its answer was lost; state: an order or offset changed). The session ends and the partition is read again from the store.",
		}, []string{"cause"}),
		refusals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "disputed_guard_refusals_total",
			Help: "Commands the guard stream refused for good and the outbox holds for a person, by kind (ruling: a second final ruling of an order; transfer: one that is not the order's final ruling's). Any is an incident: see the runbook.",
		}, []string{"kind"}),
		clock: f.NewGauge(prometheus.GaugeOpts{
			Name: "disputed_clock_offset_seconds",
			Help: "This processor's clock minus the timestamp of the newest record of a fetch that read its topic to the end: how late fresh records are read, plus how far this clock is from the brokers' (or producers'). Negative: this clock is behind them. Deadlines fire by this clock.",
		}),
		storeBehind: f.NewCounter(prometheus.CounterOpts{
			Name: "disputed_store_behind_commits_total",
			Help: "Topics of a partition found, when it was opened, with the store's applied offset behind the group's committed offset: Redis lost writes it had acknowledged. The lost events are read again.",
		}),
		heldCommands: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "disputed_held_commands",
			Help: "Commands refused by the guard and held for a person, by partition.",
		}, []string{"partition"}),
		commitErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "disputed_offset_commit_errors_total",
			Help: "Offset commits that failed (the batch is already saved; redelivery is a no-op).",
		}),
	}
}

func (m *Metrics) event(topic, typ, result string) {
	if m == nil {
		return
	}
	if typ == "" {
		typ = "unknown"
	} else if rules.Type(typ).Topic() == "" {
		typ = "unknown" // keep the label set bounded
	}
	m.events.WithLabelValues(topic, typ, result).Inc()
}

func (m *Metrics) misrouted(topic, typ string) {
	if m == nil {
		return
	}
	m.misroutedEvents.WithLabelValues(topic, typ).Inc()
}

func decisionResult(d rules.Decision) string {
	// A rejection comes first: one over a per-order limit changes nothing.
	for _, c := range d.Commands {
		if _, ok := c.Body.(*rules.Rejection); ok {
			return resultRejected
		}
	}
	if !d.Changed {
		return resultDuplicate
	}
	return resultApplied
}

// decided counts what a saved decision did. fired is the ID of the deadline
// whose firing made the decision, "" for an event: the decision disarms
// that deadline too, which has fired (or was stale), not been cancelled.
func (m *Metrics) decided(d rules.Decision, fired string) {
	if m == nil {
		return
	}
	for _, t := range d.Arm {
		m.deadlinesSet.WithLabelValues(string(t.Kind)).Inc()
	}
	for _, id := range d.Disarm {
		if id != fired {
			m.deadlinesCleared.WithLabelValues(timerKind(id)).Inc()
		}
	}
	for _, c := range d.Commands {
		switch b := c.Body.(type) {
		case *rules.Ruling:
			m.rulings.WithLabelValues(string(b.Outcome), string(d.State.Order.Category)).Inc()
		case *rules.Transfer:
			m.transfers.WithLabelValues(string(b.To)).Inc()
			m.transferAmount.WithLabelValues(string(b.To), b.Currency).Add(float64(b.Amount))
		}
	}
}

func (m *Metrics) deadlineFired(e rules.Event, now time.Time) {
	if m == nil {
		return
	}
	m.deadlinesFired.WithLabelValues(timerKind(e.TimerID)).Inc()
	m.lateness.Observe(max(0, now.Sub(e.Time).Seconds()))
}

// timerKind is the kind of a timer from its ID ("evidence-3"), from a closed
// set so that it can be a label.
func timerKind(id string) string {
	kind, _, _ := strings.Cut(id, "-")
	switch rules.TimerKind(kind) {
	case rules.TimerEvidence, rules.TimerModification, rules.TimerDelivery, rules.TimerCooperation:
		return kind
	}
	return "unknown"
}

// owned records the partitions owned after a generation was joined, or
// none after the member left one.
func (m *Metrics) owned(n int, joined bool) {
	if m == nil {
		return
	}
	if joined {
		m.rebalances.Inc()
	}
	m.partitionsOwned.Set(float64(n))
}

// held counts refused commands and sets the partition's held gauge.
func (m *Metrics) held(p int, total int64, refused []rules.Refusal) {
	if m == nil {
		return
	}
	for _, r := range refused {
		kind := "ruling"
		if strings.HasPrefix(r.Command.Subject, rules.SubjectTransfer+".") {
			kind = "transfer"
		}
		m.refusals.WithLabelValues(kind).Inc()
	}
	m.heldCommands.WithLabelValues(strconv.Itoa(p)).Set(float64(total))
}

func (m *Metrics) clockOffset(d time.Duration) {
	if m == nil {
		return
	}
	m.clock.Set(d.Seconds())
}

func (m *Metrics) behind() {
	if m == nil {
		return
	}
	m.storeBehind.Inc()
}

func (m *Metrics) conflict(cause string) {
	if m == nil {
		return
	}
	m.conflicts.WithLabelValues(cause).Inc()
}

func (m *Metrics) setLag(topic string, p int, lag int64) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(topic, strconv.Itoa(p)).Set(float64(max(0, lag)))
}

func (m *Metrics) batchTook(d time.Duration) {
	if m == nil {
		return
	}
	m.batchSeconds.Observe(d.Seconds())
}

func (m *Metrics) batchFailed(cause string) {
	if m == nil {
		return
	}
	m.batchErrors.WithLabelValues(cause).Inc()
}

func (m *Metrics) commitFailed() {
	if m == nil {
		return
	}
	m.commitErrors.Inc()
}

func (m *Metrics) publishFailed() {
	if m == nil {
		return
	}
	m.publishErrors.Inc()
}

func (m *Metrics) publishedN(n int) {
	if m == nil {
		return
	}
	m.published.Add(float64(n))
}

func (m *Metrics) outbox(p int, depth int64, oldest, now time.Time) {
	if m == nil {
		return
	}
	label := strconv.Itoa(p)
	m.outboxDepth.WithLabelValues(label).Set(float64(depth))
	age := 0.0
	if depth > 0 && !oldest.IsZero() {
		age = max(0, now.Sub(oldest).Seconds())
	}
	m.outboxOldest.WithLabelValues(label).Set(age)
}

func (m *Metrics) storeCall(op string, start time.Time) {
	if m == nil {
		return
	}
	m.storeSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (m *Metrics) publishCall(start time.Time) {
	if m == nil {
		return
	}
	m.publishSeconds.Observe(time.Since(start).Seconds())
}

func (m *Metrics) pending(p int, n int64) {
	if m == nil {
		return
	}
	m.pendingDeadlines.WithLabelValues(strconv.Itoa(p)).Set(float64(n))
}

// released drops the series of a partition this member no longer owns, so
// that it stops reporting frozen values for it.
func (m *Metrics) released(p int, topics []string) {
	if m == nil {
		return
	}
	label := strconv.Itoa(p)
	m.outboxDepth.DeleteLabelValues(label)
	m.outboxOldest.DeleteLabelValues(label)
	m.pendingDeadlines.DeleteLabelValues(label)
	m.heldCommands.DeleteLabelValues(label)
	for _, t := range topics {
		m.lag.DeleteLabelValues(t, label)
	}
}
