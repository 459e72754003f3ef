package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/disputed/disputed/internal/demo"
)

func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	def := defaultConfig()
	// Short windows make the deadlines fire while one watches; the stories
	// are written for them.
	def.Policy.EvidenceWindow = 3 * time.Second
	def.Policy.ModificationWindow = 3 * time.Second
	def.HTTPAddr = "127.0.0.1:0"
	def.LogLevel = "warn" // stdout tells the story; stderr is for trouble
	cfg, err := parseConfig("demo", def, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if !cfg.embedded() {
		// Its order IDs are fixed: on real servers a second run would find
		// them already ruled.
		return fmt.Errorf("%w: demo runs on in-process servers only: drop --kafka-brokers, --redis-url and --nats-url", errUsage)
	}
	stories, err := demo.Load()
	if err != nil {
		return err
	}
	return runService(ctx, cfg, newLogger(stderr, cfg), func(ctx context.Context, n *node) error {
		return demo.Play(ctx, demo.Env{
			Brokers: n.cfg.Kafka.Brokers, Transport: n.transport, Topics: n.cfg.Kafka.Topics, NATS: n.nc.Conn, Joined: n.kafka.Joined,
			Banner: fmt.Sprintf("disputed demo: kafka %s, nats %s, redis %s, metrics http://%s/metrics\nevidence window %v",
				strings.Join(n.cfg.Kafka.Brokers, ","), n.cfg.NATS.URL, strings.TrimPrefix(n.cfg.Redis.URL, "redis://"), n.httpAddr, n.cfg.Policy.EvidenceWindow),
		}, stories, stdout)
	})
}
