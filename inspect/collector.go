package inspect

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// openDisputes is the disputed_open_disputes gauge, read from the store at
// scrape time (within a second; nothing is reported when it cannot be read).
type openDisputes struct {
	store      Disputes
	partitions Partitions
	desc       *prometheus.Desc
}

func newOpenDisputes(store Disputes, partitions Partitions) *openDisputes {
	return &openDisputes{store: store, partitions: partitions, desc: prometheus.NewDesc(
		"disputed_open_disputes", "Open disputes by status (negotiating, under_review, escalated, suspended), read from the store at scrape time.",
		[]string{"status"}, nil)}
}

func (o *openDisputes) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *openDisputes) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := o.partitions(ctx)
	if err != nil {
		return
	}
	counts, err := o.store.OpenDisputes(ctx, n)
	if err != nil {
		return
	}
	for _, st := range rules.OpenStatuses() {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
