package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
	"github.com/segmentio/kafka-go"
)

// chaosRecord is one produced message.
type chaosRecord struct {
	stamp     time.Time // event time = wall clock when produced
	topic     int       // index in chaosTopics
	partition int
	msg       kafka.Message
	order     string
	streamBad bool // to be dead-lettered without reaching the rules
}

// chaosProducer writes dispute stories while the run lasts: each order's
// events are at least 600ms apart, stamped with the wall clock, keyed by
// order on their type's topic.
type chaosProducer struct {
	kafka *testserver.Kafka
	rng   *rand.Rand
	rate  float64
	// guard replays what was produced, to know each order's deadlines.
	guard *rules.Replay

	// note, if set, adds to the run's timeline (a slow write).
	note func(format string, args ...any)

	records   []chaosRecord
	orders    int
	malformed int
	heldBack  int
	slowest   time.Duration
}

func newChaosProducer(k *testserver.Kafka, seed uint64, rate float64) *chaosProducer {
	return &chaosProducer{
		kafka: k, rng: rand.New(rand.NewPCG(seed, 2)), rate: rate,
		guard: rules.NewReplay(rules.Policy{RuleSet: rules.RuleSet2018, EvidenceWindow: chaosEvidence, ModificationWindow: chaosModify}),
	}
}

// step is one event of a story: after gap, the event of type typ with the
// data data returns for its time. A malformed step has bad set instead.
type chaosStep struct {
	gap  time.Duration
	typ  rules.Type
	data func(at time.Time) string
	bad  func(order, id string, at time.Time) (topic int, key string, value string)
}

type chaosStory struct {
	order string
	steps []chaosStep
	next  int
	due   time.Time
}

func (p *chaosProducer) run(ctx context.Context) error {
	// An upstream that finds a partition's new leader at once: kafka-go
	// learns of one only from its periodic metadata (every 6s by default),
	// and an event that reaches Kafka later than the processors' idle time
	// after its stamp may be applied after a deadline replay puts after it
	// (docs/events.md, Time): that is the upstream's lateness, not a fault
	// of the processors.
	transport := &kafka.Transport{MetadataTTL: 250 * time.Millisecond}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{
		Addr: kafka.TCP(p.kafka.Brokers...), Balancer: &kafka.Hash{}, Transport: transport,
		BatchTimeout: time.Millisecond, BatchSize: 10000, RequiredAcks: kafka.RequireAll,
	}
	defer w.Close()
	var active []*chaosStory
	nextStart := time.Now()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		for !nextStart.After(now) {
			active = append(active, p.newStory(now))
			nextStart = nextStart.Add(time.Duration(float64(time.Second) / p.rate * (0.5 + p.rng.Float64())))
		}
		stamp := time.Now().UTC()
		var batch []chaosRecord
		for _, s := range active {
			if s.due.After(now) {
				continue
			}
			if hold := p.hold(s.order, stamp); !hold.IsZero() {
				s.due = hold
				p.heldBack++
				continue
			}
			batch = append(batch, p.build(s, stamp))
			s.next++
			if s.next < len(s.steps) {
				s.due = now.Add(s.steps[s.next].gap)
			}
		}
		active = slices.DeleteFunc(active, func(s *chaosStory) bool { return s.next >= len(s.steps) })
		if len(batch) == 0 {
			continue
		}
		msgs := make([]kafka.Message, len(batch))
		for i, r := range batch {
			msgs[i] = r.msg
		}
		start := time.Now()
		if err := w.WriteMessages(context.WithoutCancel(ctx), p.kafka.Messages(msgs...)...); err != nil {
			return fmt.Errorf("write %d events: %w", len(msgs), err)
		}
		took := time.Since(start)
		p.slowest = max(p.slowest, took)
		if took > time.Second && p.note != nil {
			p.note("slow produce: %d events took %v", len(msgs), took.Round(time.Millisecond))
		}
		for _, r := range batch {
			p.records = append(p.records, r)
			if !r.streamBad {
				if e, err := rules.Decode(r.msg.Value); err == nil {
					p.guard.Apply(e) // refusals are part of the story
				}
			}
		}
	}
}

// hold returns when an event of order stamped at would come too close before
// one of the order's deadlines, a time after that deadline; zero otherwise.
func (p *chaosProducer) hold(order string, at time.Time) time.Time {
	for _, tm := range p.guard.State(order).Timers {
		if tm.Paused || tm.At.IsZero() || tm.At.Before(at) {
			continue
		}
		if tm.At.Sub(at) < chaosMargin {
			return tm.At.Add(300 * time.Millisecond)
		}
	}
	return time.Time{}
}

func (p *chaosProducer) build(s *chaosStory, at time.Time) chaosRecord {
	st := s.steps[s.next]
	id := fmt.Sprintf("%s-%02d", s.order, s.next+1)
	if st.bad != nil {
		ti, key, value := st.bad(s.order, id, at)
		return chaosRecord{stamp: at, topic: ti, partition: consumer.PartitionOf(key, chaosPartitions), order: s.order, streamBad: true,
			msg: kafka.Message{Topic: chaosTopics[ti], Key: []byte(key), Value: []byte(value)}}
	}
	data := ""
	if st.data != nil {
		data = st.data(at)
	}
	ti := slices.Index(chaosTopics, st.typ.Topic())
	return chaosRecord{stamp: at, topic: ti, partition: consumer.PartitionOf(s.order, chaosPartitions), order: s.order,
		msg: kafka.Message{Topic: chaosTopics[ti], Key: []byte(s.order), Value: []byte(chaosEnvelope(id, st.typ, at, s.order, data))}}
}

func chaosEnvelope(id string, typ rules.Type, at time.Time, order, data string) string {
	source := map[string]string{"orders": "order-service", "deliveries": "delivery-service", "chats": "chat-service", "refund-requests": "refund-service"}[typ.Topic()]
	// Raw: some of the chaos run's events are malformed on purpose.
	return string(testevent.Raw(id, source, typ, at, order, data))
}

func (p *chaosProducer) lastStamp() time.Time {
	var t time.Time
	for _, r := range p.records {
		if r.stamp.After(t) {
			t = r.stamp
		}
	}
	return t
}

func (p *chaosProducer) eventsOf(order string) []string {
	var out []string
	for _, r := range p.records {
		if r.order == order {
			out = append(out, fmt.Sprintf("%s %s", r.msg.Topic, r.msg.Value))
		}
	}
	return out
}

// newStory picks a story for a new order.
func (p *chaosProducer) newStory(now time.Time) *chaosStory {
	p.orders++
	order := fmt.Sprintf("ord-%05d", p.orders)
	rng := p.rng
	amount := 1000 + rng.Int64N(200000)
	categories := []string{"software_app", "operational_service", "training", "image_design", "video", "other"}
	category := categories[rng.IntN(len(categories))]
	gap := func() time.Duration {
		return 600*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
	}
	fixed := func(s string) func(time.Time) string { return func(time.Time) string { return s } }
	ev := func(typ rules.Type, data string) chaosStep {
		st := chaosStep{gap: gap(), typ: typ}
		if data != "" {
			st.data = fixed(data)
		}
		return st
	}
	after := func(d time.Duration, s chaosStep) chaosStep { s.gap = d; return s }
	// quick is for an event that must come well before the evidence
	// deadline the previous one armed (chaosMargin), on the same topic.
	quick := func(s chaosStep) chaosStep {
		return after(500*time.Millisecond+time.Duration(rng.Int64N(int64(300*time.Millisecond))), s)
	}
	paidData := func(extra string) string {
		return fmt.Sprintf(`{"customer_id":"cus-%d","provider_id":"prv-%d","category":%q,"amount":%d,"currency":"CNY"%s}`,
			p.orders, rng.IntN(50), category, amount, extra)
	}
	paid := ev(rules.TypeOrderPaid, paidData(""))
	delivered := ev(rules.TypeDeliverySubmitted, fmt.Sprintf(`{"delivery_no":"dlv-%d"}`, p.orders))
	refund := func(reason string) chaosStep {
		return ev(rules.TypeRefundRequested, fmt.Sprintf(`{"reason":%q}`, reason))
	}
	intervene := func(by string) chaosStep { return ev(rules.TypeInterventionRequested, fmt.Sprintf(`{"by":%q}`, by)) }
	chat := func(from string) chaosStep {
		return ev(rules.TypeChatMessage, fmt.Sprintf(`{"from":%q,"text":"message %d from the %s"}`, from, rng.IntN(1000), from))
	}
	evidence := func(party, kind string) chaosStep {
		return ev(rules.TypeEvidenceSubmitted, fmt.Sprintf(`{"party":%q,"kind":%q,"note":"%s evidence"}`, party, kind, kind))
	}
	assessment := func() chaosStep {
		return ev(rules.TypeAssessmentRecorded, fmt.Sprintf(`{"value_ratio_bp":%d}`, rng.IntN(10001)))
	}
	issue := fmt.Sprintf(`{"issue_id":"issue-%d"}`, p.orders)
	mod := func(typ rules.Type) chaosStep { return ev(typ, issue) }
	pastDeadline := 2*time.Second + 700*time.Millisecond

	var steps []chaosStep
	switch k := rng.IntN(20); {
	case k < 3: // the parties settle
		steps = []chaosStep{paid, delivered, refund("not_as_described"), chat("customer"), chat("provider"),
			ev(rules.TypeSettlementAgreed, fmt.Sprintf(`{"refund_amount":%d}`, rng.Int64N(amount+1)))}
	case k < 6: // the provider's evidence deadline runs out
		steps = []chaosStep{paid, refund("not_delivered"), intervene("customer")}
		if rng.IntN(2) == 0 {
			steps = append(steps, quick(assessment()))
		}
		if rng.IntN(3) == 0 { // after the ruling: rejected
			steps = append(steps, after(pastDeadline, chat("customer")))
		}
	case k < 8: // the provider proves delivery in time
		steps = []chaosStep{paid, delivered, refund("not_delivered"), chat("provider"), intervene("customer"), quick(evidence("provider", "valid"))}
	case k < 10: // reference evidence only: escalated at the deadline, then a reviewer decides
		steps = []chaosStep{paid, delivered, refund("quality"), intervene("customer"), quick(evidence("customer", "reference")),
			after(pastDeadline, ev(rules.TypeReviewDecided, fmt.Sprintf(`{"refund_amount":%d,"articles":["c2.a3","c2.a9"],"note":"reviewed"}`, rng.Int64N(amount+1))))}
	case k < 11: // a modification rejected three times
		steps = []chaosStep{paid, delivered, ev(rules.TypeModificationRequested, fmt.Sprintf(`{"issue_id":"issue-%d","objective":true}`, p.orders)),
			mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected), mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected),
			refund("modification_failed"), assessment(), mod(rules.TypeModificationDelivered), mod(rules.TypeModificationRejected)}
	case k < 12: // a modification overdue, or refused
		req := chaosStep{gap: gap(), typ: rules.TypeModificationRequested, data: func(at time.Time) string {
			return fmt.Sprintf(`{"issue_id":"issue-%d","objective":true,"due":%q}`, p.orders, at.Add(2500*time.Millisecond).Format(time.RFC3339Nano))
		}}
		if rng.IntN(2) == 0 {
			steps = []chaosStep{paid, delivered, req, after(3200*time.Millisecond, refund("modification_overdue")), intervene("customer")}
		} else {
			steps = []chaosStep{paid, delivered, req, mod(rules.TypeModificationRefused), refund("modification_failed"), intervene("customer")}
		}
	case k < 13: // a court case suspends the evidence deadline
		steps = []chaosStep{paid, refund("not_delivered"), intervene("customer"), quick(ev(rules.TypeJudicialFiled, `{"by":"customer"}`)),
			intervene("provider"), chat("customer"), ev(rules.TypeSuspensionLifted, "")}
		if rng.IntN(2) == 0 {
			steps = append(steps, quick(evidence("provider", "valid")))
		}
	case k < 14: // both ask to negotiate: suspended, then settled, or resumed and decided
		steps = []chaosStep{paid, refund("quality"), ev(rules.TypeNegotiationRequested, `{"by":"customer"}`),
			ev(rules.TypeNegotiationRequested, `{"by":"provider"}`)}
		if rng.IntN(2) == 0 {
			steps = append(steps, chat("provider"), ev(rules.TypeSettlementAgreed, fmt.Sprintf(`{"refund_amount":%d}`, rng.Int64N(amount+1))))
		} else {
			steps = append(steps, ev(rules.TypeSuspensionLifted, ""), intervene("customer"), chat("customer"))
		}
	case k < 15: // accepted after a chat; a late refund request is rejected
		steps = []chaosStep{paid, chat("customer"), delivered, ev(rules.TypeOrderAccepted, ""), refund("quality")}
	case k < 16: // the delivery date passes
		steps = []chaosStep{{gap: 0, typ: rules.TypeOrderPaid, data: func(at time.Time) string {
			return paidData(fmt.Sprintf(`,"delivery_due":%q`, at.Add(1500*time.Millisecond).Format(time.RFC3339Nano)))
		}}, after(2500*time.Millisecond, refund("not_delivered")), intervene("customer")}
	case k < 17: // a partial request withdrawn, then a new one the customer proves
		steps = []chaosStep{paid, delivered, ev(rules.TypeRefundRequested, fmt.Sprintf(`{"reason":"quality","amount":%d}`, 1+rng.Int64N(amount))),
			ev(rules.TypeRefundWithdrawn, ""), refund("not_as_described"), evidence("customer", "valid"), intervene("customer")}
	case k < 19: // chats only
		steps = []chaosStep{paid, chat("customer"), chat("provider"), chat("customer")}
	default: // one malformed message, and nothing else for the order
		p.malformed++
		steps = []chaosStep{{bad: p.malformedMessage(rng.IntN(7))}}
	}
	steps[0].gap = 0
	return &chaosStory{order: order, steps: steps, due: now}
}

// malformedMessage returns a message the stream must dead-letter: the
// decoder, the rules (an order never paid) or the stream's own checks (the
// key, the clock) refuse it.
func (p *chaosProducer) malformedMessage(kind int) func(order, id string, at time.Time) (int, string, string) {
	return func(order, id string, at time.Time) (int, string, string) {
		refunds := slices.Index(chaosTopics, "refund-requests")
		switch kind {
		case 0:
			return refunds, order, fmt.Sprintf(`{"specversion":"1.0","id":%q,"type":"refund.requested","subject":`, id)
		case 1:
			return 0, order, chaosEnvelope(id, "order.shipped", at, order, `{}`)
		case 2:
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at, order, `{"provider_id":"p","category":"other","amount":1000,"currency":"CNY"}`)
		case 3:
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at, order, `{"customer_id":"c","provider_id":"p","category":"other","amount":-5,"currency":"CNY"}`)
		case 4: // an order never paid: the rules refuse it
			return refunds, order, chaosEnvelope(id, rules.TypeRefundRequested, at, order, `{"reason":"quality"}`)
		case 5: // keyed by another order: the stream refuses it
			return refunds, order + "-x", chaosEnvelope(id, rules.TypeRefundRequested, at, order, `{"reason":"quality"}`)
		default: // from the future: the stream refuses it
			return 0, order, chaosEnvelope(id, rules.TypeOrderPaid, at.Add(10*time.Minute), order,
				`{"customer_id":"c","provider_id":"p","category":"other","amount":1000,"currency":"CNY"}`)
		}
	}
}
