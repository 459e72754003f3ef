package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// PrintTable writes the report as the table `disputed-bench` prints.
func (r *Report) PrintTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	head := func(s string) { fmt.Fprintf(tw, "%s\t\n", s) }
	ms := func(q Quant) string {
		if q.Count == 0 {
			return "(none)"
		}
		return fmt.Sprintf("p50 %.0f  p99 %.0f  max %.0f ms  (n=%d)", q.P50, q.P99, q.Max, q.Count)
	}
	c := r.Config
	fmt.Fprintf(tw, "disputed-bench %s: %s load, rate %s, %d orders, %d partitions, members %s, %d CPUs\n",
		r.RunID, c.Duration, RateString(c.Rate), c.Orders, c.Partitions, joinInts(c.Members, ","), c.CPUs)
	sv := r.Servers
	head("servers")
	row("kafka", "%s", sv.Kafka.describe(c.Kafka))
	row("redis", "%s", sv.Redis.describe(c.Redis))
	row("nats", "%s", c.NATS)
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
	row("producer limited by", "backlog %.0f%%, ready orders %.0f%% of the time; backlog at most %d", 100*l.ProducerBacklogLimitedShare, 100*l.ProducerLaneLimitedShare, l.MaxBacklog)
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
	if len(r.Scale) > 0 {
		// A table of its own: its columns are not the report's.
		tw.Flush()
		fmt.Fprintf(w, "scale-out: %s of load per step, the members of one consumer group, %d partitions; CPU in CPUs (seconds per second)\n", c.Duration, c.Partitions)
		st := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(st, "  %s\n", strings.Join(scaleColumns, "\t"))
		for _, s := range r.Scale {
			fmt.Fprintf(st, "  %s\n", strings.Join(s.cells(), "\t"))
		}
		st.Flush()
		for _, s := range r.Scale {
			fmt.Fprintf(w, "  limit with %d: %s\n", s.Members, s.Limit)
		}
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
	row("host CPU during the load", "%s", r.Host.Load.describe(r.benchProcess(), r.Servers.Kafka.Kind))
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
		row("flooded order's state", "%d bytes after %d chats", bi.FloodOrderStateBytes, bi.Produced[FloodKind])
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

// benchProcess says what runs in the bench process besides the producer
// and the observer.
func (r *Report) benchProcess() string {
	parts := []string{}
	if r.Servers.Kafka.Kind == "kfake" {
		parts = append(parts, "kfake")
	}
	if strings.HasPrefix(r.Config.NATS, "in process") {
		parts = append(parts, "NATS")
	}
	return "bench process (" + strings.Join(append(parts, "producer", "observer"), ", ") + ")"
}

func (k KafkaInfo) describe(addr string) string {
	if k.Kind == "kfake" {
		return k.Version + ", in the bench process"
	}
	s := fmt.Sprintf("%s, %d broker(s) at %s", k.Version, k.Brokers, addr)
	if k.VersionFrom != "" {
		s += " (version from " + k.VersionFrom + ")"
	}
	return s
}

func (ri RedisInfo) describe(addr string) string {
	s := fmt.Sprintf("%s, %s; appendonly %s, appendfsync %s, snapshots (save) %s", ri.Version, addr, ri.AppendOnly, ri.AppendFsync, ri.Save)
	if ri.DirFS != "" {
		s += "; append-only file on " + ri.DirFS
	}
	return s
}

func (u CPUUse) describe(bench, kafkaKind string) string {
	if u.Seconds <= 0 {
		return "(not measured)"
	}
	kafka := fmt.Sprintf("Kafka %.1fs", u.Kafka)
	switch {
	case kafkaKind == "kfake":
		kafka = "Kafka (in the bench process)"
	case u.Kafka <= 0:
		kafka = "Kafka (not measured: its processes are not known without --kafka-dir)"
	}
	return fmt.Sprintf("over %.1fs: processors %.1fs, %s %.1fs, Redis %.1fs, %s; the machine %.1fs busy of %.1fs (%.0f%% of %d CPUs; others %.1fs); load average %.2f then %.2f",
		u.Seconds, u.MembersTotal, bench, u.Bench, u.Redis, kafka, u.MachineBusy, u.Seconds*float64(u.MachineCPUs), 100*u.MachineShare, u.MachineCPUs, u.Others, u.LoadAvg1Before, u.LoadAvg1After)
}

// scaleColumns heads the scale-out table; CPU figures are in CPUs (seconds
// of CPU per second of the step) and microseconds per event.
var scaleColumns = []string{"members", "partitions", "events/s", "speedup", "processors CPU", "processors µs/event",
	"redis CPU", "kafka CPU", "bench CPU", "machine busy", "others", "load avg", "latency p50/p99 ms", "complete"}

func (s ScaleRow) cells() []string {
	u := s.CPU
	per := func(x float64) string {
		if u.Seconds <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", x/u.Seconds)
	}
	var each []string
	for _, m := range u.Members {
		each = append(each, per(m))
	}
	return []string{
		strconv.Itoa(s.Members), joinInts(s.PartitionsOwned, "+"), fmt.Sprintf("%.0f", s.EventsPerSec), fmt.Sprintf("%.2f", s.Speedup),
		per(u.MembersTotal) + " (" + strings.Join(each, "+") + ")", fmt.Sprintf("%.0f", s.MicrosPerEvent.Processors),
		per(u.Redis), per(u.Kafka), per(u.Bench),
		fmt.Sprintf("%.0f%% of %d", 100*u.MachineShare, u.MachineCPUs), per(u.Others),
		fmt.Sprintf("%.2f→%.2f", u.LoadAvg1Before, u.LoadAvg1After),
		fmt.Sprintf("%.0f/%.0f", s.LatencyMs.P50, s.LatencyMs.P99), strconv.FormatBool(s.Complete),
	}
}

func joinInts(xs []int, sep string) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, strconv.Itoa(x))
	}
	return strings.Join(parts, sep)
}

func printPhaseMetrics(row func(string, string, ...any), pm PhaseMetrics) {
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

// RateString is a rate as the table and the logs say it.
func RateString(r float64) string {
	if r == 0 {
		return "flat out"
	}
	return strconv.FormatFloat(r, 'f', 0, 64) + "/s"
}
