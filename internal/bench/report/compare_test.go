package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCompareReports(t *testing.T) {
	base := func() *Report {
		r := &Report{RunID: "a"}
		r.Headline.EndToEndEventsPerSec = 10000
		r.Processor.LoadCPUMicrosPerEvent = 30
		r.Processor.PeakRSSBytes = 100 << 20
		r.Redis.BytesPerDispute = 800
		r.Redis.BytesPerDeadline = 120
		r.Load.LatencyMs.P99 = 500
		r.Load.Complete = true
		r.Config.Duration, r.Config.Partitions, r.Config.CPUs = "45s", 4, 2
		r.Servers.Kafka.Kind = "broker"
		return r
	}
	tests := []struct {
		name  string
		edit  func(*Report)
		worse string // "" when the comparison passes
		want  error  // ErrRegressed unless said
	}{
		{"same", func(*Report) {}, "", nil},
		{"better everywhere", func(r *Report) {
			r.Headline.EndToEndEventsPerSec, r.Processor.LoadCPUMicrosPerEvent, r.Redis.BytesPerDispute = 20000, 10, 500
		}, "", nil},
		{"throughput within noise", func(r *Report) { r.Headline.EndToEndEventsPerSec = 8600 }, "", nil},
		{"throughput fell", func(r *Report) { r.Headline.EndToEndEventsPerSec = 8000 }, "end-to-end", nil},
		{"CPU per event rose", func(r *Report) { r.Processor.LoadCPUMicrosPerEvent = 36 }, "processor CPU per event", nil},
		{"a byte more per deadline is within", func(r *Report) { r.Redis.BytesPerDeadline = 125 }, "", nil},
		{"Redis bytes rose", func(r *Report) { r.Redis.BytesPerDispute = 900 }, "Redis per open dispute", nil},
		{"latency is shown, not guarded", func(r *Report) { r.Load.LatencyMs.P99 = 5000 }, "", nil},
		{"a guarded figure not measured fails", func(r *Report) { r.Processor.PeakRSSBytes = 0 }, "processor peak RSS not measured", nil},
		{"an incomplete run fails", func(r *Report) { r.Load.Complete = false }, "did not see every command", nil},
		{"another rate is not judged", func(r *Report) { r.Config.Rate = 5000 }, "rate 0 against 5000", ErrNotComparable},
		{"kfake against a broker is not judged", func(r *Report) { r.Servers.Kafka.Kind = "kfake" }, "kafka broker against kfake", ErrNotComparable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base()
			cur.RunID = "b"
			tt.edit(cur)
			var out bytes.Buffer
			err := Compare(&out, base(), cur)
			if tt.worse == "" {
				if err != nil {
					t.Fatalf("compare: %v\n%s", err, out.String())
				}
				return
			}
			want := tt.want
			if want == nil {
				want = ErrRegressed
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), tt.worse) {
				t.Fatalf("compare: got %v, want %v naming %q\n%s", err, want, tt.worse, out.String())
			}
		})
	}
}

// TestReadsCheckedInReport reads a report written by `disputed bench --json`
// (15 s on Apache Kafka 4.1.2, before the bench became a command of its
// own): every field of the file is a field of Report, so that a baseline
// kept in bench-out/ stays comparable, and it compares with itself.
func TestReadsCheckedInReport(t *testing.T) {
	const file = "testdata/report-disputed-bench.json"
	old, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if old.RunID != "dkkjt1" || old.Config.Duration != "15s" || old.Servers.Kafka.Version != "Apache Kafka 4.1.2" ||
		old.Headline.EndToEndEventsPerSec < 11000 || old.Processor.LoadCPUMicrosPerEvent < 30 || !old.Load.Complete ||
		old.Redis.BytesPerDispute < 700 || old.Ceilings.RedisSaveEventsPerSec < 40000 || old.Host.Load.MachineCPUs != 2 {
		t.Errorf("the checked-in report read as %+v", old)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict Report
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("Report no longer reads every field of %s: %v", file, err)
	}
	// Written again, it is the same JSON: no field renamed, none added.
	var again bytes.Buffer
	if err := strict.WriteJSON("-", &again); err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Errorf("the report written again differs from %s:\n%s\nagainst\n%s", file, jb, ja)
	}
	var out bytes.Buffer
	if err := Compare(&out, old, old); err != nil {
		t.Errorf("compare of the report with itself: %v\n%s", err, out.String())
	}
	var table strings.Builder
	old.PrintTable(&table)
	if !strings.Contains(table.String(), "end-to-end") || !strings.Contains(table.String(), "11749 events/s") {
		t.Errorf("the table of the checked-in report:\n%s", table.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
