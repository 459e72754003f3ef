package rules

import (
	"container/heap"
	"strconv"
	"strings"
	"time"
)

// Engine decides the orders of one partition: it holds their states and
// the deadlines armed for them, and fires each deadline in its place among
// the events, on event time. It is the one firing loop of disputed: `disputed
// replay` runs every event of a file through one Engine, the stream
// processor runs each batch of a partition through one (loading the states and
// due deadlines the batch needs from its store), and the bench builds its
// batches with one. Live equals replay because they are the same code.
//
// Deadlines due at the same instant fire by order ID and, within an order, in
// the order they were armed: the obligation that arose first is judged first.
//
// An Engine is not safe for concurrent use.
type Engine struct {
	policy Policy
	states map[string]State
	due    dueQueue
	steps  []Step // reused by Apply and FireUntil
}

// Step is one input applied: an event, or a fired deadline (Input.Type ==
// TypeDeadline, Input.Time its due time, Input.TimerID its ID), and what it
// decided.
type Step struct {
	Input    Event
	Decision Decision
}

// NewEngine returns an empty Engine deciding under p.
func NewEngine(p Policy) *Engine {
	return &Engine{policy: p, states: make(map[string]State)}
}

// Put sets an order's state, as a store holds it. An order never Put, nor
// decided, is new (the zero State).
func (p *Engine) Put(s State) { p.states[s.OrderID] = s }

// Schedule records a deadline armed earlier, as a store holds it, so that it
// fires in its place. A deadline scheduled twice fires once: the second time
// it is stale and decides nothing.
func (p *Engine) Schedule(order, timer string, at time.Time) {
	heap.Push(&p.due, newDue(order, timer, at))
}

// State returns the order's current state.
func (p *Engine) State(order string) State { return p.states[order] }

// Scheduled is the number of deadlines waiting to fire, counting ones
// disarmed since they were armed that have not come due yet.
func (p *Engine) Scheduled() int { return len(p.due) }

// NextDue returns the due time of the earliest deadline waiting to fire.
func (p *Engine) NextDue() (time.Time, bool) {
	if len(p.due) == 0 {
		return time.Time{}, false
	}
	return p.due[0].at, true
}

// Apply fires every deadline due at or before e.Time, earliest first, then
// applies e, and returns the steps in the order they were taken. When e is
// invalid (an error wrapping ErrInvalidEvent: its order is unknown), the
// steps of the deadlines fired before it are returned with the error, and e
// changed nothing. The steps are valid until the next Apply or FireUntil:
// a batch of events would otherwise allocate a kilobyte per event.
func (p *Engine) Apply(e Event) ([]Step, error) {
	p.steps = p.steps[:0]
	if err := p.fire(e.Time); err != nil {
		return p.steps, err
	}
	d, err := p.policy.Apply(p.states[e.OrderID], e, e.Time)
	if err != nil {
		return p.steps, err
	}
	p.steps = append(p.steps, p.keep(e, d))
	return p.steps, nil
}

// FireUntil fires every deadline due at or before t, earliest first. Its
// steps are valid until the next Apply or FireUntil.
func (p *Engine) FireUntil(t time.Time) ([]Step, error) {
	p.steps = p.steps[:0]
	err := p.fire(t)
	return p.steps, err
}

// fire appends the steps of the deadlines due at or before t to p.steps.
func (p *Engine) fire(t time.Time) error {
	for len(p.due) > 0 && !p.due[0].at.After(t) {
		next := heap.Pop(&p.due).(dueTimer)
		e := Event{Type: TypeDeadline, OrderID: next.order, Time: next.at, TimerID: next.id}
		d, err := p.policy.Apply(p.states[next.order], e, next.at)
		if err != nil {
			return err
		}
		p.steps = append(p.steps, p.keep(e, d))
	}
	return nil
}

func (p *Engine) keep(e Event, d Decision) Step {
	if d.Changed {
		p.states[d.State.OrderID] = d.State
	}
	// Disarmed deadlines stay queued: when one comes due, Apply finds it
	// stale and decides nothing.
	for _, t := range d.Arm {
		heap.Push(&p.due, newDue(d.State.OrderID, t.ID, t.At))
	}
	return Step{Input: e, Decision: d}
}

type dueTimer struct {
	at    time.Time
	order string
	id    string
	seq   int // the order's arming sequence, from the ID; -1 if it has none
}

func newDue(order, id string, at time.Time) dueTimer {
	return dueTimer{at: at, order: order, id: id, seq: TimerSeq(id)}
}

// TimerSeq is the arming sequence of a timer ID ("modification-12" is 12):
// the order's TimerSeq when it was armed. It is -1 for an ID without one.
func TimerSeq(id string) int {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return -1
	}
	return n
}

// DueBefore reports whether a deadline fires before another: by due time,
// then order ID, then the order in which the order's deadlines were armed.
// Stores that keep deadlines outside an Engine use it to agree with it.
func DueBefore(atA time.Time, orderA, timerA string, atB time.Time, orderB, timerB string) bool {
	return newDue(orderA, timerA, atA).before(newDue(orderB, timerB, atB))
}

func (a dueTimer) before(b dueTimer) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.order != b.order {
		return a.order < b.order
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.id < b.id
}

// dueQueue is a min-heap of deadlines in firing order.
type dueQueue []dueTimer

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].before(q[j]) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(dueTimer)) }
func (q *dueQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
