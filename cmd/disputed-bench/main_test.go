package main

import (
	"io"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"-h"}, io.Discard, &out); err != nil {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(out.String(), "usage: disputed-bench") || !strings.Contains(out.String(), "-disputed") {
		t.Errorf("-h printed:\n%s", out.String())
	}
	for _, args := range [][]string{{"--bogus"}, {"compare", "one.json"}, {"--disputed", "/no/such/disputed"}, {"extra"}} {
		err := run(t.Context(), args, io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%q: %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}
