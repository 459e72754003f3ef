package report

import (
	"math"
	"slices"
	"sort"
)

// Quant summarizes samples, in milliseconds.
type Quant struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Quantiles summarizes samples.
func Quantiles(xs []float64) Quant {
	if len(xs) == 0 {
		return Quant{}
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
	return Quant{Count: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}
