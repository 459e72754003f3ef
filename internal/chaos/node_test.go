package chaos_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/testserver"
)

// The single-node run: a real Kafka broker (the run's, or kfake), one
// redis-server process and an in-process NATS server; one processor all
// along, killed and restarted, and a second one that joins and leaves.

// nodeConfig is the single-node run's: 40 seconds of load with four kills,
// one Redis restart, one restore of an older snapshot, one NATS restart and
// one member joining and leaving (TestChaosShort); or three minutes with 20
// kills, 5 Redis restarts, 3 restores, 5 NATS restarts and 5 joins
// (TestChaos). CHAOS_* override them.
func nodeConfig(full bool) chaosConfig {
	c := chaosConfig{name: "chaos", env: "CHAOS_", full: full, duration: 40 * time.Second, rate: 6, members: 1,
		quietWithin: time.Minute, kills: chaosCount{4, 20}, joins: chaosCount{1, 5}}
	if full {
		c.duration, c.rate, c.quietWithin = 3*time.Minute, 8, 2*time.Minute
	}
	return c
}

// TestChaosShort is the short single-node chaos run of `make test`.
func TestChaosShort(t *testing.T) {
	if os.Getenv("CHAOS_FULL") != "" {
		t.Skip("CHAOS_FULL is set: TestChaos is the run")
	}
	runChaos(t, nodeConfig(false), &nodeSetup{})
}

// TestChaos is the full single-node chaos run (`make chaos`).
func TestChaos(t *testing.T) {
	if os.Getenv("CHAOS_FULL") == "" {
		t.Skip("the full chaos run is `make chaos` (CHAOS_FULL=1); make test runs TestChaosShort")
	}
	runChaos(t, nodeConfig(true), &nodeSetup{})
}

type nodeSetup struct {
	redis *testserver.Redis
	nats  *testserver.NATS
}

func (s *nodeSetup) start(c *chaos) {
	// Redis first: without redis-server the test skips (fails in CI)
	// before starting anything else.
	s.redis = testserver.StartRedis(c.t)
	c.rdb = s.redis.Client()
	c.kafka = testserver.StartKafka(c.t, chaosPartitions, append(slices.Clone(chaosTopics), chaosDLQ)...)
	s.nats = testserver.StartNATS(c.t)
	c.nc = s.nats.Conn()
}

func (s *nodeSetup) flags() []string {
	return []string{"--redis-url", "redis://" + s.redis.Addr, "--nats-url", s.nats.URL}
}

func (s *nodeSetup) faults(c *chaos) []*chaosFault {
	restarts := &chaosFault{env: "REDIS_RESTARTS", label: "Redis restarts", on: "redis", count: chaosCount{1, 5}}
	losses := &chaosFault{env: "REDIS_LOSSES", label: "Redis losses of the last writes", on: "redis", count: chaosCount{1, 3}}
	nats := &chaosFault{env: "NATS_RESTARTS", label: "NATS restarts", on: "nats", count: chaosCount{1, 5}}
	// Every other Redis and NATS outage outlasts the clients' own retries
	// (go-redis: about a second; a JetStream publish waits 5s for its ack),
	// so that the processor's retries and the outbox are what recover.
	restarts.plan = func(i int, r *chaosRand) []faultStep {
		down := r.between(200*time.Millisecond, time.Second)
		if i%2 == 0 {
			down = r.between(2*time.Second, 4*time.Second)
		}
		return []faultStep{
			{0, "kill redis", func() {
				s.redis.Kill()
				c.note("killed redis")
			}},
			{down, "restart redis", func() {
				s.redis.Restart()
				restarts.done++
				c.note("restarted redis from its append-only file")
			}},
		}
	}
	// Redis comes back without its last writes: a snapshot, a few seconds
	// of load on top of it, then a restore from the snapshot under the
	// running processors (as a failover to a lagging replica does).
	losses.plan = func(i int, r *chaosRand) []faultStep {
		lag := r.between(time.Second, 3*time.Second)
		return []faultStep{
			{0, "snapshot redis", func() {
				s.redis.Snapshot()
				c.note("snapshot redis")
			}},
			{lag, "restore redis", func() {
				s.redis.RestoreSnapshot()
				losses.done++
				c.note("restored redis from the snapshot: it lost every write since")
			}},
		}
	}
	nats.plan = func(i int, r *chaosRand) []faultStep {
		down := r.between(300*time.Millisecond, 2*time.Second)
		if i%2 == 0 {
			down = r.between(6*time.Second, 9*time.Second)
		}
		return []faultStep{
			{0, "stop nats", func() {
				s.nats.Shutdown()
				c.note("stopped nats")
			}},
			{down, "restart nats", func() {
				s.nats.Restart()
				nats.done++
				c.note("restarted nats")
			}},
		}
	}
	return []*chaosFault{restarts, losses, nats}
}

// heal has nothing to do: every fault's last step brings its server back.
func (s *nodeSetup) heal(*chaos) {}

func (s *nodeSetup) logs() map[string]string { return nil }
