package testserver

import (
	"testing"
	"time"
)

// WaitUntil polls ok every 20ms until it holds, and fails the test, naming
// what it waited for, if it does not within the time given. Call it from
// the test's goroutine.
func WaitUntil(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
