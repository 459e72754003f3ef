package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/disputed/disputed/rules"
)

// Config says how commands are published. Start from DefaultConfig; a zero
// field is filled with its default.
type Config struct {
	// DisputesStream takes disputes.> (rulings, notices, rejections);
	// FinanceStream takes finance.> (transfers); GuardStream takes
	// disputed.guard.>, one message per order with a final ruling (see
	// guard.go).
	DisputesStream string
	FinanceStream  string
	GuardStream    string
	// DisputesDuplicates and FinanceDuplicates are the streams' duplicate
	// windows. A command published again after its window (an outage longer
	// than it) is stored twice: consumers must also use command_id as their
	// idempotency key. Money gets hours, and the guard besides.
	DisputesDuplicates time.Duration
	FinanceDuplicates  time.Duration
	// Replicas of each stream.
	Replicas int
	// MaxPending bounds the publishes awaiting an ack.
	MaxPending int
	// AckTimeout is how long one publish waits for its ack.
	AckTimeout time.Duration
}

// DefaultConfig returns the publisher's defaults. The disputes window is
// longer than the five minutes an outbox command may wait before readiness
// fails; the finance window covers a Redis or NATS outage of hours.
func DefaultConfig() Config {
	return Config{
		DisputesStream:     "DISPUTES",
		FinanceStream:      "FINANCE",
		GuardStream:        "DISPUTED_GUARD",
		DisputesDuplicates: 10 * time.Minute,
		FinanceDuplicates:  6 * time.Hour,
		Replicas:           1,
		MaxPending:         256,
		AckTimeout:         5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	str := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	dur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	str(&c.DisputesStream, d.DisputesStream)
	str(&c.FinanceStream, d.FinanceStream)
	str(&c.GuardStream, d.GuardStream)
	dur(&c.DisputesDuplicates, d.DisputesDuplicates)
	dur(&c.FinanceDuplicates, d.FinanceDuplicates)
	dur(&c.AckTimeout, d.AckTimeout)
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	return c
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field. It checks c as it is given: a zero
// field that NewNATS would fill with its default is reported, so start
// from DefaultConfig.
func (c Config) Validate() error {
	var f rules.ConfigErrors
	seen := make(map[string]string)
	for _, s := range []struct{ field, name string }{
		{"DisputesStream", c.DisputesStream}, {"FinanceStream", c.FinanceStream}, {"GuardStream", c.GuardStream},
	} {
		switch {
		case s.name == "" || strings.ContainsAny(s.name, ".*> \t\n/\\"):
			f.Add(s.field, "%q is not a JetStream stream name", s.name)
		case seen[s.name] != "":
			f.Add(s.field, "%q is also %s: the streams must differ", s.name, rules.ConfigField(seen[s.name]))
		default:
			seen[s.name] = s.field
		}
	}
	f.Positive("DisputesDuplicates", c.DisputesDuplicates)
	f.Positive("FinanceDuplicates", c.FinanceDuplicates)
	f.Positive("AckTimeout", c.AckTimeout)
	if c.Replicas < 1 || c.Replicas > 5 {
		f.Add("Replicas", "%d: must be 1 to 5", c.Replicas)
	}
	if c.MaxPending < 1 {
		f.Add("MaxPending", "%d: must be positive", c.MaxPending)
	}
	return f.Err()
}

// NATS publishes commands to JetStream. It is safe for concurrent use.
type NATS struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
}

// NewNATS returns a publisher on the connection nc.
func NewNATS(nc *nats.Conn, cfg Config) (*NATS, error) {
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &NATS{nc: nc, js: js, cfg: cfg}, nil
}

// Publish publishes the commands, each with Nats-Msg-Id set to its ID, and
// returns once JetStream has acknowledged all of them. A final ruling, and
// every transfer, first passes the guard (guard.go); one the guard refuses
// is returned among the refusals, unpublished, and is not an error. On an
// error some commands may have been stored: publishing the same commands
// again is safe, since JetStream drops the repeats and the guard lets the
// same ruling through again.
func (n *NATS) Publish(ctx context.Context, cmds ...rules.Command) ([]rules.Refusal, error) {
	pass, refused, err := n.guard(ctx, cmds)
	if err != nil {
		return nil, err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(pass))
	var errs []error
	for _, c := range pass {
		data, err := c.Data()
		if err != nil {
			return nil, fmt.Errorf("publish %s: encode: %w", c.ID, err)
		}
		msg := &nats.Msg{Subject: c.Subject, Data: data, Header: nats.Header{}}
		f, err := n.js.PublishMsgAsync(msg, jetstream.WithMsgID(c.ID), jetstream.WithStallWait(n.cfg.AckTimeout))
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s: %w", c.ID, err))
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish %s: %w", pass[i].ID, err))
		case <-ctx.Done():
			return nil, fmt.Errorf("publish %d commands: %w", len(pass), ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return refused, nil
}

// Ping checks that the connection is up and JetStream answers.
func (n *NATS) Ping(ctx context.Context) error {
	if !n.nc.IsConnected() {
		return fmt.Errorf("nats: %s", n.nc.Status())
	}
	if _, err := n.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream account info: %w", err)
	}
	return nil
}

// KeepStreams creates or updates the streams, retrying until it works or
// ctx ends. Until the streams exist, publishing fails and the outboxes keep
// the commands: deciding need not wait for NATS.
func (n *NATS) KeepStreams(ctx context.Context, log *slog.Logger) {
	wait := 250 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		notes, err := n.EnsureStreams(cctx)
		cancel()
		if err == nil {
			for _, note := range notes {
				log.Warn("stream configuration kept as the operator set it", "note", note)
			}
			log.Info("streams ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("create streams failed; retrying", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}
