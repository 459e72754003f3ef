package consumer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestBackoff runs the backoff on synctest's fake clock: each wait takes
// exactly its delay, the delays double to the cap, reset starts over, and a
// cancelled context ends a wait at once.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackoff()
		want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
		for i, w := range want {
			start := time.Now()
			if !b.wait(t.Context()) {
				t.Fatalf("wait %d ended early", i)
			}
			if got := time.Since(start); got != w {
				t.Errorf("wait %d took %v, want %v", i, got, w)
			}
		}
		b.reset()
		start := time.Now()
		b.wait(t.Context())
		if got := time.Since(start); got != backoffMin {
			t.Errorf("after reset a wait took %v, want %v", got, backoffMin)
		}

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan bool)
		go func() { done <- b.wait(ctx) }()
		synctest.Wait() // the wait is blocked on its timer
		start = time.Now()
		cancel()
		if <-done {
			t.Error("a cancelled wait reported it waited")
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("a cancelled wait took %v more", got)
		}
	})
}
