package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/embedded"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an in-process Kafka cluster (kfake) listening on TCP.
type Kafka struct {
	Brokers []string
	c       *kfake.Cluster
}

// StartKafka starts a one-broker cluster with the topics, each with the
// given partitions; it is closed when the test ends.
func StartKafka(t testing.TB, partitions int, topics ...string) *Kafka {
	t.Helper()
	// Room for the oversized messages tests send on purpose.
	c, err := embedded.Kafka(embedded.KafkaConfig{Partitions: partitions, Topics: topics, MaxMessageBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Brokers: c.ListenAddrs(), c: c}
}

// Produce writes the messages synchronously.
func (k *Kafka) Produce(ctx context.Context, t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, BatchBytes: 8 << 20}
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce %d messages: %v", len(msgs), err)
	}
}

// ReadAll reads every message of a topic's partitions up to their ends.
func (k *Kafka) ReadAll(ctx context.Context, t testing.TB, topic string, partitions int) []kafka.Message {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(k.Brokers...)}
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		offset := int64(0)
		for {
			res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: offset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
			n := 0
			for {
				r, err := res.Records.ReadRecord()
				if err != nil {
					break
				}
				m := kafka.Message{Topic: topic, Partition: p, Offset: r.Offset, Headers: r.Headers}
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
// say), as an operator would on a real broker.
func (k *Kafka) SetTopicConfig(t testing.TB, topic, key, value string) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(k.Brokers...)}
	res, err := client.AlterConfigs(context.Background(), &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafka.AlterConfigRequestConfig{{Name: key, Value: value}},
	}}})
	if err == nil {
		for _, e := range res.Errors {
			if e != nil {
				err = e
			}
		}
	}
	if err != nil {
		t.Fatalf("set %s=%s on topic %s: %v", key, value, topic, err)
	}
}
