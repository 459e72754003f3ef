package consumer

import "time"

// merger interleaves the inputs of a partition's four topic-partitions in
// event-time order. The topics are only co-partitioned, not ordered with one
// another, so an order.paid on one topic may be read after the refund
// request on another; taking the earliest head first, and waiting for a topic
// that has not been read up to its end, applies the events as replay does.
// Ties go to the topic listed first.
type merger struct {
	q     [][]Input
	atEnd []bool      // the topic was read up to its high watermark
	endAt []time.Time // when the fetch that found it at its end returned
	last  []time.Time // the newest event time applied from the topic
}

func newMerger(topics int) *merger {
	return &merger{q: make([][]Input, topics), atEnd: make([]bool, topics), endAt: make([]time.Time, topics), last: make([]time.Time, topics)}
}

// maxQueued bounds the inputs held for one topic: while another topic is
// awaited, a topic whose queue is full is not fetched further.
const maxQueued = 20_000

// room reports whether topic t may take another chunk.
func (m *merger) room(t int) bool { return len(m.q[t]) < maxQueued }

func (m *merger) push(c chunk) {
	for i := range c.in {
		c.in[i].src = c.topic
	}
	m.q[c.topic] = append(m.q[c.topic], c.in...)
	m.atEnd[c.topic] = c.atEnd
	if c.atEnd {
		m.endAt[c.topic] = c.at
	}
}

// take returns up to max inputs that can be applied now: malformed ones at
// once (they have no trustworthy time), events while no other topic could
// still bring an earlier one. A topic read to its end counts as the wall
// clock of the fetch that found it there: an event stamped later waits for
// the topic's next fetch, since an event of the same order may have been
// written to it since (the next long poll comes within the fetch wait).
func (m *merger) take(now time.Time, max int) []Input {
	var out []Input
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

func (m *merger) blocked(best int, t, now time.Time) bool {
	for i, q := range m.q {
		if i == best || len(q) > 0 {
			continue
		}
		if !m.atEnd[i] || t.After(now) || t.After(m.endAt[i]) {
			return true
		}
	}
	return false
}

// horizon is the partition's watermark: the time up to which no topic can
// bring an earlier event, capped at now. Deadlines due by then may fire.
func (m *merger) horizon(now time.Time) time.Time {
	h := now
	for i, q := range m.q {
		var f time.Time
		switch {
		case len(q) > 0 && q[0].Err == nil:
			f = q[0].Event.Time
		case len(q) == 0 && m.atEnd[i]:
			f = m.endAt[i]
		default:
			f = m.last[i]
		}
		if f.Before(h) {
			h = f
		}
	}
	return h
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
