package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/disputed/disputed/internal/opsmetrics"
)

var (
	exportedSet = setOf(exported)
	runtimeSet  = setOf(runtimeMetrics)
	anyMetric   = regexp.MustCompile(`\b(?:disputed|go|process)_[a-z0-9_]+\b`)
)

func setOf(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// checkMetrics reports metric names in a PromQL expression that disputed
// does not export.
func checkMetrics(t *testing.T, where, expr string) {
	t.Helper()
	for _, name := range anyMetric.FindAllString(expr, -1) {
		base := name
		for _, s := range opsmetrics.HistogramSuffixes {
			if b, ok := strings.CutSuffix(name, s); ok && exportedSet[b] {
				base = b
			}
		}
		if !exportedSet[base] && !runtimeSet[name] {
			t.Errorf("%s: %s is not a metric disputed exports", where, name)
		}
	}
}

// TestExportedMetrics compares exported with the disputed_* string
// literals of the module's non-test Go code, so that a metric added or
// renamed in the code fails here until the dashboard and the rules are
// brought along.
func TestExportedMetrics(t *testing.T) {
	var inCode []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "deploy", "testdata", "vendor", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		// A metric is defined as the Name of a prometheus.*Opts, or as
		// the first argument of prometheus.NewDesc; other strings that
		// look like one (a cookie's name, the bench reading a metric)
		// define nothing.
		literal := func(e ast.Expr) {
			if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				if s, err := strconv.Unquote(bl.Value); err == nil && metricLiteral.MatchString(s) {
					inCode = append(inCode, s)
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Name" {
					literal(n.Value)
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewDesc" && len(n.Args) > 0 {
					literal(n.Args[0])
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inCode)
	inCode = slices.Compact(inCode)
	want := slices.Sorted(slices.Values(exported))
	if !slices.Equal(inCode, want) {
		t.Errorf("metric names in the code differ from the list in deploy_test.go:\n code: %v\n list: %v", inCode, want)
	}
}

var metricLiteral = regexp.MustCompile(`^disputed_[a-z0-9_]+$`)

func TestUsedMetrics(t *testing.T) {
	used, err := opsmetrics.UsedMetrics("..")
	if err != nil {
		t.Fatal(err)
	}
	usedSet := setOf(used)
	for _, n := range used {
		if !exportedSet[n] {
			t.Errorf("UsedMetrics reports %s, which disputed does not export", n)
		}
	}
	// The dashboard shows every metric; so UsedMetrics lists them all.
	for _, n := range exported {
		if !usedSet[n] {
			t.Errorf("%s is exported but neither alerted on nor on the dashboard", n)
		}
	}
	if !slices.IsSorted(used) {
		t.Error("UsedMetrics is not sorted")
	}
}
