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
	"state": {"internal/netaddr"},
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
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
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
	case rel == "inspect/console" && dep != "inspect" && dep != "rules":
		return "the console reads through the API and writes through its Submitter: it uses inspect and rules only"
	}
	return ""
}
