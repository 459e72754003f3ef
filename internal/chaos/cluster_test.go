package chaos_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/disputed/disputed/internal/testserver"
)

// The cluster run: three Kafka brokers (replication factor 3,
// min.insync.replicas 2), a Redis Cluster of three primaries with one
// replica each, three NATS servers with R3 streams, and three members all
// along plus one that joins and leaves. The members save with
// --redis-durability replicas and --redis-wait-replicas 1, so a save is
// on a replica before its commands may go out, and a primary's replica
// that takes over has it.
//
// Its faults, besides the members' kills and joins: the leader broker of
// an input partition is stopped (a controlled shutdown: its leaderships
// move) and started again; a Redis replica takes over from its primary on
// an operator's CLUSTER FAILOVER; a Redis primary is SIGKILLed, its
// replica takes over after the node timeout, a member is restarted while
// that shard has no replica, and the old primary is started again and
// rejoins as a replica; a NATS server is SIGKILLed and started again. Each recovery is waited for on a condition of the servers
// (every partition's replicas back in sync, cluster_state:ok and replicas
// in sync, the NATS server current with its streams), never for a fixed
// time, and the next fault of a server waits until the server can take it
// without losing its quorum.

// clusterConfig is the cluster run's: a minute of load with two kills and
// one fault of every other kind (TestClusterChaosShort); or four minutes
// with 8 kills, 3 broker stops, 3 Redis failovers, 3 Redis primary kills, 3
// NATS kills and 3 joins (TestClusterChaos). CLUSTER_CHAOS_* override them.
func clusterConfig(full bool) chaosConfig {
	c := chaosConfig{name: "cluster chaos", env: "CLUSTER_CHAOS_", full: full, duration: time.Minute, rate: 3, members: 3,
		quietWithin: 2 * time.Minute, kills: chaosCount{2, 8}, joins: chaosCount{1, 3}}
	if full {
		c.duration, c.rate, c.quietWithin = 4*time.Minute, 4, 3*time.Minute
	}
	return c
}

// TestClusterChaosShort is the short cluster chaos run of `make test`:
// about two and a half minutes on two cores, of which the servers' start
// takes half a minute.
func TestClusterChaosShort(t *testing.T) {
	if os.Getenv("CLUSTER_CHAOS_FULL") != "" {
		t.Skip("CLUSTER_CHAOS_FULL is set: TestClusterChaos is the run")
	}
	runChaos(t, clusterConfig(false), &clusterSetup{})
}

// TestClusterChaos is the full cluster chaos run (`make cluster-chaos`).
func TestClusterChaos(t *testing.T) {
	if os.Getenv("CLUSTER_CHAOS_FULL") == "" {
		t.Skip("the full cluster chaos run is `make cluster-chaos` (CLUSTER_CHAOS_FULL=1)")
	}
	runChaos(t, clusterConfig(true), &clusterSetup{})
}

type clusterSetup struct {
	kafka *testserver.KafkaCluster
	redis *testserver.RedisCluster
	nats  *testserver.NATSCluster
	conn  *nats.Conn // to the NATS cluster
}

// clusterStreams are the streams the members create, with three replicas.
var clusterStreams = []string{"DISPUTES", "FINANCE", "DISPUTED_GUARD"}

// start starts what can be missing (redis-server, Java) first: the test
// skips (fails in CI) before building anything.
func (s *clusterSetup) start(c *chaos) {
	s.redis = testserver.StartRedisCluster(c.t)
	c.rdb = s.redis.Client()
	s.kafka = testserver.StartKafkaCluster(c.t, chaosPartitions, append(slices.Clone(chaosTopics), chaosDLQ)...)
	c.kafka = s.kafka.Kafka
	s.nats = testserver.StartNATSCluster(c.t)
	c.nc = s.nats.Conn()
	s.conn = c.nc
}

func (s *clusterSetup) flags() []string {
	addrs := s.redis.Addrs()
	return []string{
		"--redis-url", "redis://" + addrs[0], "--redis-cluster", "--redis-cluster-addrs", strings.Join(addrs[1:], ","),
		"--redis-durability", "replicas", "--redis-wait-replicas", "1",
		"--nats-url", s.nats.URL, "--stream-replicas", "3",
	}
}

// clusterReady is how long a fault waits for its server to be ready for it
// (the previous fault's recovery).
const clusterReady = time.Minute

func (s *clusterSetup) faults(c *chaos) []*chaosFault {
	stops := &chaosFault{env: "BROKER_STOPS", label: "partition leader broker stops", on: "kafka", count: chaosCount{1, 3}}
	failovers := &chaosFault{env: "REDIS_FAILOVERS", label: "Redis failovers (CLUSTER FAILOVER)", on: "redis", count: chaosCount{1, 3}}
	kills := &chaosFault{env: "REDIS_KILLS", label: "Redis primary kills", on: "redis", count: chaosCount{1, 3}}
	natsKills := &chaosFault{env: "NATS_KILLS", label: "NATS server kills", on: "nats", count: chaosCount{1, 3}}

	stops.plan = func(i int, r *chaosRand) []faultStep {
		topic, partition := chaosTopics[r.IntN(len(chaosTopics))], r.IntN(chaosPartitions)
		down := r.between(2*time.Second, 8*time.Second)
		node := -1
		return []faultStep{
			{0, fmt.Sprintf("stop the leader of %s/%d", topic, partition), func() {
				c.waitFor("every Kafka partition has its three replicas in sync", clusterReady, s.kafkaWhole)
				n, err := s.kafka.Leader(topic, partition)
				if err != nil {
					c.t.Fatal(err)
				}
				exited := s.kafka.Stop(n)
				node = n
				c.note("stopping Kafka node %d, the leader of %s/%d (SIGTERM: a controlled shutdown)", n, topic, partition)
				c.recovering(fmt.Sprintf("Kafka node %d has stopped", n), func() error {
					if !exited() {
						return fmt.Errorf("node %d still runs", n)
					}
					return nil
				})
			}},
			{down, "start the stopped broker", func() {
				started := s.kafka.StartAgain(node)
				c.note("starting Kafka node %d again", node)
				var result error
				finished := false
				c.recovering(fmt.Sprintf("Kafka node %d runs again and every partition has its three replicas in sync", node), func() error {
					if !finished {
						select {
						case result = <-started:
							finished = true
						default:
							return fmt.Errorf("kafka.sh restart %d is starting the node", node)
						}
					}
					if result != nil {
						return permanent(result)
					}
					return s.kafkaWhole()
				})
				stops.done++
			}},
		}
	}
	failovers.plan = func(i int, r *chaosRand) []faultStep {
		pick := r.IntN(3)
		return []faultStep{{0, "redis failover", func() {
			var shard testserver.RedisShard
			c.waitFor("a Redis shard has a replica in sync", clusterReady, func() error {
				var err error
				shard, err = s.redisShard(pick)
				return err
			})
			replica := shard.Replicas[0]
			start := time.Now()
			s.redis.Failover(replica)
			c.note("CLUSTER FAILOVER: replica %s took over from %s (%v)", replica, shard.Primary, time.Since(start).Round(10*time.Millisecond))
			c.recovering(fmt.Sprintf("%s is %s's replica, in sync", shard.Primary, replica), func() error { return s.redis.ShardSynced(replica) })
			failovers.done++
		}}}
	}
	// A primary is killed; once its replica has taken over, and while that
	// one has no replica itself, a member is restarted (its start checks
	// the durability every primary can give); then the old primary is
	// started again and rejoins as a replica.
	kills.plan = func(i int, r *chaosRand) []faultStep {
		pick := r.IntN(3)
		member := c.members[r.IntN(len(c.members))]
		down := r.between(4*time.Second, 8*time.Second)
		var killed, replica string
		return []faultStep{
			{0, "kill a redis primary", func() {
				var shard testserver.RedisShard
				c.waitFor("every Redis slot is served and a shard has a replica in sync", clusterReady, func() error {
					if err := s.redis.Serving(); err != nil {
						return err
					}
					var err error
					shard, err = s.redisShard(pick)
					return err
				})
				killed, replica = shard.Primary, shard.Replicas[0]
				s.redis.Kill(killed)
				c.note("SIGKILLed Redis primary %s (its replica is %s)", killed, replica)
				c.recovering(fmt.Sprintf("replica %s took over from %s", replica, killed), func() error { return s.tookOver(replica) })
			}},
			{down, "restart a member while a shard has no replica", func() {
				c.waitFor(fmt.Sprintf("replica %s has taken over", replica), clusterReady, func() error { return s.tookOver(replica) })
				c.killMember(member)
				c.startMember(member)
				ch := member.ch
				c.note("%s starts while the Redis shard of %s has no replica", ch.name, replica)
				c.waitFor(ch.name+" has joined the group", clusterReady, func() error {
					if ch.exited() || strings.Contains(ch.log.String(), "joined group generation") {
						return nil
					}
					return fmt.Errorf("%s has not joined the group yet", ch.name)
				})
			}},
			{down + time.Second, "restart the killed redis primary", func() {
				s.redis.Restart(killed)
				c.note("restarted Redis node %s", killed)
				c.recovering(fmt.Sprintf("%s rejoined as %s's replica, in sync", killed, replica), s.redis.Healthy)
				kills.done++
			}},
		}
	}
	natsKills.plan = func(i int, r *chaosRand) []faultStep {
		n := s.nats.Nodes[r.IntN(len(s.nats.Nodes))]
		down := r.between(time.Second, 8*time.Second)
		return []faultStep{
			{0, "kill nats " + n.Name, func() {
				c.waitFor("the NATS cluster is whole", clusterReady, s.natsWhole)
				n.Kill()
				c.note("SIGKILLed NATS server %s", n.Name)
			}},
			{down, "restart nats " + n.Name, func() {
				n.Restart()
				c.note("restarted NATS server %s", n.Name)
				c.recovering(fmt.Sprintf("NATS server %s caught up", n.Name), s.natsWhole)
				natsKills.done++
			}},
		}
	}
	return []*chaosFault{stops, failovers, kills, natsKills}
}

// redisShard returns the pick-th shard, counting from the first, whose
// primary and replica both run and are in sync.
func (s *clusterSetup) redisShard(pick int) (testserver.RedisShard, error) {
	shards, err := s.redis.Shards()
	if err != nil {
		return testserver.RedisShard{}, err
	}
	var errs []string
	for k := range len(shards) {
		sh := shards[(pick+k)%len(shards)]
		err := s.redis.ShardSynced(sh.Primary)
		if err == nil {
			return sh, nil
		}
		errs = append(errs, err.Error())
	}
	return testserver.RedisShard{}, fmt.Errorf("no shard has a replica in sync: %s", strings.Join(errs, "; "))
}

// tookOver says why the replica is not yet the primary that serves its
// slots, or nil when it is and every slot is served.
func (s *clusterSetup) tookOver(replica string) error {
	if err := s.redis.Serving(); err != nil {
		return err
	}
	shards, err := s.redis.Shards()
	if err != nil {
		return err
	}
	for _, sh := range shards {
		if sh.Primary == replica {
			return nil
		}
	}
	return fmt.Errorf("%s is not a primary yet", replica)
}

func (s *clusterSetup) kafkaWhole() error {
	return s.kafka.AllInSync(append(slices.Clone(chaosTopics), chaosDLQ)...)
}

// natsWhole says why the NATS cluster is not whole: a server down or not
// current, or a stream (the members create them at start) without its
// three replicas current.
func (s *clusterSetup) natsWhole() error {
	return s.nats.Healthy(s.conn, clusterStreams...)
}

func (s *clusterSetup) heal(c *chaos) {
	c.waitFor("the Kafka cluster is whole", clusterReady, s.kafkaWhole)
	c.waitFor("the Redis cluster is whole", clusterReady, s.redis.Healthy)
	c.waitFor("the NATS cluster is whole", clusterReady, s.natsWhole)
}

func (s *clusterSetup) logs() map[string]string {
	out := make(map[string]string)
	maps.Copy(out, s.redis.LogFiles())
	maps.Copy(out, s.nats.LogFiles())
	return out
}
