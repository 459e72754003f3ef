package consumer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanisms a Kafka client can authenticate with.
const (
	SASLPlain       = "plain"
	SASLSCRAMSHA256 = "scram-sha-256"
	SASLSCRAMSHA512 = "scram-sha-512"
)

// ClientConfig says how to reach the brokers: TLS and SASL.
type ClientConfig struct {
	TLS                  bool
	TLSCA, TLSCert       string // PEM files; empty: the system's roots, no client certificate
	TLSKey               string
	TLSInsecure          bool   // skip verifying the brokers' certificates
	SASLMechanism        string // "", SASLPlain, SASLSCRAMSHA256 or SASLSCRAMSHA512
	SASLUser, SASLPasswd string
}

// Clients returns the dialer (group coordination) and the transport
// (fetches, dead letters, producers) with the TLS and SASL settings.
func Clients(c ClientConfig) (*kafka.Dialer, *kafka.Transport, error) {
	var tc *tls.Config
	if c.TLS {
		tc = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecure}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, nil, fmt.Errorf("kafka TLS CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("kafka TLS CA %s: no PEM certificate found", c.TLSCA)
			}
			tc.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, nil, fmt.Errorf("kafka TLS client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	mech, err := saslMechanism(c)
	if err != nil {
		return nil, nil, err
	}
	d := &kafka.Dialer{ClientID: "disputed", Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}
	t := &kafka.Transport{ClientID: "disputed", DialTimeout: 10 * time.Second, TLS: tc, SASL: mech}
	return d, t, nil
}

func saslMechanism(c ClientConfig) (sasl.Mechanism, error) {
	var algo scram.Algorithm
	switch c.SASLMechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: c.SASLUser, Password: c.SASLPasswd}, nil
	case SASLSCRAMSHA256:
		algo = scram.SHA256
	case SASLSCRAMSHA512:
		algo = scram.SHA512
	default:
		return nil, fmt.Errorf("kafka SASL mechanism %q: unknown", c.SASLMechanism)
	}
	m, err := scram.Mechanism(algo, c.SASLUser, c.SASLPasswd)
	if err != nil {
		return nil, fmt.Errorf("kafka SASL mechanism %s: %w", c.SASLMechanism, err)
	}
	return m, nil
}

// PartitionCount learns the number of partitions of a topic from the
// brokers once, and keeps it: the four input topics are co-partitioned.
func PartitionCount(brokers []string, topic string, transport kafka.RoundTripper) func(context.Context) (int, error) {
	var (
		mu sync.Mutex
		n  int
	)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport, Timeout: 5 * time.Second}
	return func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			return n, nil
		}
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return 0, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, t := range md.Topics {
			if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
				n = len(t.Partitions)
				return n, nil
			}
		}
		return 0, fmt.Errorf("partitions of %s: the topic is unknown to the brokers", topic)
	}
}
