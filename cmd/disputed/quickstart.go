package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/disputed/disputed/internal/demo"
	"github.com/disputed/disputed/internal/netaddr"
)

// quickstart waits for the end of the run after printing, on the embedded
// default, commands to paste that use the servers' real addresses.
func quickstart(out io.Writer) func(context.Context, *node) error {
	return func(ctx context.Context, n *node) error {
		printQuickstart(out, n, self(os.Args[0]))
		<-ctx.Done()
		return nil
	}
}

func printQuickstart(out io.Writer, n *node, self string) {
	demo.Quickstart{
		Brokers: strings.Join(n.cfg.Kafka.Brokers, ","), NATSURL: n.cfg.NATS.URL,
		Redis: strings.TrimPrefix(n.cfg.Redis.URL, "redis://"), API: "http://" + netaddr.ClientAddr(n.httpAddr),
		Token: n.cfg.APIToken != "", Topics: n.cfg.Kafka.Topics, Idle: n.cfg.Kafka.Idle, Self: self,
	}.Print(out)
}

// self is how to run this program again: as it was run, or, for a binary
// `go run` built in a temporary directory, `go run ./cmd/disputed`.
func self(arg0 string) string {
	if strings.Contains(arg0, "go-build") {
		return "go run ./cmd/disputed"
	}
	return arg0
}
