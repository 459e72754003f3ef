package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disputed/disputed/internal/bench/report"
)

func TestCompareMainReadsReportFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r *report.Report) string {
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
	old := &report.Report{RunID: "old"}
	old.Processor.LoadCPUMicrosPerEvent, old.Load.Complete = 20, true
	cur := &report.Report{RunID: "new"}
	cur.Processor.LoadCPUMicrosPerEvent, cur.Load.Complete = 40, true
	a, b := write("old.json", old), write("new.json", cur)

	var out, errOut bytes.Buffer
	if err := Main(t.Context(), []string{"compare", a, b}, &out, &errOut); !errors.Is(err, report.ErrRegressed) {
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

// TestCompareReadsCheckedInReport: `disputed-bench compare` takes a report
// written by the old `disputed bench --json` (report's own test holds the
// format to it field for field).
func TestCompareReadsCheckedInReport(t *testing.T) {
	const file = "report/testdata/report-disputed-bench.json"
	var out, errOut bytes.Buffer
	if err := Main(t.Context(), []string{"compare", file, file}, &out, &errOut); err != nil {
		t.Errorf("compare of the report with itself: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "dkkjt1") || !strings.Contains(out.String(), "end-to-end (events/s)") {
		t.Errorf("compare printed:\n%s", out.String())
	}
}
