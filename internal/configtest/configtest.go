// Package configtest checks what a config's Validate reports, for the
// packages' table tests.
package configtest

import (
	"strings"
	"testing"
)

// Check fails t unless err holds every one of want (substrings of its
// message), or, for none, unless err is nil.
func Check(t testing.TB, err error, want []string) {
	t.Helper()
	if (err == nil) != (len(want) == 0) {
		t.Fatalf("Validate() = %v, want errors %q", err, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v\nwant it to contain %q", err, w)
		}
	}
}
