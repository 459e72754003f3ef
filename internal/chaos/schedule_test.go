package chaos_test

import (
	"math/rand/v2"
	"sort"
	"time"
)

// chaosAction is one fault (or its repair) at a time since the start.
type chaosAction struct {
	at   time.Duration
	what string
	do   func()
}

// schedule spreads the faults over the load: each kind gets n equal slots
// between 5% and 90% of the duration and one fault at a random point of
// each, so that faults of different kinds overlap at random.
func (c *chaos) schedule() []chaosAction {
	rng := rand.New(rand.NewPCG(c.cfg.seed, 1))
	from, to := c.cfg.duration/20, c.cfg.duration*9/10
	at := func(i, n int, busy time.Duration) time.Duration {
		slot := (to - from) / time.Duration(n)
		free := max(slot-busy, 0)
		return from + time.Duration(i)*slot + time.Duration(rng.Int64N(int64(free)+1))
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	var acts []chaosAction
	for i := range c.cfg.kills {
		// Every fourth kill keeps the processor down past the evidence
		// window, so deadlines come due while nobody runs; every fourth
		// restarts it at once; the others after a moment.
		var down time.Duration
		switch i % 4 {
		case 0:
			down = between(chaosEvidence+500*time.Millisecond, chaosEvidence+2*time.Second)
		case 1:
			down = 0
		default:
			down = between(100*time.Millisecond, time.Second)
		}
		k := at(i, c.cfg.kills, down+time.Second)
		acts = append(acts, chaosAction{k, "kill a", c.killA}, chaosAction{k + down, "start a", c.startA})
	}
	// Every other Redis and NATS outage outlasts the clients' own retries
	// (go-redis: about a second; a JetStream publish waits 5s for its ack),
	// so that the processor's retries and the outbox are what recover.
	for i := range c.cfg.redisRestarts {
		down := between(200*time.Millisecond, time.Second)
		if i%2 == 0 {
			down = between(2*time.Second, 4*time.Second)
		}
		k := at(i, c.cfg.redisRestarts, down+time.Second)
		acts = append(acts, chaosAction{k, "kill redis", c.redisDown}, chaosAction{k + down, "restart redis", c.redisUp})
	}
	// Redis comes back without its last writes: a snapshot, a few seconds
	// of load on top of it, then a restore from the snapshot under the
	// running processors (as a failover to a lagging replica does).
	for i := range c.cfg.redisLosses {
		lag := between(time.Second, 3*time.Second)
		k := at(i, c.cfg.redisLosses, lag+time.Second)
		acts = append(acts, chaosAction{k, "snapshot redis", c.redisSnapshot}, chaosAction{k + lag, "restore redis", c.redisRestore})
	}
	for i := range c.cfg.natsRestarts {
		down := between(300*time.Millisecond, 2*time.Second)
		if i%2 == 0 {
			down = between(6*time.Second, 9*time.Second)
		}
		k := at(i, c.cfg.natsRestarts, down+time.Second)
		acts = append(acts, chaosAction{k, "stop nats", c.natsDown}, chaosAction{k + down, "restart nats", c.natsUp})
	}
	for i := range c.cfg.joins {
		stay := between(3*time.Second, 8*time.Second)
		k := at(i, c.cfg.joins, stay+time.Second)
		term := i%2 == 0
		acts = append(acts, chaosAction{k, "join b", c.join}, chaosAction{k + stay, "leave b", func() { c.leave(term) }})
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	return acts
}

func (c *chaos) runSchedule(acts []chaosAction) {
	for _, a := range acts {
		if d := time.Until(c.start.Add(a.at)); d > 0 {
			c.sleep(d)
		}
		a.do()
	}
}

func (c *chaos) killA() {
	if c.a == nil {
		c.note("kill a: not running, skipped")
		return
	}
	c.kill(c.a)
	c.a = nil
	c.kills++
	c.track()
}

func (c *chaos) startA() {
	if c.a == nil {
		c.a = c.spawn("a")
	}
	c.track()
}

func (c *chaos) redisDown() {
	c.redis.Kill()
	c.note("killed redis")
}

func (c *chaos) redisUp() {
	c.redis.Restart()
	c.redisRestarts++
	c.note("restarted redis from its append-only file")
}

func (c *chaos) redisSnapshot() {
	c.redis.Snapshot()
	c.note("snapshot redis")
}

func (c *chaos) redisRestore() {
	c.redis.RestoreSnapshot()
	c.redisLosses++
	c.note("restored redis from the snapshot: it lost every write since")
}

func (c *chaos) natsDown() {
	c.nats.Shutdown()
	c.note("stopped nats")
}

func (c *chaos) natsUp() {
	c.nats.Restart()
	c.natsRestarts++
	c.note("restarted nats")
}

func (c *chaos) join() {
	if c.b != nil {
		return
	}
	c.b = c.spawn("b")
	c.joins++
	c.track()
}

func (c *chaos) leave(term bool) {
	if c.b == nil {
		return
	}
	if term {
		c.term(c.b)
		c.leavesTerm++
	} else {
		c.kill(c.b)
		c.leavesKill++
	}
	c.b = nil
	c.track()
}
