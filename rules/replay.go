package rules

import (
	"container/heap"
	"time"
)

// Replay applies events to orders held in memory, firing deadlines on event
// time: before an event is applied, every deadline due at or before its time
// fires, earliest first. It is what `disputed replay` runs, and the reference
// the stream processor must match. A Replay is not safe for concurrent use.
type Replay struct {
	policy Policy
	states map[string]State
	due    timerQueue
}

// NewReplay returns an empty Replay deciding under p.
func NewReplay(p Policy) *Replay {
	return &Replay{policy: p, states: make(map[string]State)}
}

// Apply fires the deadlines due at or before e.Time, then applies e, and
// returns the commands of both in the order they were produced. When e is
// rejected as invalid, the commands of the deadlines fired before it are
// still returned, with the error.
func (r *Replay) Apply(e Event) ([]Command, error) {
	cmds, err := r.Advance(e.Time)
	if err != nil {
		return cmds, err
	}
	d, err := r.policy.Apply(r.states[e.OrderID], e, e.Time)
	if err != nil {
		return cmds, err
	}
	return append(cmds, r.keep(d)...), nil
}

// Advance fires every deadline due at or before t.
func (r *Replay) Advance(t time.Time) ([]Command, error) {
	var cmds []Command
	for len(r.due) > 0 && !r.due[0].at.After(t) {
		next := heap.Pop(&r.due).(dueTimer)
		e := Event{Type: TypeDeadline, OrderID: next.order, Time: next.at, TimerID: next.id}
		d, err := r.policy.Apply(r.states[next.order], e, next.at)
		if err != nil {
			return cmds, err
		}
		cmds = append(cmds, r.keep(d)...)
	}
	return cmds, nil
}

// State returns the order's current state (the zero State for an unknown order).
func (r *Replay) State(order string) State { return r.states[order] }

// Pending is the number of armed deadlines, counting ones already disarmed
// that have not come due yet.
func (r *Replay) Pending() int { return len(r.due) }

func (r *Replay) keep(d Decision) []Command {
	if d.Changed {
		r.states[d.State.OrderID] = d.State
	}
	// Disarmed timers stay queued: when one comes due, Apply finds it stale
	// and does nothing.
	for _, t := range d.Arm {
		heap.Push(&r.due, dueTimer{at: t.At, order: d.State.OrderID, id: t.ID})
	}
	return d.Commands
}

type dueTimer struct {
	at    time.Time
	order string
	id    string
}

// timerQueue orders deadlines by due time, then order ID, then timer ID, so
// that deadlines due at the same instant fire in a fixed order.
type timerQueue []dueTimer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	if q[i].order != q[j].order {
		return q[i].order < q[j].order
	}
	return q[i].id < q[j].id
}
func (q timerQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *timerQueue) Push(x any)   { *q = append(*q, x.(dueTimer)) }
func (q *timerQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
