package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// embeddedPartitions is the partition count of the embedded input topics:
// more than one, so the demo exercises the co-partitioning.
const embeddedPartitions = 4

// embedded is the in-process Kafka, NATS and Redis that `disputed run`
// starts when it is given none, so that it runs on a laptop with nothing
// installed. Everything is lost when it stops.
type embedded struct {
	kafka    *kfake.Cluster
	nats     *server.Server
	natsDir  string
	redis    *miniredis.Miniredis
	Brokers  []string
	NATSURL  string
	RedisURL string
}

// startEmbedded starts the three servers, with the topics of cfg created.
// On error, what was started is stopped again.
func startEmbedded(cfg KafkaConfig) (e *embedded, err error) {
	e = &embedded{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	t := cfg.Topics
	e.kafka, err = kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(embeddedPartitions, t.Orders, t.Deliveries, t.Chats, t.RefundRequests),
		kfake.SeedTopics(1, cfg.DLQTopic),
		// The embedded consumer uses short sessions, so that a restart
		// rejoins in a second or two rather than kfake's default minimum.
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	e.Brokers = e.kafka.ListenAddrs()

	// The producer asks JetStream for file storage, so the embedded server
	// gets a directory of its own, removed on Close.
	e.natsDir, err = os.MkdirTemp("", "disputed-nats-")
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	e.nats, err = server.NewServer(&server.Options{
		ServerName: "disputed-embedded", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: e.natsDir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	e.nats.Start() // it does not block: the server owns its accept loops
	if !e.nats.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("start embedded nats: not ready after 10s")
	}
	e.NATSURL = e.nats.ClientURL()

	e.redis, err = miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	e.RedisURL = "redis://" + e.redis.Addr()
	return e, nil
}

// use points cfg at the embedded servers.
func (e *embedded) use(cfg Config) Config {
	cfg.Kafka.Brokers = e.Brokers
	cfg.Redis.URL = e.RedisURL
	cfg.NATS.URL = e.NATSURL
	return cfg
}

// Close stops the servers in the reverse order of their start.
func (e *embedded) Close() {
	if e.redis != nil {
		e.redis.Close()
	}
	if e.nats != nil {
		e.nats.Shutdown()
		e.nats.WaitForShutdown()
	}
	if e.natsDir != "" {
		os.RemoveAll(e.natsDir)
	}
	if e.kafka != nil {
		e.kafka.Close()
	}
}
