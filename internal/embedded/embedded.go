// Package embedded starts the servers disputed can run on in its own
// process: Kafka (kfake, franz-go's in-process cluster, spoken to over TCP),
// NATS with JetStream, and Redis (miniredis). `disputed run` uses them when it
// is given no servers, `disputed demo` always, the bench when asked, and the
// tests use the NATS server. Everything they hold is lost when they stop.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaConfig says which topics an embedded Kafka cluster is created with.
type KafkaConfig struct {
	Partitions int      // of each input topic
	Topics     []string // created with Partitions partitions
	Single     []string // created with one partition (the dead-letter topic)
	// MaxMessageBytes is the brokers' message.max.bytes; 0 keeps kfake's.
	MaxMessageBytes int
	// Port is the broker's port on 127.0.0.1; 0 picks a free one.
	Port int
}

// Kafka starts a one-broker kfake cluster listening on loopback.
func Kafka(c KafkaConfig) (*kfake.Cluster, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(c.Partitions), c.Topics...),
		// Members with short sessions rejoin in a second or two rather
		// than kfake's default minimum.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if len(c.Single) > 0 {
		opts = append(opts, kfake.SeedTopics(1, c.Single...))
	}
	if c.MaxMessageBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(c.MaxMessageBytes)}))
	}
	if c.Port > 0 {
		opts = append(opts, kfake.Ports(c.Port))
	}
	k, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return k, nil
}

// NATSConfig says where an embedded NATS server listens and keeps its
// JetStream files.
type NATSConfig struct {
	Name     string // server name
	Port     int    // -1: any free port
	StoreDir string // JetStream file store
}

// NATS starts a NATS server with JetStream on loopback and waits until it
// takes connections. Shut it down with Shutdown and WaitForShutdown.
func NATS(c NATSConfig) (*server.Server, error) {
	if c.Port == 0 {
		c.Port = -1
	}
	s, err := server.NewServer(&server.Options{
		ServerName: c.Name, Host: "127.0.0.1", Port: c.Port,
		JetStream: true, StoreDir: c.StoreDir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	s.Start() // it does not block: the server owns its accept loops
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("start embedded nats: not ready after 10s")
	}
	return s, nil
}

// Servers are the three servers of an embedded deployment.
type Servers struct {
	Kafka    *kfake.Cluster
	NATS     *server.Server
	Redis    *miniredis.Miniredis
	natsDir  string
	Brokers  []string
	NATSURL  string
	RedisURL string
}

// Ports fixes the ports the servers listen on, on 127.0.0.1, so that
// commands written down beforehand can name them; 0 picks a free one.
type Ports struct {
	Kafka, NATS, Redis int
}

// Start starts Kafka with the topics, NATS with JetStream in a temporary
// directory, and Redis, on the ports given (Kafka's in p, not k). On error,
// what was started is stopped again.
func Start(k KafkaConfig, p Ports) (s *Servers, err error) {
	s = &Servers{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	k.Port = p.Kafka
	if s.Kafka, err = Kafka(k); err != nil {
		return nil, err
	}
	s.Brokers = s.Kafka.ListenAddrs()
	// The producer asks JetStream for file storage, so the server gets a
	// directory of its own, removed on Close.
	if s.natsDir, err = os.MkdirTemp("", "disputed-nats-"); err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	if p.NATS > 0 {
		// A port in use would show only as a server never ready: say so.
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.NATS))
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		ln.Close()
	}
	if s.NATS, err = NATS(NATSConfig{Name: "disputed-embedded", Port: p.NATS, StoreDir: s.natsDir}); err != nil {
		return nil, err
	}
	s.NATSURL = s.NATS.ClientURL()
	s.Redis = miniredis.NewMiniRedis()
	if err = s.Redis.StartAddr(fmt.Sprintf("127.0.0.1:%d", p.Redis)); err != nil {
		s.Redis = nil
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	s.RedisURL = "redis://" + s.Redis.Addr()
	return s, nil
}

// Close stops the servers in the reverse order of their start.
func (s *Servers) Close() {
	if s.Redis != nil {
		s.Redis.Close()
	}
	if s.NATS != nil {
		s.NATS.Shutdown()
		s.NATS.WaitForShutdown()
	}
	if s.natsDir != "" {
		os.RemoveAll(s.natsDir)
	}
	if s.Kafka != nil {
		s.Kafka.Close()
	}
}
