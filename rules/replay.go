package rules

import "time"

// Replay decides events held in memory, firing deadlines on event time: before
// an event is applied, every deadline due at or before its time fires. It is
// what `disputed replay` runs and the reference the stream processor is
// tested against; both run the same Engine. A Replay is not safe for
// concurrent use.
type Replay struct {
	p *Engine
}

// NewReplay returns an empty Replay deciding under p.
func NewReplay(p Policy) *Replay {
	return &Replay{p: NewEngine(p)}
}

// Apply fires the deadlines due at or before e.Time, then applies e, and
// returns the commands of both in the order they were produced. When e is
// rejected as invalid, the commands of the deadlines fired before it are
// still returned, with the error.
func (r *Replay) Apply(e Event) ([]Command, error) {
	steps, err := r.p.Apply(e)
	return commandsOf(steps), err
}

// Advance fires every deadline due at or before t.
func (r *Replay) Advance(t time.Time) ([]Command, error) {
	steps, err := r.p.FireUntil(t)
	return commandsOf(steps), err
}

// State returns the order's current state (the zero State for an unknown order).
func (r *Replay) State(order string) State { return r.p.State(order) }

// Pending is the number of armed deadlines, counting ones already disarmed
// that have not come due yet.
func (r *Replay) Pending() int { return r.p.Scheduled() }

func commandsOf(steps []Step) []Command {
	var cmds []Command
	for _, s := range steps {
		cmds = append(cmds, s.Decision.Commands...)
	}
	return cmds
}
