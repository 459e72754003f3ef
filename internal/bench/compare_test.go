package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareReports(t *testing.T) {
	base := func() *report {
		r := &report{RunID: "a"}
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
		edit  func(*report)
		worse string // "" when the comparison passes
		want  error  // ErrRegressed unless said
	}{
		{"same", func(*report) {}, "", nil},
		{"better everywhere", func(r *report) {
			r.Headline.EndToEndEventsPerSec, r.Processor.LoadCPUMicrosPerEvent, r.Redis.BytesPerDispute = 20000, 10, 500
		}, "", nil},
		{"throughput within noise", func(r *report) { r.Headline.EndToEndEventsPerSec = 8600 }, "", nil},
		{"throughput fell", func(r *report) { r.Headline.EndToEndEventsPerSec = 8000 }, "end-to-end", nil},
		{"CPU per event rose", func(r *report) { r.Processor.LoadCPUMicrosPerEvent = 36 }, "processor CPU per event", nil},
		{"a byte more per deadline is within", func(r *report) { r.Redis.BytesPerDeadline = 125 }, "", nil},
		{"Redis bytes rose", func(r *report) { r.Redis.BytesPerDispute = 900 }, "Redis per open dispute", nil},
		{"latency is shown, not guarded", func(r *report) { r.Load.LatencyMs.P99 = 5000 }, "", nil},
		{"a guarded figure not measured fails", func(r *report) { r.Processor.PeakRSSBytes = 0 }, "processor peak RSS not measured", nil},
		{"an incomplete run fails", func(r *report) { r.Load.Complete = false }, "did not see every command", nil},
		{"another rate is not judged", func(r *report) { r.Config.Rate = 5000 }, "rate 0 against 5000", ErrNotComparable},
		{"kfake against a broker is not judged", func(r *report) { r.Servers.Kafka.Kind = "kfake" }, "kafka broker against kfake", ErrNotComparable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base()
			cur.RunID = "b"
			tt.edit(cur)
			var out bytes.Buffer
			err := compareReports(&out, base(), cur)
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

func TestCompareMainReadsReportFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r *report) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := &report{RunID: "old"}
	old.Processor.LoadCPUMicrosPerEvent, old.Load.Complete = 20, true
	cur := &report{RunID: "new"}
	cur.Processor.LoadCPUMicrosPerEvent, cur.Load.Complete = 40, true
	a, b := write("old.json", old), write("new.json", cur)

	var out, errOut bytes.Buffer
	if err := Main(t.Context(), []string{"compare", a, b}, &out, &errOut); !errors.Is(err, ErrRegressed) {
		t.Fatalf("compare of a doubled CPU per event: %v", err)
	}
	if err := Main(t.Context(), []string{"compare", a}, &out, &errOut); !errors.Is(err, ErrUsage) {
		t.Errorf("compare with one file: %v, want ErrUsage", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if err := Main(t.Context(), []string{"compare", a, bad}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "not a bench report") {
		t.Errorf("compare with a broken file: %v", err)
	}
}

// TestCompareReadsCheckedInReport reads a report written by `disputed
// bench --json` (15 s on Apache Kafka 4.1.2, before the bench became a
// command of its own): compare must keep accepting reports of this format,
// field for field, so that a baseline kept in bench-out/ stays comparable.
func TestCompareReadsCheckedInReport(t *testing.T) {
	const file = "testdata/report-disputed-bench.json"
	old, err := readReport(file)
	if err != nil {
		t.Fatal(err)
	}
	if old.RunID != "dkkjt1" || old.Config.Duration != "15s" || old.Servers.Kafka.Version != "Apache Kafka 4.1.2" ||
		old.Headline.EndToEndEventsPerSec < 11000 || old.Processor.LoadCPUMicrosPerEvent < 30 || !old.Load.Complete ||
		old.Redis.BytesPerDispute < 700 || old.Ceilings.RedisSaveEventsPerSec < 40000 || old.Host.Load.MachineCPUs != 2 {
		t.Errorf("the checked-in report read as %+v", old)
	}
	// Every field of the file is a field of the report: nothing was renamed
	// or dropped.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict report
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("the report type no longer reads every field of %s: %v", file, err)
	}
	var out, errOut bytes.Buffer
	if err := Main(t.Context(), []string{"compare", file, file}, &out, &errOut); err != nil {
		t.Errorf("compare of the report with itself: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "dkkjt1") || !strings.Contains(out.String(), "end-to-end (events/s)") {
		t.Errorf("compare printed:\n%s", out.String())
	}
}
