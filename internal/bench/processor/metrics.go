package processor

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is a scrape of the processor's metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics reads the Prometheus text exposition format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return mfs, nil
}

// Sum adds the values of the counter, gauge or untyped metric name whose
// labels match (nil: all).
func (m Metrics) Sum(name string, match func(*dto.Metric) bool) float64 {
	var t float64
	for _, s := range m[name].GetMetric() {
		if match == nil || match(s) {
			t += s.GetCounter().GetValue() + s.GetGauge().GetValue() + s.GetUntyped().GetValue()
		}
	}
	return t
}

// Label matches the metrics with label k set to v.
func Label(k, v string) func(*dto.Metric) bool {
	return func(s *dto.Metric) bool {
		for _, l := range s.GetLabel() {
			if l.GetName() == k {
				return l.GetValue() == v
			}
		}
		return v == ""
	}
}

// Histogram sums the histograms of the metric name whose labels match (nil:
// all), bucket by bucket. Its counts are floats, cumulative, with the +Inf
// bucket last.
func (m Metrics) Histogram(name string, match func(*dto.Metric) bool) *dto.Histogram {
	byLE := make(map[float64]float64)
	var sum, count float64
	for _, s := range m[name].GetMetric() {
		h := s.GetHistogram()
		if h == nil || match != nil && !match(s) {
			continue
		}
		sum += h.GetSampleSum()
		count += SampleCount(h)
		for _, b := range h.GetBucket() {
			byLE[b.GetUpperBound()] += cumulative(b)
		}
		// The text format always has the +Inf bucket; the others may not.
		if bs := h.GetBucket(); len(bs) == 0 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) {
			byLE[math.Inf(1)] += SampleCount(h)
		}
	}
	out := &dto.Histogram{SampleSum: new(sum), SampleCountFloat: new(count)}
	if len(byLE) == 0 {
		return out
	}
	for _, le := range slices.Sorted(maps.Keys(byLE)) {
		out.Bucket = append(out.Bucket, &dto.Bucket{UpperBound: new(le), CumulativeCountFloat: new(byLE[le])})
	}
	return out
}

// SampleCount is a histogram's count, whether integer or float.
func SampleCount(h *dto.Histogram) float64 {
	return float64(h.GetSampleCount()) + h.GetSampleCountFloat()
}

// cumulative is a bucket's cumulative count, whether integer or float.
func cumulative(b *dto.Bucket) float64 {
	return float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
}

// Minus returns the observations of h made since before: h's buckets, less
// before's of the same bound.
func Minus(h, before *dto.Histogram) *dto.Histogram {
	prev := make(map[float64]float64, len(before.GetBucket()))
	for _, b := range before.GetBucket() {
		prev[b.GetUpperBound()] = cumulative(b)
	}
	out := &dto.Histogram{
		SampleSum:        new(h.GetSampleSum() - before.GetSampleSum()),
		SampleCountFloat: new(SampleCount(h) - SampleCount(before)),
	}
	for _, b := range h.GetBucket() {
		out.Bucket = append(out.Bucket, &dto.Bucket{UpperBound: new(b.GetUpperBound()), CumulativeCountFloat: new(cumulative(b) - prev[b.GetUpperBound()])})
	}
	return out
}

// Quantile estimates the q-quantile as Prometheus's histogram_quantile does:
// linear within the bucket; the highest finite bound for the +Inf bucket.
func Quantile(h *dto.Histogram, q float64) float64 {
	bs := h.GetBucket()
	if len(bs) == 0 || cumulative(bs[len(bs)-1]) <= 0 {
		return math.NaN()
	}
	rank := q * cumulative(bs[len(bs)-1])
	for i, b := range bs {
		c, upper := cumulative(b), b.GetUpperBound()
		if c < rank {
			continue
		}
		if math.IsInf(upper, 1) {
			if i == 0 {
				return math.NaN()
			}
			return bs[i-1].GetUpperBound()
		}
		lo, prev := 0.0, 0.0
		if i > 0 {
			lo, prev = bs[i-1].GetUpperBound(), cumulative(bs[i-1])
		}
		if c == prev {
			return upper
		}
		return lo + (upper-lo)*(rank-prev)/(c-prev)
	}
	return bs[len(bs)-1].GetUpperBound()
}

// mean is the mean observation of a histogram.
func mean(h *dto.Histogram) float64 {
	n := SampleCount(h)
	if n <= 0 {
		return math.NaN()
	}
	return h.GetSampleSum() / n
}

// MergeMetrics puts the series of several scrapes into one.
func MergeMetrics(ms ...Metrics) Metrics {
	out := Metrics{}
	for _, m := range ms {
		for name, mf := range m {
			o, ok := out[name]
			if !ok {
				o = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
				out[name] = o
			}
			o.Metric = append(o.Metric, mf.Metric...)
		}
	}
	return out
}
