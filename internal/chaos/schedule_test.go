package chaos_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// chaosFault is a kind of fault: how many the run injects, how many
// happened, and how one is planned.
type chaosFault struct {
	env   string // the setting of its count, after the run's prefix: KILLS
	label string // in the log and the summary: "kills"
	// on names what the fault's steps act on ("redis", "members"): two
	// faults on one thing never overlap, or the second would act on what
	// the first took away (a snapshot of a killed Redis, a kill of a
	// member that is down).
	on    string
	count chaosCount
	want  int // the count of this run
	done  int // counted by the fault's own steps
	// plan returns the steps of the i-th fault of the kind, at offsets from
	// its start; the last one ends it (a repair).
	plan func(i int, r *chaosRand) []faultStep
}

// faultStep is one step of a fault at an offset from its start.
type faultStep struct {
	after time.Duration
	what  string
	do    func()
}

// chaosAction is a step of the n-th fault planned, at a time since the
// start of the run.
type chaosAction struct {
	at    time.Duration
	fault int
	on    string        // what the fault acts on
	last  bool          // the fault's last step
	after time.Duration // the step's offset in its fault
	what  string
	do    func()
}

// chaosRand draws the schedule from the run's seed.
type chaosRand struct{ *rand.Rand }

// between returns a duration from lo to hi.
func (r *chaosRand) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// schedule spreads the faults over the load: each kind gets n equal slots
// between 5% and 90% of the duration and one fault at a random point of
// each, so that faults of different kinds overlap at random.
func (c *chaos) schedule() []chaosAction {
	r := &chaosRand{rand.New(rand.NewPCG(c.cfg.seed, 1))}
	from, to := c.cfg.duration/20, c.cfg.duration*9/10
	var acts []chaosAction
	n := 0
	for _, f := range c.faults {
		for i := range f.want {
			steps := f.plan(i, r)
			busy := steps[len(steps)-1].after + time.Second
			slot := (to - from) / time.Duration(f.want)
			at := from + time.Duration(i)*slot + time.Duration(r.Int64N(int64(max(slot-busy, 0))+1))
			for j, s := range steps {
				acts = append(acts, chaosAction{
					at: at + s.after, fault: n, on: f.on, last: j == len(steps)-1,
					after: s.after, what: s.what, do: s.do,
				})
			}
			n++
		}
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	return acts
}

// runSchedule runs the actions at their times. A step that waits (for a
// server to be ready for the next fault) delays the actions after it, but
// never the steps of one fault towards one another: a step that ran late
// moves its fault's later steps by as much, so that a member that joins
// stays its time before it leaves, and a server stays down as long as
// planned. The slots keep faults on one thing apart, but a late step can
// push a fault into the next one's slot: that one then begins
// chaosFaultGap after the first has ended.
func (c *chaos) runSchedule(acts []chaosAction) {
	q := newChaosQueue(acts)
	for q.len() > 0 {
		a, due := q.next()
		if d := time.Until(c.start.Add(due)); d > 0 {
			c.sleep(d)
		}
		q.begin(a, time.Since(c.start))
		a.do()
		q.done(a, time.Since(c.start))
	}
}

// chaosQueue orders the actions of a schedule as they run.
type chaosQueue struct {
	acts  []chaosAction
	began map[int]time.Duration    // fault -> when it began, as its last step ran
	open  map[string]int           // thing -> the fault on it that has begun and not ended
	freed map[string]time.Duration // thing -> when its last fault ended
}

func newChaosQueue(acts []chaosAction) *chaosQueue {
	return &chaosQueue{
		acts:  slices.Clone(acts),
		began: make(map[int]time.Duration),
		open:  make(map[string]int),
		freed: make(map[string]time.Duration),
	}
}

func (q *chaosQueue) len() int { return len(q.acts) }

// due returns when a may run, or false while another fault holds what it
// acts on.
func (q *chaosQueue) due(a chaosAction) (time.Duration, bool) {
	if t, ok := q.began[a.fault]; ok {
		return max(a.at, t+a.after), true
	}
	if a.on == "" {
		return a.at, true
	}
	if f, ok := q.open[a.on]; ok && f != a.fault {
		return 0, false
	}
	if t, ok := q.freed[a.on]; ok {
		return max(a.at, t+chaosFaultGap), true
	}
	return a.at, true
}

// next takes the action due first out of the queue. An open fault's next
// step is always ready, so there is one.
func (q *chaosQueue) next() (chaosAction, time.Duration) {
	next, nextDue := -1, time.Duration(0)
	for i, a := range q.acts {
		if d, ok := q.due(a); ok && (next < 0 || d < nextDue) {
			next, nextDue = i, d
		}
	}
	a := q.acts[next]
	q.acts = slices.Delete(q.acts, next, next+1)
	return a, nextDue
}

// begin records that a runs now, since the start of the run.
func (q *chaosQueue) begin(a chaosAction, now time.Duration) {
	q.began[a.fault] = max(q.began[a.fault], now-a.after)
	if a.on != "" {
		q.open[a.on] = a.fault
	}
}

// done records that a has run; its fault ends with its last step.
func (q *chaosQueue) done(a chaosAction, now time.Duration) {
	if a.last && a.on != "" {
		delete(q.open, a.on)
		q.freed[a.on] = now
	}
}

// chaosFaultGap is the least time between two faults on one thing.
const chaosFaultGap = time.Second

// chaosRecovery is a server's recovery from a fault, which the run waits
// for in the background while the schedule goes on.
type chaosRecovery struct {
	what  string
	since time.Time
	cond  func() error
	last  error
}

// recovering waits in the background, while the run sleeps, until cond
// returns nil, and notes how long it took; the test fails if it does not
// within chaosRecoveryWithin. An error wrapped by permanent fails it at
// once.
func (c *chaos) recovering(what string, cond func() error) {
	c.recoveries = append(c.recoveries, &chaosRecovery{what: what, since: time.Now(), cond: cond})
}

// permanentError is a recovery that cannot happen any more.
type permanentError struct{ error }

func permanent(err error) error { return permanentError{err} }

// checkRecoveries checks the recoveries waited for, once.
func (c *chaos) checkRecoveries() {
	c.t.Helper()
	left := c.recoveries[:0]
	for _, r := range c.recoveries {
		r.last = r.cond()
		var perm permanentError
		switch {
		case r.last == nil:
			c.recovered(r.what, time.Since(r.since))
			continue
		case errors.As(r.last, &perm), time.Since(r.since) > chaosRecoveryWithin:
			c.note("gave up waiting until %s: %v", r.what, r.last)
			c.t.Fatalf("not %s within %v: %v", r.what, time.Since(r.since).Round(time.Second), r.last)
		}
		left = append(left, r)
	}
	c.recoveries = left
}

// chaosRecoveryWithin is how long a server may take to recover: on two
// cores, a Kafka broker's start alone takes ten to twenty seconds.
const chaosRecoveryWithin = 2 * time.Minute

// waitRecoveries waits until every recovery waited for has happened.
func (c *chaos) waitRecoveries() {
	c.t.Helper()
	for len(c.recoveries) > 0 {
		c.sleep(100 * time.Millisecond)
	}
}

// waitFor waits until cond returns nil, looking at the processes and the
// recoveries meanwhile, and fails the test if it does not within the time
// given. It returns how long it waited.
func (c *chaos) waitFor(what string, within time.Duration, cond func() error) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			c.note("gave up waiting until %s: %v", what, err)
			c.t.Fatalf("not %s within %v: %v", what, within, err)
		}
		c.sleep(100 * time.Millisecond)
	}
}

// planKill plans the i-th kill of a member that runs all along. Every fourth
// kill keeps the processor down past the evidence window, so deadlines come
// due while it does not run (while nobody runs, in the single-node run);
// every fourth restarts it at once; the others after a moment.
func (c *chaos) planKill(i int, r *chaosRand) []faultStep {
	var down time.Duration
	switch i % 4 {
	case 0:
		down = r.between(chaosEvidence+500*time.Millisecond, chaosEvidence+2*time.Second)
	case 1:
		down = 0
	default:
		down = r.between(100*time.Millisecond, time.Second)
	}
	m := c.members[0]
	if len(c.members) > 1 {
		m = c.members[r.IntN(len(c.members))]
	}
	return []faultStep{
		{0, "kill " + m.role, func() {
			if c.killMember(m) {
				c.kills.done++
			}
		}},
		{down, "start " + m.role, func() { c.startMember(m) }},
	}
}

// planJoin plans the i-th join of one more member, which leaves after a
// while: by SIGTERM every other time, by SIGKILL otherwise.
func (c *chaos) planJoin(i int, r *chaosRand) []faultStep {
	stay := r.between(3*time.Second, 8*time.Second)
	term := i%2 == 0
	return []faultStep{
		{0, "join " + c.joiner.role, c.join},
		{stay, "leave " + c.joiner.role, func() { c.leave(term) }},
	}
}

// killMember SIGKILLs the member's process and reports whether one ran.
func (c *chaos) killMember(m *chaosMember) bool {
	if m.ch == nil {
		c.note("kill %s: not running, skipped", m.role)
		return false
	}
	c.kill(m.ch)
	m.ch = nil
	c.track()
	return true
}

func (c *chaos) startMember(m *chaosMember) {
	if m.ch == nil {
		m.ch = c.spawn(m.role)
	}
	c.track()
}

func (c *chaos) join() {
	if c.joiner.ch != nil {
		return
	}
	c.joiner.ch = c.spawn(c.joiner.role)
	c.joins.done++
	c.track()
}

func (c *chaos) leave(term bool) {
	if c.joiner.ch == nil {
		return
	}
	if term {
		c.term(c.joiner.ch)
		c.leavesTerm++
	} else {
		c.kill(c.joiner.ch)
		c.leavesKill++
	}
	c.joiner.ch = nil
	c.track()
}

// recovered notes a recovery and how long it took.
func (c *chaos) recovered(what string, took time.Duration) {
	c.note("%s (after %v)", what, took.Round(10*time.Millisecond))
}
