package testserver

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// Binary builds cmd/disputed into the test's temporary directory, with the
// race detector when the test itself has it, and returns its path: for
// tests that run the real binary as child processes (the chaos run, the
// bench).
func Binary(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building disputed needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "disputed")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/disputed")
	cmd := exec.Command(gobin, args...)
	cmd.Dir = moduleRoot()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s took %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

// moduleRoot is the folder of the module's go.mod.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
