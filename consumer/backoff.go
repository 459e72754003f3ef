package consumer

import (
	"context"
	"time"
)

// backoff waits 50ms, doubling to 5s. Its timers are the time package's, so
// tests run it in a testing/synctest bubble.
type backoff struct{ d time.Duration }

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 5 * time.Second
)

func newBackoff() *backoff { return &backoff{d: backoffMin} }
func (b *backoff) reset()  { b.d = backoffMin }

// wait sleeps for the current delay and doubles it; false when ctx ended
// first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, backoffMax)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
