package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/disputed/disputed/rules"
	"github.com/nats-io/nats.go"
)

// observer reads every command the processor publishes (a core NATS
// subscription sees what JetStream stores) and maps it back to its cause:
// command IDs are "<order>/<cause>/...", and the cause is "event:<id>" or
// "deadline:<timer>". An event's latency is from its production (its
// "time") to each command it caused being seen; a deadline's lateness is
// from its due time (the ruling's decided_at) to its ruling being seen.
type observer struct {
	runID string

	mu     sync.Mutex
	events map[string]producedAt // event ID -> when produced
	seen   map[string]struct{}   // command IDs, against republished ones
	ph     [nPhases]phaseObs
	other  int // commands of other runs (an external NATS)
	repeat int // command IDs seen twice
}

type producedAt struct {
	at    int64 // unix nanoseconds
	phase int8
	left  int32 // commands still to see; the entry goes with the last
}

// phaseObs is what the observer saw of one phase.
type phaseObs struct {
	expectEventCmds       int
	seenEventCmds         int
	expectDeadlineCmds    int
	expectDeadlineRulings int
	seenDeadlineCmds      int
	seenDeadlineRulings   int
	commands              int
	rejections            int
	overLimit             int       // rejections for a per-order limit
	latency               []float64 // ms, per command caused by an event
	lateness              []float64 // ms, per ruling caused by a deadline
	firstLateness         time.Time // when the first deadline ruling was seen
	lastSeen              time.Time
}

func newObserver(runID string) *observer {
	return &observer{runID: runID, events: make(map[string]producedAt), seen: make(map[string]struct{})}
}

// subscribe starts reading disputes.> and finance.>; stop ends it.
func (o *observer) subscribe(nc *nats.Conn) (stop func(), err error) {
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

// produced records events written to Kafka and what they should cause.
func (o *observer) produced(evs []producedEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range evs {
		if e.cmds > 0 {
			o.events[e.id] = producedAt{at: e.at.UnixNano(), phase: int8(e.phase), left: int32(e.cmds)}
		}
		p := &o.ph[e.phase]
		p.expectEventCmds += e.cmds
		p.expectDeadlineCmds += e.deadlineCmds
		p.expectDeadlineRulings += e.deadlineRulings
	}
}

// expectDeadlines adds deadline commands a phase waits for.
func (o *observer) expectDeadlines(phase, cmds, rulings int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ph[phase].expectDeadlineCmds += cmds
	o.ph[phase].expectDeadlineRulings += rulings
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

func (o *observer) handle(m *nats.Msg) {
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
	order, cause := splitCommandID(id)
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
	phase := phaseOf(o.runID, order)
	if phase < 0 {
		o.other++
		return
	}
	p := &o.ph[phase]
	p.commands++
	p.lastSeen = now
	if strings.HasPrefix(m.Subject, "disputes.rejected.") {
		p.rejections++
		if bytes.Contains(m.Data, overLimitReason) {
			p.overLimit++
		}
	}
	switch {
	case strings.HasPrefix(cause, "event:"):
		p.seenEventCmds++
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
		p.seenDeadlineCmds++
		if isRuling {
			p.seenDeadlineRulings++
			if !decided.IsZero() {
				p.lateness = append(p.lateness, float64(now.Sub(decided))/1e6)
				if p.firstLateness.IsZero() {
					p.firstLateness = now
				}
			}
		}
	}
}

// snapshot returns a copy of a phase's counts (without the samples).
func (o *observer) snapshot(phase int) phaseObs {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.ph[phase]
	p.latency, p.lateness = nil, nil
	return p
}

// samples returns a copy of a phase's latency and lateness samples.
func (o *observer) samples(phase int) (latency, lateness []float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := &o.ph[phase]
	return append([]float64(nil), p.latency...), append([]float64(nil), p.lateness...)
}

// sampleCounts returns how many latency and lateness samples a phase has:
// where the next step's begin.
func (o *observer) sampleCounts(phase int) (latency, lateness int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ph[phase].latency), len(o.ph[phase].lateness)
}

// minus returns the counts of p less those of an earlier snapshot of the
// same phase: what one step of it saw.
func (p phaseObs) minus(before phaseObs) phaseObs {
	p.expectEventCmds -= before.expectEventCmds
	p.seenEventCmds -= before.seenEventCmds
	p.expectDeadlineCmds -= before.expectDeadlineCmds
	p.expectDeadlineRulings -= before.expectDeadlineRulings
	p.seenDeadlineCmds -= before.seenDeadlineCmds
	p.seenDeadlineRulings -= before.seenDeadlineRulings
	p.commands -= before.commands
	p.rejections -= before.rejections
	p.overLimit -= before.overLimit
	return p
}
