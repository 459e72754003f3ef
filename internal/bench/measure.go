package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/disputed/disputed/internal/bench/host"
	"github.com/disputed/disputed/internal/bench/observe"
	"github.com/disputed/disputed/internal/bench/processor"
	"github.com/disputed/disputed/internal/bench/report"
	"github.com/disputed/disputed/internal/bench/servers"
	"github.com/disputed/disputed/internal/bench/story"
	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/rules"
)

func newRunID() string {
	return strconv.FormatUint(rand.Uint64()%(36*36*36*36*36*36), 36)
}

// measure is one run: it starts the servers and the observer, then runs
// the phases in order (the preload, the load's steps, the deadlines, the
// oversized probe, and with the processors stopped the ceilings), each
// filling its part of the report. exe is the service binary the processors
// run.
func measure(ctx context.Context, cfg config, exe string, log *slog.Logger) (*report.Report, error) {
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	b := &run{
		cfg: cfg, log: log, rng: rand.New(rand.NewPCG(seed, seed>>1|1)),
		policy: rules.DefaultPolicy(),
		rep:    newReport(cfg),
	}
	b.rep.Seed = seed
	b.policy.EvidenceWindow, b.policy.ModificationWindow = cfg.EvidenceWindow, cfg.EvidenceWindow
	b.kinds = story.Kinds(cfg.EvidenceWindow)
	if err := story.CountCommands(b.kinds, b.policy, cfg.Gap); err != nil {
		return nil, fmt.Errorf("bench: the story mix is broken: %w", err)
	}
	runID := newRunID()
	b.rep.RunID = runID
	b.obs = observe.New(runID)
	b.hostile = story.NewHostile(runID, cfg.BadShare, cfg.Flood, cfg.OversizedBytes)

	e, err := servers.Start(ctx, serversConfig(cfg), runID)
	if err != nil {
		return nil, err
	}
	b.env = e
	defer e.Close(context.WithoutCancel(ctx))
	defer func() {
		// Delete the run's keys, even after a failure or an interrupt.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		n, err := servers.DeleteKeys(cctx, e.RDB, e.Prefix+":*")
		if err != nil {
			log.Warn("bench: delete the run's Redis keys", "prefix", e.Prefix, "err", err)
		}
		b.rep.Redis.KeysDeleted += n
	}()
	setServers(b.rep, e)
	log.Info("bench: servers up", "run", runID, "kafka", e.Brokers, "kafka_version", e.Kafka.Version,
		"nats", e.NATSURL, "redis", netaddr.Redact(e.RedisURL), "redis_version", e.Redis.Version,
		"redis_appendfsync", e.Redis.AppendFsync, "redis_prefix", e.Prefix, "partitions", cfg.Partitions)

	if cfg.OpenDisputes > 0 {
		if err := (&preload{b: b}).run(ctx); err != nil {
			return b.rep, err
		}
	}

	nc, err := nats.Connect(e.NATSURL, nats.Name("disputed-bench-observer"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("bench: connect to nats: %w", err)
	}
	defer nc.Close()
	stopObs, err := b.obs.Subscribe(nc)
	if err != nil {
		return nil, fmt.Errorf("bench: subscribe to commands: %w", err)
	}
	defer stopObs()

	b.prod = newEventWriter(e, b.obs, cfg.CeilingEvents)
	defer b.prod.close()

	b.fleet = processor.NewFleet(processorConfig(cfg, e, exe))
	defer func() {
		if err := b.fleet.Stop(15 * time.Second); err != nil {
			log.Warn("bench: processor exit", "err", err)
		}
	}()

	pctx, stopPoll := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	pollWG.Go(func() { b.pollConsumed(pctx) })
	defer func() {
		stopPoll()
		pollWG.Wait()
	}()

	start := b.sample(ctx)
	if err := (&scaleOut{b: b}).run(ctx); err != nil {
		return b.rep, b.failed(err)
	}
	if cfg.Deadlines > 0 {
		if err := (&deadlinePhase{b: b}).run(ctx); err != nil {
			return b.rep, b.failed(err)
		}
	}
	if cfg.BadShare > 0 && cfg.Oversized > 0 {
		if err := (&badInput{b: b}).oversizedProbe(ctx); err != nil {
			return b.rep, b.failed(err)
		}
	}

	res := &b.rep.Processor
	res.CPUSeconds = host.Use(start, b.sample(ctx), host.NumCPU()).MembersTotal
	for _, c := range b.fleet.List() {
		if hwm, err := host.ProcStatusKB(c.PID(), "VmHWM"); err == nil {
			res.PeakRSSBytes = max(res.PeakRSSBytes, hwm<<10)
		}
	}
	if m, err := b.fleet.Metrics(ctx); err == nil {
		res.EventsConsumed = int64(m.Sum("disputed_events_total", nil))
		res.BatchErrors = int64(m.Sum("disputed_batch_errors_total", nil))
		res.PublishErrors = int64(m.Sum("disputed_publish_errors_total", nil))
		res.Rebalances = int64(m.Sum("disputed_rebalances_total", nil))
	}
	stopPoll()
	pollWG.Wait()
	if err := b.fleet.Stop(15 * time.Second); err != nil {
		b.rep.Note("a processor did not exit cleanly: %v", err)
	}
	res.LogLines = b.fleet.LogLevelCounts()
	b.log.Info("bench: processors stopped; measuring the ceilings")

	if err := (&ceilings{b: b}).run(ctx); err != nil {
		return b.rep, err
	}
	b.rep.Finish()
	return b.rep, nil
}

// serversConfig is which servers the run uses.
func serversConfig(c config) servers.Config {
	return servers.Config{
		Partitions: c.Partitions, KafkaBrokers: c.KafkaBrokers, KafkaDir: c.KafkaDir, KafkaVersion: c.KafkaVersion,
		NATSURL: c.NATSURL, RedisURL: c.RedisURL, RedisServer: c.RedisServer,
	}
}

// processorConfig is what each processor is started with: `exe run` on the
// run's servers.
func processorConfig(c config, e *servers.Env, exe string) processor.Config {
	return processor.Config{
		Binary: exe, Dir: e.Dir, Brokers: e.Brokers, Topics: e.Topics, DLQ: e.DLQ, Group: e.Group,
		RedisURL: e.RedisURL, RedisPrefix: e.Prefix, NATSURL: e.NATSURL, Partitions: c.Partitions,
		EvidenceWindow: c.EvidenceWindow, MaxBatch: c.MaxBatch, LogLevel: c.ChildLogLevel,
		Pprof: c.Profile != "", Idle: c.Idle, FastGroup: e.Embedded(),
	}
}

// newReport is the report of a run of c, before anything was measured.
func newReport(c config) *report.Report {
	kafkaDesc, natsDesc := "kfake in process", "in process (JetStream, file store)"
	if len(c.KafkaBrokers) > 0 {
		kafkaDesc = strings.Join(c.KafkaBrokers, ",")
	}
	if c.NATSURL != "" {
		natsDesc = netaddr.RedactList(c.NATSURL)
	}
	r := &report.Report{StartedAt: time.Now().UTC(), Config: report.Config{
		Duration: c.Duration.String(), Orders: c.Orders, Rate: c.Rate, Gap: c.Gap.String(), MaxBacklog: c.MaxBacklog,
		Partitions: c.Partitions, Members: c.Members, Kafka: kafkaDesc, NATS: natsDesc, Redis: netaddr.Redact(c.RedisURL),
		Deadlines: c.Deadlines, DeadlineSpread: c.DeadlineSpread.String(), EvidenceWindow: c.EvidenceWindow.String(),
		MaxBatch: c.MaxBatch, BadShare: c.BadShare, OpenDisputes: c.OpenDisputes, PendingDeadlines: c.PendingDeadlines,
		CPUs: host.NumCPU(),
	}}
	r.BadInput.Share = c.BadShare
	return r
}

// setServers says in the report what the run ran on.
func setServers(r *report.Report, e *servers.Env) {
	r.Servers = report.Servers{Kafka: e.Kafka, Redis: e.Redis, NATS: r.Config.NATS}
	if e.OwnRedis() {
		r.Config.Redis = "redis-server of the bench's own, " + netaddr.Redact(e.RedisURL)
	}
}
