package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/disputed/disputed/internal/netaddr"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// run is one `disputed-bench`: its servers, the processors under test,
// the producer and the observer, and the report they fill.
type run struct {
	cfg     config
	log     *slog.Logger
	env     *env
	fleet   *fleet
	obs     *observer
	w       *kafka.Writer
	policy  rules.Policy
	kinds   []*storyKind
	rng     *rand.Rand
	hostile *hostile
	rep     *report

	produced atomic.Int64 // messages Kafka took, all phases
	consumed atomic.Int64 // the processors' disputed_events_total, last scraped

	hostileProduced [nHostileKinds]int
	writeMs         []float64       // produce call durations of the load phase
	ceilingInput    []kafka.Message // load events kept for the Redis and JetStream ceilings
}

func newRunID() string {
	return strconv.FormatUint(rand.Uint64()%(36*36*36*36*36*36), 36)
}

func measure(ctx context.Context, cfg config, exe string, log *slog.Logger) (*report, error) {
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
	b.kinds = storyKinds(cfg.EvidenceWindow)
	if err := countCommands(b.kinds, b.policy, cfg.Gap); err != nil {
		return nil, fmt.Errorf("bench: the story mix is broken: %w", err)
	}
	runID := newRunID()
	b.rep.RunID = runID
	b.obs = newObserver(runID)
	b.hostile = newHostile(runID, cfg.BadShare, cfg.Flood, cfg.OversizedBytes)

	e, err := startEnv(ctx, cfg, runID)
	if err != nil {
		return nil, err
	}
	b.env = e
	defer e.close(context.WithoutCancel(ctx))
	defer func() {
		// Delete the run's keys, even after a failure or an interrupt.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		n, err := deleteKeys(cctx, e.rdb, e.prefix+":*")
		if err != nil {
			log.Warn("bench: delete the run's Redis keys", "prefix", e.prefix, "err", err)
		}
		b.rep.Redis.KeysDeleted += n
	}()
	b.rep.setServers(e)
	log.Info("bench: servers up", "run", runID, "kafka", e.brokers, "kafka_version", e.kafkaInfo.Version,
		"nats", e.natsURL, "redis", netaddr.Redact(e.redisURL), "redis_version", e.redisInfo.Version,
		"redis_appendfsync", e.redisInfo.AppendFsync, "redis_prefix", e.prefix, "partitions", cfg.Partitions)

	if cfg.OpenDisputes > 0 {
		if err := b.preload(ctx); err != nil {
			return b.rep, err
		}
	}

	nc, err := nats.Connect(e.natsURL, nats.Name("disputed-bench-observer"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("bench: connect to nats: %w", err)
	}
	defer nc.Close()
	stopObs, err := b.obs.subscribe(nc)
	if err != nil {
		return nil, fmt.Errorf("bench: subscribe to commands: %w", err)
	}
	defer stopObs()

	// BatchSize is also the room kafka-go allocates for every batch, of
	// every partition, of every write: at 20,000 the producer's small
	// writes spent a third of the bench process's CPU clearing memory.
	b.w = &kafka.Writer{
		Addr: kafka.TCP(e.brokers...), Transport: e.transport, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000, MaxAttempts: 3,
		WriteTimeout: 30 * time.Second,
	}
	if e.maxMessage > 0 {
		b.w.BatchBytes = int64(e.maxMessage - 1024)
	}
	defer b.w.Close()

	b.fleet = &fleet{exe: exe, env: e, cfg: cfg}
	defer func() {
		if err := b.fleet.stop(15 * time.Second); err != nil {
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

	res := &b.rep.Processor
	start := b.sample(ctx)
	for step, n := range cfg.Members {
		owned, err := b.fleet.grow(ctx, n)
		if err != nil {
			return b.rep, b.failed(err)
		}
		log.Info("bench: processors ready", "members", n, "partitions_owned", owned, "logs", b.fleet.logPaths())
		lr := &b.rep.Load
		if step > 0 {
			lr = &loadReport{}
		}
		u, err := b.loadPhase(ctx, step, lr)
		if err != nil {
			return b.rep, b.failed(err)
		}
		if step == 0 {
			res.LoadCPUSeconds = u.MembersTotal
			if n := lr.EventsProduced; n > 0 {
				res.LoadCPUMicrosPerEvent = u.MembersTotal / float64(n) * 1e6
			}
			b.rep.Host.Load = u
			b.rep.Host.LoadBenchCPUSeconds, b.rep.Host.LoadRedisCPUSeconds = u.Bench, u.Redis
			for _, c := range b.fleet.list() {
				if rss, err := procStatusKB(c.pid, "VmRSS"); err == nil {
					res.RSSAfterLoadBytes = max(res.RSSAfterLoadBytes, rss<<10)
				}
			}
		}
		if len(cfg.Members) > 1 {
			b.rep.Scale = append(b.rep.Scale, newScaleRow(n, owned, lr, u))
		}
	}

	if cfg.Deadlines > 0 {
		if err := b.deadlinePhase(ctx); err != nil {
			return b.rep, b.failed(err)
		}
	}
	if cfg.BadShare > 0 && cfg.Oversized > 0 {
		if err := b.oversizedProbe(ctx); err != nil {
			return b.rep, b.failed(err)
		}
	}

	res.CPUSeconds = use(start, b.sample(ctx), numCPU()).MembersTotal
	for _, c := range b.fleet.list() {
		if hwm, err := procStatusKB(c.pid, "VmHWM"); err == nil {
			res.PeakRSSBytes = max(res.PeakRSSBytes, hwm<<10)
		}
	}
	if m, err := b.fleet.metrics(ctx); err == nil {
		res.EventsConsumed = int64(m.sum("disputed_events_total", nil))
		res.BatchErrors = int64(m.sum("disputed_batch_errors_total", nil))
		res.PublishErrors = int64(m.sum("disputed_publish_errors_total", nil))
		res.Rebalances = int64(m.sum("disputed_rebalances_total", nil))
	}
	stopPoll()
	pollWG.Wait()
	if err := b.fleet.stop(15 * time.Second); err != nil {
		b.rep.note("a processor did not exit cleanly: %v", err)
	}
	res.LogLines = b.fleet.logLevelCounts()
	b.log.Info("bench: processors stopped; measuring the ceilings")

	if err := b.ceilings(ctx); err != nil {
		return b.rep, err
	}
	b.rep.finish()
	return b.rep, nil
}

// failed adds the processors' log tails to a phase's error.
func (b *run) failed(err error) error {
	return fmt.Errorf("%w\nthe processors' logs (last lines of %s):\n%s", err, strings.Join(b.fleet.logPaths(), ", "), b.fleet.logTail(15))
}

// pollConsumed scrapes the processor's event counter, for the flat-out
// producer's backlog and the phases' ends.
func (b *run) pollConsumed(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if m, err := b.fleet.metrics(ctx); err == nil {
			b.consumed.Store(int64(m.sum("disputed_events_total", nil)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// write produces events, and records them with the observer first (a
// command may come back before the write returns).
func (b *run) write(ctx context.Context, evs []producedEvent) error {
	if len(evs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(evs))
	for i, e := range evs {
		msgs[i] = e.message(b.env.topicPrefix)
	}
	b.obs.produced(evs)
	start := time.Now()
	if err := b.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("bench: produce %d events: %w", len(msgs), err)
	}
	if evs[0].phase == phaseLoad {
		b.writeMs = append(b.writeMs, float64(time.Since(start))/1e6)
	}
	b.produced.Add(int64(len(msgs)))
	for i, e := range evs {
		b.hostileProduced[e.hostile]++
		if e.phase == phaseLoad && len(b.ceilingInput) < b.cfg.CeilingEvents {
			b.ceilingInput = append(b.ceilingInput, msgs[i])
		}
	}
	return nil
}

// pacer paces the producer at a rate on an absolute schedule, so that a
// slow write is made up by the next ones; more than half a second behind,
// the rest is dropped (and counted).
type pacer struct {
	rate    float64
	start   time.Time
	sent    int64
	dropped int64
}

func (p *pacer) take(now time.Time) int {
	due := int64(p.rate*now.Sub(p.start).Seconds()) - p.sent
	if limit := int64(p.rate/2) + 1; due > limit {
		p.dropped += due - limit
		p.sent += due - limit
		due = limit
	}
	return int(due)
}

func (p *pacer) spend(n int) { p.sent += int64(n) }

// produceFlat writes n events as fast as the processors consume them,
// within a backlog of limit.
func (b *run) produceFlat(ctx context.Context, n, limit int, build func(i int, now time.Time) producedEvent) error {
	for i := 0; i < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		budget := min(limit-int(b.produced.Load()-b.consumed.Load()), 5000, n-i)
		if budget <= 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		now := time.Now()
		batch := make([]producedEvent, budget)
		for j := range batch {
			batch[j] = build(i+j, now)
		}
		if err := b.write(ctx, batch); err != nil {
			return err
		}
		i += budget
	}
	return nil
}
