package rules_test

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// The generator of random well-formed event sequences the property tests
// run.

var (
	propT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	propCategories = []string{"software_app", "operational_service", "training", "image_design", "video", "other"}
	propReasons    = []string{"not_delivered", "not_as_described", "quality", "effect_mismatch", "misleading", "promised_effect",
		"provider_terminated", "illegal_service", "conflicting_descriptions", "modification_overdue", "modification_failed", "customer_reasons"}
	propParties = []string{"customer", "provider", "platform"}
	propIssues  = []string{"iss-1", "iss-2"}
)

// propKinds are the steps the generator picks from; repeats weigh the draw
// towards the events that move a dispute.
var propKinds = []string{
	"order.accepted",
	"service.terminated", "service.extended",
	"delivery.submitted",
	"modification.requested", "modification.requested", "modification.refused",
	"modification.delivered", "modification.rejected", "modification.rejected", "modification.rejected",
	"cooperation.requested", "cooperation.provided",
	"chat.message",
	"refund.requested", "refund.requested", "refund.requested", "refund.withdrawn",
	"intervention.requested", "intervention.requested", "intervention.requested",
	"evidence.submitted", "evidence.submitted", "evidence.submitted",
	"settlement.agreed",
	"negotiation.requested", "negotiation.requested", "judicial.filed", "suspension.lifted", "suspension.lifted",
	"assessment.recorded", "assessment.recorded",
	"review.decided", "review.decided",
	"order.paid again",
	"duplicate", "duplicate",
}

type propOrder struct {
	id     string
	amount int64
	paid   bool
	phase  int // where the generator thinks its dispute is: 0 none, 1 requested, 2 intervened
}

// propStory lists, per phase, the steps that move a typical dispute on.
var propStory = [][]string{
	{"refund.requested"},
	{"intervention.requested", "intervention.requested", "evidence.submitted", "chat.message", "negotiation.requested"},
	{"evidence.submitted", "evidence.submitted", "wait", "wait", "assessment.recorded", "review.decided", "settlement.agreed"},
}

// propGen builds one sequence of events.
type propGen struct {
	t      *rapid.T
	now    time.Time
	seq    int
	orders []*propOrder
	raw    [][]byte
	events []rules.Event
}

// propMoney draws an amount of money in [lo, hi], with the edges likely.
func propMoney(t *rapid.T, label string, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	edges := []int64{lo, hi, lo + (hi-lo)/2, min(lo+1, hi), max(hi-1, lo)}
	return rapid.OneOf(rapid.Int64Range(lo, hi), rapid.Int64Range(lo, min(hi, lo+1000)), rapid.SampledFrom(edges)).Draw(t, label)
}

func propAmount(t *rapid.T, label string) int64 {
	return rapid.OneOf(
		rapid.Int64Range(1, 100_000),
		rapid.Int64Range(1, 1<<62),
		rapid.SampledFrom([]int64{1, 2, 3, 10000, 1 << 62, math.MaxInt64}),
	).Draw(t, label)
}

func propTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// advance moves the clock forward by a random step, from nothing to days, so
// that deadlines come due between events.
func (g *propGen) advance() {
	step := rapid.OneOf(
		rapid.Just(int64(0)),
		rapid.Int64Range(1, int64(time.Hour)),
		rapid.Int64Range(int64(time.Hour), int64(50*time.Hour)),
		rapid.Int64Range(int64(50*time.Hour), int64(10*24*time.Hour)),
	).Draw(g.t, "step")
	g.now = g.now.Add(time.Duration(step))
}

// later draws a time around now: mostly ahead, sometimes already past.
func (g *propGen) later(label string) string {
	d := rapid.Int64Range(int64(-time.Hour), int64(8*24*time.Hour)).Draw(g.t, label)
	return propTime(g.now.Add(time.Duration(d)))
}

func (g *propGen) emit(o *propOrder, typ string, data map[string]any) {
	g.seq++
	m := map[string]any{
		"specversion": "1.0",
		"id":          fmt.Sprintf("e-%d", g.seq),
		"source":      "prop",
		"type":        typ,
		"time":        propTime(g.now),
		"subject":     o.id,
	}
	if data != nil {
		m["data"] = data
	}
	b, err := json.Marshal(m)
	if err != nil {
		g.t.Fatalf("marshal: %v", err)
	}
	g.add(b)
}

func (g *propGen) add(b []byte) {
	e, err := rules.Decode(b)
	if err != nil {
		g.t.Fatalf("the generator made an invalid event %s: %v", b, err)
	}
	g.raw = append(g.raw, b)
	g.events = append(g.events, e)
}

func (g *propGen) orderPaid(o *propOrder, amount int64) {
	d := map[string]any{
		"customer_id": "cus-" + o.id,
		"provider_id": "pro-" + o.id,
		"category":    rapid.SampledFrom(propCategories).Draw(g.t, "category"),
		"amount":      amount,
		"currency":    "EUR",
	}
	if rapid.Bool().Draw(g.t, "has delivery_due") {
		// After the payment: an order.paid whose delivery date is not is
		// malformed (v2). A due already past by the other events' times,
		// and past dues of modifications and cooperation, are still drawn.
		d["delivery_due"] = propTime(g.now.Add(time.Duration(rapid.Int64Range(int64(time.Second), int64(8*24*time.Hour)).Draw(g.t, "delivery_due"))))
	}
	if rapid.Bool().Draw(g.t, "has modification_days") {
		d["modification_days"] = rapid.IntRange(1, 10).Draw(g.t, "modification_days")
	}
	d["custom_contract"] = rapid.Bool().Draw(g.t, "custom_contract")
	d["promised_transaction_amount"] = rapid.Bool().Draw(g.t, "promised_transaction_amount")
	g.emit(o, "order.paid", d)
}

func (g *propGen) step() {
	o := g.orders[rapid.IntRange(0, len(g.orders)-1).Draw(g.t, "order")]
	g.advance()
	if !o.paid {
		o.paid = true
		g.orderPaid(o, o.amount)
		return
	}
	t := g.t
	party := func(label string) string { return rapid.SampledFrom(propParties).Draw(t, label) }
	var kind string
	if rapid.IntRange(0, 2).Draw(t, "story or not") > 0 {
		kind = rapid.SampledFrom(propStory[o.phase]).Draw(t, "story kind")
	} else {
		kind = rapid.SampledFrom(propKinds).Draw(t, "kind")
	}
	switch kind {
	case "refund.requested":
		o.phase = 1
	case "refund.withdrawn":
		o.phase = 0
	case "intervention.requested":
		o.phase = max(o.phase, 2)
	}
	switch kind {
	case "wait":
		// Let the evidence deadline pass, then say something.
		g.now = g.now.Add(rules.DefaultPolicy().EvidenceWindow)
		g.emit(o, "chat.message", map[string]any{"from": party("from"), "text": "still waiting"})
	case "duplicate":
		// Re-send an earlier event byte for byte, of any order.
		g.add(g.raw[rapid.IntRange(0, len(g.raw)-1).Draw(t, "duplicate of")])
	case "order.paid again":
		g.orderPaid(o, propAmount(t, "amount again"))
	case "order.accepted", "cooperation.provided", "refund.withdrawn", "suspension.lifted":
		g.emit(o, kind, nil)
	case "service.terminated":
		d := map[string]any{"by": party("by"), "agreed": rapid.Bool().Draw(t, "agreed")}
		if d["by"] == "platform" || rapid.Bool().Draw(t, "has cause") {
			d["cause"] = rapid.SampledFrom([]string{"customer", "provider"}).Draw(t, "cause")
		}
		g.emit(o, kind, d)
	case "service.extended":
		g.emit(o, kind, map[string]any{"by": "provider", "agreed": rapid.Bool().Draw(t, "agreed")})
	case "delivery.submitted":
		g.emit(o, kind, map[string]any{"delivery_no": "dlv-1"})
	case "modification.requested":
		d := map[string]any{"issue_id": rapid.SampledFrom(propIssues).Draw(t, "issue"), "objective": rapid.Bool().Draw(t, "objective")}
		if rapid.Bool().Draw(t, "has due") {
			d["due"] = g.later("due")
		}
		g.emit(o, kind, d)
	case "modification.refused", "modification.delivered", "modification.rejected":
		g.emit(o, kind, map[string]any{"issue_id": rapid.SampledFrom(propIssues).Draw(t, "issue")})
	case "cooperation.requested":
		g.emit(o, kind, map[string]any{"due": g.later("due"), "informed_in_advance": rapid.Bool().Draw(t, "informed")})
	case "chat.message":
		g.emit(o, kind, map[string]any{"from": party("from"), "text": "message"})
	case "refund.requested":
		d := map[string]any{"reason": rapid.SampledFrom(propReasons).Draw(t, "reason")}
		switch rapid.IntRange(0, 3).Draw(t, "refund amount kind") {
		case 1, 2:
			d["amount"] = propMoney(t, "refund amount", 1, o.amount)
		case 3:
			if o.amount < math.MaxInt64 {
				d["amount"] = o.amount + 1 // well-formed, but more than the order: rejected
			}
		}
		g.emit(o, kind, d)
	case "intervention.requested", "negotiation.requested", "judicial.filed":
		g.emit(o, kind, map[string]any{"by": party("by")})
	case "evidence.submitted":
		g.emit(o, kind, map[string]any{
			"party": rapid.SampledFrom([]string{"customer", "provider", "customer", "provider", "platform"}).Draw(t, "party"),
			"kind":  rapid.SampledFrom([]string{"valid", "reference"}).Draw(t, "evidence kind"),
			"note":  "note",
		})
	case "settlement.agreed":
		hi := o.amount
		if hi < math.MaxInt64 && rapid.IntRange(0, 9).Draw(t, "too much") == 0 {
			hi++ // well-formed, but more than the order: rejected
		}
		g.emit(o, kind, map[string]any{"refund_amount": propMoney(t, "settlement", 0, hi)})
	case "assessment.recorded":
		d := map[string]any{"value_ratio_bp": propMoney(t, "value_ratio_bp", 0, 10000)}
		if rapid.Bool().Draw(t, "has service_cost") {
			d["service_cost"] = propMoney(t, "service_cost", 0, rapid.SampledFrom([]int64{o.amount, math.MaxInt64}).Draw(t, "cost bound"))
		}
		if rapid.Bool().Draw(t, "has unrealized_cost") {
			d["unrealized_cost"] = propMoney(t, "unrealized_cost", 0, rapid.SampledFrom([]int64{o.amount, math.MaxInt64}).Draw(t, "cost bound"))
		}
		g.emit(o, kind, d)
	case "review.decided":
		d := map[string]any{"refund_amount": propMoney(t, "review refund", 0, o.amount)}
		if rapid.Bool().Draw(t, "has articles") {
			d["articles"] = rapid.SliceOfN(rapid.SampledFrom(rules.Citations()), 0, 3).Draw(t, "articles")
		}
		if rapid.Bool().Draw(t, "has note") {
			d["note"] = "reviewer:\tsplit by value"
		}
		g.emit(o, kind, d)
	default:
		t.Fatalf("unknown step %q", kind)
	}
}

// propEvents draws a sequence of well-formed events for one to four orders.
func propEvents(t *rapid.T) []rules.Event {
	g := &propGen{t: t, now: propT0}
	n := rapid.IntRange(1, 4).Draw(t, "orders")
	for i := range n {
		g.orders = append(g.orders, &propOrder{id: fmt.Sprintf("ord-%d", i+1), amount: propAmount(t, "amount")})
	}
	// Every order is paid first, so that no event is for an unknown order.
	for _, o := range g.orders {
		g.step()
		if !o.paid {
			o.paid = true
			g.orderPaid(o, o.amount)
		}
	}
	steps := rapid.IntRange(0, 120).Draw(t, "steps")
	for range steps {
		g.step()
	}
	return g.events
}

// propOutput is what one run produced: per input, the commands it led to.
type propOutput struct {
	perEvent [][]rules.Command // commands of Replay.Apply(events[i])
	final    []rules.Command   // commands of the last Advance
	replay   *rules.Replay
}

// propFar is where the last Advance goes: past every deadline the generator
// can set.
const propFar = 10 * 365 * 24 * time.Hour

func propRun(t *rapid.T, events []rules.Event) propOutput {
	r := rules.NewReplay(rules.DefaultPolicy())
	var out propOutput
	for i, e := range events {
		cmds, err := r.Apply(e)
		if err != nil {
			t.Fatalf("event %d (%s %s of %s): Apply: %v", i, e.ID, e.Type, e.OrderID, err)
		}
		out.perEvent = append(out.perEvent, cmds)
	}
	cmds, err := r.Advance(propT0.Add(propFar))
	if err != nil {
		t.Fatalf("Advance: %v", err)
	}
	out.final = cmds
	out.replay = r
	return out
}
