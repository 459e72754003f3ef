package report

import (
	"fmt"
	"time"
)

// Report is what `disputed-bench` prints, and writes with --json: its JSON
// field names are the format that `disputed-bench compare` reads, and must
// not change.
type Report struct {
	RunID     string     `json:"run_id"`
	Seed      uint64     `json:"seed"`
	StartedAt time.Time  `json:"started_at"`
	Config    Config     `json:"config"`
	Servers   Servers    `json:"servers"`
	Headline  Headline   `json:"headline"`
	Load      Load       `json:"load"`
	Scale     []ScaleRow `json:"scale_out,omitempty"`
	Deadlines Deadlines  `json:"deadlines"`
	Processor Processor  `json:"processor"`
	Redis     Redis      `json:"redis"`
	Ceilings  Ceilings   `json:"ceilings"`
	BadInput  BadInput   `json:"bad_input"`
	Preload   Preload    `json:"preload"`
	Host      Host       `json:"host"`
	Notes     []string   `json:"notes,omitempty"`
}

// Config is how the run was configured, as far as the report tells.
type Config struct {
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

// Headline is the processor's end-to-end throughput against the ceilings.
type Headline struct {
	EndToEndEventsPerSec      float64 `json:"end_to_end_events_per_s"`
	LowestCeiling             string  `json:"lowest_ceiling"`
	LowestCeilingEventsPerSec float64 `json:"lowest_ceiling_events_per_s"`
	ShareOfLowestCeiling      float64 `json:"share_of_lowest_ceiling"`
	// The three servers share this machine's CPUs, so each event costs the
	// sum of its three works: 1 / (1/kafka + 1/redis + 1/jetstream).
	CombinedCeilingEventsPerSec float64 `json:"combined_ceiling_events_per_s"`
	ShareOfCombinedCeiling      float64 `json:"share_of_combined_ceiling"`
}

// Load is the load phase (or one step of a scale-out): mixed stories.
type Load struct {
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
	LatencyMs                   Quant          `json:"event_to_command_latency_ms"`
	ProduceCallMs               Quant          `json:"produce_call_ms"`
	StoryDeadlineLatenessMs     Quant          `json:"story_deadline_lateness_ms"`
	ProcessorMetrics            PhaseMetrics   `json:"processor_metrics"`
}

// Deadlines is the deadline phase: many deadlines due within seconds.
type Deadlines struct {
	Deadlines                  int          `json:"deadlines"`
	SpreadSeconds              float64      `json:"spread_seconds"`
	SetupSeconds               float64      `json:"setup_seconds"`
	ArmedSecondsBeforeFirstDue float64      `json:"armed_seconds_before_first_due"`
	Rulings                    int          `json:"rulings"`
	ExpectedRulings            int          `json:"expected_rulings"`
	Complete                   bool         `json:"complete"`
	LatenessMs                 Quant        `json:"lateness_ms"`
	MetricLatenessMs           Quant        `json:"metric_lateness_ms"`
	MetricFired                int64        `json:"metric_fired"`
	ProcessorMetrics           PhaseMetrics `json:"processor_metrics"`
}

// PhaseMetrics is what the processor's own metrics say about a phase.
type PhaseMetrics struct {
	Events           int64              `json:"events"`
	Batches          int64              `json:"batches"`
	AvgBatchSize     float64            `json:"avg_batch_size"`
	BatchMs          Quant              `json:"batch_duration_ms"`
	BatchBusySeconds float64            `json:"batch_busy_seconds"`
	RedisSeconds     map[string]float64 `json:"redis_seconds_by_op"`
	RedisCalls       map[string]int64   `json:"redis_calls_by_op"`
	PublishSeconds   float64            `json:"publish_seconds"`
	PublishRuns      int64              `json:"publish_runs"`
	Published        int64              `json:"published"`
	EventsByResult   map[string]int64   `json:"events_by_result"`
}

// Processor is the processors' CPU, memory, errors and logs over the run.
type Processor struct {
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

// Redis is what open disputes and pending deadlines cost in Redis.
type Redis struct {
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

// Ceilings is what each server does alone, measured after the load.
type Ceilings struct {
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

// BadInput is what became of the hostile input (--bad-share).
type BadInput struct {
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

// FloodKind is the BadInput.Produced key of the flood's chats.
const FloodKind = "flood_one_order"

// Preload is the disputes written into Redis before the load.
type Preload struct {
	OpenDisputes            int     `json:"open_disputes"`
	PendingDeadlines        int     `json:"pending_deadlines"`
	PendingDeadlinesInRedis int64   `json:"pending_deadlines_in_redis"`
	Seconds                 float64 `json:"seconds"`
	UsedMemoryPerDispute    float64 `json:"used_memory_per_dispute"`
}

// Host is the CPU of the machine and its processes during the load.
type Host struct {
	LoadBenchCPUSeconds float64 `json:"load_bench_cpu_seconds"`
	LoadRedisCPUSeconds float64 `json:"load_redis_cpu_seconds"`
	// Load is the CPU used from the start of the load phase until every
	// event was consumed.
	Load CPUUse `json:"load_cpu"`
}

// Servers says what the run ran on.
type Servers struct {
	Kafka KafkaInfo `json:"kafka"`
	Redis RedisInfo `json:"redis"`
	NATS  string    `json:"nats"`
}

// KafkaInfo is what the report says about the Kafka the run used.
type KafkaInfo struct {
	Kind        string `json:"kind"` // kfake or external
	Version     string `json:"version"`
	VersionFrom string `json:"version_from"`
	Brokers     int    `json:"brokers"`
	PIDs        []int  `json:"pids,omitempty"` // the brokers' processes (--kafka-dir)
}

// RedisInfo is what the report says about the Redis the run used.
type RedisInfo struct {
	Version     string `json:"version"`
	Own         bool   `json:"started_by_bench"`
	AppendOnly  string `json:"appendonly"`
	AppendFsync string `json:"appendfsync"`
	Save        string `json:"save"`
	Dir         string `json:"dir,omitempty"`
	DirFS       string `json:"dir_filesystem,omitempty"`
}

// ScaleRow is one step of the scale-out: the load on a number of members.
type ScaleRow struct {
	Members                     int     `json:"members"`
	PartitionsOwned             []int   `json:"partitions_owned"`
	Events                      int64   `json:"events"`
	Seconds                     float64 `json:"seconds"`
	EventsPerSec                float64 `json:"events_per_s"`
	Speedup                     float64 `json:"speedup"` // against the first step
	Complete                    bool    `json:"complete"`
	LatencyMs                   Quant   `json:"event_to_command_latency_ms"`
	ProducerBacklogLimitedShare float64 `json:"producer_backlog_limited_share"`
	ProducerLaneLimitedShare    float64 `json:"producer_lane_limited_share"`
	AvgBatchSize                float64 `json:"avg_batch_size"`
	CPU                         CPUUse  `json:"cpu"`
	// CPU microseconds per event, by whom: the processors together, each
	// server, the bench process, and the whole machine.
	MicrosPerEvent CPUPerEvent `json:"cpu_us_per_event"`
	Limit          string      `json:"limit"`
}

// CPUPerEvent is CPU microseconds per event, by whom.
type CPUPerEvent struct {
	Processors float64 `json:"processors"`
	Redis      float64 `json:"redis"`
	Kafka      float64 `json:"kafka"`
	Bench      float64 `json:"bench_process"`
	Machine    float64 `json:"machine"`
}

// CPUUse is the CPU used over an interval (between two samples), in
// seconds.
type CPUUse struct {
	Seconds        float64   `json:"seconds"`
	Members        []float64 `json:"processors"` // each processor
	MembersTotal   float64   `json:"processors_total"`
	Bench          float64   `json:"bench_process"`
	Redis          float64   `json:"redis"`
	Kafka          float64   `json:"kafka"` // 0: unknown (kfake is in the bench process)
	MachineBusy    float64   `json:"machine_busy"`
	MachineCPUs    int       `json:"machine_cpus"`
	MachineShare   float64   `json:"machine_busy_share"` // of all CPUs over the interval
	Others         float64   `json:"others"`             // machine busy less all of the above
	LoadAvg1Before float64   `json:"load_avg_1m_before"`
	LoadAvg1After  float64   `json:"load_avg_1m_after"`
}

// Note adds a line to the report's notes.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}
