package consumer

import (
	"container/heap"
	"time"
)

// merger interleaves the inputs of a partition's four topic-partitions in
// event-time order, and says how far the partition's event time has got (its
// watermark), which is when deadlines may fire.
//
// The topics are only co-partitioned, not ordered with one another: one
// upstream system's topic can lag another's (a backfill, a producer
// retrying, a slow partition leader), so an event stamped earlier may reach
// Kafka after one stamped later on another topic. The merger waits for it, up
// to a bound: a topic that has been read to its end holds the partition back
// at the newest event time applied from it until it has stayed at its end for
// the idle time since the events it would let through reached Kafka. Only
// when nothing at all has arrived on the partition for the idle time does an
// idle topic count as the wall clock.
//
// Precisely, for a topic i with nothing queued that was last found at its end
// by a fetch that returned at endAt[i], its watermark is the newest of
//   - the newest event time applied from it, and
//   - the newest event time among the events of the partition that had
//     arrived by endAt[i] - idle (every arrival that old: endAt[i] itself,
//     the wall clock of that fetch);
//
// a topic with events queued counts as its first event's time, and one not
// yet read to its end as the newest event time applied from it. An event is
// taken once no other topic's watermark is below its time, a deadline fires
// once the partition's watermark (the lowest) and the wall clock have passed
// it. So an event that reaches Kafka within the idle time after a later
// event of another topic is applied before it, as replay applies it.
//
// An event's arrival is when the fetch that brought it returned, or, if
// earlier, its broker timestamp, but never before the topic's previous fetch
// that found nothing new: a backlog read after an outage arrived long ago and
// is not held back, while a producer stamping records with event times
// cannot make a fresh record look old.
type merger struct {
	idle  time.Duration
	q     [][]Input
	atEnd []bool      // the topic's latest fetch read it up to its high watermark
	endAt []time.Time // when the latest fetch that found the topic at its end returned
	last  []time.Time // the newest event time applied from the topic

	arrivals arrivalHeap // events that arrived after heard, with their times
	heard    time.Time   // arrivals at or before this are folded into stamped
	stamped  time.Time   // the newest event time among the arrivals folded
}

func newMerger(topics int, idle time.Duration) *merger {
	return &merger{
		idle:  idle,
		q:     make([][]Input, topics),
		atEnd: make([]bool, topics),
		endAt: make([]time.Time, topics),
		last:  make([]time.Time, topics),
	}
}

// maxQueued bounds the inputs held for one topic: while another topic is
// awaited, a topic whose queue is full is not fetched further. Ten batches
// of the default size keep the batches full while the fetchers refill;
// more would only hold memory while the merge waits for a quiet topic
// (20,000 made 16 queues of a member hold some 300 MiB when a backfill
// wrote a million events to one topic).
const maxQueued = 5_000

// room reports whether topic t may take another chunk.
func (m *merger) room(t int) bool { return len(m.q[t]) < maxQueued }

func (m *merger) push(c chunk) {
	quietSince := m.endAt[c.topic] // the previous fetch that found nothing new
	for i := range c.in {
		x := &c.in[i]
		x.src = c.topic
		if x.Err != nil {
			continue
		}
		arrived := c.at
		if t := x.Msg.Time; !t.IsZero() && t.Before(arrived) {
			arrived = t
		}
		if arrived.Before(quietSince) {
			arrived = quietSince
		}
		heap.Push(&m.arrivals, arrival{at: arrived, stamp: x.Event.Time})
	}
	if len(m.q[c.topic]) == 0 {
		m.q[c.topic] = c.in // the chunk becomes the queue: no copy
	} else {
		m.q[c.topic] = append(m.q[c.topic], c.in...)
	}
	m.atEnd[c.topic] = c.atEnd
	if c.atEnd {
		m.endAt[c.topic] = c.at
	}
}

// take returns up to max inputs that can be applied now: malformed ones at
// once (they have no trustworthy time), events once no other topic could
// still bring an earlier one (see merger). Ties go to the topic listed first.
func (m *merger) take(now time.Time, max int) []Input {
	m.fold(now)
	queued := 0
	for _, q := range m.q {
		queued += len(q)
	}
	out := make([]Input, 0, min(max, queued))
	for len(out) < max {
		best := -1
		for i, q := range m.q {
			if len(q) == 0 {
				continue
			}
			if q[0].Err != nil {
				best = i
				break
			}
			if best < 0 || q[0].Event.Time.Before(m.q[best][0].Event.Time) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		h := m.q[best][0]
		if h.Err == nil && m.blocked(best, h.Event.Time, now) {
			break
		}
		out = append(out, h)
		m.q[best] = m.q[best][1:]
	}
	return out
}

// blocked reports whether an event stamped t of topic best must wait: it is
// stamped ahead of the clock, or another topic with nothing queued could
// still bring an earlier event.
func (m *merger) blocked(best int, t, now time.Time) bool {
	if t.After(now) {
		return true
	}
	for i, q := range m.q {
		if i == best || len(q) > 0 {
			continue
		}
		if t.After(m.topicWatermark(i)) {
			return true
		}
	}
	return false
}

// watermark is the partition's watermark, capped at now: deadlines due by then
// may fire.
func (m *merger) watermark(now time.Time) time.Time {
	m.fold(now)
	h := now
	for i, q := range m.q {
		f := m.topicWatermark(i)
		if len(q) > 0 && q[0].Err == nil {
			f = q[0].Event.Time
		}
		if f.Before(h) {
			h = f
		}
	}
	return h
}

// topicWatermark is the time up to which topic i, with nothing queued, can bring
// no earlier event (see merger).
func (m *merger) topicWatermark(i int) time.Time {
	w := m.last[i]
	if !m.atEnd[i] || m.endAt[i].Add(-m.idle).Before(m.heard) {
		// Not read to its end, or found there before arrivals already
		// folded: wait for its next fetch.
		return w
	}
	idle := m.endAt[i] // nothing has arrived for the idle time: the wall clock
	if len(m.arrivals) > 0 && m.stamped.Before(idle) {
		idle = m.stamped
	}
	if idle.After(w) {
		w = idle
	}
	return w
}

// fold takes into stamped every arrival at or before the idle time before
// the earliest fetch that found an idle topic at its end (or before now when
// none is idle). A topic that becomes idle later has a fetch at least that
// recent, or waits for one (topicWatermark), so what is folded counts for it too;
// fold never waits on a topic that has events queued, whose fetches the loop
// may not be taking.
func (m *merger) fold(now time.Time) {
	upTo := now
	for i, q := range m.q {
		if len(q) == 0 && m.atEnd[i] && m.endAt[i].Before(upTo) {
			upTo = m.endAt[i]
		}
	}
	upTo = upTo.Add(-m.idle)
	if !upTo.After(m.heard) {
		return
	}
	m.heard = upTo
	for len(m.arrivals) > 0 && !m.arrivals[0].at.After(upTo) {
		a := heap.Pop(&m.arrivals).(arrival)
		if a.stamp.After(m.stamped) {
			m.stamped = a.stamp
		}
	}
}

// applied records that x was applied.
func (m *merger) applied(x Input) {
	if x.Err == nil && x.Event.Time.After(m.last[x.src]) {
		m.last[x.src] = x.Event.Time
	}
}

// unread puts inputs taken but not applied back at the heads of their topics.
func (m *merger) unread(in []Input) {
	for i := len(in) - 1; i >= 0; i-- {
		t := in[i].src
		m.q[t] = append([]Input{in[i]}, m.q[t]...)
	}
}

// arrival is when an event reached Kafka, and its event time.
type arrival struct {
	at    time.Time
	stamp time.Time
}

type arrivalHeap []arrival

func (h arrivalHeap) Len() int           { return len(h) }
func (h arrivalHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h arrivalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *arrivalHeap) Push(x any)        { *h = append(*h, x.(arrival)) }
func (h *arrivalHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
