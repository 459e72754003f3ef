// Package observe reads the commands the processors publish and traces each
// back to its cause (Observer): the counts the phases wait for, and the
// samples of latency and lateness the report summarizes.
package observe

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/rules"
)

// Observer reads every command the processor publishes (a core NATS
// subscription sees what JetStream stores) and maps it back to its cause:
// command IDs are "<order>/<cause>/...", and the cause is "event:<id>" or
// "deadline:<timer>". An event's latency is from its production (its
// "time") to each command it caused being seen; a deadline's lateness is
// from its due time (the ruling's decided_at) to its ruling being seen.
type Observer struct {
	runID string

	mu     sync.Mutex
	events map[string]producedAt // event ID -> when produced
	seen   map[string]struct{}   // command IDs, against republished ones
	ph     [story.NPhases]Phase
	other  int // commands of other runs (an external NATS)
	repeat int // command IDs seen twice
}

type producedAt struct {
	at    int64 // unix nanoseconds
	phase int8
	left  int32 // commands still to see; the entry goes with the last
}

// Phase is what the observer saw of one phase.
type Phase struct {
	ExpectEventCmds       int
	SeenEventCmds         int
	ExpectDeadlineCmds    int
	ExpectDeadlineRulings int
	SeenDeadlineCmds      int
	SeenDeadlineRulings   int
	Commands              int
	Rejections            int
	OverLimit             int       // rejections for a per-order limit
	latency               []float64 // ms, per command caused by an event
	lateness              []float64 // ms, per ruling caused by a deadline
	FirstLateness         time.Time // when the first deadline ruling was seen
	LastSeen              time.Time
}

// New returns the observer of run runID; Subscribe starts it.
func New(runID string) *Observer {
	return &Observer{runID: runID, events: make(map[string]producedAt), seen: make(map[string]struct{})}
}

// Subscribe starts reading disputes.> and finance.>; stop ends it.
func (o *Observer) Subscribe(nc *nats.Conn) (stop func(), err error) {
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
	}
	for _, subject := range []string{"disputes.>", "finance.>"} {
		s, err := nc.Subscribe(subject, o.handle)
		if err != nil {
			stop()
			return nil, err
		}
		// Never drop a command for being slow: the counts must be exact.
		s.SetPendingLimits(-1, -1)
		subs = append(subs, s)
	}
	return stop, nc.Flush()
}

// Produced records events written to Kafka and what they should cause.
func (o *Observer) Produced(evs []story.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range evs {
		if e.Cmds > 0 {
			o.events[e.ID] = producedAt{at: e.At.UnixNano(), phase: int8(e.Phase), left: int32(e.Cmds)}
		}
		p := &o.ph[e.Phase]
		p.ExpectEventCmds += e.Cmds
		p.ExpectDeadlineCmds += e.DeadlineCmds
		p.ExpectDeadlineRulings += e.DeadlineRulings
	}
}

// ExpectDeadlines adds deadline commands a phase waits for.
func (o *Observer) ExpectDeadlines(phase, cmds, rulings int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ph[phase].ExpectDeadlineCmds += cmds
	o.ph[phase].ExpectDeadlineRulings += rulings
}

var (
	overLimitReason = []byte(rules.QuotaReached)
	commandIDField  = []byte(`"command_id":"`)
	decidedAtField  = []byte(`"decided_at":"`)
)

// field returns a string field of a JSON body the engine encoded (no
// escapes in IDs and times), without decoding the whole body.
func field(data, name []byte) (string, bool) {
	i := bytes.Index(data, name)
	if i < 0 {
		return "", false
	}
	rest := data[i+len(name):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func (o *Observer) handle(m *nats.Msg) {
	now := time.Now()
	id, ok := field(m.Data, commandIDField)
	if !ok {
		var head struct {
			CommandID string `json:"command_id"`
		}
		if json.Unmarshal(m.Data, &head) != nil {
			return
		}
		id = head.CommandID
	}
	order, cause := story.SplitCommandID(id)
	isRuling := strings.HasPrefix(m.Subject, "disputes.ruling.")
	var decided time.Time
	if isRuling && strings.HasPrefix(cause, "deadline:") {
		if s, ok := field(m.Data, decidedAtField); ok {
			decided, _ = time.Parse(time.RFC3339Nano, s)
		}
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.seen[id]; dup {
		o.repeat++
		return
	}
	o.seen[id] = struct{}{}
	phase := story.PhaseOf(o.runID, order)
	if phase < 0 {
		o.other++
		return
	}
	p := &o.ph[phase]
	p.Commands++
	p.LastSeen = now
	if strings.HasPrefix(m.Subject, "disputes.rejected.") {
		p.Rejections++
		if bytes.Contains(m.Data, overLimitReason) {
			p.OverLimit++
		}
	}
	switch {
	case strings.HasPrefix(cause, "event:"):
		p.SeenEventCmds++
		id := strings.TrimPrefix(cause, "event:")
		if e, ok := o.events[id]; ok {
			p.latency = append(p.latency, float64(now.UnixNano()-e.at)/1e6)
			if e.left--; e.left <= 0 {
				delete(o.events, id)
			} else {
				o.events[id] = e
			}
		}
	case strings.HasPrefix(cause, "deadline:"):
		p.SeenDeadlineCmds++
		if isRuling {
			p.SeenDeadlineRulings++
			if !decided.IsZero() {
				p.lateness = append(p.lateness, float64(now.Sub(decided))/1e6)
				if p.FirstLateness.IsZero() {
					p.FirstLateness = now
				}
			}
		}
	}
}

// Snapshot returns a copy of a phase's counts (without the samples).
func (o *Observer) Snapshot(phase int) Phase {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.ph[phase]
	p.latency, p.lateness = nil, nil
	return p
}

// Samples returns a copy of a phase's latency and lateness samples.
func (o *Observer) Samples(phase int) (latency, lateness []float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := &o.ph[phase]
	return append([]float64(nil), p.latency...), append([]float64(nil), p.lateness...)
}

// SampleCounts returns how many latency and lateness samples a phase has:
// where the next step's begin.
func (o *Observer) SampleCounts(phase int) (latency, lateness int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ph[phase].latency), len(o.ph[phase].lateness)
}

// Minus returns the counts of p less those of an earlier snapshot of the
// same phase: what one step of it saw.
func (p Phase) Minus(before Phase) Phase {
	p.ExpectEventCmds -= before.ExpectEventCmds
	p.SeenEventCmds -= before.SeenEventCmds
	p.ExpectDeadlineCmds -= before.ExpectDeadlineCmds
	p.ExpectDeadlineRulings -= before.ExpectDeadlineRulings
	p.SeenDeadlineCmds -= before.SeenDeadlineCmds
	p.SeenDeadlineRulings -= before.SeenDeadlineRulings
	p.Commands -= before.Commands
	p.Rejections -= before.Rejections
	p.OverLimit -= before.OverLimit
	return p
}
