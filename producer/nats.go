package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/disputed/disputed/rules"
)

// Config says how commands are published. Start from DefaultConfig; a zero
// field is filled with its default.
type Config struct {
	// DisputesStream takes disputes.> (rulings, notices, rejections);
	// FinanceStream takes finance.> (transfers).
	DisputesStream string
	FinanceStream  string
	// Duplicates is JetStream's duplicate window. A command published again
	// after it (a long outage) is stored twice: consumers must also use
	// command_id as their idempotency key.
	Duplicates time.Duration
	// Replicas of each stream.
	Replicas int
	// MaxPending bounds the publishes awaiting an ack.
	MaxPending int
	// AckTimeout is how long one publish waits for its ack.
	AckTimeout time.Duration
}

// DefaultConfig returns the publisher's defaults.
func DefaultConfig() Config {
	return Config{
		DisputesStream: "DISPUTES",
		FinanceStream:  "FINANCE",
		Duplicates:     2 * time.Minute,
		Replicas:       1,
		MaxPending:     256,
		AckTimeout:     5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DisputesStream == "" {
		c.DisputesStream = d.DisputesStream
	}
	if c.FinanceStream == "" {
		c.FinanceStream = d.FinanceStream
	}
	if c.Duplicates == 0 {
		c.Duplicates = d.Duplicates
	}
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = d.AckTimeout
	}
	return c
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

// EnsureStreams creates the two streams, or updates them to this
// configuration, with file storage.
func (n *NATS) EnsureStreams(ctx context.Context) error {
	for _, sc := range []jetstream.StreamConfig{
		{Name: n.cfg.DisputesStream, Subjects: []string{"disputes.>"}},
		{Name: n.cfg.FinanceStream, Subjects: []string{"finance.>"}},
	} {
		sc.Storage = jetstream.FileStorage
		sc.Duplicates = n.cfg.Duplicates
		sc.Replicas = n.cfg.Replicas
		if _, err := n.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("create or update stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// Publish publishes the commands asynchronously, each with Nats-Msg-Id set to
// its ID, and returns once JetStream has acknowledged all of them. On an
// error some may have been stored: publishing the same commands again is
// safe, since JetStream drops the repeats.
func (n *NATS) Publish(ctx context.Context, cmds ...rules.Command) error {
	futures := make([]jetstream.PubAckFuture, 0, len(cmds))
	var errs []error
	for _, c := range cmds {
		data, err := c.Data()
		if err != nil {
			return fmt.Errorf("publish %s: encode: %w", c.ID, err)
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
			errs = append(errs, fmt.Errorf("publish %s: %w", cmds[i].ID, err))
		case <-ctx.Done():
			return fmt.Errorf("publish %d commands: %w", len(cmds), ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// KeepStreams creates or updates the streams, retrying until it works or
// ctx ends. Until the streams exist, publishing fails and the outboxes keep
// the commands: deciding need not wait for NATS.
func (n *NATS) KeepStreams(ctx context.Context, log *slog.Logger) {
	wait := 250 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := n.EnsureStreams(cctx)
		cancel()
		if err == nil {
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
