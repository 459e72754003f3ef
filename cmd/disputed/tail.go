package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/disputed/disputed/internal/follow"
	"github.com/disputed/disputed/producer"
)

// tailConfig is what `disputed tail` is told.
type tailConfig struct {
	NATS      NATSConfig
	FromStart bool
}

// tailCmd follows the streams of commands and prints each command as a
// line, as the demo does, until interrupted.
func tailCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := tailConfig{NATS: defaultConfig().NATS}
	c.NATS.URL = nats.DefaultURL
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	e := &envDefaults{}
	n := &c.NATS
	n.register(fs, e, getenv)
	e.bool(fs, &c.FromStart, "from-start", getenv, "print what the streams hold from their start, then follow them (default: only what comes from now on)")
	err := parseFlags(fs, args, stderr, func(w io.Writer) {
		fmt.Fprintln(w, "usage: disputed tail [flags]")
		fmt.Fprintln(w, "Follows the streams of commands disputed publishes and prints each command as a line:")
		fmt.Fprintln(w, "rulings, transfers, notices and rejections. It only reads: nothing is acknowledged or removed.")
	})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err == nil {
		err = e.check(fs)
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("tail takes no arguments, got %q", fs.Args())
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, err := producer.Connect(n.conn(time.Second), log)
	if err != nil {
		return err
	}
	defer nc.Close()
	return follow.Tail(ctx, nc.Conn, []string{n.DisputesStream, n.FinanceStream}, c.FromStart, stdout, stderr)
}
