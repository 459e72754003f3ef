package processor

import (
	"math"
	"strings"
	"testing"
)

func TestPromHistogramQuantile(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(`# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{op="a",le="0.1"} 4
x_seconds_bucket{op="a",le="0.5"} 40
x_seconds_bucket{op="a",le="1"} 50
x_seconds_bucket{op="a",le="+Inf"} 50
x_seconds_sum{op="a"} 15
x_seconds_count{op="a"} 50
x_seconds_bucket{op="b",le="0.1"} 6
x_seconds_bucket{op="b",le="0.5"} 50
x_seconds_bucket{op="b",le="1"} 50
x_seconds_bucket{op="b",le="+Inf"} 50
x_seconds_sum{op="b"} 15
x_seconds_count{op="b"} 50
# TYPE y_total counter
y_total{result="a",topic="t"} 3
y_total{result="b",topic="t"} 4
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("y_total", nil); got != 7 {
		t.Errorf("sum = %v, want 7", got)
	}
	if got := m.Sum("y_total", Label("result", "b")); got != 4 {
		t.Errorf("sum of b = %v, want 4", got)
	}
	h := m.Histogram("x_seconds", nil)
	if got := Quantile(h, 0.5); math.Abs(got-0.3) > 1e-9 {
		t.Errorf("p50 = %v, want 0.3", got)
	}
	if got := Quantile(h, 0.95); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("p95 = %v, want 0.75", got)
	}
	if q := HistQuantiles(h, 1000); q.Count != 100 || q.Max != 1000 || q.Mean != 300 {
		t.Errorf("count %v max %v mean %v, want 100, 1000 and 300", q.Count, q.Max, q.Mean)
	}
	if got := Quantile(m.Histogram("x_seconds", Label("op", "b")), 0.5); math.Abs(got-0.1-0.4*19/44) > 1e-9 {
		t.Errorf("p50 of b = %v, want %v", got, 0.1+0.4*19/44)
	}

	// What a phase observed: the second scrape less the first.
	later, err := ParseMetrics(strings.NewReader(`# TYPE x_seconds histogram
x_seconds_bucket{op="a",le="0.1"} 14
x_seconds_bucket{op="a",le="0.5"} 50
x_seconds_bucket{op="a",le="1"} 150
x_seconds_bucket{op="a",le="+Inf"} 150
x_seconds_sum{op="a"} 115
x_seconds_count{op="a"} 150
`))
	if err != nil {
		t.Fatal(err)
	}
	d := Minus(later.Histogram("x_seconds", Label("op", "a")), m.Histogram("x_seconds", Label("op", "a")))
	if q := HistQuantiles(d, 1); q.Count != 100 || q.Mean != 1 || q.Max != 1 {
		t.Errorf("difference: count %v mean %v max %v, want 100, 1 and 1", q.Count, q.Mean, q.Max)
	}
	if got := Quantile(d, 0.05); math.Abs(got-0.05) > 1e-9 {
		t.Errorf("difference: p5 = %v, want 0.05", got)
	}
	if got := Quantile(m.Histogram("no_such_seconds", nil), 0.5); !math.IsNaN(got) {
		t.Errorf("quantile of a missing histogram = %v, want NaN", got)
	}
}

func TestBalanced(t *testing.T) {
	for _, tc := range []struct {
		owned []int
		want  bool
	}{
		{[]int{6}, true},
		{[]int{3, 3}, true},
		{[]int{2, 2, 2}, true},
		{[]int{6, 0}, false},    // the new member has not joined yet
		{[]int{6, 3}, false},    // the old member still counts its old generation
		{[]int{3, 3, 0}, false}, // sums up, but one owns nothing
		{[]int{4, 1, 1}, true},
	} {
		if got := balanced(tc.owned, 6); got != tc.want {
			t.Errorf("balanced(%v, 6) = %v, want %v", tc.owned, got, tc.want)
		}
	}
}

func TestMergeProm(t *testing.T) {
	a, err := ParseMetrics(strings.NewReader("# TYPE e_total counter\ne_total{result=\"applied\"} 3\n# TYPE o gauge\no 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseMetrics(strings.NewReader("# TYPE e_total counter\ne_total{result=\"applied\"} 5\ne_total{result=\"rejected\"} 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := MergeMetrics(a, b)
	if got := m.Sum("e_total", nil); got != 9 {
		t.Errorf("sum = %v, want 9", got)
	}
	if got := m.Sum("e_total", Label("result", "applied")); got != 8 {
		t.Errorf("applied = %v, want 8", got)
	}
	if got := m.Sum("o", nil); got != 4 {
		t.Errorf("o = %v, want 4", got)
	}
	if got := a.Sum("e_total", nil); got != 3 {
		t.Errorf("merging changed its input: %v, want 3", got)
	}
}
