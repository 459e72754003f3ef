package story

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// lane runs stories one after another, one order at a time.
type lane struct {
	id      int
	seq     int
	kind    *Kind
	order   Order
	step    int
	readyAt time.Time
	index   int
}

type laneHeap []*lane

func (h laneHeap) Len() int { return len(h) }

func (h laneHeap) Less(i, j int) bool { return h[i].readyAt.Before(h[j].readyAt) }

func (h laneHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *laneHeap) Push(x any) {
	l := x.(*lane)
	l.index = len(*h)
	*h = append(*h, l)
}

func (h *laneHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}

// Stories is the scheduler of the load phase: it picks the next story of
// each lane by weight and says when each lane's next event is due.
//
// Lanes whose next event is due are served in random order, not oldest
// first: served in turn, every lane would be at the same step of its story
// at once (all paying, then all asking for refunds, ...), and a topic that
// none of those steps writes would fall quiet for seconds. The processor
// holds a partition's events while one of its topics is quiet, up to its
// idle time (docs/events.md, Watermark), so such waves would measure the
// idle time, not the processor. Served at random, the lanes drift apart
// within their first stories and every topic has traffic, as in production.
type Stories struct {
	kinds  []*Kind
	total  int
	rng    *rand.Rand
	prefix string // of the order IDs: the run's load phase, and the step's tag
	gap    time.Duration
	lanes  laneHeap       // lanes whose next event is not due yet, by when it is
	ready  []*lane        // lanes whose next event is due
	counts map[string]int // stories started, by kind
}

// NewStories returns the scheduler of lanes lanes, starting staggered over
// the gap from start. tag tells the order IDs of one load step from
// another's.
func NewStories(kinds []*Kind, runID, tag string, lanes int, gap time.Duration, start time.Time, rng *rand.Rand) *Stories {
	s := &Stories{kinds: kinds, rng: rng, prefix: OrderPrefix(runID, PhaseLoad) + tag, gap: gap, counts: map[string]int{}}
	for _, k := range kinds {
		s.total += k.weight
	}
	for i := range lanes {
		// Staggered, so that the lanes do not all start in one burst.
		l := &lane{id: i, readyAt: start.Add(time.Duration(int64(gap) * int64(i) / int64(lanes)))}
		heap.Push(&s.lanes, l)
	}
	return s
}

func (s *Stories) pick() *Kind {
	n := s.rng.IntN(s.total)
	for _, k := range s.kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return s.kinds[len(s.kinds)-1]
}

// Stop ends the load: every lane stops, in the middle of its story if need
// be, and the deadline commands the cut stories still give are returned.
func (s *Stories) Stop() (deadlineCmds, deadlineRulings int) {
	for _, l := range slices.Concat([]*lane(s.lanes), s.ready) {
		if l.kind != nil && l.step > 0 {
			deadlineCmds += l.kind.prefixDeadlineCmds[l.step]
			deadlineRulings += l.kind.prefixDeadlineRulings[l.step]
		}
	}
	s.lanes, s.ready = nil, nil
	return deadlineCmds, deadlineRulings
}

// Next returns the next event of a lane that is ready at now, chosen at
// random among them, or false when none is.
func (s *Stories) Next(now time.Time) (ev Event, ok bool) {
	for len(s.lanes) > 0 && !s.lanes[0].readyAt.After(now) {
		s.ready = append(s.ready, heap.Pop(&s.lanes).(*lane))
	}
	if len(s.ready) == 0 {
		return ev, false
	}
	i := s.rng.IntN(len(s.ready))
	l := s.ready[i]
	last := len(s.ready) - 1
	s.ready[i], s.ready[last] = s.ready[last], nil
	s.ready = s.ready[:last]

	if l.kind == nil {
		l.kind = s.pick()
		s.counts[l.kind.name]++
		l.seq++
		l.step = 0
		l.order = Order{
			ID:     s.prefix + strconv.Itoa(l.id) + "-" + strconv.Itoa(l.seq),
			Amount: 1000 + s.rng.Int64N(300000),
		}
	}
	ev = l.kind.Event(l.step, &l.order, now, PhaseLoad)
	l.step++
	if l.step == len(l.kind.steps) {
		ev.DeadlineRulings = l.kind.DeadlineRulings
		ev.DeadlineCmds = l.kind.DeadlineCmds
		l.kind = nil
		l.readyAt = now // the next story is another order
	} else {
		l.readyAt = now.Add(s.gap + l.kind.steps[l.step].after)
	}
	heap.Push(&s.lanes, l)
	return ev, true
}

// Counts is the stories started so far, by kind.
func (s *Stories) Counts() map[string]int { return s.counts }
