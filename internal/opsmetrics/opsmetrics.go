// Package opsmetrics reads which of disputed's metrics the operations kit
// uses: the alert rules and the Grafana dashboard of deploy/. A test that
// scrapes a running disputed (cmd/disputed's TestOperations) and the
// deployment kit's own checks both compare it with what disputed exports.
package opsmetrics

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// MetricSources are the files, relative to the repository root, whose
// metric names UsedMetrics reports.
var MetricSources = []string{
	"deploy/prometheus/alerts.yml",
	"deploy/grafana/disputed.json",
}

var metricName = regexp.MustCompile(`disputed_[a-z0-9_]+`)

// HistogramSuffixes are the series a histogram exposes besides its name;
// none of disputed's own metric names ends in one of them.
var HistogramSuffixes = []string{"_bucket", "_sum", "_count"}

// UsedMetrics returns the disputed_* metric names that the alert rules and
// the dashboard mention, sorted and without repeats. Histogram series are
// reported by the histogram's name (disputed_batch_duration_seconds_bucket
// is disputed_batch_duration_seconds), so the list can be compared with the
// names of a /metrics scrape. root is the repository root.
func UsedMetrics(root string) ([]string, error) {
	var names []string
	for _, rel := range MetricSources {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("read metric names: %w", err)
		}
		for _, m := range metricName.FindAll(b, -1) {
			name := string(m)
			for _, s := range HistogramSuffixes {
				if base, ok := strings.CutSuffix(name, s); ok {
					name = base
					break
				}
			}
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
