package rules_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// The property tests generate random well-formed event sequences for a few
// orders (JSON, through rules.Decode), run them through rules.Replay and check
// the money and command invariants of contract v1 on everything produced.

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
		d["delivery_due"] = g.later("delivery_due")
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

// propModel is what the checker knows of one order from the events.
type propModel struct {
	amount    int64
	currency  string
	customer  string
	provider  string
	requested int64 // the open refund request's amount; 0 when none is open
	seen      map[string]bool
	final     *rules.Ruling
}

type propTransfers struct {
	ruling *rules.Ruling
	to     map[rules.Party][]*rules.Transfer
}

// propChecker checks the commands of a run in the order they came.
type propChecker struct {
	t         *rapid.T
	ids       map[string]bool
	orders    map[string]*propModel
	rulings   map[string]*propTransfers // by ruling ID
	rulingIDs []string
}

func (c *propChecker) fail(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf(format, args...)
}

func (c *propChecker) command(cmd rules.Command, event *rules.Event) {
	c.t.Helper()
	if cmd.ID == "" {
		c.fail("command without an ID: %+v", cmd)
	}
	if c.ids[cmd.ID] {
		c.fail("command ID %q produced twice", cmd.ID)
	}
	c.ids[cmd.ID] = true
	switch b := cmd.Body.(type) {
	case *rules.Ruling:
		c.ruling(cmd, b)
	case *rules.Transfer:
		c.transfer(cmd, b)
	case *rules.Notice:
		m := c.orders[b.OrderID]
		if m == nil || cmd.Subject != rules.SubjectNotice+"."+b.OrderID || b.CommandID != cmd.ID {
			c.fail("notice %+v on %q", b, cmd.Subject)
		}
		if m.final != nil {
			c.fail("notice %q after the final ruling %q of order %s", b.Kind, m.final.RulingID, b.OrderID)
		}
		c.citations(cmd.ID, b.Articles)
	case *rules.Rejection:
		if cmd.Subject != rules.SubjectRejected+"."+b.OrderID || b.CommandID != cmd.ID {
			c.fail("rejection %+v on %q", b, cmd.Subject)
		}
		if event == nil || b.EventID != event.ID || b.OrderID != event.OrderID {
			c.fail("rejection %+v does not answer the event applied (%+v)", b, event)
		}
		c.citations(cmd.ID, b.Articles)
	default:
		c.fail("command %q with a body of type %T", cmd.ID, cmd.Body)
	}
}

func (c *propChecker) citations(id string, articles []string) {
	c.t.Helper()
	if articles == nil {
		c.fail("command %q: articles is null, want a list", id)
	}
	for _, a := range articles {
		if !rules.ValidCitation(a) {
			c.fail("command %q cites %q, not a citation of the text", id, a)
		}
	}
}

func (c *propChecker) ruling(cmd rules.Command, r *rules.Ruling) {
	c.t.Helper()
	m := c.orders[r.OrderID]
	switch {
	case m == nil:
		c.fail("ruling %+v for an order never paid", r)
	case cmd.Subject != rules.SubjectRuling+"."+r.OrderID, r.CommandID != cmd.ID:
		c.fail("ruling %+v on subject %q, command %q", r, cmd.Subject, cmd.ID)
	case m.final != nil:
		c.fail("ruling %q (%s) after the final ruling %q (%s) of order %s", r.RulingID, r.Outcome, m.final.RulingID, m.final.Outcome, r.OrderID)
	case r.Amount != m.amount || r.Currency != m.currency:
		c.fail("ruling %q: amount %d %s, the order is %d %s", r.RulingID, r.Amount, r.Currency, m.amount, m.currency)
	case len(r.Articles) == 0 || r.Reason == "":
		c.fail("ruling %q cites nothing or gives no reason: %+v", r.RulingID, r)
	}
	c.citations(cmd.ID, r.Articles)
	if _, dup := c.rulings[r.RulingID]; dup {
		c.fail("ruling ID %q used twice", r.RulingID)
	}
	c.rulings[r.RulingID] = &propTransfers{ruling: r, to: make(map[rules.Party][]*rules.Transfer)}
	c.rulingIDs = append(c.rulingIDs, r.RulingID)
	if r.Outcome == rules.Escalated {
		if r.RefundAmount != 0 || r.ProviderAmount != 0 {
			c.fail("escalated ruling %q moves money: refund %d, provider %d", r.RulingID, r.RefundAmount, r.ProviderAmount)
		}
		return
	}
	m.final = r
	if r.RefundAmount < 0 || r.ProviderAmount < 0 || r.RefundAmount > r.Amount || r.ProviderAmount != r.Amount-r.RefundAmount {
		c.fail("ruling %q (%s): refund %d + provider %d != amount %d", r.RulingID, r.Outcome, r.RefundAmount, r.ProviderAmount, r.Amount)
	}
	if r.Outcome == rules.Settled {
		return
	}
	requested := m.requested
	if requested == 0 {
		requested = m.amount
	}
	if r.RefundAmount > requested {
		c.fail("ruling %q (%s): refund %d is more than the %d requested", r.RulingID, r.Outcome, r.RefundAmount, requested)
	}
	want := rules.RefundPartial
	switch r.RefundAmount {
	case r.Amount:
		want = rules.RefundFull
	case 0:
		want = rules.Release
	}
	if r.Outcome != want {
		c.fail("ruling %q: outcome %s for refund %d of %d, want %s", r.RulingID, r.Outcome, r.RefundAmount, r.Amount, want)
	}
}

func (c *propChecker) transfer(cmd rules.Command, tr *rules.Transfer) {
	c.t.Helper()
	m := c.orders[tr.OrderID]
	rt := c.rulings[tr.RulingID]
	switch {
	case m == nil || cmd.Subject != rules.SubjectTransfer+"."+tr.OrderID:
		c.fail("transfer %+v on %q", tr, cmd.Subject)
	case tr.CommandID != cmd.ID || tr.TransferID != cmd.ID:
		c.fail("transfer %+v: command_id and transfer_id must equal the command ID %q", tr, cmd.ID)
	case rt == nil:
		c.fail("transfer %q for ruling %q, which was not issued before it", cmd.ID, tr.RulingID)
	case rt.ruling.OrderID != tr.OrderID:
		c.fail("transfer %q of order %s for ruling %q of order %s", cmd.ID, tr.OrderID, tr.RulingID, rt.ruling.OrderID)
	case m.final != rt.ruling:
		c.fail("transfer %q for ruling %q, which is not the order's final ruling", cmd.ID, tr.RulingID)
	case tr.Amount <= 0:
		c.fail("transfer %q of %d: must be more than 0", cmd.ID, tr.Amount)
	case tr.Currency != m.currency:
		c.fail("transfer %q in %s, the order is in %s", cmd.ID, tr.Currency, m.currency)
	case tr.To == rules.Customer && tr.PartyID != m.customer, tr.To == rules.Provider && tr.PartyID != m.provider:
		c.fail("transfer %q to %s %q: the order's parties are %q and %q", cmd.ID, tr.To, tr.PartyID, m.customer, m.provider)
	case tr.To != rules.Customer && tr.To != rules.Provider:
		c.fail("transfer %q to %q", cmd.ID, tr.To)
	}
	rt.to[tr.To] = append(rt.to[tr.To], tr)
}

// transfersAddUp checks every ruling's transfers once all commands are in.
func (c *propChecker) transfersAddUp() {
	c.t.Helper()
	for _, id := range c.rulingIDs {
		rt := c.rulings[id]
		r := rt.ruling
		if r.Outcome == rules.Escalated {
			if len(rt.to) > 0 {
				c.fail("escalated ruling %q has transfers %v", id, rt.to)
			}
			continue
		}
		var sum big.Int
		for party, share := range map[rules.Party]int64{rules.Customer: r.RefundAmount, rules.Provider: r.ProviderAmount} {
			trs := rt.to[party]
			switch {
			case share == 0 && len(trs) != 0:
				c.fail("ruling %q gives the %s nothing but transfers %d times", id, party, len(trs))
			case share > 0 && len(trs) != 1:
				c.fail("ruling %q gives the %s %d in %d transfers, want 1", id, party, share, len(trs))
			case share > 0 && trs[0].Amount != share:
				c.fail("ruling %q gives the %s %d, its transfer moves %d", id, party, share, trs[0].Amount)
			}
			for _, tr := range trs {
				sum.Add(&sum, big.NewInt(tr.Amount))
			}
		}
		if sum.Cmp(big.NewInt(r.Amount)) != 0 {
			c.fail("ruling %q: transfers add up to %s, the amount is %d", id, &sum, r.Amount)
		}
	}
}

// observe updates the model once event e was applied with the commands
// cmds. A rejected or repeated event changes nothing.
func (c *propChecker) observe(e rules.Event, cmds []rules.Command) {
	m := c.orders[e.OrderID]
	if m != nil && m.seen[e.ID] {
		return
	}
	rejected := slices.ContainsFunc(cmds, func(cmd rules.Command) bool {
		r, ok := cmd.Body.(*rules.Rejection)
		return ok && r.EventID == e.ID
	})
	if m == nil {
		if e.Type != rules.TypeOrderPaid || rejected {
			c.fail("event %s (%s) for an unknown order %s was not an error", e.ID, e.Type, e.OrderID)
		}
		m = &propModel{amount: e.Data.Amount, currency: e.Data.Currency, customer: e.Data.CustomerID, provider: e.Data.ProviderID, seen: make(map[string]bool)}
		c.orders[e.OrderID] = m
	}
	m.seen[e.ID] = true
	if rejected {
		return
	}
	switch e.Type {
	case rules.TypeRefundRequested:
		m.requested = e.Data.Amount
		if m.requested == 0 {
			m.requested = m.amount
		}
	case rules.TypeRefundWithdrawn:
		m.requested = 0
	}
}

// propCheck runs events and checks every invariant; it returns the run's
// commands encoded, for the determinism check.
func propCheck(t *rapid.T, events []rules.Event) [][]byte {
	c := &propChecker{t: t, ids: make(map[string]bool), orders: make(map[string]*propModel), rulings: make(map[string]*propTransfers)}
	r := rules.NewReplay(rules.DefaultPolicy())
	p := rules.DefaultPolicy()
	var enc [][]byte
	record := func(cmds []rules.Command) {
		for _, cmd := range cmds {
			b, err := json.Marshal(cmd)
			if err != nil {
				t.Fatalf("marshal command %q: %v", cmd.ID, err)
			}
			enc = append(enc, append([]byte(cmd.ID+" "), b...))
		}
	}
	for i, e := range events {
		if m := c.orders[e.OrderID]; m != nil && m.seen[e.ID] {
			// Applying an already-applied event is a no-op.
			d, err := p.Apply(r.State(e.OrderID), e, e.Time)
			if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) > 0 || len(d.Disarm) > 0 {
				t.Fatalf("event %d (%s, %s) applied again: Changed=%v, %d commands, arm %v, disarm %v, err %v",
					i, e.ID, e.Type, d.Changed, len(d.Commands), d.Arm, d.Disarm, err)
			}
		}
		before := make(map[string]rules.Status, len(c.orders))
		for id := range c.orders {
			before[id] = r.State(id).Status
		}
		cmds, err := r.Apply(e)
		if err != nil {
			t.Fatalf("event %d (%s %s of %s): Apply: %v", i, e.ID, e.Type, e.OrderID, err)
		}
		for _, cmd := range cmds {
			// Commands of deadlines fired before e come first; a rejection
			// can only answer e itself.
			ev := &e
			if !strings.HasPrefix(cmd.ID, e.OrderID+"/event:"+e.ID+"/") {
				ev = nil
			}
			c.command(cmd, ev)
			if ru, ok := cmd.Body.(*rules.Ruling); ok {
				propRulingTiming(t, ru, before[ru.OrderID], ev, e.Time)
			}
		}
		c.observe(e, cmds)
		record(cmds)
		propTimersAnswer(t, p, r, c, e.Time)
		propNothingPending(t, p, r, c, fmt.Sprintf("event %d (%s %s of %s)", i, e.ID, e.Type, e.OrderID))
	}
	far := propT0.Add(propFar)
	cmds, err := r.Advance(far)
	if err != nil {
		t.Fatalf("Advance: %v", err)
	}
	for _, cmd := range cmds {
		c.command(cmd, nil)
	}
	record(cmds)
	propNothingPending(t, p, r, c, "the last deadlines")
	c.transfersAddUp()

	// Every deadline that was running has fired.
	for id := range c.orders {
		for _, tm := range r.State(id).Timers {
			if !tm.Paused && !tm.At.After(far) {
				t.Fatalf("order %s: deadline %+v still armed after advancing to %v", id, tm, far)
			}
		}
	}
	// Applying any event again changes nothing.
	for i, e := range events {
		d, err := p.Apply(r.State(e.OrderID), e, e.Time)
		if err != nil || d.Changed || len(d.Commands) > 0 {
			t.Fatalf("event %d (%s, %s) applied again at the end: Changed=%v, commands %v, err %v", i, e.ID, e.Type, d.Changed, d.Commands, err)
		}
	}
	return enc
}

func TestPropReplayInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := propEvents(t)
		first := propCheck(t, events)
		second := propCheck(t, events)
		if len(first) != len(second) {
			t.Fatalf("replaying the same events gave %d commands, then %d", len(first), len(second))
		}
		for i := range first {
			if !bytes.Equal(first[i], second[i]) {
				t.Fatalf("replaying the same events: command %d differs:\n%s\n%s", i, first[i], second[i])
			}
		}
	})
}

// TestPropReplayDecides makes sure the generator reaches the interesting
// places: rulings of every outcome and splits by assessment.
func TestPropReplayDecides(t *testing.T) {
	outcomes := make(map[rules.Outcome]int)
	assessed := 0
	rapid.Check(t, func(t *rapid.T) {
		out := propRun(t, propEvents(t))
		for _, cmds := range append(out.perEvent, out.final) {
			for _, cmd := range cmds {
				if r, ok := cmd.Body.(*rules.Ruling); ok {
					outcomes[r.Outcome]++
					if slices.ContainsFunc(r.Articles, func(a string) bool { return a == rules.C2A8 || a == rules.C2A9 || a == rules.C2A10 }) {
						assessed++
					}
				}
			}
		}
	})
	for _, o := range []rules.Outcome{rules.RefundFull, rules.RefundPartial, rules.Release, rules.Settled, rules.Escalated} {
		if outcomes[o] == 0 {
			t.Errorf("no %s ruling in the generated runs: %v", o, outcomes)
		}
	}
	if assessed == 0 {
		t.Errorf("no ruling split by an assessment in the generated runs")
	}
	t.Logf("rulings by outcome: %v; split by assessment: %d", outcomes, assessed)
}

// propSplitWant computes AssessedSplit's provider share with big integers,
// straight from rules.md.
func propSplitWant(amount int64, a rules.Assessment) (provider int64, article string) {
	amt := big.NewInt(amount)
	share := new(big.Int).Mul(amt, big.NewInt(a.ValueRatioBP))
	share.Quo(share, big.NewInt(10000))
	switch {
	case a.ValueRatioBP == 0 && a.ServiceCost > 0:
		return min(a.ServiceCost, amount), rules.C2A8
	case a.ValueRatioBP > 0 && a.UnrealizedCost > 0:
		share.Add(share, big.NewInt(a.UnrealizedCost))
		if share.Cmp(amt) > 0 {
			share.Set(amt)
		}
		return share.Int64(), rules.C2A10
	}
	return share.Int64(), rules.C2A9
}

func TestPropSplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bound := func(label string, hi int64) int64 {
			return rapid.OneOf(
				rapid.Int64Range(0, hi),
				rapid.Int64Range(0, min(hi, 20000)),
				rapid.SampledFrom([]int64{0, 1, 9999, 10000, 10001, 1 << 62, hi / 2, hi - 1, hi}),
			).Draw(t, label)
		}
		amount := bound("amount", math.MaxInt64)
		a := rules.Assessment{
			ValueRatioBP:   rapid.OneOf(rapid.Int64Range(0, 10000), rapid.SampledFrom([]int64{0, 1, 5000, 9999, 10000})).Draw(t, "ratio"),
			ServiceCost:    bound("service_cost", math.MaxInt64),
			UnrealizedCost: bound("unrealized_cost", math.MaxInt64),
		}
		s := rules.AssessedSplit(amount, a)
		if s.Refund < 0 || s.Provider < 0 || s.Refund > amount || s.Provider > amount {
			t.Fatalf("AssessedSplit(%d, %+v) = refund %d, provider %d: out of [0, amount]", amount, a, s.Refund, s.Provider)
		}
		if s.Refund != amount-s.Provider {
			t.Fatalf("AssessedSplit(%d, %+v): refund %d + provider %d != amount", amount, a, s.Refund, s.Provider)
		}
		want, article := propSplitWant(amount, a)
		if s.Provider != want {
			t.Fatalf("AssessedSplit(%d, %+v): provider %d, want %d", amount, a, s.Provider, want)
		}
		// Rounding never favours the provider: its share is at most the
		// exact one.
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(amount), big.NewInt(a.ValueRatioBP)), big.NewInt(10000))
		switch article {
		case rules.C2A9:
			if new(big.Rat).SetInt64(s.Provider).Cmp(exact) > 0 {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the exact share %s", amount, a, s.Provider, exact.FloatString(4))
			}
		case rules.C2A10:
			if new(big.Rat).SetInt64(s.Provider).Cmp(exact.Add(exact, new(big.Rat).SetInt64(a.UnrealizedCost))) > 0 {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the exact share plus the unrealized cost", amount, a, s.Provider)
			}
		case rules.C2A8:
			if s.Provider > a.ServiceCost {
				t.Fatalf("AssessedSplit(%d, %+v): provider %d is more than the service cost", amount, a, s.Provider)
			}
		}
		if len(s.Articles) == 0 || s.Articles[0] != article {
			t.Fatalf("AssessedSplit(%d, %+v): articles %v, want %s first", amount, a, s.Articles, article)
		}
		for _, c := range s.Articles {
			if !rules.ValidCitation(c) {
				t.Fatalf("AssessedSplit cites %q", c)
			}
		}
		if s.Arithmetic == "" {
			t.Fatalf("AssessedSplit(%d, %+v): no arithmetic", amount, a)
		}
	})
}

// propRulingTiming checks when a ruling was made: an event's ruling at the
// event's time, a deadline's at the latest at the time of the event it fired
// before; none
// after acceptance, and none while suspended but by the parties' own
// settlement or once the suspension is lifted.
func propRulingTiming(t *rapid.T, r *rules.Ruling, before rules.Status, e *rules.Event, now time.Time) {
	t.Helper()
	if e != nil {
		if r.Cause != "event:"+e.ID || !r.DecidedAt.Equal(e.Time) {
			t.Fatalf("ruling %q caused by %s %s: cause %q, decided at %v, want the event's time %v", r.RulingID, e.Type, e.ID, r.Cause, r.DecidedAt, e.Time)
		}
	} else if !strings.HasPrefix(r.Cause, "deadline:") || r.DecidedAt.After(now) {
		// A deadline can be due before the event that set it (a due time
		// already past), so only the upper bound holds.
		t.Fatalf("ruling %q of a deadline: cause %q, decided at %v, want a deadline due by %v", r.RulingID, r.Cause, r.DecidedAt, now)
	}
	switch before {
	case rules.StatusAccepted:
		t.Fatalf("ruling %q (%s) of an order the customer had accepted (c1.s3.a2)", r.RulingID, r.Outcome)
	case rules.StatusSuspended:
		// Only an event that ends the suspension can rule: the parties'
		// settlement, a lift, or the withdrawal of the refund request,
		// which makes the ruling the record already held back.
		if e == nil || e.OrderID != r.OrderID || (e.Type != rules.TypeSettlementAgreed && e.Type != rules.TypeSuspensionLifted && e.Type != rules.TypeRefundWithdrawn) {
			t.Fatalf("ruling %q (%s) while the dispute was suspended (cause %q)", r.RulingID, r.Outcome, r.Cause)
		}
	}
}

// propTimersAnswer checks how Apply answers a deadline event for each of the
// orders' timers: fired early, or with a due time the state does not hold,
// it is armed again at its due time and nothing else happens; with an ID
// the state does not hold, it changes nothing.
func propTimersAnswer(t *rapid.T, p rules.Policy, r *rules.Replay, c *propChecker, now time.Time) {
	t.Helper()
	for id := range c.orders {
		s := r.State(id)
		for _, tm := range s.Timers {
			if tm.Paused || !tm.At.After(now) {
				// Due already: armed by this very event, it fires before
				// the next input.
				continue
			}
			early := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: tm.At, TimerID: tm.ID}
			d, err := p.Apply(s, early, now)
			if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) != 1 || d.Arm[0] != tm || len(d.Disarm) > 0 {
				t.Fatalf("order %s: timer %s fired early at %v: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, tm.ID, now, d.Changed, d.Commands, d.Arm, d.Disarm, err)
			}
			wrong := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: tm.At.Add(time.Millisecond), TimerID: tm.ID}
			// A store entry that disagrees with the state is set right:
			// armed again at the state's due time, and nothing else.
			d, err = p.Apply(s, wrong, wrong.Time)
			if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) != 1 || d.Arm[0] != tm || len(d.Disarm) > 0 {
				t.Fatalf("order %s: timer %s fired with another due time: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, tm.ID, d.Changed, d.Commands, d.Arm, d.Disarm, err)
			}
		}
		gone := rules.Event{Type: rules.TypeDeadline, OrderID: id, Time: now, TimerID: "evidence-999999"}
		d, err := p.Apply(s, gone, now)
		if err != nil || d.Changed || len(d.Commands) > 0 || len(d.Arm) > 0 || !slices.Equal(d.Disarm, []string{gone.TimerID}) {
			t.Fatalf("order %s: unknown timer fired: Changed=%v, commands %v, arm %v, disarm %v, err %v", id, d.Changed, d.Commands, d.Arm, d.Disarm, err)
		}
	}
}

// propStored runs events the way the stream processor does: each order's
// state is stored as JSON and loaded again for every input, and deadlines
// are kept in a store of their own (order and timer ID to due time) that
// Arm and Disarm edit. It returns the commands encoded like propCheck, and
// checks that Apply never modifies the state it is given.
func propStored(t *rapid.T, events []rules.Event) [][]byte {
	p := rules.DefaultPolicy()
	type key struct{ order, id string }
	states := make(map[string][]byte)
	timers := make(map[key]time.Time)
	var enc [][]byte
	apply := func(e rules.Event, now time.Time) error {
		var s rules.State
		if b, ok := states[e.OrderID]; ok {
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("load state of %s: %v", e.OrderID, err)
			}
		}
		before, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("encode state: %v", err)
		}
		d, err := p.Apply(s, e, now)
		if err != nil {
			return err
		}
		after, _ := json.Marshal(s)
		if !bytes.Equal(before, after) {
			t.Fatalf("Apply(%s %s) modified the state it was given:\n%s\n%s", e.Type, e.ID+e.TimerID, before, after)
		}
		if d.Changed {
			b, err := json.Marshal(d.State)
			if err != nil {
				t.Fatalf("encode state: %v", err)
			}
			states[e.OrderID] = b
		}
		for _, id := range d.Disarm {
			delete(timers, key{e.OrderID, id})
		}
		for _, tm := range d.Arm {
			timers[key{e.OrderID, tm.ID}] = tm.At
		}
		for _, cmd := range d.Commands {
			b, err := json.Marshal(cmd)
			if err != nil {
				t.Fatalf("marshal command %q: %v", cmd.ID, err)
			}
			enc = append(enc, append([]byte(cmd.ID+" "), b...))
		}
		return nil
	}
	// fire fires the due deadlines, earliest first, then by order and ID,
	// as the contract orders them.
	fire := func(until time.Time) {
		for {
			var next key
			var at time.Time
			found := false
			for k, a := range timers {
				if a.After(until) {
					continue
				}
				if !found || a.Before(at) || a.Equal(at) && (k.order < next.order || k.order == next.order && k.id < next.id) {
					next, at, found = k, a, true
				}
			}
			if !found {
				return
			}
			delete(timers, next)
			if err := apply(rules.Event{Type: rules.TypeDeadline, OrderID: next.order, Time: at, TimerID: next.id}, at); err != nil {
				t.Fatalf("deadline %s of %s: %v", next.id, next.order, err)
			}
		}
	}
	for i, e := range events {
		fire(e.Time)
		if err := apply(e, e.Time); err != nil {
			t.Fatalf("event %d (%s %s of %s): Apply: %v", i, e.ID, e.Type, e.OrderID, err)
		}
	}
	fire(propT0.Add(propFar))
	return enc
}

func TestPropStoredStateEqualsReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := propEvents(t)
		replayed := propCheck(t, events)
		stored := propStored(t, events)
		for i := range max(len(replayed), len(stored)) {
			switch {
			case i >= len(replayed):
				t.Fatalf("the stored-state run made command %d more: %s", i, stored[i])
			case i >= len(stored):
				t.Fatalf("the stored-state run is missing command %d: %s", i, replayed[i])
			case !bytes.Equal(replayed[i], stored[i]):
				t.Fatalf("command %d differs:\nreplay: %s\nstored: %s", i, replayed[i], stored[i])
			}
		}
	})
}

// propNothingPending checks that no input left a ruling pending: once the
// record of an order determines a ruling and the order is not suspended,
// the ruling has been made (rules.md: every handler ends by re-examining the
// record).
func propNothingPending(t *rapid.T, p rules.Policy, r *rules.Replay, c *propChecker, after string) {
	t.Helper()
	for id := range c.orders {
		s := r.State(id)
		if s.Status == rules.StatusSuspended {
			continue
		}
		if outcome, articles, ok := rules.PendingRuling(p, s); ok {
			t.Fatalf("after %s: order %s (%s) has a ruling pending that its record determines: %s %v", after, id, s.Status, outcome, articles)
		}
	}
}
