package report

import (
	"fmt"
	"math"
)

// Finish works out the headline: the processor's end-to-end throughput as
// a share of the lowest ceiling.
func (r *Report) Finish() {
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
		r.Scale[i].Limit = ScaleLimit(r.Scale[i], r.Config.Rate)
	}
	if r.Load.ProducerLaneLimitedShare > 0.2 && r.Config.Rate == 0 {
		r.Note("the producer ran out of ready orders %.0f%% of the time: the processor was not saturated; raise --orders", 100*r.Load.ProducerLaneLimitedShare)
	}
}

// ScaleLimit says what most likely bounded a step: the CPUs when the
// machine was busy nearly all the time, else the producer when it ran out
// of ready orders, else waiting (round trips to the servers, the merge).
func ScaleLimit(row ScaleRow, rate float64) string {
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
