package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/disputed/disputed/internal/netaddr"

	dto "github.com/prometheus/client_model/go"
)

// report is what `disputed bench` prints, and writes with --json.
type report struct {
	RunID     string          `json:"run_id"`
	Seed      uint64          `json:"seed"`
	StartedAt time.Time       `json:"started_at"`
	Config    configJSON      `json:"config"`
	Headline  headline        `json:"headline"`
	Load      loadReport      `json:"load"`
	Deadlines deadlineReport  `json:"deadlines"`
	Processor processorReport `json:"processor"`
	Redis     redisReport     `json:"redis"`
	Ceilings  ceilingReport   `json:"ceilings"`
	BadInput  badInputReport  `json:"bad_input"`
	Preload   preloadReport   `json:"preload"`
	Host      hostReport      `json:"host"`
	Notes     []string        `json:"notes,omitempty"`
}

type configJSON struct {
	Duration         string  `json:"duration"`
	Orders           int     `json:"orders"`
	Rate             float64 `json:"rate"`
	Gap              string  `json:"gap"`
	MaxBacklog       int     `json:"max_backlog"`
	Partitions       int     `json:"partitions"`
	Kafka            string  `json:"kafka"`
	NATS             string  `json:"nats"`
	Redis            string  `json:"redis"`
	Deadlines        int     `json:"deadlines"`
	DeadlineSpread   string  `json:"deadline_spread"`
	EvidenceWindow   string  `json:"evidence_window"`
	MaxBatch         int     `json:"max_batch"`
	BadShare         float64 `json:"bad_share"`
	OpenDisputes     int     `json:"open_disputes"`
	PendingDeadlines int     `json:"pending_deadlines"`
	CPUs             int     `json:"cpus"`
}

// quant summarizes samples, in milliseconds.
type quant struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func quantiles(xs []float64) quant {
	if len(xs) == 0 {
		return quant{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return quant{Count: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// histQuantiles estimates from a histogram in seconds, scaled (1000: ms).
func histQuantiles(h *dto.Histogram, scale float64) quant {
	n, bs := sampleCount(h), h.GetBucket()
	q := quant{Count: int(n)}
	if n <= 0 || len(bs) == 0 {
		return q
	}
	q.P50, q.P99, q.Mean = quantile(h, 0.5)*scale, quantile(h, 0.99)*scale, mean(h)*scale
	// The max is known only to its bucket: report the bucket's upper bound.
	total := cumulative(bs[len(bs)-1])
	for i, b := range bs {
		if cumulative(b) >= total {
			if math.IsInf(b.GetUpperBound(), 1) && i > 0 {
				q.Max = bs[i-1].GetUpperBound() * scale
			} else {
				q.Max = b.GetUpperBound() * scale
			}
			break
		}
	}
	return q
}

func numCPU() int { return runtime.NumCPU() }

type headline struct {
	EndToEndEventsPerSec      float64 `json:"end_to_end_events_per_s"`
	LowestCeiling             string  `json:"lowest_ceiling"`
	LowestCeilingEventsPerSec float64 `json:"lowest_ceiling_events_per_s"`
	ShareOfLowestCeiling      float64 `json:"share_of_lowest_ceiling"`
	// The three servers share this machine's CPUs, so each event costs the
	// sum of its three works: 1 / (1/kafka + 1/redis + 1/jetstream).
	CombinedCeilingEventsPerSec float64 `json:"combined_ceiling_events_per_s"`
	ShareOfCombinedCeiling      float64 `json:"share_of_combined_ceiling"`
}

type loadReport struct {
	EventsProduced              int64          `json:"events_produced"`
	ProduceSeconds              float64        `json:"produce_seconds"`
	ProcessedSeconds            float64        `json:"processed_seconds"`
	EndToEndEventsPerSec        float64        `json:"end_to_end_events_per_s"`
	ProducerLaneLimitedShare    float64        `json:"producer_lane_limited_share"`
	ProducerBacklogLimitedShare float64        `json:"producer_backlog_limited_share"`
	Stories                     map[string]int `json:"stories"`
	Commands                    int            `json:"commands"`
	CommandsPerEvent            float64        `json:"commands_per_event"`
	ExpectedEventCommands       int            `json:"expected_event_commands"`
	SeenEventCommands           int            `json:"seen_event_commands"`
	ExpectedDeadlineCommands    int            `json:"expected_deadline_commands"`
	SeenDeadlineCommands        int            `json:"seen_deadline_commands"`
	Complete                    bool           `json:"complete"`
	LatencyMs                   quant          `json:"event_to_command_latency_ms"`
	ProduceCallMs               quant          `json:"produce_call_ms"`
	StoryDeadlineLatenessMs     quant          `json:"story_deadline_lateness_ms"`
	ProcessorMetrics            phaseMetrics   `json:"processor_metrics"`
}

type deadlineReport struct {
	Deadlines                  int          `json:"deadlines"`
	SpreadSeconds              float64      `json:"spread_seconds"`
	SetupSeconds               float64      `json:"setup_seconds"`
	ArmedSecondsBeforeFirstDue float64      `json:"armed_seconds_before_first_due"`
	Rulings                    int          `json:"rulings"`
	ExpectedRulings            int          `json:"expected_rulings"`
	Complete                   bool         `json:"complete"`
	LatenessMs                 quant        `json:"lateness_ms"`
	MetricLatenessMs           quant        `json:"metric_lateness_ms"`
	MetricFired                int64        `json:"metric_fired"`
	ProcessorMetrics           phaseMetrics `json:"processor_metrics"`
}

// phaseMetrics is what the processor's own metrics say about a phase.
type phaseMetrics struct {
	Events           int64              `json:"events"`
	Batches          int64              `json:"batches"`
	AvgBatchSize     float64            `json:"avg_batch_size"`
	BatchMs          quant              `json:"batch_duration_ms"`
	BatchBusySeconds float64            `json:"batch_busy_seconds"`
	RedisSeconds     map[string]float64 `json:"redis_seconds_by_op"`
	RedisCalls       map[string]int64   `json:"redis_calls_by_op"`
	PublishSeconds   float64            `json:"publish_seconds"`
	PublishRuns      int64              `json:"publish_runs"`
	Published        int64              `json:"published"`
	EventsByResult   map[string]int64   `json:"events_by_result"`
}

func (b *run) fillProcessorMetrics(pm *phaseMetrics, m0, m1 promMetrics) {
	if m0 == nil || m1 == nil {
		return
	}
	bh := minus(m1.histogram("disputed_batch_duration_seconds", nil), m0.histogram("disputed_batch_duration_seconds", nil))
	pm.Batches = int64(sampleCount(bh))
	pm.BatchMs = histQuantiles(bh, 1000)
	pm.BatchBusySeconds = bh.GetSampleSum()
	pm.Events = int64(m1.sum("disputed_events_total", nil) - m0.sum("disputed_events_total", nil))
	if pm.Batches > 0 {
		pm.AvgBatchSize = float64(pm.Events) / float64(pm.Batches)
	}
	pm.RedisSeconds, pm.RedisCalls = map[string]float64{}, map[string]int64{}
	for _, op := range []string{"load", "save", "due"} {
		h := minus(m1.histogram("disputed_redis_call_duration_seconds", label("op", op)), m0.histogram("disputed_redis_call_duration_seconds", label("op", op)))
		pm.RedisSeconds[op], pm.RedisCalls[op] = h.GetSampleSum(), int64(sampleCount(h))
	}
	ph := minus(m1.histogram("disputed_nats_publish_duration_seconds", nil), m0.histogram("disputed_nats_publish_duration_seconds", nil))
	pm.PublishSeconds, pm.PublishRuns = ph.GetSampleSum(), int64(sampleCount(ph))
	pm.Published = int64(m1.sum("disputed_commands_published_total", nil) - m0.sum("disputed_commands_published_total", nil))
	pm.EventsByResult = map[string]int64{}
	for _, r := range []string{resultNames.applied, resultNames.duplicate, resultNames.rejected, resultNames.deadLettered} {
		if n := int64(m1.sum("disputed_events_total", label("result", r)) - m0.sum("disputed_events_total", label("result", r))); n > 0 {
			pm.EventsByResult[r] = n
		}
	}
}

// resultNames are the result label values of disputed_events_total.
var resultNames = struct{ applied, duplicate, rejected, deadLettered string }{"applied", "duplicate", "rejected", "dead_lettered"}

type processorReport struct {
	CPUSeconds            float64        `json:"cpu_seconds"`
	LoadCPUSeconds        float64        `json:"load_cpu_seconds"`
	LoadCPUMicrosPerEvent float64        `json:"load_cpu_us_per_event"`
	PeakRSSBytes          int64          `json:"peak_rss_bytes"`
	RSSAfterLoadBytes     int64          `json:"rss_after_load_bytes"`
	EventsConsumed        int64          `json:"events_consumed"`
	BatchErrors           int64          `json:"batch_errors"`
	PublishErrors         int64          `json:"publish_errors"`
	Rebalances            int64          `json:"rebalances"`
	LogLines              map[string]int `json:"log_lines_by_level"`
}

type redisReport struct {
	OpenDisputes                          int64   `json:"open_disputes"`
	PendingDeadlines                      int64   `json:"pending_deadlines"`
	SampledDisputes                       int64   `json:"sampled_disputes"`
	OrderHashBytes                        float64 `json:"order_hash_bytes"`
	StatusIndexBytesPerDispute            float64 `json:"status_index_bytes_per_dispute"`
	BytesPerDispute                       float64 `json:"bytes_per_open_dispute"`
	BytesPerDeadline                      float64 `json:"bytes_per_pending_deadline"`
	UsedMemoryDeltaPerDisputeWithDeadline float64 `json:"used_memory_delta_per_dispute_with_deadline"`
	KeysDeleted                           int64   `json:"keys_deleted"`
}

type ceilingReport struct {
	KafkaMessages           int64   `json:"kafka_messages"`
	KafkaSeconds            float64 `json:"kafka_seconds"`
	KafkaReadEventsPerSec   float64 `json:"kafka_read_events_per_s"`
	RedisEvents             int     `json:"redis_events"`
	RedisSaves              int     `json:"redis_saves"`
	RedisBatchSize          int     `json:"redis_batch_size"`
	RedisSeconds            float64 `json:"redis_seconds"`
	RedisSaveEventsPerSec   float64 `json:"redis_save_events_per_s"`
	JetStreamCommands       int     `json:"jetstream_commands"`
	JetStreamSeconds        float64 `json:"jetstream_seconds"`
	JetStreamCommandsPerSec float64 `json:"jetstream_commands_per_s"`
	JetStreamEventsPerSec   float64 `json:"jetstream_events_per_s"`
}

type badInputReport struct {
	Share                  float64        `json:"share"`
	Produced               map[string]int `json:"produced,omitempty"`
	ExpectedDeadLetters    int            `json:"expected_dead_letters"`
	DeadLetters            int            `json:"dead_letters"`
	MetricDeadLettered     int            `json:"metric_dead_lettered"`
	ExpectedRejections     int            `json:"expected_rejections"`
	Rejections             int            `json:"rejections"`
	OverLimitRejections    int            `json:"over_limit_rejections"`
	ExpectedApplied        int            `json:"expected_applied"`
	FloodOrderStateBytes   int64          `json:"flood_order_state_bytes"`
	GoodCommandsAllArrived bool           `json:"good_commands_all_arrived"`
	OversizedSent          int            `json:"oversized_sent"`
	OversizedBytes         int            `json:"oversized_bytes"`
	OversizedProduceError  string         `json:"oversized_produce_error,omitempty"`
	OversizedDeadLettered  int            `json:"oversized_dead_lettered"`
	OversizedOutcome       string         `json:"oversized_outcome,omitempty"`
}

type preloadReport struct {
	OpenDisputes            int     `json:"open_disputes"`
	PendingDeadlines        int     `json:"pending_deadlines"`
	PendingDeadlinesInRedis int64   `json:"pending_deadlines_in_redis"`
	Seconds                 float64 `json:"seconds"`
	UsedMemoryPerDispute    float64 `json:"used_memory_per_dispute"`
}

type hostReport struct {
	LoadBenchCPUSeconds float64 `json:"load_bench_cpu_seconds"`
	LoadRedisCPUSeconds float64 `json:"load_redis_cpu_seconds"`
}

func newReport(c config) *report {
	kafkaDesc, natsDesc := "kfake in process", "in process (JetStream, file store)"
	if len(c.KafkaBrokers) > 0 {
		kafkaDesc = strings.Join(c.KafkaBrokers, ",")
	}
	if c.NATSURL != "" {
		natsDesc = netaddr.RedactList(c.NATSURL)
	}
	r := &report{StartedAt: time.Now().UTC(), Config: configJSON{
		Duration: c.Duration.String(), Orders: c.Orders, Rate: c.Rate, Gap: c.Gap.String(), MaxBacklog: c.MaxBacklog,
		Partitions: c.Partitions, Kafka: kafkaDesc, NATS: natsDesc, Redis: netaddr.Redact(c.RedisURL),
		Deadlines: c.Deadlines, DeadlineSpread: c.DeadlineSpread.String(), EvidenceWindow: c.EvidenceWindow.String(),
		MaxBatch: c.MaxBatch, BadShare: c.BadShare, OpenDisputes: c.OpenDisputes, PendingDeadlines: c.PendingDeadlines,
		CPUs: numCPU(),
	}}
	r.BadInput.Share = c.BadShare
	return r
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// finish works out the headline: the processor's end-to-end throughput as
// a share of the lowest ceiling.
func (r *report) finish() {
	c := r.Ceilings
	r.Headline.EndToEndEventsPerSec = r.Load.EndToEndEventsPerSec
	lowest, name := math.Inf(1), ""
	for _, x := range []struct {
		name string
		v    float64
	}{{"kafka read", c.KafkaReadEventsPerSec}, {"redis save", c.RedisSaveEventsPerSec}, {"jetstream publish", c.JetStreamEventsPerSec}} {
		if x.v > 0 && x.v < lowest {
			lowest, name = x.v, x.name
		}
	}
	if name != "" {
		r.Headline.LowestCeiling, r.Headline.LowestCeilingEventsPerSec = name, lowest
		r.Headline.ShareOfLowestCeiling = r.Load.EndToEndEventsPerSec / lowest
	}
	if c.KafkaReadEventsPerSec > 0 && c.RedisSaveEventsPerSec > 0 && c.JetStreamEventsPerSec > 0 {
		comb := 1 / (1/c.KafkaReadEventsPerSec + 1/c.RedisSaveEventsPerSec + 1/c.JetStreamEventsPerSec)
		r.Headline.CombinedCeilingEventsPerSec = comb
		r.Headline.ShareOfCombinedCeiling = r.Load.EndToEndEventsPerSec / comb
	}
	if r.Load.ProducerLaneLimitedShare > 0.2 && r.Config.Rate == 0 {
		r.note("the producer ran out of ready orders %.0f%% of the time: the processor was not saturated; raise --orders", 100*r.Load.ProducerLaneLimitedShare)
	}
}

func (r *report) printTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	head := func(s string) { fmt.Fprintf(tw, "%s\t\n", s) }
	ms := func(q quant) string {
		if q.Count == 0 {
			return "(none)"
		}
		return fmt.Sprintf("p50 %.0f  p99 %.0f  max %.0f ms  (n=%d)", q.P50, q.P99, q.Max, q.Count)
	}
	c := r.Config
	fmt.Fprintf(tw, "disputed bench %s: %s load, rate %s, %d orders, %d partitions, %d CPUs; kafka %s, nats %s, redis %s\n",
		r.RunID, c.Duration, rateString(c.Rate), c.Orders, c.Partitions, c.CPUs, c.Kafka, c.NATS, c.Redis)
	h := r.Headline
	head("headline")
	row("end-to-end", "%.0f events/s", h.EndToEndEventsPerSec)
	if h.LowestCeiling != "" {
		row("lowest ceiling", "%s, %.0f events/s", h.LowestCeiling, h.LowestCeilingEventsPerSec)
		row("share of lowest ceiling", "%.0f%%", 100*h.ShareOfLowestCeiling)
	}
	if h.CombinedCeilingEventsPerSec > 0 {
		row("combined ceiling (one CPU pool)", "%.0f events/s; end-to-end is %.0f%% of it", h.CombinedCeilingEventsPerSec, 100*h.ShareOfCombinedCeiling)
	}
	l := r.Load
	head("load (mixed stories)")
	row("events produced", "%d in %.1fs; all consumed and their commands seen after %.1fs", l.EventsProduced, l.ProduceSeconds, l.ProcessedSeconds)
	row("producer limited by", "backlog %.0f%%, ready orders %.0f%% of the time", 100*l.ProducerBacklogLimitedShare, 100*l.ProducerLaneLimitedShare)
	row("commands", "%d (%.2f per good event); event commands %d/%d, deadline commands %d/%d; complete %v",
		l.Commands, l.CommandsPerEvent, l.SeenEventCommands, l.ExpectedEventCommands, l.SeenDeadlineCommands, l.ExpectedDeadlineCommands, l.Complete)
	row("event-to-command latency", "%s", ms(l.LatencyMs))
	row("  of which producing (a write)", "%s", ms(l.ProduceCallMs))
	row("story deadline lateness", "%s", ms(l.StoryDeadlineLatenessMs))
	printPhaseMetrics(row, l.ProcessorMetrics)
	if len(l.Stories) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(l.Stories)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, l.Stories[k]))
		}
		row("stories", "%s", strings.Join(parts, ", "))
	}
	if d := r.Deadlines; d.Deadlines > 0 {
		head(fmt.Sprintf("deadlines (%d evidence deadlines due within %.0fs)", d.Deadlines, d.SpreadSeconds))
		if a := d.ArmedSecondsBeforeFirstDue; a >= 0 {
			row("armed", "all %.1fs before the first was due (setup %.1fs)", a, d.SetupSeconds)
		} else {
			row("armed", "the last %.1fs after the first was due: arming overlapped firing (setup %.1fs)", -a, d.SetupSeconds)
		}
		row("rulings", "%d/%d; complete %v", d.Rulings, d.ExpectedRulings, d.Complete)
		row("lateness (ruling seen - due)", "%s", ms(d.LatenessMs))
		row("lateness (processor metric)", "%s (fired %d)", ms(d.MetricLatenessMs), d.MetricFired)
		printPhaseMetrics(row, d.ProcessorMetrics)
	}
	p := r.Processor
	head("processor (child process)")
	row("CPU", "%.1fs in all, %.1fs during the load (%.0f µs per event)", p.CPUSeconds, p.LoadCPUSeconds, p.LoadCPUMicrosPerEvent)
	row("peak RSS", "%.1f MiB (%.1f MiB after the load)", float64(p.PeakRSSBytes)/(1<<20), float64(p.RSSAfterLoadBytes)/(1<<20))
	row("errors", "batch %d, publish %d; rebalances %d; log lines %v", p.BatchErrors, p.PublishErrors, p.Rebalances, p.LogLines)
	row("host CPU during the load", "bench process (kfake, NATS, producer, observer) %.1fs, Redis %.1fs", r.Host.LoadBenchCPUSeconds, r.Host.LoadRedisCPUSeconds)
	rd := r.Redis
	head("redis memory")
	row("per open dispute", "%.0f bytes (order hash %.0f + status index %.0f; %d sampled of %d open)", rd.BytesPerDispute, rd.OrderHashBytes, rd.StatusIndexBytesPerDispute, rd.SampledDisputes, rd.OpenDisputes)
	row("per pending deadline", "%.0f bytes (timers sorted sets / %d members)", rd.BytesPerDeadline, rd.PendingDeadlines)
	row("used_memory delta", "%.0f bytes per dispute with its deadline", rd.UsedMemoryDeltaPerDisputeWithDeadline)
	ce := r.Ceilings
	head("ceilings (same run, processor stopped)")
	row("kafka read (Client.Fetch)", "%.0f events/s (%d messages in %.2fs)", ce.KafkaReadEventsPerSec, ce.KafkaMessages, ce.KafkaSeconds)
	row("redis save (state.Redis.Save)", "%.0f events/s (%d events, %d saves of ~%d in %.2fs)", ce.RedisSaveEventsPerSec, ce.RedisEvents, ce.RedisSaves, ce.RedisBatchSize, ce.RedisSeconds)
	row("jetstream publish (runs of 256)", "%.0f commands/s = %.0f events/s (%d commands in %.2fs)", ce.JetStreamCommandsPerSec, ce.JetStreamEventsPerSec, ce.JetStreamCommands, ce.JetStreamSeconds)
	if bi := r.BadInput; bi.Share > 0 {
		head(fmt.Sprintf("bad input (share %.2f)", bi.Share))
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(bi.Produced)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, bi.Produced[k]))
		}
		row("produced", "%s", strings.Join(parts, ", "))
		row("dead letters", "%d in the DLQ topic, %d expected (processor metric %d)", bi.DeadLetters, bi.ExpectedDeadLetters, bi.MetricDeadLettered)
		row("rejections", "%d seen: %d not allowed (%d expected), %d over a per-order limit (of %d applied-or-limited)",
			bi.Rejections, bi.Rejections-bi.OverLimitRejections, bi.ExpectedRejections, bi.OverLimitRejections, bi.ExpectedApplied)
		row("flooded order's state", "%d bytes after %d chats", bi.FloodOrderStateBytes, bi.Produced[hostileNames[floodChat]])
		row("good commands all arrived", "%v", bi.GoodCommandsAllArrived)
		if bi.OversizedSent > 0 {
			outcome := bi.OversizedOutcome
			if bi.OversizedProduceError != "" {
				outcome = "not produced: " + bi.OversizedProduceError
			}
			row("oversized probe", "%d × %d bytes: %s", bi.OversizedSent, bi.OversizedBytes, outcome)
		}
	}
	if pl := r.Preload; pl.OpenDisputes > 0 {
		head("preload")
		row("open disputes", "%d with %d pending deadlines in Redis, written in %.1fs (%.0f bytes each by used_memory)", pl.OpenDisputes, pl.PendingDeadlinesInRedis, pl.Seconds, pl.UsedMemoryPerDispute)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note: %s\n", n)
	}
	tw.Flush()
}

func printPhaseMetrics(row func(string, string, ...any), pm phaseMetrics) {
	if pm.Batches == 0 {
		return
	}
	row("batches (processor metric)", "%d, %.1f events each; duration p50 %.1f p99 %.1f mean %.1f ms; busy %.1fs",
		pm.Batches, pm.AvgBatchSize, pm.BatchMs.P50, pm.BatchMs.P99, pm.BatchMs.Mean, pm.BatchBusySeconds)
	var parts []string
	for _, op := range []string{"load", "save", "due"} {
		parts = append(parts, fmt.Sprintf("%s %.1fs/%d", op, pm.RedisSeconds[op], pm.RedisCalls[op]))
	}
	row("redis time/calls", "%s; nats publish %.1fs/%d runs, %d published", strings.Join(parts, ", "), pm.PublishSeconds, pm.PublishRuns, pm.Published)
}
