package testserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/embedded"
	"github.com/disputed/disputed/internal/kafkatopics"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvKafka names the real Kafka broker (a bootstrap list) the tests run
// on. `make test` starts one with deploy/local/kafka/with-kafka.sh and sets
// it; without it the tests run on kfake, and in CI they fail.
const EnvKafka = "DISPUTED_TEST_KAFKA"

// Kafka is a Kafka a test has to itself. On the real broker of EnvKafka,
// which every test of a run shares, that is topics and a consumer group
// with a prefix of the test's own: Topic and Group give their names. On
// kfake it is a cluster of its own, and names are as given.
type Kafka struct {
	Brokers []string
	// Real says the broker is a real Apache Kafka, not kfake.
	Real   bool
	prefix string
	c      *kfake.Cluster
	// transport, when set, is the clients' own (a cluster whose leaders
	// move wants fresh metadata); nil is kafka-go's default.
	transport kafka.RoundTripper
}

// maxMessageBytes leaves room for the oversized messages tests send on
// purpose; kafka.sh sets the broker's message.max.bytes to the same.
const maxMessageBytes = 8 << 20

var (
	topicSeq    atomic.Int64
	kfakeNotice sync.Once
)

// StartKafka returns a Kafka with the topics, each with the given
// partitions, for the test; its topics are deleted (or its cluster closed)
// when the test ends.
func StartKafka(t testing.TB, partitions int, topics ...string) *Kafka {
	t.Helper()
	if addr := os.Getenv(EnvKafka); addr != "" {
		return startRealKafka(t, strings.Split(addr, ","), partitions, topics)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI runs the integration tests on a real Kafka broker, and %s is not set: run `make test`, which starts one", EnvKafka)
	}
	kfakeNotice.Do(func() {
		fmt.Fprintf(os.Stderr, "testserver: %s is not set: Kafka is kfake, in process (make test runs a real broker)\n", EnvKafka)
	})
	c, err := embedded.Kafka(embedded.KafkaConfig{Partitions: partitions, Topics: topics, MaxMessageBytes: maxMessageBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Brokers: c.ListenAddrs(), c: c}
}

func startRealKafka(t testing.TB, brokers []string, partitions int, topics []string) *Kafka {
	t.Helper()
	k := &Kafka{Brokers: brokers, Real: true, prefix: topicPrefix(t.Name())}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := k.client()
	req := &kafka.CreateTopicsRequest{}
	names := make([]string, len(topics))
	for i, name := range topics {
		names[i] = k.Topic(name)
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic: names[i], NumPartitions: partitions, ReplicationFactor: -1, // the broker's default
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(maxMessageBytes)}},
		})
	}
	res, err := client.CreateTopics(ctx, req)
	if err == nil {
		for name, e := range res.Errors {
			if e != nil {
				err = errors.Join(err, fmt.Errorf("%s: %w", name, e))
			}
		}
	}
	if err != nil {
		t.Fatalf("create topics on the Kafka broker at %s (%s): %v", strings.Join(brokers, ","), EnvKafka, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := k.client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names}); err != nil {
			t.Logf("delete the test's topics: %v", err)
		}
	})
	// A real broker answers UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE
	// or NOT_LEADER_OR_FOLLOWER for a moment after a topic was created.
	want := make(map[string]int, len(names))
	for _, n := range names {
		want[n] = partitions
	}
	WaitUntil(t, 30*time.Second, "the new topics are served", func() bool {
		return kafkatopics.Ready(ctx, client, want) == nil
	})
	return k
}

// topicPrefix is a prefix of topic and group names unique to the test in
// this run: its name, cut and reduced to the characters Kafka allows (and
// no '.' or '_', which Kafka takes for the same in its metrics), then the
// process and a sequence number.
func topicPrefix(test string) string {
	var b strings.Builder
	for _, r := range test {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 80 {
			break
		}
	}
	return fmt.Sprintf("%s-%d-%d-", b.String(), os.Getpid(), topicSeq.Add(1))
}

// Topic is the name of the test's topic name on this Kafka.
func (k *Kafka) Topic(name string) string { return k.prefix + name }

// Group is the name of the test's consumer group name on this Kafka.
func (k *Kafka) Group(name string) string { return k.prefix + name }

func (k *Kafka) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 30 * time.Second, Transport: k.transport}
}

// Writer is a synchronous writer to this Kafka. Messages name their topic
// as the test does; Produce maps it.
func (k *Kafka) Writer() *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(k.Brokers...), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll, BatchBytes: maxMessageBytes, Transport: k.transport,
	}
}

// Messages returns msgs with their topics mapped to this Kafka's names,
// for a writer of the test's own.
func (k *Kafka) Messages(msgs ...kafka.Message) []kafka.Message {
	if k.prefix == "" {
		return msgs
	}
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		m.Topic = k.Topic(m.Topic)
		out[i] = m
	}
	return out
}

// Produce writes the messages synchronously.
func (k *Kafka) Produce(ctx context.Context, t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	w := k.Writer()
	defer w.Close()
	if err := w.WriteMessages(ctx, k.Messages(msgs...)...); err != nil {
		t.Fatalf("produce %d messages: %v", len(msgs), err)
	}
}

// ReadAll reads every message of a topic's partitions up to their ends.
// The messages name the topic as the test does.
func (k *Kafka) ReadAll(ctx context.Context, t testing.TB, topic string, partitions int) []kafka.Message {
	t.Helper()
	client := k.client()
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		offset := int64(0)
		for {
			res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: k.Topic(topic), Partition: p, Offset: offset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
			if err == nil && res.Error != nil {
				err = res.Error
			}
			// A broker that moved a leader, or is still making itself one,
			// says so with a retriable error: ask again, as a consumer would.
			if kerr, ok := errors.AsType[kafka.Error](err); ok && kerr.Temporary() && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
			n := 0
			for {
				r, err := res.Records.ReadRecord()
				if err != nil {
					break
				}
				m := kafka.Message{Topic: topic, Partition: p, Offset: r.Offset, Headers: r.Headers, Time: r.Time}
				m.Key = readAll(r.Key)
				m.Value = readAll(r.Value)
				out = append(out, m)
				offset = r.Offset + 1
				n++
			}
			if n == 0 || offset >= res.HighWatermark {
				break
			}
		}
	}
	return out
}

// SetTopicConfig sets a topic's configuration entry (max.message.bytes,
// say), as an operator would.
func (k *Kafka) SetTopicConfig(t testing.TB, topic, key, value string) {
	t.Helper()
	res, err := k.client().IncrementalAlterConfigs(context.Background(), &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: k.Topic(topic),
		Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: key, Value: value, ConfigOperation: kafka.ConfigOperationSet}},
	}}})
	if err == nil {
		for _, r := range res.Resources {
			if r.Error != nil {
				err = r.Error
			}
		}
	}
	if err != nil {
		t.Fatalf("set %s=%s on topic %s: %v", key, value, topic, err)
	}
}
