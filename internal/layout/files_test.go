package layout

import (
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// filesOneWay are the packages whose files depend on one another one way
// only: no file uses a name declared in a file that uses one of its own,
// directly or through others. A reader can take the files bottom up.
var filesOneWay = []string{
	"internal/bench",
	"internal/bench/host",
	"internal/bench/observe",
	"internal/bench/processor",
	"internal/bench/report",
	"internal/bench/servers",
	"internal/bench/story",
}

func TestFilesPointOneWay(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the packages")
	}
	var paths []string
	for _, p := range filesOneWay {
		paths = append(paths, module+"/"+p)
	}
	// The packages' dependencies come as export data, which go list
	// builds (or finds in the build cache).
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps", "-json"}, paths...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	type listed struct {
		ImportPath string
		Dir        string
		GoFiles    []string
		Export     string
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(pkgs[path].Export)
	})
	for _, path := range paths {
		p := pkgs[path]
		var files []*ast.File
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, af)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, files, info)
		if err != nil {
			t.Fatalf("type-check %s: %v", path, err)
		}
		if cycle := fileCycle(fileGraph(fset, pkg, info)); cycle != nil {
			t.Errorf("%s: its files depend on one another in a circle: %s", strings.TrimPrefix(path, module+"/"), strings.Join(cycle, " -> "))
		}
	}
}

// fileGraph is which files of pkg use a name (of the package, or a method
// or field of its types) declared in which other file.
func fileGraph(fset *token.FileSet, pkg *types.Package, info *types.Info) map[string][]string {
	g := map[string][]string{}
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != pkg {
			continue
		}
		v, isVar := obj.(*types.Var)
		_, isFunc := obj.(*types.Func)
		switch {
		case isVar && !v.IsField() && obj.Parent() != pkg.Scope(): // a local
			continue
		case !isVar && !isFunc && obj.Parent() != pkg.Scope(): // a local type or constant
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to && !slices.Contains(g[from], to) {
			g[from] = append(g[from], to)
		}
	}
	for f := range g {
		slices.Sort(g[f])
	}
	return g
}

// fileCycle returns a circle of the graph, or nil.
func fileCycle(g map[string][]string) []string {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(f string) []string
	visit = func(f string) []string {
		state[f] = open
		path = append(path, f)
		for _, to := range g[f] {
			switch state[to] {
			case open:
				i := slices.Index(path, to)
				return append(slices.Clone(path[i:]), to)
			case unseen:
				if c := visit(to); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[f] = done
		return nil
	}
	var files []string
	for f := range g {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		if state[f] == unseen {
			if c := visit(f); c != nil {
				return c
			}
		}
	}
	return nil
}
