package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fleet is the processors under test: the members of one consumer group,
// each a child process. Members are only added (between the steps of a
// scale-out), never removed before the end, so that the sums of their
// counters only grow.
type Fleet struct {
	cfg Config

	mu      sync.Mutex // members grows while the poller scrapes
	members []*Child
}

// NewFleet returns a group with no members yet; Grow starts them.
func NewFleet(cfg Config) *Fleet { return &Fleet{cfg: cfg} }

// List returns the members so far.
func (f *Fleet) List() []*Child {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members)
}

// Grow starts members until there are n, waits until each is ready, and
// then until the group has settled with every member owning partitions. It
// returns the partitions each member owns.
func (f *Fleet) Grow(ctx context.Context, n int) ([]int, error) {
	for len(f.List()) < n {
		c, err := Start(f.cfg, len(f.List())+1)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.members = append(f.members, c)
		f.mu.Unlock()
	}
	for _, c := range f.List() {
		if err := c.waitReady(ctx, time.Minute); err != nil {
			return nil, err
		}
	}
	return f.waitBalanced(ctx, f.cfg.Partitions, time.Minute)
}

// waitBalanced waits until the members together own every partition, each
// some, and no member has joined a new generation for a second.
func (f *Fleet) waitBalanced(ctx context.Context, partitions int, timeout time.Duration) ([]int, error) {
	deadline := time.Now().Add(timeout)
	var last string
	var stableSince time.Time
	members := f.List()
	for {
		owned, gens := make([]int, len(members)), make([]int, len(members))
		var err error
		for i, c := range members {
			m, merr := c.Metrics(ctx)
			if merr != nil {
				err = merr
				break
			}
			owned[i] = int(m.Sum("disputed_partitions_owned", nil))
			gens[i] = int(m.Sum("disputed_rebalances_total", nil))
		}
		if err == nil && balanced(owned, partitions) {
			state := fmt.Sprint(owned, gens)
			if state != last {
				last, stableSince = state, time.Now()
			} else if time.Since(stableSince) >= time.Second {
				return owned, nil
			}
		} else {
			last = ""
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: the group of %d processors did not settle within %v: partitions owned %v (%v)", len(members), timeout, owned, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// balanced reports whether members owning owned partitions each hold every
// one of partitions once: each owns some, and together all.
func balanced(owned []int, partitions int) bool {
	sum := 0
	for _, n := range owned {
		if n < 1 {
			return false
		}
		sum += n
	}
	return sum == partitions
}

// Metrics scrapes every member and returns the series of all of them
// together: sums and histograms over the result are the group's.
func (f *Fleet) Metrics(ctx context.Context) (Metrics, error) {
	var all []Metrics
	for _, c := range f.List() {
		m, err := c.Metrics(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, m)
	}
	return MergeMetrics(all...), nil
}

// Stop stops every member at once (one at a time, each leaving would move
// its partitions to the others first).
func (f *Fleet) Stop(grace time.Duration) error {
	members := f.List()
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, c := range members {
		wg.Go(func() {
			if err := c.Stop(grace); err != nil {
				errs[i] = fmt.Errorf("processor %d: %w", i+1, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LogTail returns the last n lines of each member's log.
func (f *Fleet) LogTail(n int) string {
	var b strings.Builder
	members := f.List()
	for i, c := range members {
		if len(members) > 1 {
			fmt.Fprintf(&b, "processor %d (%s):\n", i+1, c.logPath)
		}
		b.WriteString(c.LogTail(n))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// LogLevelCounts counts the members' log lines by level.
func (f *Fleet) LogLevelCounts() map[string]int {
	out := make(map[string]int)
	for _, c := range f.List() {
		for k, v := range c.LogLevelCounts() {
			out[k] += v
		}
	}
	return out
}

// LogPaths lists the members' logs.
func (f *Fleet) LogPaths() []string {
	var ps []string
	for _, c := range f.List() {
		ps = append(ps, c.logPath)
	}
	return ps
}
