package processor

import (
	"math"

	dto "github.com/prometheus/client_model/go"

	"github.com/disputed/disputed/internal/bench/report"
)

// HistQuantiles estimates from a histogram in seconds, scaled (1000: ms).
func HistQuantiles(h *dto.Histogram, scale float64) report.Quant {
	n, bs := SampleCount(h), h.GetBucket()
	q := report.Quant{Count: int(n)}
	if n <= 0 || len(bs) == 0 {
		return q
	}
	q.P50, q.P99, q.Mean = Quantile(h, 0.5)*scale, Quantile(h, 0.99)*scale, mean(h)*scale
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

// FillPhaseMetrics fills in what the processors' metrics say about a phase:
// the difference between a scrape at its start (m0) and one at its end.
func FillPhaseMetrics(pm *report.PhaseMetrics, m0, m1 Metrics) {
	if m0 == nil || m1 == nil {
		return
	}
	bh := Minus(m1.Histogram("disputed_batch_duration_seconds", nil), m0.Histogram("disputed_batch_duration_seconds", nil))
	pm.Batches = int64(SampleCount(bh))
	pm.BatchMs = HistQuantiles(bh, 1000)
	pm.BatchBusySeconds = bh.GetSampleSum()
	pm.Events = int64(m1.Sum("disputed_events_total", nil) - m0.Sum("disputed_events_total", nil))
	if pm.Batches > 0 {
		pm.AvgBatchSize = float64(pm.Events) / float64(pm.Batches)
	}
	pm.RedisSeconds, pm.RedisCalls = map[string]float64{}, map[string]int64{}
	for _, op := range []string{"load", "save", "due"} {
		h := Minus(m1.Histogram("disputed_redis_call_duration_seconds", Label("op", op)), m0.Histogram("disputed_redis_call_duration_seconds", Label("op", op)))
		pm.RedisSeconds[op], pm.RedisCalls[op] = h.GetSampleSum(), int64(SampleCount(h))
	}
	ph := Minus(m1.Histogram("disputed_nats_publish_duration_seconds", nil), m0.Histogram("disputed_nats_publish_duration_seconds", nil))
	pm.PublishSeconds, pm.PublishRuns = ph.GetSampleSum(), int64(SampleCount(ph))
	pm.Published = int64(m1.Sum("disputed_commands_published_total", nil) - m0.Sum("disputed_commands_published_total", nil))
	pm.EventsByResult = map[string]int64{}
	for _, r := range []string{resultNames.applied, resultNames.duplicate, resultNames.rejected, resultNames.deadLettered} {
		if n := int64(m1.Sum("disputed_events_total", Label("result", r)) - m0.Sum("disputed_events_total", Label("result", r))); n > 0 {
			pm.EventsByResult[r] = n
		}
	}
}

// resultNames are the result label values of disputed_events_total.
var resultNames = struct{ applied, duplicate, rejected, deadLettered string }{"applied", "duplicate", "rejected", "dead_lettered"}
