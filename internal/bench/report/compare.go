package report

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ErrRegressed is returned by `disputed-bench compare` when a guarded
// figure got worse by more than its tolerance. The caller exits with
// status 1, so that `make bench` fails.
var ErrRegressed = errors.New("bench: a guarded figure regressed")

// ErrNotComparable is returned by `disputed-bench compare` for two runs
// measured differently (another load, other servers, another machine):
// their figures are shown, but judging one by the other would mean
// nothing.
var ErrNotComparable = errors.New("bench: the runs were not measured alike")

// figure is one number of a report that two runs can be compared on.
type figure struct {
	name   string
	unit   string
	higher bool    // higher is better
	guard  float64 // tolerated relative worsening; 0: shown, never fails
	get    func(*Report) float64
}

// figures are what compare prints, in this order. The guards are wide
// where the machine's own noise is (throughput and CPU move by 5 to 10%
// from run to run on an idle two-core machine) and narrow where the figure
// is a property of the code (bytes in Redis).
var figures = []figure{
	{"end-to-end", "events/s", true, 0.15, func(r *Report) float64 { return r.Headline.EndToEndEventsPerSec }},
	{"share of lowest ceiling", "%", true, 0, func(r *Report) float64 { return 100 * r.Headline.ShareOfLowestCeiling }},
	{"share of combined ceiling", "%", true, 0, func(r *Report) float64 { return 100 * r.Headline.ShareOfCombinedCeiling }},
	{"processor CPU per event", "µs", false, 0.15, func(r *Report) float64 { return r.Processor.LoadCPUMicrosPerEvent }},
	{"processor peak RSS", "MiB", false, 0.25, func(r *Report) float64 { return float64(r.Processor.PeakRSSBytes) / (1 << 20) }},
	{"event-to-command latency p50", "ms", false, 0, func(r *Report) float64 { return r.Load.LatencyMs.P50 }},
	{"event-to-command latency p99", "ms", false, 0, func(r *Report) float64 { return r.Load.LatencyMs.P99 }},
	{"deadline lateness p99", "ms", false, 0, func(r *Report) float64 { return r.Deadlines.LatenessMs.P99 }},
	{"Redis per open dispute", "bytes", false, 0.05, func(r *Report) float64 { return r.Redis.BytesPerDispute }},
	{"Redis per pending deadline", "bytes", false, 0.05, func(r *Report) float64 { return r.Redis.BytesPerDeadline }},
	{"ceiling: kafka read", "events/s", true, 0, func(r *Report) float64 { return r.Ceilings.KafkaReadEventsPerSec }},
	{"ceiling: redis save", "events/s", true, 0, func(r *Report) float64 { return r.Ceilings.RedisSaveEventsPerSec }},
	{"ceiling: jetstream publish", "events/s", true, 0, func(r *Report) float64 { return r.Ceilings.JetStreamEventsPerSec }},
}

// Compare prints the figures of both runs. It returns
// ErrNotComparable when the runs were measured differently, else
// ErrRegressed naming the guarded figures that got worse beyond their
// tolerance or that the new run did not measure, and an incomplete new
// run. An unguarded figure is shown, never judged.
func Compare(w io.Writer, old, cur *Report) error {
	fmt.Fprintf(w, "bench compare: %s (%s, %s) -> %s (%s, %s)\n", old.RunID, old.StartedAt.Format("2006-01-02 15:04"), old.Servers.Kafka.Version,
		cur.RunID, cur.StartedAt.Format("2006-01-02 15:04"), cur.Servers.Kafka.Version)
	differ := measuredAlike(old, cur)
	for _, d := range differ {
		fmt.Fprintf(w, "  not alike: %s\n", d)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  figure\told\tnew\tchange\tworse tolerated\t")
	var worse []string
	for _, f := range figures {
		a, b := f.get(old), f.get(cur)
		change, verdict := "-", ""
		if f.guard > 0 && a > 0 && b <= 0 {
			// A guarded figure the new run did not measure is not a pass.
			verdict = "MISSING"
			worse = append(worse, f.name+" not measured")
		}
		if a > 0 && b > 0 {
			rel := (b - a) / a
			change = fmt.Sprintf("%+.1f%%", 100*rel)
			if !f.higher {
				rel = -rel
			}
			if f.guard > 0 && rel < -f.guard {
				verdict = "WORSE"
				worse = append(worse, fmt.Sprintf("%s %s -> %s %s", f.name, num(a), num(b), f.unit))
			}
		}
		guard := ""
		if f.guard > 0 {
			guard = fmt.Sprintf("%.0f%%", 100*f.guard)
		}
		fmt.Fprintf(tw, "  %s (%s)\t%s\t%s\t%s\t%s\t%s\n", f.name, f.unit, num(a), num(b), change, guard, verdict)
	}
	tw.Flush()
	if !cur.Load.Complete {
		worse = append(worse, "the new run did not see every command of its load")
	}
	if len(differ) > 0 {
		return fmt.Errorf("%w: %s", ErrNotComparable, strings.Join(differ, "; "))
	}
	if len(worse) > 0 {
		return fmt.Errorf("%w: %v", ErrRegressed, worse)
	}
	return nil
}

// num prints a figure as a person reads it: whole above a hundred, three
// significant digits below.
func num(x float64) string {
	if x >= 100 || x <= -100 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// measuredAlike lists what makes two runs' figures incomparable: the load,
// the servers and the machine.
func measuredAlike(old, cur *Report) []string {
	var d []string
	a, b := old.Config, cur.Config
	same := func(what string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			d = append(d, fmt.Sprintf("%s %v against %v", what, x, y))
		}
	}
	same("duration", a.Duration, b.Duration)
	same("rate", a.Rate, b.Rate)
	same("orders", a.Orders, b.Orders)
	same("partitions", a.Partitions, b.Partitions)
	same("members", a.Members, b.Members)
	same("max backlog", a.MaxBacklog, b.MaxBacklog)
	same("bad share", a.BadShare, b.BadShare)
	same("deadlines", a.Deadlines, b.Deadlines)
	same("deadline spread", a.DeadlineSpread, b.DeadlineSpread)
	same("preloaded disputes", a.OpenDisputes, b.OpenDisputes)
	same("CPUs", a.CPUs, b.CPUs)
	same("kafka", old.Servers.Kafka.Kind, cur.Servers.Kafka.Kind)
	same("nats", old.Servers.NATS, cur.Servers.NATS)
	return d
}
