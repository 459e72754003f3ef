package deploy

// exported are the metrics disputed registers, besides the Go runtime's
// and the process's below. TestExportedMetrics keeps the list equal to the
// metric names in the code, and the test in cmd/disputed that scrapes
// /metrics compares UsedMetrics with what is really served.
var exported = []string{
	"disputed_api_requests_total",
	"disputed_batch_duration_seconds",
	"disputed_batch_errors_total",
	"disputed_build_info",
	"disputed_clock_offset_seconds",
	"disputed_commands_published_total",
	"disputed_consumer_lag_messages",
	"disputed_deadline_lateness_seconds",
	"disputed_deadlines_cancelled_total",
	"disputed_deadlines_fired_total",
	"disputed_deadlines_pending",
	"disputed_deadlines_set_total",
	"disputed_events_misrouted_total",
	"disputed_events_total",
	"disputed_guard_refusals_total",
	"disputed_held_commands",
	"disputed_nats_publish_duration_seconds",
	"disputed_offset_commit_errors_total",
	"disputed_open_disputes",
	"disputed_outbox_depth",
	"disputed_outbox_oldest_age_seconds",
	"disputed_partitions_owned",
	"disputed_publish_errors_total",
	"disputed_rebalances_total",
	"disputed_redis_call_duration_seconds",
	"disputed_rulings_total",
	"disputed_store_behind_commits_total",
	"disputed_store_conflicts_total",
	"disputed_transfer_amount_minor_total",
	"disputed_transfers_total",
}

// runtimeMetrics are the series of client_golang's Go and process
// collectors (v1.25, default options) that the dashboard may use.
var runtimeMetrics = []string{
	"go_gc_duration_seconds", "go_gc_duration_seconds_count", "go_gc_duration_seconds_sum",
	"go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
	"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_heap_alloc_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
	"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
	"process_cpu_seconds_total", "process_max_fds", "process_open_fds", "process_resident_memory_bytes",
	"process_start_time_seconds", "process_virtual_memory_bytes",
}

const namespace = "disputed"
