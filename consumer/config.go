package consumer

import (
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/rules"
)

// Topics names the four co-partitioned input topics.
type Topics struct {
	Orders, Deliveries, Chats, RefundRequests string
}

// DefaultTopics are contract v1's topic names.
func DefaultTopics() Topics {
	return Topics{
		Orders: rules.TopicOrders, Deliveries: rules.TopicDeliveries,
		Chats: rules.TopicChats, RefundRequests: rules.TopicRefundRequests,
	}
}

func (t Topics) list() []string {
	return []string{t.Orders, t.Deliveries, t.Chats, t.RefundRequests}
}

// Config of the stream processor. Start from DefaultConfig; a zero field is
// filled with its default.
type Config struct {
	Brokers []string
	Group   string
	Topics  Topics
	// DeadLetterTopic takes malformed input (KafkaDeadLetters).
	DeadLetterTopic string
	// Dialer (group coordination) and Transport (fetches, dead letters)
	// carry TLS and SASL settings; nil means plain TCP.
	Dialer    *kafka.Dialer
	Transport kafka.RoundTripper

	// MaxBatch is the most inputs applied in one atomic step.
	MaxBatch int
	// MaxWait is how long a fetch waits for data; a fetch that finds its
	// topic at its end returns after it, which is how often an idle topic
	// is looked at.
	MaxWait time.Duration
	// MaxBytes per fetch of one topic-partition.
	MaxBytes int
	// Idle is how long a topic read to its end holds the partition's event
	// time back for events that may still be on their way (see merger):
	// the bound on how far one topic may lag another, and on how much
	// later a deadline fires while a topic is quiet.
	Idle time.Duration
	// Skew: an event stamped further than this ahead of the wall clock is
	// malformed.
	Skew time.Duration
	// Group timing (kafka-go's defaults are far slower than needed).
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	// FlushTimeout bounds the outbox flush when a partition is handed over
	// or the process stops.
	FlushTimeout time.Duration
	// BatchTimeout bounds one attempt at a batch, which runs to its end even
	// when the partition is being released.
	BatchTimeout time.Duration
	// DueLimit bounds the deadlines read per batch.
	DueLimit int
	// OutboxStuck is how long a command may wait in an outbox before the
	// processor reports itself not ready.
	OutboxStuck time.Duration

	// Now is the wall clock. Default time.Now.
	Now func() time.Time
}

// DefaultConfig returns the processor's defaults, without brokers.
func DefaultConfig() Config {
	return Config{
		Group:             "disputed",
		Topics:            DefaultTopics(),
		DeadLetterTopic:   "disputes.dlq",
		MaxBatch:          500,
		MaxWait:           50 * time.Millisecond,
		MaxBytes:          1 << 20,
		Idle:              3 * time.Second,
		Skew:              5 * time.Minute,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		FlushTimeout:      5 * time.Second,
		BatchTimeout:      30 * time.Second,
		DueLimit:          1024,
		OutboxStuck:       5 * time.Minute,
		Now:               time.Now,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.Topics == (Topics{}) {
		c.Topics = d.Topics
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = d.DeadLetterTopic
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.DueLimit == 0 {
		c.DueLimit = d.DueLimit
	}
	set(&c.MaxWait, d.MaxWait)
	set(&c.Idle, d.Idle)
	set(&c.Skew, d.Skew)
	set(&c.HeartbeatInterval, d.HeartbeatInterval)
	set(&c.SessionTimeout, d.SessionTimeout)
	set(&c.RebalanceTimeout, d.RebalanceTimeout)
	set(&c.FlushTimeout, d.FlushTimeout)
	set(&c.BatchTimeout, d.BatchTimeout)
	set(&c.OutboxStuck, d.OutboxStuck)
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// Of is the configured name of the topic an event type belongs on.
func (t Topics) Of(typ rules.Type) string {
	switch typ.Topic() {
	case rules.TopicOrders:
		return t.Orders
	case rules.TopicDeliveries:
		return t.Deliveries
	case rules.TopicChats:
		return t.Chats
	}
	return t.RefundRequests
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field. It checks c as it is given: a zero
// field that NewKafka would fill with its default is reported, so start
// from DefaultConfig. Brokers may be empty: whoever starts the brokers
// fills them in.
func (c Config) Validate() error {
	var f rules.ConfigErrors
	for _, b := range c.Brokers {
		if !netaddr.HostPort(b) {
			f.Add("Brokers", "%q is not host:port", b)
		}
	}
	if strings.TrimSpace(c.Group) == "" {
		f.Add("Group", "must not be empty")
	}
	seen := make(map[string]string)
	for _, t := range []struct{ field, name string }{
		{"Topics.Orders", c.Topics.Orders}, {"Topics.Deliveries", c.Topics.Deliveries},
		{"Topics.Chats", c.Topics.Chats}, {"Topics.RefundRequests", c.Topics.RefundRequests},
		{"DeadLetterTopic", c.DeadLetterTopic},
	} {
		switch {
		case !validTopic(t.name):
			f.Add(t.field, "%q is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", t.name)
		case seen[t.name] != "":
			f.Add(t.field, "%q is also %s: each topic must be different", t.name, rules.ConfigField(seen[t.name]))
		default:
			seen[t.name] = t.field
		}
	}
	if c.MaxBatch <= 0 || c.MaxBatch > 100_000 {
		f.Add("MaxBatch", "%d: must be between 1 and 100000", c.MaxBatch)
	}
	if c.MaxBytes <= 0 {
		f.Add("MaxBytes", "%d: must be positive", c.MaxBytes)
	}
	if c.DueLimit <= 0 {
		f.Add("DueLimit", "%d: must be positive", c.DueLimit)
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{
		{"MaxWait", c.MaxWait}, {"Idle", c.Idle}, {"Skew", c.Skew},
		{"HeartbeatInterval", c.HeartbeatInterval}, {"SessionTimeout", c.SessionTimeout}, {"RebalanceTimeout", c.RebalanceTimeout},
		{"FlushTimeout", c.FlushTimeout}, {"BatchTimeout", c.BatchTimeout}, {"OutboxStuck", c.OutboxStuck},
	} {
		f.Positive(d.field, d.d)
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		f.Add("HeartbeatInterval", "%v: must be shorter than %s %v", c.HeartbeatInterval, rules.ConfigField("SessionTimeout"), c.SessionTimeout)
	}
	return f.Err()
}

// validTopic follows Kafka's own rule for topic names.
func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field.
func (c ClientConfig) Validate() error {
	var f rules.ConfigErrors
	if (c.TLSCA != "" || c.TLSCert != "" || c.TLSKey != "" || c.TLSInsecure) && !c.TLS {
		f.Add("TLS", "%s, %s, %s and %s need %[5]s",
			rules.ConfigField("TLSCA"), rules.ConfigField("TLSCert"), rules.ConfigField("TLSKey"), rules.ConfigField("TLSInsecure"), rules.ConfigField("TLS"))
	}
	if c.TLSCert != "" && c.TLSKey == "" {
		f.Add("TLSKey", "required by %s", rules.ConfigField("TLSCert"))
	}
	if c.TLSKey != "" && c.TLSCert == "" {
		f.Add("TLSCert", "required by %s", rules.ConfigField("TLSKey"))
	}
	switch c.SASLMechanism {
	case "":
		if c.SASLUser != "" || c.SASLPasswd != "" {
			f.Add("SASLMechanism", "must be set when a SASL user or password is given")
		}
	case SASLPlain, SASLSCRAMSHA256, SASLSCRAMSHA512:
		if c.SASLUser == "" {
			f.Add("SASLUser", "required by %s %s", rules.ConfigField("SASLMechanism"), c.SASLMechanism)
		}
		if c.SASLPasswd == "" {
			f.Add("SASLPasswd", "required by %s %s", rules.ConfigField("SASLMechanism"), c.SASLMechanism)
		}
	default:
		f.Add("SASLMechanism", "%q: must be plain, scram-sha-256 or scram-sha-512", c.SASLMechanism)
	}
	return f.Err()
}
