package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/disputed/disputed"

// adapters may not import one another.
var adapters = []string{"consumer", "state", "producer", "inspect"}

// allowedInternal are the internal packages an adapter (non-test code) may
// use.
var allowedInternal = map[string][]string{
	// The host:port checks of their Config.Validate, shared with cmd.
	"state":    {"internal/netaddr"},
	"consumer": {"internal/netaddr"},
	"producer": {"internal/netaddr"},
}

func TestImportsPointInward(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go list: %v", err)
	}
	dec := json.NewDecoder(out)
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "cmd/disputed" {
			for _, dep := range p.Deps {
				if d, _ := strings.CutPrefix(dep, module+"/"); d == "internal/bench" || strings.HasPrefix(d, "internal/bench/") {
					t.Errorf("the service binary links %s: the bench is cmd/disputed-bench's", d)
				}
			}
		}
		for _, imp := range p.Imports {
			dep, ours := strings.CutPrefix(imp, module+"/")
			if !ours {
				continue
			}
			if why := forbidden(rel, dep); why != "" {
				t.Errorf("%s imports %s: %s", rel, dep, why)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("go list listed %d packages: the check looks broken", seen)
	}
}

// forbidden says why package rel may not import dep, or "".
func forbidden(rel, dep string) string {
	switch {
	case rel == "rules":
		return "rules imports nothing of the project"
	case slices.Contains(adapters, rel) && slices.Contains(adapters, dep):
		return "adapters never import each other; they share rules types"
	case slices.Contains(adapters, rel) && strings.HasPrefix(dep, "internal/") && !slices.Contains(allowedInternal[rel], dep):
		return "an adapter uses no internal package but " + strings.Join(allowedInternal[rel], ", ")
	case strings.HasPrefix(dep, "cmd/"):
		return "nothing imports a command"
	case benchLevel(rel) >= 0 && benchLevel(dep) >= 0 && benchLevel(dep) >= benchLevel(rel):
		return "the bench's packages import only those below them: the report at the bottom, the phases (internal/bench) at the top"
	case rel == "inspect/console" && dep != "inspect" && dep != "rules":
		return "the console reads through the API and writes through its Submitter: it uses inspect and rules only"
	}
	return ""
}

// benchLevels orders the bench's packages: each imports only packages of
// a lower level. The report (its types, table, JSON and compare) imports
// none of them, and the measuring packages import it.
var benchLevels = map[string]int{
	"internal/bench/report":    0,
	"internal/bench/host":      1,
	"internal/bench/story":     1,
	"internal/bench/observe":   2,
	"internal/bench/processor": 2,
	"internal/bench/servers":   2,
	"internal/bench":           3,
}

// benchLevel is the level of a bench package, -1 for any other; a new
// package under internal/bench must be given one.
func benchLevel(pkg string) int {
	if l, ok := benchLevels[pkg]; ok {
		return l
	}
	if strings.HasPrefix(pkg, "internal/bench/") {
		return 99
	}
	return -1
}
