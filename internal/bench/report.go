package bench

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/netaddr"

	dto "github.com/prometheus/client_model/go"
)

// report is what `disputed-bench` prints, and writes with --json.
type report struct {
	RunID     string          `json:"run_id"`
	Seed      uint64          `json:"seed"`
	StartedAt time.Time       `json:"started_at"`
	Config    configJSON      `json:"config"`
	Servers   serversReport   `json:"servers"`
	Headline  headline        `json:"headline"`
	Load      loadReport      `json:"load"`
	Scale     []scaleRow      `json:"scale_out,omitempty"`
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
	Members          []int   `json:"members"`
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
	MaxBacklog                  int64          `json:"max_backlog_seen"`
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
	// Load is the CPU used from the start of the load phase until every
	// event was consumed.
	Load cpuUse `json:"load_cpu"`
}

// serversReport says what the run ran on.
type serversReport struct {
	Kafka kafkaInfo `json:"kafka"`
	Redis redisInfo `json:"redis"`
	NATS  string    `json:"nats"`
}

func (r *report) setServers(e *env) {
	r.Servers = serversReport{Kafka: e.kafkaInfo, Redis: e.redisInfo, NATS: r.Config.NATS}
	if e.redis != nil {
		r.Config.Redis = "redis-server of the bench's own, " + netaddr.Redact(e.redisURL)
	}
}

// scaleRow is one step of the scale-out: the load on a number of members.
type scaleRow struct {
	Members                     int     `json:"members"`
	PartitionsOwned             []int   `json:"partitions_owned"`
	Events                      int64   `json:"events"`
	Seconds                     float64 `json:"seconds"`
	EventsPerSec                float64 `json:"events_per_s"`
	Speedup                     float64 `json:"speedup"` // against the first step
	Complete                    bool    `json:"complete"`
	LatencyMs                   quant   `json:"event_to_command_latency_ms"`
	ProducerBacklogLimitedShare float64 `json:"producer_backlog_limited_share"`
	ProducerLaneLimitedShare    float64 `json:"producer_lane_limited_share"`
	AvgBatchSize                float64 `json:"avg_batch_size"`
	CPU                         cpuUse  `json:"cpu"`
	// CPU microseconds per event, by whom: the processors together, each
	// server, the bench process, and the whole machine.
	MicrosPerEvent cpuPerEvent `json:"cpu_us_per_event"`
	Limit          string      `json:"limit"`
}

type cpuPerEvent struct {
	Processors float64 `json:"processors"`
	Redis      float64 `json:"redis"`
	Kafka      float64 `json:"kafka"`
	Bench      float64 `json:"bench_process"`
	Machine    float64 `json:"machine"`
}

func newScaleRow(members int, owned []int, l *loadReport, u cpuUse) scaleRow {
	row := scaleRow{
		Members: members, PartitionsOwned: owned, Events: l.EventsProduced, Seconds: l.ProcessedSeconds,
		EventsPerSec: l.EndToEndEventsPerSec, Complete: l.Complete, LatencyMs: l.LatencyMs,
		ProducerBacklogLimitedShare: l.ProducerBacklogLimitedShare, ProducerLaneLimitedShare: l.ProducerLaneLimitedShare,
		AvgBatchSize: l.ProcessorMetrics.AvgBatchSize, CPU: u,
	}
	if n := float64(l.EventsProduced); n > 0 {
		row.MicrosPerEvent = cpuPerEvent{
			Processors: u.MembersTotal / n * 1e6, Redis: u.Redis / n * 1e6, Kafka: u.Kafka / n * 1e6,
			Bench: u.Bench / n * 1e6, Machine: u.MachineBusy / n * 1e6,
		}
	}
	return row
}

// scaleLimit says what most likely bounded a step: the CPUs when the
// machine was busy nearly all the time, else the producer when it ran out
// of ready orders, else waiting (round trips to the servers, the merge).
func scaleLimit(row scaleRow, rate float64) string {
	switch {
	case row.CPU.MachineShare >= 0.9:
		return fmt.Sprintf("CPU: the machine was %.0f%% busy", 100*row.CPU.MachineShare)
	case rate > 0:
		return "the producer's --rate"
	case row.ProducerLaneLimitedShare > 0.2:
		return "the producer: too few orders ready (raise --orders)"
	default:
		return fmt.Sprintf("not the CPU (the machine was %.0f%% busy): the processors waited", 100*row.CPU.MachineShare)
	}
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
		Partitions: c.Partitions, Members: c.Members, Kafka: kafkaDesc, NATS: natsDesc, Redis: netaddr.Redact(c.RedisURL),
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
	for i := range r.Scale {
		if r.Scale[0].EventsPerSec > 0 {
			r.Scale[i].Speedup = r.Scale[i].EventsPerSec / r.Scale[0].EventsPerSec
		}
		r.Scale[i].Limit = scaleLimit(r.Scale[i], r.Config.Rate)
	}
	if r.Load.ProducerLaneLimitedShare > 0.2 && r.Config.Rate == 0 {
		r.note("the producer ran out of ready orders %.0f%% of the time: the processor was not saturated; raise --orders", 100*r.Load.ProducerLaneLimitedShare)
	}
}
