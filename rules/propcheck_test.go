package rules_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// The checker of a run's commands: money, IDs and timing invariants of
// contract v1.

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
		if rules.RejectionCodeDoc(b.Code) == "" {
			c.fail("rejection %+v has no code of rules.RejectionCodes", b)
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
