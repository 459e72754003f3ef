package testserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// KafkaCluster is a three-node Apache Kafka cluster of the test's own,
// run by deploy/local/kafka/kafka.sh (KRaft, every node broker and
// controller; replication factor 3 and min.insync.replicas 2 by default),
// whose nodes the test can stop, kill and restart. Node N has node.id N.
type KafkaCluster struct {
	// Kafka is the cluster as the tests' other helpers see it: its topics
	// are named as given.
	*Kafka
	Dir    string // kafka.sh's folder: nodeN/server.log, ...
	t      testing.TB
	script string
	addrs  []string // broker address of node N
}

// KafkaClusterNodes is the size of a KafkaCluster.
const KafkaClusterNodes = 3

// StartKafkaCluster starts a three-node cluster and creates the topics, each
// with the given partitions and three replicas; it waits until every
// partition has a leader and all three replicas in sync. The cluster is
// stopped when the test ends; its folder is deleted unless the test failed.
// Without Java the test is skipped (in CI it fails).
func StartKafkaCluster(t testing.TB, partitions int, topics ...string) *KafkaCluster {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil && os.Getenv("JAVA_HOME") == "" {
		unavailable(t, "a Kafka cluster needs Java 17 (.ci/run installs openjdk-17-jre-headless and maven): %v", err)
	}
	script := filepath.Join(moduleRoot(), "deploy", "local", "kafka", "kafka.sh")
	dir, err := os.MkdirTemp("", "disputed-kafka-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	k := &KafkaCluster{Dir: dir, t: t, script: script}
	start := time.Now()
	out, err := k.run("start", "--brokers", strconv.Itoa(KafkaClusterNodes), "--partitions", strconv.Itoa(partitions), "--dir", dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("start a Kafka cluster: %v\n%s", err, out)
	}
	t.Cleanup(k.stop)
	var bootstrap string
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "KAFKA_BOOTSTRAP="); ok {
			bootstrap = v
		}
	}
	if bootstrap == "" {
		t.Fatalf("kafka.sh start printed no KAFKA_BOOTSTRAP:\n%s", out)
	}
	k.addrs = strings.Split(bootstrap, ",")
	if len(k.addrs) != KafkaClusterNodes {
		t.Fatalf("kafka.sh started %d brokers, want %d: %s", len(k.addrs), KafkaClusterNodes, bootstrap)
	}
	t.Logf("Kafka cluster of %d nodes at %s (in %s) ready in %v", KafkaClusterNodes, bootstrap, dir, time.Since(start).Round(100*time.Millisecond))
	// Leaders move while the test runs: its clients look at the metadata
	// every second, not kafka-go's default six.
	transport := &kafka.Transport{MetadataTTL: time.Second}
	t.Cleanup(transport.CloseIdleConnections)
	k.Kafka = &Kafka{Brokers: k.addrs, Real: true, transport: transport}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := &kafka.CreateTopicsRequest{}
	for _, name := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic: name, NumPartitions: partitions, ReplicationFactor: KafkaClusterNodes,
			ConfigEntries: []kafka.ConfigEntry{
				{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(maxMessageBytes)},
				{ConfigName: "min.insync.replicas", ConfigValue: "2"},
			},
		})
	}
	res, err := k.client().CreateTopics(ctx, req)
	if err == nil {
		for name, e := range res.Errors {
			if e != nil {
				err = errors.Join(err, fmt.Errorf("%s: %w", name, e))
			}
		}
	}
	if err != nil {
		t.Fatalf("create topics on the Kafka cluster: %v", err)
	}
	// Every node must know the topics (a node that has not caught up with
	// the metadata answers UNKNOWN_TOPIC_OR_PARTITION), with all replicas
	// in sync.
	WaitUntil(t, time.Minute, "every node knows the new topics with all replicas in sync", func() bool {
		for n := range KafkaClusterNodes {
			if k.InSync(n, topics...) != nil {
				return false
			}
		}
		return true
	})
	return k
}

func (k *KafkaCluster) run(args ...string) (string, error) {
	cmd := exec.Command(k.script, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// stop stops every node; the folder is kept when the test failed.
func (k *KafkaCluster) stop() {
	args := []string{"stop", k.Dir}
	if !k.t.Failed() {
		args = append(args, "--clean")
	}
	if out, err := k.run(args...); err != nil {
		k.t.Logf("stop the Kafka cluster: %v\n%s", err, out)
	}
	if k.t.Failed() {
		k.t.Logf("the Kafka cluster's logs are kept in %s (nodeN/server.log)", k.Dir)
	}
}

// Addr is node n's broker address.
func (k *KafkaCluster) Addr(n int) string { return k.addrs[n] }

// pid is node n's process, or 0 when it does not run.
func (k *KafkaCluster) pid(n int) int {
	b, err := os.ReadFile(filepath.Join(k.Dir, fmt.Sprintf("node%d", n), "pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// Running reports whether node n runs.
func (k *KafkaCluster) Running(n int) bool { return k.pid(n) != 0 }

// Stop stops node n as an operator does (SIGTERM): a controlled shutdown,
// which hands its partitions' leadership to the other replicas before it
// exits. It returns at once, with a function that reports whether the
// node's process has exited.
func (k *KafkaCluster) Stop(n int) (exited func() bool) {
	k.t.Helper()
	pid := k.pid(n)
	if pid == 0 {
		k.t.Fatalf("Kafka node %d is not running", n)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		k.t.Fatalf("stop Kafka node %d: %v", n, err)
	}
	return func() bool { return syscall.Kill(pid, 0) != nil }
}

// StartAgain starts node n again with its configuration and data, in the
// background, once it has exited, and sends on the channel returned
// when every node of the cluster is registered and unfenced (kafka.sh
// restart), or why not. Its replicas then catch up: see InSync.
func (k *KafkaCluster) StartAgain(n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for deadline := time.Now().Add(time.Minute); k.Running(n); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				done <- fmt.Errorf("Kafka node %d has not exited a minute after it was stopped", n)
				return
			}
		}
		if out, err := k.run("restart", k.Dir, strconv.Itoa(n)); err != nil {
			done <- fmt.Errorf("restart Kafka node %d: %w\n%s", n, err, out)
			return
		}
		done <- nil
	}()
	return done
}

// partitions asks node n for the partitions of the topics: straight from the
// broker, not from a client's cached metadata.
func (k *KafkaCluster) partitions(n int, topics ...string) ([]kafka.Partition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := (&kafka.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", k.addrs[n])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn.ReadPartitions(topics...)
}

// Leader returns the node that leads the topic's partition, as a running
// node sees it.
func (k *KafkaCluster) Leader(topic string, partition int) (int, error) {
	var errs []error
	for n := range KafkaClusterNodes {
		if !k.Running(n) {
			continue
		}
		ps, err := k.partitions(n, topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range ps {
			if p.ID == partition && p.Leader.Port != 0 {
				return p.Leader.ID, nil
			}
		}
		errs = append(errs, fmt.Errorf("node %d knows no leader of %s/%d", n, topic, partition))
	}
	return -1, fmt.Errorf("leader of %s/%d: %w", topic, partition, errors.Join(errs...))
}

// InSync says, as node n sees them, why some partition of the topics is not
// led with all three replicas in sync, or nil when every one is.
func (k *KafkaCluster) InSync(n int, topics ...string) error {
	ps, err := k.partitions(n, topics...)
	if err != nil {
		return fmt.Errorf("node %d: %w", n, err)
	}
	seen := make(map[string]bool)
	for _, p := range ps {
		seen[p.Topic] = true
		if p.Leader.Port == 0 {
			return fmt.Errorf("node %d: %s/%d has no leader", n, p.Topic, p.ID)
		}
		if len(p.Isr) < KafkaClusterNodes {
			return fmt.Errorf("node %d: %s/%d has %d of %d replicas in sync", n, p.Topic, p.ID, len(p.Isr), KafkaClusterNodes)
		}
	}
	for _, t := range topics {
		if !seen[t] {
			return fmt.Errorf("node %d does not know topic %s", n, t)
		}
	}
	return nil
}

// AllInSync says why the cluster is not whole, or nil when every node runs
// and sees every partition of the topics, and of the group offsets topic,
// led with all three replicas in sync.
func (k *KafkaCluster) AllInSync(topics ...string) error {
	topics = append(topics, "__consumer_offsets")
	for n := range KafkaClusterNodes {
		if !k.Running(n) {
			return fmt.Errorf("node %d is not running", n)
		}
		if err := k.InSync(n, topics...); err != nil {
			return err
		}
	}
	return nil
}
