package rules_test

// One table test per article of the 2018-03-12 rules text that the engine
// applies, named after the article (TestC2A5 is chapter II, article 5). Each
// case is a story of events run through a Replay, as `disputed replay` would,
// and asserts the ruling (outcome, amounts, the exact articles, transfers that
// add up), the notice, or the rejection the story must produce.
//
// Every top-level name in this file starts with "art" so that it cannot clash
// with the other test files of the package.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// The story's defaults: one order, paid at artT0 for artAmount EUR cents.
const (
	artOrder    = "ord-1001"
	artCustomer = "cust-7"
	artProvider = "prov-3"
	artCurrency = "EUR"
	artAmount   = int64(10000)

	artH = time.Hour
	// artEvidenceDue is when the evidence deadline of artDispute falls:
	// intervention at 2h plus the default 72 hours.
	artEvidenceDue = 74 * artH
)

var artT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// artEv is one event of a story, at a time after artT0.
type artEv struct {
	at   time.Duration
	typ  rules.Type
	data rules.Data
	id   string // empty: "e<index>"
}

func (ev artEv) event(i int) rules.Event {
	id := ev.id
	if id == "" {
		id = fmt.Sprintf("e%02d", i)
	}
	return rules.Event{
		ID:      id,
		Source:  "articles-test",
		Type:    ev.typ,
		Time:    artT0.Add(ev.at),
		OrderID: artOrder,
		Data:    ev.data,
	}
}

// Event builders.

func artPaid(cat rules.Category, opts ...func(*rules.Data)) artEv {
	d := rules.Data{CustomerID: artCustomer, ProviderID: artProvider, Category: cat, Amount: artAmount, Currency: artCurrency}
	for _, o := range opts {
		o(&d)
	}
	return artEv{typ: rules.TypeOrderPaid, data: d}
}

func artAmountOf(n int64) func(*rules.Data) { return func(d *rules.Data) { d.Amount = n } }
func artDeliveryDue(at time.Duration) func(*rules.Data) {
	return func(d *rules.Data) { d.DeliveryDue = artT0.Add(at) }
}
func artModDays(n int) func(*rules.Data)         { return func(d *rules.Data) { d.ModificationDays = n } }
func artCustomContract(d *rules.Data)            { d.CustomContract = true }
func artPromisedTransaction(d *rules.Data)       { d.PromisedTransactionAmount = true }
func artOn(at time.Duration, t rules.Type) artEv { return artEv{at: at, typ: t} }

func artRefund(at time.Duration, r rules.Reason) artEv {
	return artEv{at: at, typ: rules.TypeRefundRequested, data: rules.Data{Reason: r}}
}

func artRefundOf(at time.Duration, r rules.Reason, amount int64) artEv {
	return artEv{at: at, typ: rules.TypeRefundRequested, data: rules.Data{Reason: r, Amount: amount}}
}

func artIntervene(at time.Duration, by rules.Party) artEv {
	return artEv{at: at, typ: rules.TypeInterventionRequested, data: rules.Data{By: by}}
}

func artEvidence(at time.Duration, p rules.Party, k rules.EvidenceKind) artEv {
	return artEv{at: at, typ: rules.TypeEvidenceSubmitted, data: rules.Data{Party: p, Kind: k, Note: "voucher"}}
}

func artChat(at time.Duration, from rules.Party) artEv {
	return artEv{at: at, typ: rules.TypeChatMessage, data: rules.Data{From: from, Text: "I delivered it, see the files"}}
}

// artTerminate is service.terminated; cause "" means by (as the decoder does
// for a customer or provider).
func artTerminate(at time.Duration, by, cause rules.Party, agreed bool) artEv {
	if cause == "" {
		cause = by
	}
	return artEv{at: at, typ: rules.TypeServiceTerminated, data: rules.Data{By: by, Cause: cause, Agreed: agreed}}
}

func artExtend(at time.Duration, agreed bool) artEv {
	return artEv{at: at, typ: rules.TypeServiceExtended, data: rules.Data{By: rules.Provider, Agreed: agreed}}
}

func artAssess(at time.Duration, ratio, cost, unrealized int64) artEv {
	return artEv{at: at, typ: rules.TypeAssessmentRecorded, data: rules.Data{ValueRatioBP: ratio, ServiceCost: cost, UnrealizedCost: unrealized}}
}

// artModRequest is modification.requested; due 0 means none agreed.
func artModRequest(at time.Duration, issue string, objective bool, due time.Duration) artEv {
	d := rules.Data{IssueID: issue, Objective: objective}
	if due != 0 {
		d.Due = artT0.Add(due)
	}
	return artEv{at: at, typ: rules.TypeModificationRequested, data: d}
}

func artMod(at time.Duration, t rules.Type, issue string) artEv {
	return artEv{at: at, typ: t, data: rules.Data{IssueID: issue}}
}

func artCoop(at, due time.Duration, informed bool) artEv {
	return artEv{at: at, typ: rules.TypeCooperationRequested, data: rules.Data{Due: artT0.Add(due), InformedInAdvance: informed}}
}

func artSettle(at time.Duration, refund int64) artEv {
	return artEv{at: at, typ: rules.TypeSettlementAgreed, data: rules.Data{RefundAmount: refund}}
}

func artReview(at time.Duration, refund int64, articles ...string) artEv {
	return artEv{at: at, typ: rules.TypeReviewDecided, data: rules.Data{RefundAmount: refund, Articles: articles, Note: "reviewed"}}
}

func artNegotiate(at time.Duration, by rules.Party) artEv {
	return artEv{at: at, typ: rules.TypeNegotiationRequested, data: rules.Data{By: by}}
}

func artJudicial(at time.Duration, by rules.Party) artEv {
	return artEv{at: at, typ: rules.TypeJudicialFiled, data: rules.Data{By: by}}
}

// artDispute is the common opening: paid (index 0), refund requested at 1h
// (index 1), the customer asks the platform to intervene at 2h (index 2);
// extra events follow from index 3.
func artDispute(cat rules.Category, r rules.Reason, extra ...artEv) []artEv {
	return append([]artEv{artPaid(cat), artRefund(1*artH, r), artIntervene(2*artH, rules.Customer)}, extra...)
}

// artSeq joins stories and single events.
func artSeq(parts ...any) []artEv {
	var out []artEv
	for _, p := range parts {
		switch v := p.(type) {
		case artEv:
			out = append(out, v)
		case []artEv:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("artSeq: %T", p))
		}
	}
	return out
}

// artCase is one story and what it must produce.
type artCase struct {
	name   string
	policy func(*rules.Policy) // nil: DefaultPolicy
	events []artEv
	until  time.Duration // > 0: fire the deadlines due up to artT0+until at the end
	checks []artCheck
	skip   string // "ENGINE BUG: ..." for a case that states the correct behaviour
}

// artResult is what a story produced.
type artResult struct {
	events  []rules.Event
	batches [][]rules.Command // per event (with the deadlines fired before it); the last is the final Advance
	all     []rules.Command
	amount  int64
	state   rules.State
}

type artCheck func(t *testing.T, res *artResult)

// artTail is the batch index of the final Advance.
const artTail = -1

func artRunCases(t *testing.T, cases []artCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			res := artRun(t, c)
			for _, chk := range c.checks {
				chk(t, res)
			}
		})
	}
}

func artRun(t *testing.T, c artCase) *artResult {
	t.Helper()
	p := rules.DefaultPolicy()
	if c.policy != nil {
		c.policy(&p)
	}
	r := rules.NewReplay(p)
	res := &artResult{}
	for i, ev := range c.events {
		e := ev.event(i)
		if e.Type == rules.TypeOrderPaid && res.amount == 0 {
			res.amount = e.Data.Amount
		}
		res.events = append(res.events, e)
		cmds, err := r.Apply(e)
		if err != nil {
			t.Fatalf("event %d (%s %s): %v", i, e.ID, e.Type, err)
		}
		res.batches = append(res.batches, cmds)
		res.all = append(res.all, cmds...)
	}
	var tail []rules.Command
	if c.until > 0 {
		var err error
		tail, err = r.Advance(artT0.Add(c.until))
		if err != nil {
			t.Fatalf("advance to +%v: %v", c.until, err)
		}
	}
	res.batches = append(res.batches, tail)
	res.all = append(res.all, tail...)
	res.state = r.State(artOrder)
	artInvariants(t, res)
	return res
}

// artInvariants holds for every story: at most one final ruling; a ruling that
// moves money splits exactly the order amount, is named by its amounts (unless
// settled) and has one transfer per party with a non-zero share; an escalation
// moves nothing; every citation is one of the text.
func artInvariants(t *testing.T, res *artResult) {
	t.Helper()
	finals := 0
	for _, c := range res.all {
		switch b := c.Body.(type) {
		case *rules.Ruling:
			artValidCitations(t, "ruling", b.Articles)
			if c.Subject != rules.SubjectRuling+"."+artOrder || c.ID != b.CommandID {
				t.Errorf("ruling command %q on %q, body command_id %q", c.ID, c.Subject, b.CommandID)
			}
			if b.Amount != res.amount || b.Currency != artCurrency {
				t.Errorf("ruling amount %d %s, want the order's %d %s", b.Amount, b.Currency, res.amount, artCurrency)
			}
			var transfers []*rules.Transfer
			for _, c2 := range res.all {
				if tr, ok := c2.Body.(*rules.Transfer); ok && tr.RulingID == b.RulingID {
					transfers = append(transfers, tr)
				}
			}
			if b.Outcome == rules.Escalated {
				if b.RefundAmount != 0 || b.ProviderAmount != 0 || len(transfers) != 0 {
					t.Errorf("escalation moves money: refund %d provider %d, %d transfers", b.RefundAmount, b.ProviderAmount, len(transfers))
				}
				continue
			}
			finals++
			artCheckTransfers(t, b, transfers)
		case *rules.Notice:
			artValidCitations(t, "notice "+b.Kind, b.Articles)
		case *rules.Rejection:
			artValidCitations(t, "rejection", b.Articles)
		case *rules.Transfer:
		default:
			t.Errorf("command %q has body %T", c.ID, c.Body)
		}
	}
	if finals > 1 {
		t.Errorf("%d final rulings, want at most one", finals)
	}
}

func artValidCitations(t *testing.T, what string, articles []string) {
	t.Helper()
	for _, a := range articles {
		if !rules.ValidCitation(a) {
			t.Errorf("%s cites %q, not an article of the text", what, a)
		}
	}
}

func artCheckTransfers(t *testing.T, r *rules.Ruling, transfers []*rules.Transfer) {
	t.Helper()
	if r.RefundAmount < 0 || r.ProviderAmount < 0 || r.RefundAmount+r.ProviderAmount != r.Amount {
		t.Errorf("refund %d + provider %d != amount %d", r.RefundAmount, r.ProviderAmount, r.Amount)
	}
	if r.Outcome != rules.Settled {
		want := rules.RefundPartial
		switch r.RefundAmount {
		case r.Amount:
			want = rules.RefundFull
		case 0:
			want = rules.Release
		}
		if r.Outcome != want {
			t.Errorf("outcome %s for refund %d of %d, want %s", r.Outcome, r.RefundAmount, r.Amount, want)
		}
	}
	want := map[rules.Party]int64{}
	if r.RefundAmount > 0 {
		want[rules.Customer] = r.RefundAmount
	}
	if r.ProviderAmount > 0 {
		want[rules.Provider] = r.ProviderAmount
	}
	got := map[rules.Party]int64{}
	var sum int64
	for _, tr := range transfers {
		if _, dup := got[tr.To]; dup {
			t.Errorf("two transfers to %s for ruling %s", tr.To, r.RulingID)
		}
		got[tr.To] = tr.Amount
		sum += tr.Amount
		wantID := map[rules.Party]string{rules.Customer: artCustomer, rules.Provider: artProvider}[tr.To]
		if tr.PartyID != wantID || tr.Currency != artCurrency || tr.OrderID != artOrder || tr.TransferID != tr.CommandID || tr.Amount <= 0 {
			t.Errorf("transfer %+v: want party %s, %s, order %s, transfer_id = command_id, amount > 0", *tr, wantID, artCurrency, artOrder)
		}
	}
	if len(got) != len(want) || sum != r.Amount {
		t.Errorf("transfers %v (sum %d), want %v (sum %d)", got, sum, want, r.Amount)
	}
	for p, a := range want {
		if got[p] != a {
			t.Errorf("transfer to %s = %d, want %d", p, got[p], a)
		}
	}
}

func artRulings(res *artResult) []*rules.Ruling {
	var out []*rules.Ruling
	for _, c := range res.all {
		if r, ok := c.Body.(*rules.Ruling); ok {
			out = append(out, r)
		}
	}
	return out
}

// artFinal returns the final ruling (one that moves money or records a
// settlement), or nil.
func artFinal(res *artResult) *rules.Ruling {
	for _, r := range artRulings(res) {
		if r.Outcome.Final() {
			return r
		}
	}
	return nil
}

func artBatch(t *testing.T, res *artResult, idx int) []rules.Command {
	t.Helper()
	if idx == artTail {
		return res.batches[len(res.batches)-1]
	}
	if idx < 0 || idx >= len(res.events) {
		t.Fatalf("no event %d in the story", idx)
	}
	return res.batches[idx]
}

// artRuled asserts the final ruling.
func artRuled(outcome rules.Outcome, refund, provider int64, articles ...string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		r := artFinal(res)
		if r == nil {
			t.Fatalf("no final ruling; rulings %s; commands %s", artDescribeRulings(res), artDescribe(res.all))
		}
		if r.Outcome != outcome || r.RefundAmount != refund || r.ProviderAmount != provider || !slices.Equal(r.Articles, articles) {
			t.Errorf("ruling %s refund=%d provider=%d articles=%q (%s)\nwant     %s refund=%d provider=%d articles=%q",
				r.Outcome, r.RefundAmount, r.ProviderAmount, r.Articles, r.Reason, outcome, refund, provider, articles)
		}
		if r.Reason == "" || strings.Contains(r.Reason, "\n") {
			t.Errorf("ruling reason %q: want one plain sentence", r.Reason)
		}
	}
}

// artRuledAt asserts that the final ruling came with event idx (or artTail).
func artRuledAt(idx int) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range artBatch(t, res, idx) {
			if r, ok := c.Body.(*rules.Ruling); ok && r.Outcome.Final() {
				return
			}
		}
		t.Errorf("no final ruling with batch %d; rulings %s", idx, artDescribeRulings(res))
	}
}

// artEscalatedAt asserts that an escalation came with event idx (or artTail).
func artEscalatedAt(idx int) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range artBatch(t, res, idx) {
			if r, ok := c.Body.(*rules.Ruling); ok && r.Outcome == rules.Escalated {
				return
			}
		}
		t.Errorf("no escalation with batch %d; rulings %s", idx, artDescribeRulings(res))
	}
}

// artEscalated asserts an escalation with these articles and no final ruling.
func artEscalated(articles ...string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		artHasEscalation(articles...)(t, res)
		if r := artFinal(res); r != nil {
			t.Errorf("final ruling %s %q, want the dispute left with a person", r.Outcome, r.Articles)
		}
	}
}

// artHasEscalation asserts an escalation with these articles.
func artHasEscalation(articles ...string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, r := range artRulings(res) {
			if r.Outcome == rules.Escalated {
				if !slices.Equal(r.Articles, articles) {
					t.Errorf("escalated citing %q, want %q", r.Articles, articles)
				}
				return
			}
		}
		t.Errorf("no escalation; rulings %s", artDescribeRulings(res))
	}
}

// artNoRuling asserts that nothing was ruled or escalated.
func artNoRuling() artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		if rs := artRulings(res); len(rs) > 0 {
			t.Errorf("want no ruling, got %s", artDescribeRulings(res))
		}
	}
}

// artRejected asserts that event idx was rejected citing these articles.
func artRejected(idx int, articles ...string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range artBatch(t, res, idx) {
			if rj, ok := c.Body.(*rules.Rejection); ok && rj.EventID == res.events[idx].ID {
				if !slices.Equal(rj.Articles, articles) {
					t.Errorf("rejection of %s cites %q (%s), want %q", rj.EventID, rj.Articles, rj.Reason, articles)
				}
				if rj.Reason == "" || rj.EventType != res.events[idx].Type || rj.OrderID != artOrder {
					t.Errorf("rejection %+v: want a reason, the event's type and order", *rj)
				}
				return
			}
		}
		t.Errorf("event %d (%s) was not rejected; its commands: %s", idx, res.events[idx].Type, artDescribe(artBatch(t, res, idx)))
	}
}

// artNoRejection asserts that no event was rejected.
func artNoRejection() artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range res.all {
			if rj, ok := c.Body.(*rules.Rejection); ok {
				t.Errorf("event %s (%s) rejected: %s %q", rj.EventID, rj.EventType, rj.Reason, rj.Articles)
			}
		}
	}
}

// artSilent asserts that event idx produced no command.
func artSilent(idx int) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		if b := artBatch(t, res, idx); len(b) > 0 {
			t.Errorf("batch %d: want no command, got %s", idx, artDescribe(b))
		}
	}
}

// artNotice asserts the first notice of kind: its party, its due time (after
// artT0; -1 for none) and its articles.
func artNotice(kind string, party rules.Party, due time.Duration, articles ...string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range res.all {
			n, ok := c.Body.(*rules.Notice)
			if !ok || n.Kind != kind {
				continue
			}
			if n.Party != party || !slices.Equal(n.Articles, articles) {
				t.Errorf("notice %s to %q citing %q, want to %q citing %q", kind, n.Party, n.Articles, party, articles)
			}
			switch {
			case due < 0 && n.Due != nil:
				t.Errorf("notice %s due %v, want none", kind, n.Due)
			case due >= 0 && (n.Due == nil || !n.Due.Equal(artT0.Add(due))):
				t.Errorf("notice %s due %v, want %v", kind, n.Due, artT0.Add(due))
			}
			if n.OrderID != artOrder || n.Message == "" {
				t.Errorf("notice %+v: want the order and a message", *n)
			}
			return
		}
		t.Errorf("no %s notice; commands %s", kind, artDescribe(res.all))
	}
}

// artNoticeIn asserts that batch idx holds a notice of kind.
func artNoticeIn(idx int, kind string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range artBatch(t, res, idx) {
			if n, ok := c.Body.(*rules.Notice); ok && n.Kind == kind {
				return
			}
		}
		t.Errorf("batch %d has no %s notice: %s", idx, kind, artDescribe(artBatch(t, res, idx)))
	}
}

// artNoNotice asserts that no notice of kind was sent.
func artNoNotice(kind string) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		for _, c := range res.all {
			if n, ok := c.Body.(*rules.Notice); ok && n.Kind == kind {
				t.Errorf("unexpected %s notice citing %q", kind, n.Articles)
			}
		}
	}
}

// artCount asserts how many notices of kind were sent.
func artCount(kind string, want int) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		n := 0
		for _, c := range res.all {
			if x, ok := c.Body.(*rules.Notice); ok && x.Kind == kind {
				n++
			}
		}
		if n != want {
			t.Errorf("%d %s notices, want %d", n, kind, want)
		}
	}
}

// artStatus asserts where the order stands at the end.
func artStatus(want rules.Status) artCheck {
	return func(t *testing.T, res *artResult) {
		t.Helper()
		if res.state.Status != want {
			t.Errorf("status %q, want %q", res.state.Status, want)
		}
	}
}

func artDescribe(cmds []rules.Command) string {
	var b strings.Builder
	b.WriteString("[")
	for i, c := range cmds {
		if i > 0 {
			b.WriteString("; ")
		}
		switch x := c.Body.(type) {
		case *rules.Ruling:
			fmt.Fprintf(&b, "ruling %s %d/%d %q", x.Outcome, x.RefundAmount, x.ProviderAmount, x.Articles)
		case *rules.Transfer:
			fmt.Fprintf(&b, "transfer %s %d", x.To, x.Amount)
		case *rules.Notice:
			fmt.Fprintf(&b, "notice %s %s %q", x.Kind, x.Party, x.Articles)
		case *rules.Rejection:
			fmt.Fprintf(&b, "rejected %s %q %q", x.EventID, x.Reason, x.Articles)
		}
	}
	b.WriteString("]")
	return b.String()
}

func artDescribeRulings(res *artResult) string {
	var rs []rules.Command
	for _, c := range res.all {
		if _, ok := c.Body.(*rules.Ruling); ok {
			rs = append(rs, c)
		}
	}
	return artDescribe(rs)
}

// ---- Chapter I ----

// c1.s1.a4: the platform's reviewer concludes a dispute (review.decided).
func TestC1S1A4(t *testing.T) {
	referenceOnly := artDispute(rules.SoftwareApp, rules.ReasonNotDelivered, artEvidence(3*artH, rules.Provider, rules.Reference))
	artRunCases(t, []artCase{
		{
			name:   "escalated after reference vouchers, reviewer splits",
			events: artSeq(referenceOnly, artReview(80*artH, 3000, rules.C2A9)),
			checks: []artCheck{
				artHasEscalation(rules.C1S4A2, rules.C1S4A3, rules.C1S2ReferenceVoucher),
				artRuled(rules.RefundPartial, 3000, 7000, rules.C1S1A4, rules.C2A9),
				artRuledAt(4),
			},
		},
		{
			name:   "under review, reviewer releases",
			events: artDispute(rules.OtherCategory, rules.ReasonNotAsDescribed, artReview(10*artH, 0, rules.C1S4A4)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S1A4, rules.C1S4A4), artRuledAt(3)},
		},
		{
			name:   "under review, reviewer refunds all without citations",
			events: artDispute(rules.Training, rules.ReasonQuality, artReview(10*artH, artAmount)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S1A4)},
		},
		{
			name:   "reviewer citing c1.s1.a4 again is cited once",
			events: artDispute(rules.Training, rules.ReasonQuality, artReview(10*artH, 2500, rules.C1S1A4, rules.C2A3)),
			checks: []artCheck{artRuled(rules.RefundPartial, 2500, 7500, rules.C1S1A4, rules.C2A3)},
		},
		{
			name: "escalated image design ended by the customer, reviewer decides",
			events: []artEv{
				artPaid(rules.ImageDesign),
				artTerminate(1*artH, rules.Customer, "", false),
				artRefund(2*artH, rules.ReasonCustomerReasons),
				artIntervene(3*artH, rules.Customer),
				artReview(5*artH, 5000, rules.C3S4A4),
			},
			checks: []artCheck{
				artHasEscalation(rules.C3S4A4),
				artRuled(rules.RefundPartial, 5000, 5000, rules.C1S1A4, rules.C3S4A4),
			},
		},
		{
			name:   "within a partial request",
			events: []artEv{artPaid(rules.Video), artRefundOf(1*artH, rules.ReasonQuality, 4000), artIntervene(2*artH, rules.Provider), artReview(3*artH, 4000)},
			checks: []artCheck{artRuled(rules.RefundPartial, 4000, 6000, rules.C1S1A4)},
		},
		{
			name:   "above the requested refund is rejected",
			events: []artEv{artPaid(rules.Video), artRefundOf(1*artH, rules.ReasonQuality, 4000), artIntervene(2*artH, rules.Customer), artReview(3*artH, 5000)},
			checks: []artCheck{artRejected(3, rules.C1S1A4, rules.C1S3A2), artNoRuling(), artStatus(rules.StatusUnderReview)},
		},
		{
			name:   "while negotiating is rejected",
			events: []artEv{artPaid(rules.Video), artRefund(1*artH, rules.ReasonQuality), artReview(3*artH, 0)},
			checks: []artCheck{artRejected(2, rules.C1S1A4), artNoRuling()},
		},
		{
			name:   "without a dispute is rejected",
			events: []artEv{artPaid(rules.Video), artReview(3*artH, 0)},
			checks: []artCheck{artRejected(1, rules.C1S1A4), artNoRuling()},
		},
		{
			name:   "while suspended is rejected",
			events: artDispute(rules.Video, rules.ReasonQuality, artJudicial(3*artH, rules.Provider), artReview(4*artH, 0)),
			checks: []artCheck{artRejected(4, rules.C1S5I2), artNoRuling()},
		},
		{
			name:   "after the final ruling is rejected",
			events: artDispute(rules.Video, rules.ReasonQuality, artReview(4*artH, 0), artReview(5*artH, artAmount)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S1A4), artRejected(4, rules.C1S6A2)},
		},
	})
}

// c1.s2 service cost: counted at most up to the order amount.
func TestC1S2ServiceCost(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "cost above the amount counts as the amount",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, 15000, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A8, rules.C1S2ServiceCost)},
		},
		{
			name:   "cost equal to the amount is not capped",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, artAmount, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A8)},
		},
		{
			name:   "cost below the amount",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, 2500, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 7500, 2500, rules.C1S4A2, rules.C1S4A3, rules.C2A8)},
		},
		{
			name:   "huge cost on an overdue modification",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "logo", true, 0), artAssess(2*artH, 0, 1<<62, 0)},
			until:  73 * artH,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A5, rules.C2A8, rules.C1S2ServiceCost)},
		},
	})
}

// c1.s2 reference vouchers: screenshots and the like are not enough for a
// formal examination.
func TestC1S2ReferenceVouchers(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "provider's reference vouchers only",
			events: artDispute(rules.SoftwareApp, rules.ReasonNotDelivered, artEvidence(3*artH, rules.Provider, rules.Reference)),
			until:  artEvidenceDue,
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A3, rules.C1S2ReferenceVoucher), artEscalatedAt(artTail), artStatus(rules.StatusEscalated)},
		},
		{
			name:   "customer's reference vouchers only",
			events: artDispute(rules.OtherCategory, rules.ReasonNotAsDescribed, artEvidence(3*artH, rules.Customer, rules.Reference)),
			until:  artEvidenceDue,
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A4, rules.C1S2ReferenceVoucher)},
		},
		{
			name: "reference between the request and the intervention counts",
			events: []artEv{
				artPaid(rules.Training), artRefund(1*artH, rules.ReasonNotDelivered),
				artEvidence(90*time.Minute, rules.Provider, rules.Reference), artIntervene(2*artH, rules.Customer),
			},
			until:  artEvidenceDue,
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A3, rules.C1S2ReferenceVoucher)},
		},
		{
			name: "reference before the refund request does not count",
			events: []artEv{
				artPaid(rules.Training), artEvidence(30*time.Minute, rules.Provider, rules.Reference),
				artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer),
			},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "the other party's reference does not count",
			events: artDispute(rules.Training, rules.ReasonNotDelivered, artEvidence(3*artH, rules.Customer, rules.Reference)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name: "valid evidence after reference decides",
			events: artDispute(rules.Training, rules.ReasonNotDelivered,
				artEvidence(3*artH, rules.Provider, rules.Reference), artEvidence(4*artH, rules.Provider, rules.Valid)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3), artRuledAt(4)},
		},
		{
			name:   "nothing before the deadline",
			events: artDispute(rules.Training, rules.ReasonNotDelivered, artEvidence(3*artH, rules.Provider, rules.Reference)),
			until:  artEvidenceDue - time.Second,
			checks: []artCheck{artNoRuling(), artStatus(rules.StatusUnderReview)},
		},
		{
			name: "late valid evidence on an escalated dispute decides nothing",
			events: artDispute(rules.Training, rules.ReasonNotDelivered,
				artEvidence(3*artH, rules.Provider, rules.Reference), artChat(79*artH, rules.Customer), artEvidence(80*artH, rules.Provider, rules.Valid)),
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A3, rules.C1S2ReferenceVoucher), artEscalatedAt(4), artSilent(5)},
		},
	})
}

// c1.s3.a1: a refund request opens a negotiation; either party may ask the
// platform to intervene.
func TestC1S3A1(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "second refund request while one is open",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artRefund(2*artH, rules.ReasonNotDelivered)},
			checks: []artCheck{artRejected(2, rules.C1S3A1), artStatus(rules.StatusNegotiating)},
		},
		{
			name:   "second refund request under review",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artRefund(3*artH, rules.ReasonQuality)),
			checks: []artCheck{artRejected(3, rules.C1S3A1)},
		},
		{
			name:   "intervention without a refund request",
			events: []artEv{artPaid(rules.OtherCategory), artIntervene(1*artH, rules.Customer)},
			checks: []artCheck{artRejected(1, rules.C1S3A1), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "second intervention",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artIntervene(3*artH, rules.Provider)),
			checks: []artCheck{artRejected(3, rules.C1S3A1), artCount(rules.NoticeEvidenceRequested, 1)},
		},
		{
			name: "intervention on an escalated dispute",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality,
				artEvidence(3*artH, rules.Customer, rules.Reference), artIntervene(80*artH, rules.Provider)),
			checks: []artCheck{artRejected(4, rules.C1S3A1), artStatus(rules.StatusEscalated)},
		},
		{
			name:   "withdrawal without a request",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeRefundWithdrawn)},
			checks: []artCheck{artRejected(1, rules.C1S3A1)},
		},
		{
			name:   "settlement without a dispute",
			events: []artEv{artPaid(rules.OtherCategory), artSettle(1*artH, 100)},
			checks: []artCheck{artRejected(1, rules.C1S3A1), artNoRuling()},
		},
		{
			name:   "negotiation without a dispute",
			events: []artEv{artPaid(rules.OtherCategory), artNegotiate(1*artH, rules.Customer)},
			checks: []artCheck{artRejected(1, rules.C1S3A1)},
		},
		{
			name:   "negotiating: valid evidence decides nothing",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonNotDelivered), artEvidence(2*artH, rules.Provider, rules.Valid)},
			until:  500 * artH,
			checks: []artCheck{artNoRuling(), artSilent(2), artSilent(artTail), artStatus(rules.StatusNegotiating)},
		},
		{
			name: "negotiating: the record decides nothing",
			events: []artEv{
				artPaid(rules.SoftwareApp), artTerminate(1*artH, rules.Provider, "", false),
				artRefund(2*artH, rules.ReasonProviderTerminated), artChat(3*artH, rules.Customer),
			},
			until:  500 * artH,
			checks: []artCheck{artNoRuling(), artStatus(rules.StatusNegotiating)},
		},
		{
			name:   "the intervention decides on evidence already given",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonNotDelivered), artEvidence(2*artH, rules.Provider, rules.Valid), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name: "withdrawal stops the evidence deadline and allows a new request",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered,
				artOn(3*artH, rules.TypeRefundWithdrawn), artRefund(100*artH, rules.ReasonQuality)),
			until:  150 * artH,
			checks: []artCheck{artNoRejection(), artNoRuling(), artStatus(rules.StatusNegotiating)},
		},
		{
			name:   "the provider may ask for intervention",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Provider)},
			checks: []artCheck{artNoRejection(), artStatus(rules.StatusUnderReview), artNoticeIn(2, rules.NoticeEvidenceRequested)},
		},
	})
}

// c1.s3.a2: a refund can be asked only before acceptance, and never for more
// than the order.
func TestC1S3A2(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "refund after acceptance",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeOrderAccepted), artRefund(2*artH, rules.ReasonQuality)},
			checks: []artCheck{artRejected(2, rules.C1S3A2), artStatus(rules.StatusAccepted)},
		},
		{
			name:   "acceptance twice",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeOrderAccepted), artOn(2*artH, rules.TypeOrderAccepted)},
			checks: []artCheck{artRejected(2, rules.C1S3A2)},
		},
		{
			name:   "acceptance while a refund is open",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artOn(2*artH, rules.TypeOrderAccepted)},
			checks: []artCheck{artRejected(2, rules.C1S3A2), artStatus(rules.StatusNegotiating)},
		},
		{
			name:   "termination after acceptance",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeOrderAccepted), artTerminate(2*artH, rules.Provider, "", false)},
			checks: []artCheck{artRejected(2, rules.C1S3A2)},
		},
		{
			name:   "modification request after acceptance",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeOrderAccepted), artModRequest(2*artH, "i1", true, 0)},
			checks: []artCheck{artRejected(2, rules.C1S3A2)},
		},
		{
			name:   "acceptance disarms the delivery deadline",
			events: []artEv{artPaid(rules.OtherCategory, artDeliveryDue(48*artH)), artOn(1*artH, rules.TypeOrderAccepted)},
			until:  100 * artH,
			checks: []artCheck{artSilent(artTail), artNoNotice(rules.NoticeDeadlineMissed)},
		},
		{
			name:   "acceptance disarms the modification deadline",
			events: []artEv{artPaid(rules.OtherCategory), artModRequest(1*artH, "i1", true, 0), artOn(2*artH, rules.TypeOrderAccepted)},
			until:  200 * artH,
			checks: []artCheck{artNoRuling(), artStatus(rules.StatusAccepted)},
		},
		{
			name:   "acceptance after a withdrawal, then no refund",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artOn(2*artH, rules.TypeRefundWithdrawn), artOn(3*artH, rules.TypeOrderAccepted), artRefund(4*artH, rules.ReasonQuality)},
			checks: []artCheck{artSilent(3), artRejected(4, rules.C1S3A2)},
		},
		{
			name:   "request above the order amount",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonQuality, artAmount+500)},
			checks: []artCheck{artRejected(1, rules.C1S3A2), artStatus(rules.StatusPaid)},
		},
		{
			name:   "request of the whole amount",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonNotDelivered, artAmount), artIntervene(2*artH, rules.Customer)},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "refund capped at the requested amount",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonNotDelivered, 4000), artIntervene(2*artH, rules.Customer)},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 4000, 6000, rules.C1S4A2, rules.C1S4A3, rules.C1S3A2)},
		},
		{
			name:   "assessed split capped at the requested amount",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonNotDelivered, 4000), artIntervene(2*artH, rules.Customer), artAssess(3*artH, 5000, 0, 0)},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 4000, 6000, rules.C1S4A2, rules.C1S4A3, rules.C2A9, rules.C1S3A2)},
		},
		{
			name:   "assessed split below the request is not capped",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonNotDelivered, 4000), artIntervene(2*artH, rules.Customer), artAssess(3*artH, 7000, 0, 0)},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 3000, 7000, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
	})
}

// c1.s4.a1: on intervention the platform asks the burdened party for evidence.
func TestC1S4A1(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "provider bears the burden of delivery",
			events: artDispute(rules.SoftwareApp, rules.ReasonNotDelivered),
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Provider, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A3), artNoticeIn(2, rules.NoticeEvidenceRequested), artNoRuling()},
		},
		{
			name:   "customer bears the burden of quality",
			events: artDispute(rules.SoftwareApp, rules.ReasonQuality),
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Customer, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "intervention asked by the provider",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonEffectMismatch), artIntervene(2*artH, rules.Provider)},
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Customer, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "configured evidence window",
			policy: func(p *rules.Policy) { p.EvidenceWindow = 24 * artH },
			events: artDispute(rules.Training, rules.ReasonModificationFailed),
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Provider, 26*artH, rules.C1S4A1, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "no request when the record decides",
			events: artDispute(rules.Training, rules.ReasonIllegalService),
			checks: []artCheck{artNoNotice(rules.NoticeEvidenceRequested), artRuledAt(2)},
		},
		{
			name:   "no request when the evidence already decides",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artEvidence(90*time.Minute, rules.Customer, rules.Valid), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artNoNotice(rules.NoticeEvidenceRequested), artRuledAt(3)},
		},
	})
}

// c1.s4.a2: a party that gives no voucher by the deadline is decided against
// on what was collected.
func TestC1S4A2(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "provider silent",
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3), artRuledAt(artTail)},
		},
		{
			name:   "customer silent",
			events: artDispute(rules.OperationalService, rules.ReasonNotAsDescribed),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "a chat message meets no burden",
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered, artChat(3*artH, rules.Provider)),
			until:  artEvidenceDue,
			checks: []artCheck{artSilent(3), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "the other party's valid evidence meets no burden",
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered, artEvidence(3*artH, rules.Customer, rules.Valid)),
			until:  artEvidenceDue,
			checks: []artCheck{artSilent(3), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "platform's evidence meets no burden",
			events: artDispute(rules.OperationalService, rules.ReasonQuality, artEvidence(3*artH, rules.Platform, rules.Valid)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "nothing a second before the deadline",
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered),
			until:  artEvidenceDue - time.Second,
			checks: []artCheck{artNoRuling(), artStatus(rules.StatusUnderReview)},
		},
		{
			name:   "evidence at the deadline is late",
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered, artEvidence(artEvidenceDue, rules.Provider, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3), artRuledAt(3), artRejected(3, rules.C1S6A2)},
		},
		{
			name:   "configured window",
			policy: func(p *rules.Policy) { p.EvidenceWindow = 24 * artH },
			events: artDispute(rules.OperationalService, rules.ReasonNotDelivered),
			until:  26 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
	})
}

// c1.s4.a3: the provider proves delivery and performance.
func TestC1S4A3(t *testing.T) {
	var cases []artCase
	for _, r := range []rules.Reason{rules.ReasonNotDelivered, rules.ReasonProviderTerminated, rules.ReasonModificationOverdue, rules.ReasonModificationFailed} {
		cases = append(cases,
			artCase{
				name:   string(r) + ": proved",
				events: artDispute(rules.OtherCategory, r, artEvidence(3*artH, rules.Provider, rules.Valid)),
				until:  artEvidenceDue,
				checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3), artRuledAt(3)},
			},
			artCase{
				name:   string(r) + ": not proved",
				events: artDispute(rules.OtherCategory, r),
				until:  artEvidenceDue,
				checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Provider, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A3), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
			})
	}
	cases = append(cases,
		artCase{
			name:   "evidence before the refund request does not count",
			events: []artEv{artPaid(rules.OtherCategory), artEvidence(30*time.Minute, rules.Provider, rules.Valid), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer)},
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		artCase{
			name:   "evidence of an earlier withdrawn request does not count",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonNotDelivered), artEvidence(2*artH, rules.Provider, rules.Valid), artOn(3*artH, rules.TypeRefundWithdrawn), artRefund(4*artH, rules.ReasonNotDelivered), artIntervene(5*artH, rules.Customer)},
			until:  77 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		artCase{
			name:   "not proved, assessment splits",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 4000, 0, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 6000, 4000, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		artCase{
			name:   "proved, assessment ignored",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 4000, 0, 0), artEvidence(4*artH, rules.Provider, rules.Valid)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3)},
		},
	)
	artRunCases(t, cases)
}

// c1.s4.a4: the customer proves a misdescription, a quality or effect problem.
func TestC1S4A4(t *testing.T) {
	proved := func(cat rules.Category, r rules.Reason) []artEv {
		return artDispute(cat, r, artEvidence(3*artH, rules.Customer, rules.Valid))
	}
	artRunCases(t, []artCase{
		{
			name:   "not_as_described, software",
			events: proved(rules.SoftwareApp, rules.ReasonNotAsDescribed),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S1A1), artRuledAt(3)},
		},
		{
			// Engine reading: no category article exists for "other", and the
			// engine cites the truthful-description article c2.a2.
			name:   "not_as_described, other category",
			events: proved(rules.OtherCategory, rules.ReasonNotAsDescribed),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2)},
		},
		{
			name:   "misleading, training",
			events: proved(rules.Training, rules.ReasonMisleading),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S3A1)},
		},
		{
			name:   "promised_effect, image design",
			events: proved(rules.ImageDesign, rules.ReasonPromisedEffect),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S4A1)},
		},
		{
			// Engine reading: quality and effect claims cite c2.a3 (quality
			// per the agreement), not the category's misdescription article.
			name:   "quality",
			events: proved(rules.Video, rules.ReasonQuality),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "effect_mismatch",
			events: proved(rules.OperationalService, rules.ReasonEffectMismatch),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "conflicting_descriptions",
			events: proved(rules.SoftwareApp, rules.ReasonConflictingDescriptions),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2)},
		},
		{
			// Engine reading: a customer who proves its own reasons is not
			// refunded by the text; a reviewer decides.
			name:   "customer_reasons, software, proved",
			events: proved(rules.SoftwareApp, rules.ReasonCustomerReasons),
			checks: []artCheck{artEscalated(rules.C1S4A4), artStatus(rules.StatusEscalated)},
		},
		{
			name:   "customer_reasons, software, not proved",
			events: artDispute(rules.SoftwareApp, rules.ReasonCustomerReasons),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "not proved",
			events: artDispute(rules.ImageDesign, rules.ReasonMisleading),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "provider's evidence does not answer the customer's burden",
			events: artDispute(rules.ImageDesign, rules.ReasonMisleading, artEvidence(3*artH, rules.Provider, rules.Valid)),
			until:  artEvidenceDue,
			checks: []artCheck{artSilent(3), artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "assessment does not reduce a proved misdescription",
			events: artDispute(rules.Video, rules.ReasonNotAsDescribed, artAssess(3*artH, 6000, 0, 0), artEvidence(4*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S5A1)},
		},
	})
}

// c1.s5 item 1: both parties ask to settle it themselves: handling is
// suspended.
func TestC1S5I1(t *testing.T) {
	both := func(at time.Duration) []artEv {
		return []artEv{artNegotiate(at, rules.Customer), artNegotiate(at+artH, rules.Provider)}
	}
	artRunCases(t, []artCase{
		{
			name:   "both parties ask while negotiating",
			events: artSeq(artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), both(2*artH)),
			checks: []artCheck{artSilent(2), artNotice(rules.NoticeSuspended, "", -1, rules.C1S5I1), artNoticeIn(3, rules.NoticeSuspended), artStatus(rules.StatusSuspended)},
		},
		{
			name:   "both parties ask under review",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonQuality), both(3*artH)),
			checks: []artCheck{artNotice(rules.NoticeSuspended, "", -1, rules.C1S5I1), artStatus(rules.StatusSuspended)},
		},
		{
			name:   "one party alone does not suspend",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artNegotiate(3*artH, rules.Customer)),
			until:  artEvidenceDue,
			checks: []artCheck{artSilent(3), artNoNotice(rules.NoticeSuspended), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "asking twice does not suspend twice",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonQuality), both(3*artH), artNegotiate(5*artH, rules.Customer)),
			checks: []artCheck{artSilent(5), artCount(rules.NoticeSuspended, 1)},
		},
		{
			name:   "the platform cannot ask",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artNegotiate(2*artH, rules.Platform)},
			checks: []artCheck{artRejected(2, rules.C1S5I1)},
		},
		{
			name:   "no open dispute",
			events: []artEv{artPaid(rules.OtherCategory), artNegotiate(1*artH, rules.Customer)},
			checks: []artCheck{artRejected(1, rules.C1S3A1)},
		},
		{
			name: "asks made before the intervention are remembered",
			events: []artEv{
				artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artNegotiate(90*time.Minute, rules.Customer),
				artIntervene(2*artH, rules.Customer), artNegotiate(3*artH, rules.Provider),
			},
			checks: []artCheck{artNoticeIn(4, rules.NoticeSuspended), artStatus(rules.StatusSuspended)},
		},
		{
			name: "a withdrawal forgets the asks",
			events: []artEv{
				artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artNegotiate(2*artH, rules.Customer),
				artOn(3*artH, rules.TypeRefundWithdrawn), artRefund(4*artH, rules.ReasonQuality), artNegotiate(5*artH, rules.Provider),
			},
			checks: []artCheck{artSilent(5), artNoNotice(rules.NoticeSuspended)},
		},
		{
			name:   "lifting forgets the asks",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonQuality), both(3*artH), artOn(5*artH, rules.TypeSuspensionLifted), artNegotiate(6*artH, rules.Customer)),
			checks: []artCheck{artSilent(6), artCount(rules.NoticeSuspended, 1), artStatus(rules.StatusUnderReview)},
		},
		{
			name:   "evidence deadline paused: not yet",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonNotDelivered), both(25*artH), artOn(100*artH, rules.TypeSuspensionLifted)),
			// Intervention at 2h, due 74h; suspended at 26h with 48h left;
			// resumed at 100h, due 148h.
			until:  148*artH - time.Second,
			checks: []artCheck{artNotice(rules.NoticeResumed, "", 148*artH, rules.C1S5I1), artNoRuling()},
		},
		{
			name:   "evidence deadline paused: due with the time left",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonNotDelivered), both(25*artH), artOn(100*artH, rules.TypeSuspensionLifted)),
			until:  148 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3), artRuledAt(artTail)},
		},
		{
			name:   "no deadline fires while suspended",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonNotDelivered), both(25*artH)),
			until:  1000 * artH,
			checks: []artCheck{artNoRuling(), artSilent(artTail), artStatus(rules.StatusSuspended)},
		},
		{
			name:   "no ruling while suspended; the evidence decides on the lift",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonNotDelivered), both(3*artH), artEvidence(6*artH, rules.Provider, rules.Valid), artOn(7*artH, rules.TypeSuspensionLifted)),
			checks: []artCheck{artSilent(5), artRuled(rules.Release, 0, artAmount, rules.C1S4A3), artRuledAt(6), artNoticeIn(6, rules.NoticeResumed)},
		},
		{
			// A reviewer's handling is the platform's handling too.
			name: "an escalated dispute is suspended and resumes escalated",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality,
				artEvidence(3*artH, rules.Customer, rules.Reference), artNegotiate(80*artH, rules.Customer), artNegotiate(81*artH, rules.Provider), artOn(82*artH, rules.TypeSuspensionLifted)),
			checks: []artCheck{artNoticeIn(5, rules.NoticeSuspended), artNotice(rules.NoticeSuspended, "", -1, rules.C1S5I1), artNoticeIn(6, rules.NoticeResumed), artStatus(rules.StatusEscalated)},
		},
		{
			name:   "intervention while suspended",
			events: artSeq(artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), both(2*artH), artIntervene(4*artH, rules.Customer)),
			checks: []artCheck{artRejected(4, rules.C1S5I1)},
		},
		{
			name:   "a settlement closes a suspended dispute",
			events: artSeq(artDispute(rules.OtherCategory, rules.ReasonQuality), both(3*artH), artSettle(6*artH, 1234)),
			checks: []artCheck{artRuled(rules.Settled, 1234, artAmount-1234, rules.C1S6A1)},
		},
	})
}

// c1.s5 item 2: a party went to a court or the police: handling is suspended.
func TestC1S5I2(t *testing.T) {
	modStory := []artEv{
		artPaid(rules.OtherCategory), artModRequest(1*artH, "i1", true, 0), artRefund(2*artH, rules.ReasonModificationOverdue),
		artJudicial(13*artH, rules.Customer), artOn(50*artH, rules.TypeSuspensionLifted),
	}
	deliveryStory := []artEv{
		artPaid(rules.OtherCategory, artDeliveryDue(48*artH)), artRefund(1*artH, rules.ReasonQuality),
		artJudicial(24*artH, rules.Provider), artOn(100*artH, rules.TypeSuspensionLifted),
	}
	artRunCases(t, []artCase{
		{
			name:   "customer files while negotiating",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonQuality), artJudicial(2*artH, rules.Customer)},
			checks: []artCheck{artNotice(rules.NoticeSuspended, "", -1, rules.C1S5I2), artNoticeIn(2, rules.NoticeSuspended), artStatus(rules.StatusSuspended)},
		},
		{
			name:   "provider files under review",
			events: artDispute(rules.Training, rules.ReasonQuality, artJudicial(3*artH, rules.Provider)),
			until:  500 * artH,
			checks: []artCheck{artNotice(rules.NoticeSuspended, "", -1, rules.C1S5I2), artNoRuling()},
		},
		{
			name:   "no open dispute",
			events: []artEv{artPaid(rules.Training), artJudicial(1*artH, rules.Customer)},
			checks: []artCheck{artRejected(1, rules.C1S5I2)},
		},
		{
			name:   "lift when not suspended",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonQuality), artOn(2*artH, rules.TypeSuspensionLifted)},
			checks: []artCheck{artRejected(2, rules.C1S5I1, rules.C1S5I2)},
		},
		{
			name:   "resumed",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonQuality), artJudicial(2*artH, rules.Customer), artOn(3*artH, rules.TypeSuspensionLifted)},
			checks: []artCheck{artNotice(rules.NoticeResumed, "", -1, rules.C1S5I2), artStatus(rules.StatusNegotiating)},
		},
		{
			name: "filed while suspended by both parties: both cited on the lift",
			events: []artEv{
				artPaid(rules.Training), artRefund(1*artH, rules.ReasonQuality), artNegotiate(2*artH, rules.Customer), artNegotiate(3*artH, rules.Provider),
				artJudicial(4*artH, rules.Customer), artOn(5*artH, rules.TypeSuspensionLifted),
			},
			checks: []artCheck{artSilent(4), artCount(rules.NoticeSuspended, 1), artNotice(rules.NoticeResumed, "", -1, rules.C1S5I1, rules.C1S5I2)},
		},
		{
			name:   "review while suspended",
			events: artDispute(rules.Training, rules.ReasonQuality, artJudicial(3*artH, rules.Customer), artReview(4*artH, 0)),
			checks: []artCheck{artRejected(4, rules.C1S5I2)},
		},
		{
			name:   "modification deadline paused: not yet",
			events: modStory,
			// Due 73h; paused at 13h with 60h left; resumed at 50h: due 110h.
			until:  110*artH - time.Second,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "modification deadline paused: due with the time left",
			events: modStory,
			until:  110 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(artTail)},
		},
		{
			name:   "delivery deadline paused: not yet",
			events: deliveryStory,
			// Due 48h; paused at 24h with 24h left; resumed at 100h: due 124h.
			until:  124*artH - time.Second,
			checks: []artCheck{artNoNotice(rules.NoticeDeadlineMissed)},
		},
		{
			name:   "delivery deadline paused: due with the time left",
			events: deliveryStory,
			until:  124 * artH,
			checks: []artCheck{artNotice(rules.NoticeDeadlineMissed, rules.Customer, 48*artH, rules.C2A4), artNoticeIn(artTail, rules.NoticeDeadlineMissed), artNoRuling()},
		},
		{
			// rules.md: suspension applies to negotiating or under-review
			// disputes; an escalated one is with a person, who may rule.
			name: "an escalated dispute is suspended: no review until lifted",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality,
				artEvidence(3*artH, rules.Customer, rules.Reference), artChat(79*artH, rules.Provider), artJudicial(80*artH, rules.Customer), artReview(81*artH, 0)),
			checks: []artCheck{artEscalatedAt(4), artNoticeIn(5, rules.NoticeSuspended), artRejected(6, rules.C1S5I2), artStatus(rules.StatusSuspended)},
		},
		{
			name: "a deadline armed while suspended starts paused",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered,
				artJudicial(3*artH, rules.Customer), artCoop(4*artH, 10*artH, true), artOn(20*artH, rules.TypeSuspensionLifted)),
			// 6h left when armed; resumed at 20h: due 26h.
			until:  26 * artH,
			checks: []artCheck{artNotice(rules.NoticeResumed, "", artEvidenceDue+17*artH, rules.C1S5I2), artRuled(rules.Release, 0, artAmount, rules.C2A7), artRuledAt(artTail)},
		},
		{
			name: "a withdrawal while suspended resumes the other deadlines",
			events: []artEv{
				artPaid(rules.OtherCategory), artModRequest(1*artH, "i1", true, 0), artRefund(2*artH, rules.ReasonQuality),
				artJudicial(3*artH, rules.Customer), artOn(50*artH, rules.TypeRefundWithdrawn),
			},
			// Due 73h; paused at 3h with 70h left; resumed at 50h: due 120h.
			until:  120 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(artTail), artStatus(rules.StatusRuled)},
		},
		{
			name: "a modification refused while suspended is ruled on the lift",
			events: []artEv{
				artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artJudicial(2*artH, rules.Customer),
				artModRequest(3*artH, "i1", true, 0), artMod(4*artH, rules.TypeModificationRefused, "i1"), artOn(5*artH, rules.TypeSuspensionLifted),
			},
			checks: []artCheck{artSilent(4), artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(5)},
		},
	})
}

// c1.s6.a1: the parties' own agreement decides the refund.
func TestC1S6A1(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "while negotiating",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artSettle(2*artH, 3000)},
			checks: []artCheck{artRuled(rules.Settled, 3000, 7000, rules.C1S6A1), artRuledAt(2), artStatus(rules.StatusRuled)},
		},
		{
			name:   "under review",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artSettle(3*artH, 6000)),
			until:  500 * artH,
			checks: []artCheck{artRuled(rules.Settled, 6000, 4000, rules.C1S6A1)},
		},
		{
			name:   "escalated",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artEvidence(3*artH, rules.Customer, rules.Reference), artSettle(80*artH, 5000)),
			checks: []artCheck{artHasEscalation(rules.C1S4A2, rules.C1S4A4, rules.C1S2ReferenceVoucher), artRuled(rules.Settled, 5000, 5000, rules.C1S6A1)},
		},
		{
			name:   "suspended",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artJudicial(3*artH, rules.Customer), artSettle(4*artH, 1)),
			checks: []artCheck{artRuled(rules.Settled, 1, artAmount-1, rules.C1S6A1)},
		},
		{
			name:   "nothing refunded",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artSettle(2*artH, 0)},
			checks: []artCheck{artRuled(rules.Settled, 0, artAmount, rules.C1S6A1)},
		},
		{
			name:   "everything refunded",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artSettle(2*artH, artAmount)},
			checks: []artCheck{artRuled(rules.Settled, artAmount, 0, rules.C1S6A1)},
		},
		{
			name:   "more than the request is not capped",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonQuality, 4000), artSettle(2*artH, 8000)},
			checks: []artCheck{artRuled(rules.Settled, 8000, 2000, rules.C1S6A1)},
		},
		{
			name:   "an assessment does not change it",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 5000, 0, 0), artSettle(4*artH, 100)),
			checks: []artCheck{artRuled(rules.Settled, 100, artAmount-100, rules.C1S6A1)},
		},
		{
			name:   "more than the order amount",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonQuality), artSettle(2*artH, artAmount+1)},
			checks: []artCheck{artRejected(2, rules.C1S6A1), artNoRuling()},
		},
		{
			name:   "no open dispute",
			events: []artEv{artPaid(rules.OtherCategory), artSettle(2*artH, 0)},
			checks: []artCheck{artRejected(1, rules.C1S3A1), artNoRuling()},
		},
		{
			name:   "after acceptance",
			events: []artEv{artPaid(rules.OtherCategory), artOn(1*artH, rules.TypeOrderAccepted), artSettle(2*artH, 0)},
			checks: []artCheck{artRejected(2, rules.C1S3A2), artNoRuling()},
		},
	})
}

// c1.s6.a2: one final ruling per order; what follows it is rejected.
func TestC1S6A2(t *testing.T) {
	ruled := artDispute(rules.OtherCategory, rules.ReasonIllegalService) // ruled at index 2
	after := func(ev artEv) []artEv { return artSeq(ruled, ev) }
	var cases []artCase
	for _, x := range []struct {
		name string
		ev   artEv
	}{
		{"refund request", artRefund(3*artH, rules.ReasonQuality)},
		{"settlement", artSettle(3*artH, 0)},
		{"review", artReview(3*artH, 0)},
		{"evidence", artEvidence(3*artH, rules.Provider, rules.Valid)},
		{"chat message", artChat(3*artH, rules.Provider)},
		{"acceptance", artOn(3*artH, rules.TypeOrderAccepted)},
		{"withdrawal", artOn(3*artH, rules.TypeRefundWithdrawn)},
		{"judicial filing", artJudicial(3*artH, rules.Provider)},
		{"assessment", artAssess(3*artH, 5000, 0, 0)},
		{"termination", artTerminate(3*artH, rules.Provider, "", false)},
		{"delivery", artOn(3*artH, rules.TypeDeliverySubmitted)},
		{"modification request", artModRequest(3*artH, "i1", true, 0)},
	} {
		cases = append(cases, artCase{
			name:   x.name + " after the ruling",
			events: after(x.ev),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1), artRejected(3, rules.C1S6A2)},
		})
	}
	cases = append(cases,
		artCase{
			name:   "a repeated event has no effect",
			events: []artEv{artPaid(rules.OtherCategory), {at: 1 * artH, typ: rules.TypeRefundRequested, data: rules.Data{Reason: rules.ReasonQuality}, id: "dup"}, {at: 2 * artH, typ: rules.TypeRefundRequested, data: rules.Data{Reason: rules.ReasonQuality}, id: "dup"}},
			checks: []artCheck{artSilent(2), artNoRejection()},
		},
		artCase{
			name:   "a repeated event after the ruling has no effect",
			events: artSeq(artPaid(rules.OtherCategory), artEv{at: 1 * artH, typ: rules.TypeRefundRequested, data: rules.Data{Reason: rules.ReasonQuality}, id: "r"}, artSettle(2*artH, 0), artEv{at: 3 * artH, typ: rules.TypeRefundRequested, data: rules.Data{Reason: rules.ReasonQuality}, id: "r"}),
			checks: []artCheck{artSilent(3), artNoRejection()},
		},
		artCase{
			name:   "deadlines after the ruling are silent",
			events: []artEv{artPaid(rules.OtherCategory, artDeliveryDue(48*artH)), artModRequest(1*artH, "i1", true, 0), artRefund(2*artH, rules.ReasonNotDelivered), artIntervene(3*artH, rules.Customer), artSettle(4*artH, 500)},
			until:  1000 * artH,
			checks: []artCheck{artRuled(rules.Settled, 500, artAmount-500, rules.C1S6A1), artSilent(artTail)},
		},
		artCase{
			name:   "a modification ruling closes the order before any refund request",
			events: []artEv{artPaid(rules.OtherCategory), artModRequest(1*artH, "i1", true, 0), artMod(2*artH, rules.TypeModificationRefused, "i1"), artRefund(3*artH, rules.ReasonQuality)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRejected(3, rules.C1S6A2)},
		},
		artCase{
			name:   "a second order.paid is rejected without an article",
			events: []artEv{artPaid(rules.OtherCategory), artPaid(rules.Video)},
			checks: []artCheck{artRejected(1)},
		},
	)
	artRunCases(t, cases)
}

// ---- Chapter II ----

// c2.a1: an illegal service is refunded, on the record.
func TestC2A1(t *testing.T) {
	var cases []artCase
	for _, cat := range []rules.Category{rules.SoftwareApp, rules.OperationalService, rules.Training, rules.ImageDesign, rules.Video, rules.OtherCategory} {
		cases = append(cases, artCase{
			name:   string(cat),
			events: artDispute(cat, rules.ReasonIllegalService),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1), artRuledAt(2), artNoNotice(rules.NoticeEvidenceRequested)},
		})
	}
	cases = append(cases,
		artCase{
			name:   "an assessment does not reduce it",
			events: []artEv{artPaid(rules.Video), artRefund(1*artH, rules.ReasonIllegalService), artAssess(90*time.Minute, 5000, 0, 0), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1)},
		},
		artCase{
			name:   "a custom contract does not shelter it",
			events: []artEv{artPaid(rules.ImageDesign, artCustomContract), artRefund(1*artH, rules.ReasonIllegalService), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1)},
		},
		artCase{
			name:   "ahead of a customer fault on record",
			events: []artEv{artPaid(rules.OtherCategory), artCoop(1*artH, 5*artH, true), artRefund(6*artH, rules.ReasonIllegalService), artIntervene(7*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1)},
		},
		artCase{
			name:   "capped at the request",
			events: []artEv{artPaid(rules.OtherCategory), artRefundOf(1*artH, rules.ReasonIllegalService, 5000), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 5000, 5000, rules.C2A1, rules.C1S3A2)},
		},
		artCase{
			name:   "not before the intervention",
			events: []artEv{artPaid(rules.OtherCategory), artRefund(1*artH, rules.ReasonIllegalService)},
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
	)
	artRunCases(t, cases)
}

// c2.a2: descriptions are read in the customer's favour.
func TestC2A2(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "conflicting descriptions proved, software",
			events: artDispute(rules.SoftwareApp, rules.ReasonConflictingDescriptions, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2), artRuledAt(3)},
		},
		{
			name:   "conflicting descriptions proved, video",
			events: artDispute(rules.Video, rules.ReasonConflictingDescriptions, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2)},
		},
		{
			name:   "misleading, other category",
			events: artDispute(rules.OtherCategory, rules.ReasonMisleading, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2)},
		},
		{
			name:   "an assessment does not reduce it",
			events: artDispute(rules.Training, rules.ReasonConflictingDescriptions, artAssess(3*artH, 9000, 500, 0), artEvidence(4*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A2)},
		},
		{
			name:   "not proved",
			events: artDispute(rules.Training, rules.ReasonConflictingDescriptions),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "split rounding favours the customer",
			events: []artEv{artPaid(rules.OtherCategory, artAmountOf(999)), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer), artAssess(3*artH, 3333, 0, 0)},
			until:  artEvidenceDue,
			// floor(999 * 3333 / 10000) = floor(332.97) = 332.
			checks: []artCheck{artRuled(rules.RefundPartial, 667, 332, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
	})
}

// c2.a3: quality and effect as agreed.
func TestC2A3(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "quality proved, software",
			events: artDispute(rules.SoftwareApp, rules.ReasonQuality, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "quality proved, other category",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "effect mismatch proved, operational",
			events: artDispute(rules.OperationalService, rules.ReasonEffectMismatch, artEvidence(3*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "an assessment does not reduce it",
			events: artDispute(rules.Training, rules.ReasonQuality, artAssess(3*artH, 5000, 0, 0), artEvidence(4*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C2A3)},
		},
		{
			name:   "not proved",
			events: artDispute(rules.Training, rules.ReasonEffectMismatch),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "reference vouchers only",
			events: artDispute(rules.Training, rules.ReasonQuality, artEvidence(3*artH, rules.Customer, rules.Reference)),
			until:  artEvidenceDue,
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A4, rules.C1S2ReferenceVoucher)},
		},
	})
}

// c2.a4: service not provided as agreed; the agreed delivery date.
func TestC2A4(t *testing.T) {
	due := artDeliveryDue(48 * artH)
	artRunCases(t, []artCase{
		{
			name:   "delivery missed under review",
			events: []artEv{artPaid(rules.OtherCategory, due), artRefund(1*artH, rules.ReasonQuality), artIntervene(2*artH, rules.Customer)},
			until:  48 * artH,
			checks: []artCheck{artNotice(rules.NoticeDeadlineMissed, rules.Customer, 48*artH, rules.C2A4), artRuled(rules.RefundFull, artAmount, 0, rules.C2A4), artRuledAt(artTail)},
		},
		{
			name:   "delivery missed without a dispute: notice only",
			events: []artEv{artPaid(rules.OtherCategory, due)},
			until:  100 * artH,
			checks: []artCheck{artNotice(rules.NoticeDeadlineMissed, rules.Customer, 48*artH, rules.C2A4), artNoRuling(), artStatus(rules.StatusPaid)},
		},
		{
			name:   "delivery missed while negotiating: notice only",
			events: []artEv{artPaid(rules.OtherCategory, due), artRefund(1*artH, rules.ReasonNotDelivered)},
			until:  100 * artH,
			checks: []artCheck{artNoticeIn(artTail, rules.NoticeDeadlineMissed), artNoRuling()},
		},
		{
			name:   "delivery missed, then the intervention",
			events: []artEv{artPaid(rules.OtherCategory, due), artRefund(50*artH, rules.ReasonNotDelivered), artIntervene(51*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A4), artRuledAt(2), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "delivered late: the fault stands",
			events: []artEv{artPaid(rules.OtherCategory, due), artOn(60*artH, rules.TypeDeliverySubmitted), artRefund(61*artH, rules.ReasonQuality), artIntervene(62*artH, rules.Customer)},
			checks: []artCheck{artNoticeIn(1, rules.NoticeDeadlineMissed), artRuled(rules.RefundFull, artAmount, 0, rules.C2A4)},
		},
		{
			name:   "delivered in time",
			events: []artEv{artPaid(rules.OtherCategory, due), artOn(24*artH, rules.TypeDeliverySubmitted), artRefund(30*artH, rules.ReasonNotDelivered), artIntervene(31*artH, rules.Customer), artEvidence(32*artH, rules.Provider, rules.Valid)},
			until:  200 * artH,
			checks: []artCheck{artNoNotice(rules.NoticeDeadlineMissed), artRuled(rules.Release, 0, artAmount, rules.C1S4A3)},
		},
		{
			name:   "an assessment does not reduce it",
			events: []artEv{artPaid(rules.OtherCategory, due), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer), artAssess(3*artH, 5000, 0, 0)},
			until:  48 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A4)},
		},
		{
			name:   "provider termination, other category",
			events: []artEv{artPaid(rules.OtherCategory), artTerminate(1*artH, rules.Provider, "", false), artRefund(2*artH, rules.ReasonProviderTerminated), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A4), artRuledAt(3)},
		},
		{
			// Engine reading: rules.md lists no article for a platform
			// termination for the provider's cause in the "other" category.
			name:   "platform termination for the provider's cause, other category",
			events: []artEv{artPaid(rules.OtherCategory), artTerminate(1*artH, rules.Platform, rules.Provider, false), artRefund(2*artH, rules.ReasonProviderTerminated), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A4)},
		},
		{
			name:   "unagreed extension, other category",
			events: []artEv{artPaid(rules.OtherCategory), artExtend(1*artH, false), artRefund(2*artH, rules.ReasonNotDelivered), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A4)},
		},
		{
			name:   "agreed extension decides nothing",
			events: []artEv{artPaid(rules.OperationalService), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer), artExtend(3*artH, true)},
			checks: []artCheck{artSilent(3), artNoRuling()},
		},
		{
			name: "delivery missed after an escalation: the reviewer decides",
			// Escalated at 74h; the delivery deadline passes at 100h.
			events: []artEv{artPaid(rules.OtherCategory, artDeliveryDue(100*artH)), artRefund(1*artH, rules.ReasonQuality), artIntervene(2*artH, rules.Customer), artEvidence(3*artH, rules.Customer, rules.Reference), artReview(120*artH, 2000, rules.C2A4)},
			checks: []artCheck{
				artHasEscalation(rules.C1S4A2, rules.C1S4A4, rules.C1S2ReferenceVoucher),
				artNoticeIn(4, rules.NoticeDeadlineMissed),
				artRuled(rules.RefundPartial, 2000, 8000, rules.C1S1A4, rules.C2A4),
			},
		},
		{
			// Engine reading: faults of both parties on record go to a person.
			name:   "faults of both parties escalate",
			events: []artEv{artPaid(rules.OtherCategory, due), artCoop(1*artH, 24*artH, true), artRefund(50*artH, rules.ReasonNotDelivered), artIntervene(51*artH, rules.Customer)},
			checks: []artCheck{artEscalated(rules.C2A4, rules.C2A7), artEscalatedAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
	})
}

// c2.a5: modification requests, the 3-day cycle, refusals and three failures.
func TestC2A5(t *testing.T) {
	obj := func(at time.Duration) artEv { return artModRequest(at, "i1", true, 0) }
	cycle := func(from time.Duration, n int) []artEv {
		var out []artEv
		for i := range n {
			at := from + time.Duration(2*i)*artH
			out = append(out, artMod(at, rules.TypeModificationDelivered, "i1"), artMod(at+artH, rules.TypeModificationRejected, "i1"))
		}
		return out
	}
	artRunCases(t, []artCase{
		{
			name:   "overdue after the default 3 days, no dispute needed",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH)},
			until:  73 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(artTail), artStatus(rules.StatusRuled)},
		},
		{
			name:   "not overdue before the 3 days",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH)},
			until:  73*artH - time.Second,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "configured default cycle",
			policy: func(p *rules.Policy) { p.ModificationWindow = 24 * artH },
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH)},
			until:  25 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5)},
		},
		{
			name:   "agreed modification_days: not before",
			events: []artEv{artPaid(rules.ImageDesign, artModDays(5)), obj(1 * artH)},
			until:  121*artH - time.Second,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "agreed modification_days: overdue",
			events: []artEv{artPaid(rules.ImageDesign, artModDays(5)), obj(1 * artH)},
			until:  121 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5)},
		},
		{
			name:   "agreed due on the request beats modification_days",
			events: []artEv{artPaid(rules.ImageDesign, artModDays(5)), artModRequest(1*artH, "i1", true, 10*artH)},
			until:  10 * artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(artTail)},
		},
		{
			name:   "overdue under review, ahead of the evidence deadline",
			events: []artEv{artPaid(rules.Video), obj(1 * artH), artRefund(2*artH, rules.ReasonModificationOverdue), artIntervene(3*artH, rules.Customer)},
			until:  artEvidenceDue + artH,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(artTail)},
		},
		{
			name:   "re-delivered in time",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH), artMod(24*artH, rules.TypeModificationDelivered, "i1")},
			until:  500 * artH,
			checks: []artCheck{artNoRuling(), artSilent(artTail)},
		},
		{
			name:   "objective request refused",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH), artMod(2*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(2)},
		},
		{
			name:   "objective request refused while negotiating",
			events: []artEv{artPaid(rules.ImageDesign), artRefund(1*artH, rules.ReasonQuality), obj(2 * artH), artMod(3*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(3)},
		},
		{
			name:   "non-objective request refused: the service counts as complete",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "i1", false, 0), artMod(2*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A5), artRuledAt(2)},
		},
		{
			name:   "non-objective refusal with an assessment still releases",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "i1", false, 0), artAssess(90*time.Minute, 3000, 0, 0), artMod(2*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A5)},
		},
		{
			name:   "non-objective request runs no deadline",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "i1", false, 0)},
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "three failed re-deliveries",
			events: artSeq(artPaid(rules.ImageDesign), obj(1*artH), cycle(2*artH, 3)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(7)},
		},
		{
			name:   "two failed re-deliveries decide nothing",
			events: artSeq(artPaid(rules.ImageDesign), obj(1*artH), cycle(2*artH, 2)),
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "failures count across repeated requests",
			events: artSeq(artPaid(rules.ImageDesign), obj(1*artH), cycle(2*artH, 1), obj(4*artH), cycle(5*artH, 2)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(8)},
		},
		{
			name: "failures on different issues do not add up",
			events: artSeq(artPaid(rules.ImageDesign), obj(1*artH), cycle(2*artH, 2),
				artModRequest(10*artH, "i2", true, 0), artMod(11*artH, rules.TypeModificationDelivered, "i2"), artMod(12*artH, rules.TypeModificationRejected, "i2")),
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "three failures with an assessment split",
			events: artSeq(artPaid(rules.ImageDesign), obj(1*artH), artAssess(90*time.Minute, 3000, 0, 0), cycle(2*artH, 3)),
			checks: []artCheck{artRuled(rules.RefundPartial, 7000, 3000, rules.C2A5, rules.C2A9)},
		},
		{
			name:   "objective refusal with an assessment splits",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH), artAssess(90*time.Minute, 2000, 0, 0), artMod(2*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.RefundPartial, 8000, 2000, rules.C2A5, rules.C2A9)},
		},
		{
			name:   "overdue capped at the request",
			events: []artEv{artPaid(rules.ImageDesign), artRefundOf(1*artH, rules.ReasonModificationOverdue, 4000), obj(2 * artH)},
			until:  74 * artH,
			checks: []artCheck{artRuled(rules.RefundPartial, 4000, 6000, rules.C2A5, rules.C1S3A2)},
		},
		{
			name:   "answer for an unknown issue",
			events: []artEv{artPaid(rules.ImageDesign), obj(1 * artH), artMod(2*artH, rules.TypeModificationDelivered, "i9")},
			checks: []artCheck{artRejected(2, rules.C2A5)},
		},
		{
			name: "issue already decided while suspended",
			events: []artEv{
				artPaid(rules.ImageDesign), artRefund(1*artH, rules.ReasonQuality), artJudicial(2*artH, rules.Customer),
				obj(3 * artH), artMod(4*artH, rules.TypeModificationRefused, "i1"),
				artModRequest(5*artH, "i1", true, 0), artMod(6*artH, rules.TypeModificationDelivered, "i1"),
				artOn(7*artH, rules.TypeSuspensionLifted),
			},
			checks: []artCheck{artRejected(5, rules.C2A5), artRejected(6, rules.C2A5), artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(7)},
		},
	})
}

// c2.a6: cooperation not announced in advance: the customer may refuse.
func TestC2A6(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "unannounced cooperation missed before the dispute",
			events: []artEv{artPaid(rules.OtherCategory), artCoop(1*artH, 24*artH, false), artRefund(30*artH, rules.ReasonNotDelivered), artIntervene(31*artH, rules.Customer)},
			until:  31*artH + 72*artH,
			checks: []artCheck{artNoticeIn(3, rules.NoticeEvidenceRequested), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "unannounced cooperation missed under review",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artCoop(3*artH, 24*artH, false)),
			until:  50 * artH,
			checks: []artCheck{artNoRuling(), artSilent(artTail)},
		},
		{
			name:   "unannounced cooperation missed, the provider proves performance",
			events: artDispute(rules.Training, rules.ReasonNotDelivered, artCoop(3*artH, 24*artH, false), artEvidence(30*artH, rules.Provider, rules.Valid)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3)},
		},
	})
}

// c2.a7: the customer did not give the cooperation announced in advance.
func TestC2A7(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "missed under review",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artCoop(3*artH, 24*artH, true)),
			until:  24 * artH,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A7), artRuledAt(artTail)},
		},
		{
			name:   "missed before the dispute, decided at the intervention",
			events: []artEv{artPaid(rules.Training), artCoop(1*artH, 24*artH, true), artRefund(30*artH, rules.ReasonNotDelivered), artIntervene(31*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A7), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "missed while negotiating: nothing until the intervention",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonNotDelivered), artCoop(2*artH, 24*artH, true)},
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "provided in time",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artCoop(3*artH, 24*artH, true), artOn(20*artH, rules.TypeCooperationProvided)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "provided late: the fault stands",
			events: []artEv{artPaid(rules.Training), artCoop(1*artH, 24*artH, true), artOn(30*artH, rules.TypeCooperationProvided), artRefund(31*artH, rules.ReasonNotDelivered), artIntervene(32*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A7)},
		},
		{
			name:   "a newer request replaces the deadline",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artCoop(3*artH, 24*artH, true), artCoop(10*artH, 100*artH, true), artOn(50*artH, rules.TypeCooperationProvided)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3)},
		},
		{
			name:   "an assessment does not change it",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 2000, 1000, 500), artCoop(4*artH, 24*artH, true)),
			until:  24 * artH,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A7)},
		},
		{
			name:   "ahead of the evidence",
			events: artDispute(rules.OtherCategory, rules.ReasonQuality, artCoop(3*artH, 24*artH, true), artEvidence(30*artH, rules.Customer, rules.Valid)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C2A7), artRuledAt(4), artRejected(4, rules.C1S6A2)},
		},
		{
			name:   "with a provider fault on record it escalates",
			events: []artEv{artPaid(rules.OtherCategory), artCoop(1*artH, 24*artH, true), artTerminate(30*artH, rules.Provider, "", false), artRefund(31*artH, rules.ReasonProviderTerminated), artIntervene(32*artH, rules.Customer)},
			checks: []artCheck{artEscalated(rules.C2A4, rules.C2A7)},
		},
	})
}

// c2.a8: nothing realised, cost incurred: the customer bears the cost.
func TestC2A8(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "provider did not prove, cost incurred",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, 3000, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 7000, 3000, rules.C1S4A2, rules.C1S4A3, rules.C2A8)},
		},
		{
			name:   "cost above the amount",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, 30000, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A8, rules.C1S2ServiceCost)},
		},
		{
			name:   "video ended by the customer",
			events: []artEv{artPaid(rules.Video), artTerminate(1*artH, rules.Customer, "", false), artRefund(2*artH, rules.ReasonCustomerReasons), artAssess(150*time.Minute, 0, 2500, 0), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 7500, 2500, rules.C3S5A4, rules.C2A8), artRuledAt(4)},
		},
		{
			name:   "objective modification refused",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "i1", true, 0), artAssess(2*artH, 0, 1000, 0), artMod(3*artH, rules.TypeModificationRefused, "i1")},
			checks: []artCheck{artRuled(rules.RefundPartial, 9000, 1000, rules.C2A5, rules.C2A8)},
		},
		{
			name:   "misconduct ignores the cost",
			events: []artEv{artPaid(rules.SoftwareApp), artTerminate(1*artH, rules.Provider, "", false), artAssess(2*artH, 0, 5000, 0), artRefund(3*artH, rules.ReasonProviderTerminated), artIntervene(4*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C3S1A2)},
		},
		{
			name:   "provider proved performance: no split",
			events: artDispute(rules.OtherCategory, rules.ReasonNotDelivered, artAssess(3*artH, 0, 3000, 0), artEvidence(4*artH, rules.Provider, rules.Valid)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A3)},
		},
	})
}

// c2.a9: partly realised: the provider is paid the realised share.
func TestC2A9(t *testing.T) {
	notProved := func(opts []func(*rules.Data), ratio, cost int64) []artEv {
		return []artEv{artPaid(rules.OtherCategory, opts...), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer), artAssess(3*artH, ratio, cost, 0)}
	}
	artRunCases(t, []artCase{
		{
			name:   "40 percent realised",
			events: notProved(nil, 4000, 0),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 6000, 4000, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "rounded down for the provider",
			events: notProved([]func(*rules.Data){artAmountOf(999)}, 3333, 0),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 667, 332, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "a tiny share rounds to nothing",
			events: notProved([]func(*rules.Data){artAmountOf(9999)}, 1, 0),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, 9999, 0, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "fully realised",
			events: notProved(nil, 10000, 0),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			// Engine reading: nothing realised and no cost is the c2.a9
			// formula with a zero share.
			name:   "nothing realised, no cost",
			events: notProved(nil, 0, 0),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "service cost alone does not add to a realised share",
			events: notProved(nil, 2000, 5000),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 8000, 2000, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "the latest assessment counts",
			events: artSeq(notProved(nil, 2000, 0), artAssess(4*artH, 5000, 0, 0)),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 5000, 5000, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "large amount without overflow",
			events: notProved([]func(*rules.Data){artAmountOf(1 << 62)}, 9999, 0),
			until:  artEvidenceDue,
			// floor(2^62 * 9999 / 10000) = 2^62 - ceil(2^62 / 10000).
			checks: []artCheck{artRuled(rules.RefundPartial, 461168601842739, 1<<62-461168601842739, rules.C1S4A2, rules.C1S4A3, rules.C2A9)},
		},
		{
			name:   "video ended by the customer",
			events: []artEv{artPaid(rules.Video), artTerminate(1*artH, rules.Customer, "", false), artRefund(2*artH, rules.ReasonCustomerReasons), artAssess(150*time.Minute, 2500, 0, 0), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 7500, 2500, rules.C3S5A4, rules.C2A9)},
		},
		{
			name:   "misconduct ignores the assessment",
			events: []artEv{artPaid(rules.Training), artRefund(1*artH, rules.ReasonIllegalService), artAssess(90*time.Minute, 5000, 0, 0), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1)},
		},
	})
}

// c2.a10: partly realised, with cost on the unrealised rest.
func TestC2A10(t *testing.T) {
	notProved := func(opts []func(*rules.Data), ratio, unrealized int64) []artEv {
		return []artEv{artPaid(rules.OtherCategory, opts...), artRefund(1*artH, rules.ReasonNotDelivered), artIntervene(2*artH, rules.Customer), artAssess(3*artH, ratio, 0, unrealized)}
	}
	artRunCases(t, []artCase{
		{
			name:   "share plus unrealised cost",
			events: notProved(nil, 3000, 2000),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 5000, 5000, rules.C1S4A2, rules.C1S4A3, rules.C2A10)},
		},
		{
			name:   "share rounded down before the cost is added",
			events: notProved([]func(*rules.Data){artAmountOf(999)}, 3333, 100),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.RefundPartial, 567, 432, rules.C1S4A2, rules.C1S4A3, rules.C2A10)},
		},
		{
			name:   "capped at the amount",
			events: notProved(nil, 6000, 5000),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A10)},
		},
		{
			name:   "exactly the amount",
			events: notProved(nil, 6000, 4000),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A10)},
		},
		{
			name:   "huge unrealised cost",
			events: notProved(nil, 1, 1<<62),
			until:  artEvidenceDue,
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A3, rules.C2A10)},
		},
		{
			name:   "video ended by the customer",
			events: []artEv{artPaid(rules.Video), artTerminate(1*artH, rules.Customer, "", false), artRefund(2*artH, rules.ReasonCustomerReasons), artAssess(150*time.Minute, 5000, 0, 1000), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 4000, 6000, rules.C3S5A4, rules.C2A10)},
		},
		{
			name:   "modification overdue",
			events: []artEv{artPaid(rules.ImageDesign), artModRequest(1*artH, "i1", true, 0), artAssess(2*artH, 1000, 500, 1500)},
			until:  73 * artH,
			checks: []artCheck{artRuled(rules.RefundPartial, 7500, 2500, rules.C2A5, rules.C2A10)},
		},
	})
}

// ---- Chapter III ----

// artProved: the customer proves its claim with valid evidence at 3h, under
// review (the ruling comes with event 3).
func artProved(cat rules.Category, r rules.Reason, opts ...func(*rules.Data)) []artEv {
	return []artEv{artPaid(cat, opts...), artRefund(1*artH, r), artIntervene(2*artH, rules.Customer), artEvidence(3*artH, rules.Customer, rules.Valid)}
}

// artEnded: the service is terminated at 1h, then the refund request (2h)
// and the intervention (3h); a decision on the record comes with event 3.
func artEnded(cat rules.Category, by, cause rules.Party, agreed bool, r rules.Reason, opts ...func(*rules.Data)) []artEv {
	return []artEv{artPaid(cat, opts...), artTerminate(1*artH, by, cause, agreed), artRefund(2*artH, r), artIntervene(3*artH, rules.Customer)}
}

// artExtended: an extension at 1h, then as artEnded.
func artExtended(cat rules.Category, agreed bool) []artEv {
	return []artEv{artPaid(cat), artExtend(1*artH, agreed), artRefund(2*artH, rules.ReasonNotDelivered), artIntervene(3*artH, rules.Customer)}
}

// artMisdescriptionCases covers the category's article on wrong guidance,
// over-commitment and fraud (c3.sN.a1).
func artMisdescriptionCases(cat rules.Category, article string) []artCase {
	return []artCase{
		{
			name:   "not as described, proved",
			events: artProved(cat, rules.ReasonNotAsDescribed),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, article), artRuledAt(3)},
		},
		{
			name:   "misleading, proved",
			events: artProved(cat, rules.ReasonMisleading),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, article)},
		},
		{
			name:   "promised effect, proved",
			events: artProved(cat, rules.ReasonPromisedEffect),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, article)},
		},
		{
			name:   "proved before the intervention",
			events: []artEv{artPaid(cat), artRefund(1*artH, rules.ReasonMisleading), artEvidence(2*artH, rules.Customer, rules.Valid), artIntervene(3*artH, rules.Provider)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, article), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "an assessment does not reduce it",
			events: []artEv{artPaid(cat), artRefund(1*artH, rules.ReasonMisleading), artAssess(90*time.Minute, 7000, 1000, 1000), artIntervene(2*artH, rules.Customer), artEvidence(3*artH, rules.Customer, rules.Valid)},
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, article)},
		},
		{
			name:   "capped at the request",
			events: []artEv{artPaid(cat), artRefundOf(1*artH, rules.ReasonMisleading, 2500), artIntervene(2*artH, rules.Customer), artEvidence(3*artH, rules.Customer, rules.Valid)},
			checks: []artCheck{artRuled(rules.RefundPartial, 2500, 7500, rules.C1S4A4, article, rules.C1S3A2)},
		},
		{
			name:   "not proved",
			events: artDispute(cat, rules.ReasonMisleading),
			until:  artEvidenceDue,
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Customer, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A4), artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "reference vouchers only",
			events: artDispute(cat, rules.ReasonNotAsDescribed, artEvidence(3*artH, rules.Customer, rules.Reference)),
			until:  artEvidenceDue,
			checks: []artCheck{artEscalated(rules.C1S4A2, rules.C1S4A4, rules.C1S2ReferenceVoucher)},
		},
	}
}

// artUnagreedCases covers the category's article on the provider ending (and,
// where the article says so, extending) the service without agreement.
func artUnagreedCases(cat rules.Category, article string, extension bool) []artCase {
	cases := []artCase{
		{
			name:   "terminated without agreement",
			events: artEnded(cat, rules.Provider, "", false, rules.ReasonProviderTerminated),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "terminated without agreement, whatever the reason given",
			events: artEnded(cat, rules.Provider, "", false, rules.ReasonQuality),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article)},
		},
		{
			name:   "terminated without agreement under review",
			events: artDispute(cat, rules.ReasonNotDelivered, artTerminate(3*artH, rules.Provider, "", false)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article), artRuledAt(3)},
		},
		{
			// Engine reading: the provider's unagreed termination is its
			// fault whatever cause it states.
			name:   "terminated without agreement, customer named as the cause",
			events: artEnded(cat, rules.Provider, rules.Customer, false, rules.ReasonProviderTerminated),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article)},
		},
		{
			name:   "an assessment does not reduce it",
			events: artSeq(artEnded(cat, rules.Provider, "", false, rules.ReasonProviderTerminated)[:3], artAssess(150*time.Minute, 5000, 1000, 1000), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article)},
		},
		{
			name:   "capped at the request",
			events: []artEv{artPaid(cat), artTerminate(1*artH, rules.Provider, "", false), artRefundOf(2*artH, rules.ReasonProviderTerminated, 6000), artIntervene(3*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 6000, 4000, article, rules.C1S3A2)},
		},
		{
			name:   "nothing while negotiating",
			events: []artEv{artPaid(cat), artTerminate(1*artH, rules.Provider, "", false), artRefund(2*artH, rules.ReasonProviderTerminated)},
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "agreed termination goes to the evidence phase",
			events: artEnded(cat, rules.Provider, "", true, rules.ReasonProviderTerminated),
			until:  75 * artH,
			checks: []artCheck{artNoticeIn(3, rules.NoticeEvidenceRequested), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A2, rules.C1S4A3), artRuledAt(artTail)},
		},
		{
			name:   "agreed extension goes to the evidence phase",
			events: artExtended(cat, true),
			checks: []artCheck{artNoticeIn(3, rules.NoticeEvidenceRequested), artNoRuling()},
		},
	}
	if extension {
		cases = append(cases, artCase{
			name:   "extended without agreement",
			events: artExtended(cat, false),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article), artRuledAt(3)},
		})
	}
	return cases
}

// artPlatformProviderCases covers the category's article on the platform
// ending the service for the provider's fault.
func artPlatformProviderCases(cat rules.Category, article string) []artCase {
	return []artCase{
		{
			name:   "platform terminated for the provider's fault",
			events: artEnded(cat, rules.Platform, rules.Provider, false, rules.ReasonProviderTerminated),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article), artRuledAt(3)},
		},
		{
			name:   "agreed or not makes no difference",
			events: artEnded(cat, rules.Platform, rules.Provider, true, rules.ReasonNotDelivered),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article)},
		},
		{
			name:   "under review",
			events: artDispute(cat, rules.ReasonQuality, artTerminate(3*artH, rules.Platform, rules.Provider, false)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article), artRuledAt(3)},
		},
		{
			name:   "an assessment does not reduce it",
			events: artSeq(artEnded(cat, rules.Platform, rules.Provider, false, rules.ReasonProviderTerminated)[:3], artAssess(150*time.Minute, 9000, 0, 0), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, article)},
		},
	}
}

// c3.s1.a1: software misdescribed.
func TestC3S1A1(t *testing.T) {
	artRunCases(t, artMisdescriptionCases(rules.SoftwareApp, rules.C3S1A1))
}

// c3.s1.a2: software terminated by the provider without agreement.
func TestC3S1A2(t *testing.T) {
	// rules.md lists c3.s1.a2 for an unagreed extension of a software order too.
	artRunCases(t, artUnagreedCases(rules.SoftwareApp, rules.C3S1A2, true))
}

// c3.s1.a4: software ended by the platform for the provider's fault.
func TestC3S1A4(t *testing.T) {
	artRunCases(t, artPlatformProviderCases(rules.SoftwareApp, rules.C3S1A4))
}

// c3.s1.a5: software ended by the platform for the customer's fault.
func TestC3S1A5(t *testing.T) {
	artRunCases(t, artCustomerPlatformCases(rules.SoftwareApp, rules.C3S1A5))
}

// artCustomerPlatformCases covers c3.s1.a5 and c3.s2.a5.
func artCustomerPlatformCases(cat rules.Category, article string) []artCase {
	return []artCase{
		{
			name:   "platform terminated for the customer's fault",
			events: artEnded(cat, rules.Platform, rules.Customer, false, rules.ReasonNotDelivered),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, article), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "under review",
			events: artDispute(cat, rules.ReasonQuality, artTerminate(3*artH, rules.Platform, rules.Customer, false)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, article), artRuledAt(3)},
		},
		{
			name:   "an assessment does not change it",
			events: artSeq(artEnded(cat, rules.Platform, rules.Customer, false, rules.ReasonNotDelivered)[:3], artAssess(150*time.Minute, 1000, 0, 0), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, article)},
		},
		{
			name:   "the customer ending it itself decides nothing on the record",
			events: artEnded(cat, rules.Customer, "", false, rules.ReasonCustomerReasons),
			until:  75 * artH,
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Customer, 75*artH, rules.C1S4A1, rules.C1S4A2, rules.C1S4A4), artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "customer_reasons alone goes to the evidence phase",
			events: artDispute(cat, rules.ReasonCustomerReasons),
			until:  artEvidenceDue,
			checks: []artCheck{artNoticeIn(2, rules.NoticeEvidenceRequested), artRuled(rules.Release, 0, artAmount, rules.C1S4A2, rules.C1S4A4)},
		},
		{
			name:   "with a provider fault on record it escalates",
			events: []artEv{artPaid(cat, artDeliveryDue(48*artH)), artTerminate(1*artH, rules.Platform, rules.Customer, false), artRefund(50*artH, rules.ReasonNotDelivered), artIntervene(51*artH, rules.Customer)},
			checks: []artCheck{artEscalated(rules.C2A4, article)},
		},
	}
}

// c3.s2.a1: operational service misdescribed.
func TestC3S2A1(t *testing.T) {
	artRunCases(t, artSeqCases(artMisdescriptionCases(rules.OperationalService, rules.C3S2A1), artCase{
		name:   "promised effect without the transaction promise, proved",
		events: artProved(rules.OperationalService, rules.ReasonPromisedEffect),
		checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S2A1)},
	}))
}

func artSeqCases(cases []artCase, more ...artCase) []artCase { return append(cases, more...) }

// c3.s2.a2: an agency operation service that promised a transaction amount.
func TestC3S2A2(t *testing.T) {
	promised := func(r rules.Reason) []artEv {
		return []artEv{artPaid(rules.OperationalService, artPromisedTransaction), artRefund(1*artH, r), artIntervene(2*artH, rules.Customer)}
	}
	artRunCases(t, []artCase{
		{
			name:   "promised a transaction amount",
			events: promised(rules.ReasonPromisedEffect),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C3S2A2), artRuledAt(2), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "an assessment does not reduce it",
			events: artSeq(promised(rules.ReasonPromisedEffect)[:2], artAssess(90*time.Minute, 6000, 0, 0), artIntervene(2*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C3S2A2)},
		},
		{
			name:   "capped at the request",
			events: []artEv{artPaid(rules.OperationalService, artPromisedTransaction), artRefundOf(1*artH, rules.ReasonPromisedEffect, 3000), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 3000, 7000, rules.C3S2A2, rules.C1S3A2)},
		},
		{
			name:   "nothing while negotiating",
			events: promised(rules.ReasonPromisedEffect)[:2],
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "another reason goes to the evidence phase",
			events: promised(rules.ReasonMisleading),
			checks: []artCheck{artNotice(rules.NoticeEvidenceRequested, rules.Customer, artEvidenceDue, rules.C1S4A1, rules.C1S4A2, rules.C1S4A4), artNoRuling()},
		},
		{
			name:   "without the promise on record",
			events: artDispute(rules.OperationalService, rules.ReasonPromisedEffect),
			checks: []artCheck{artNoticeIn(2, rules.NoticeEvidenceRequested), artNoRuling()},
		},
		{
			name:   "the promise on a software order",
			events: artProved(rules.SoftwareApp, rules.ReasonPromisedEffect, artPromisedTransaction),
			checks: []artCheck{artNoticeIn(2, rules.NoticeEvidenceRequested), artRuled(rules.RefundFull, artAmount, 0, rules.C1S4A4, rules.C3S1A1)},
		},
	})
}

// c3.s2.a3: operational service terminated by the provider without agreement.
func TestC3S2A3(t *testing.T) {
	// rules.md lists c3.s2.a3 for an unagreed extension of an operational order too.
	artRunCases(t, artUnagreedCases(rules.OperationalService, rules.C3S2A3, true))
}

// c3.s2.a4: operational service ended by the platform for the provider's fault.
func TestC3S2A4(t *testing.T) {
	artRunCases(t, artPlatformProviderCases(rules.OperationalService, rules.C3S2A4))
}

// c3.s2.a5: operational service ended by the platform for the customer's fault.
func TestC3S2A5(t *testing.T) {
	artRunCases(t, artCustomerPlatformCases(rules.OperationalService, rules.C3S2A5))
}

// c3.s3.a1: training misdescribed.
func TestC3S3A1(t *testing.T) {
	artRunCases(t, artMisdescriptionCases(rules.Training, rules.C3S3A1))
}

// c3.s3.a2: training terminated or extended by the provider without agreement.
func TestC3S3A2(t *testing.T) {
	artRunCases(t, artUnagreedCases(rules.Training, rules.C3S3A2, true))
}

// c3.s3.a3: training ended by the platform for the provider's fault.
func TestC3S3A3(t *testing.T) {
	artRunCases(t, artPlatformProviderCases(rules.Training, rules.C3S3A3))
}

// c3.s3.a4: training ended for the customer's reasons: no refund.
func TestC3S3A4(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "ended by the customer",
			events: artEnded(rules.Training, rules.Customer, "", false, rules.ReasonCustomerReasons),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4), artRuledAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "ended by the customer with the provider's agreement",
			events: artEnded(rules.Training, rules.Customer, "", true, rules.ReasonCustomerReasons),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4)},
		},
		{
			name:   "ended by the customer, whatever the reason given",
			events: artEnded(rules.Training, rules.Customer, "", false, rules.ReasonNotDelivered),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4)},
		},
		{
			name:   "ended by the platform for the customer's fault",
			events: artEnded(rules.Training, rules.Platform, rules.Customer, false, rules.ReasonNotDelivered),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4)},
		},
		{
			// Engine reading: customer_reasons counts as a customer-caused
			// termination for training.
			name:   "customer_reasons without a termination",
			events: artDispute(rules.Training, rules.ReasonCustomerReasons),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4), artRuledAt(2)},
		},
		{
			name:   "under review",
			events: artDispute(rules.Training, rules.ReasonQuality, artTerminate(3*artH, rules.Customer, "", false)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4), artRuledAt(3)},
		},
		{
			name:   "an assessment does not change it",
			events: artSeq(artEnded(rules.Training, rules.Customer, "", false, rules.ReasonCustomerReasons)[:3], artAssess(150*time.Minute, 2000, 0, 0), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S3A4)},
		},
		{
			name:   "with a provider fault on record it escalates",
			events: []artEv{artPaid(rules.Training), artExtend(1*artH, false), artTerminate(2*artH, rules.Customer, "", false), artRefund(3*artH, rules.ReasonCustomerReasons), artIntervene(4*artH, rules.Customer)},
			checks: []artCheck{artEscalated(rules.C3S3A2, rules.C3S3A4)},
		},
	})
}

// c3.s4.a1: image design misdescribed.
func TestC3S4A1(t *testing.T) {
	artRunCases(t, artMisdescriptionCases(rules.ImageDesign, rules.C3S4A1))
}

// c3.s4.a2: image design terminated or extended by the provider without agreement.
func TestC3S4A2(t *testing.T) {
	artRunCases(t, artUnagreedCases(rules.ImageDesign, rules.C3S4A2, true))
}

// c3.s4.a3: image design ended by the platform for the provider's fault.
func TestC3S4A3(t *testing.T) {
	artRunCases(t, artPlatformProviderCases(rules.ImageDesign, rules.C3S4A3))
}

// c3.s4.a4: image design ended for the customer's reasons; the article is
// cut off in the text, so a person decides.
func TestC3S4A4(t *testing.T) {
	artRunCases(t, []artCase{
		{
			name:   "ended by the customer",
			events: artEnded(rules.ImageDesign, rules.Customer, "", false, rules.ReasonCustomerReasons),
			until:  500 * artH,
			checks: []artCheck{artEscalated(rules.C3S4A4), artEscalatedAt(3), artNoNotice(rules.NoticeEvidenceRequested), artStatus(rules.StatusEscalated)},
		},
		{
			name:   "ended by the platform for the customer's fault",
			events: artEnded(rules.ImageDesign, rules.Platform, rules.Customer, false, rules.ReasonNotDelivered),
			checks: []artCheck{artEscalated(rules.C3S4A4)},
		},
		{
			name:   "customer_reasons without a termination",
			events: artDispute(rules.ImageDesign, rules.ReasonCustomerReasons),
			checks: []artCheck{artEscalated(rules.C3S4A4), artEscalatedAt(2)},
		},
		{
			name:   "an assessment does not decide it",
			events: artSeq(artEnded(rules.ImageDesign, rules.Customer, "", false, rules.ReasonCustomerReasons)[:3], artAssess(150*time.Minute, 5000, 0, 0), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artEscalated(rules.C3S4A4)},
		},
		{
			name:   "the reviewer decides",
			events: artSeq(artEnded(rules.ImageDesign, rules.Customer, "", false, rules.ReasonCustomerReasons), artReview(10*artH, 4000, rules.C3S4A4, rules.C2A9)),
			checks: []artCheck{artHasEscalation(rules.C3S4A4), artRuled(rules.RefundPartial, 4000, 6000, rules.C1S1A4, rules.C3S4A4, rules.C2A9)},
		},
		{
			name:   "with a provider fault on record",
			events: []artEv{artPaid(rules.ImageDesign), artExtend(1*artH, false), artTerminate(2*artH, rules.Customer, "", false), artRefund(3*artH, rules.ReasonCustomerReasons), artIntervene(4*artH, rules.Customer)},
			checks: []artCheck{artEscalated(rules.C3S4A2, rules.C3S4A4)},
		},
	})
}

// artCustomContractCases covers c3.s4.a5 and c3.s5.a5: a personalised
// service under a signed contract is for a person to decide by the contract.
func artCustomContractCases(cat rules.Category, article string) []artCase {
	custom := func(r rules.Reason) []artEv {
		return []artEv{artPaid(cat, artCustomContract), artRefund(1*artH, r), artIntervene(2*artH, rules.Customer)}
	}
	return []artCase{
		{
			name:   "escalated at the intervention",
			events: custom(rules.ReasonNotAsDescribed),
			until:  500 * artH,
			checks: []artCheck{artEscalated(article), artEscalatedAt(2), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "ahead of a provider's unagreed termination",
			events: artEnded(cat, rules.Provider, "", false, rules.ReasonProviderTerminated, artCustomContract),
			checks: []artCheck{artEscalated(article)},
		},
		{
			name:   "ahead of a customer's termination",
			events: artEnded(cat, rules.Customer, "", false, rules.ReasonCustomerReasons, artCustomContract),
			checks: []artCheck{artEscalated(article)},
		},
		{
			name:   "ahead of the evidence",
			events: artSeq(custom(rules.ReasonQuality)[:2], artEvidence(90*time.Minute, rules.Customer, rules.Valid), artIntervene(2*artH, rules.Customer)),
			checks: []artCheck{artEscalated(article)},
		},
		{
			name:   "not before the intervention",
			events: custom(rules.ReasonQuality)[:2],
			until:  500 * artH,
			checks: []artCheck{artNoRuling()},
		},
		{
			name:   "an illegal service is still refunded",
			events: custom(rules.ReasonIllegalService),
			checks: []artCheck{artRuled(rules.RefundFull, artAmount, 0, rules.C2A1), artRuledAt(2)},
		},
		{
			name:   "the reviewer decides by the contract",
			events: artSeq(custom(rules.ReasonQuality), artReview(10*artH, 7000, article)),
			checks: []artCheck{artHasEscalation(article), artRuled(rules.RefundPartial, 7000, 3000, rules.C1S1A4, article)},
		},
		{
			name:   "a modification fault still rules",
			events: artSeq(artPaid(cat, artCustomContract), artModRequest(1*artH, "i1", true, 0), artRefund(2*artH, rules.ReasonQuality), artIntervene(3*artH, rules.Customer), artMod(4*artH, rules.TypeModificationRefused, "i1")),
			checks: []artCheck{artHasEscalation(article), artRuled(rules.RefundFull, artAmount, 0, rules.C2A5), artRuledAt(4)},
		},
		{
			name:   "a training order with a contract is not escalated",
			events: []artEv{artPaid(rules.Training, artCustomContract), artRefund(1*artH, rules.ReasonQuality), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artNoticeIn(2, rules.NoticeEvidenceRequested), artNoRuling()},
		},
	}
}

// c3.s4.a5: personalised image design under a signed contract.
func TestC3S4A5(t *testing.T) {
	artRunCases(t, artCustomContractCases(rules.ImageDesign, rules.C3S4A5))
}

// c3.s5.a1: video misdescribed.
func TestC3S5A1(t *testing.T) {
	artRunCases(t, artMisdescriptionCases(rules.Video, rules.C3S5A1))
}

// c3.s5.a2: video terminated or extended by the provider without agreement.
func TestC3S5A2(t *testing.T) {
	artRunCases(t, artUnagreedCases(rules.Video, rules.C3S5A2, true))
}

// c3.s5.a3: video ended by the platform for the provider's fault.
func TestC3S5A3(t *testing.T) {
	artRunCases(t, artPlatformProviderCases(rules.Video, rules.C3S5A3))
}

// c3.s5.a4: video ended for the customer's reasons: partial refund by the
// value delivered.
func TestC3S5A4(t *testing.T) {
	assessed := func(by, cause rules.Party, r rules.Reason, ratio, cost, unrealized int64) []artEv {
		return artSeq(artEnded(rules.Video, by, cause, false, r)[:3], artAssess(150*time.Minute, ratio, cost, unrealized), artIntervene(3*artH, rules.Customer))
	}
	artRunCases(t, []artCase{
		{
			name:   "ended by the customer, not assessed",
			events: artEnded(rules.Video, rules.Customer, "", false, rules.ReasonCustomerReasons),
			until:  500 * artH,
			checks: []artCheck{artEscalated(rules.C3S5A4), artEscalatedAt(3), artNoNotice(rules.NoticeEvidenceRequested)},
		},
		{
			name:   "ended by the customer, assessed",
			events: assessed(rules.Customer, "", rules.ReasonCustomerReasons, 4000, 0, 0),
			checks: []artCheck{artRuled(rules.RefundPartial, 6000, 4000, rules.C3S5A4, rules.C2A9), artRuledAt(4)},
		},
		{
			name:   "ended by the platform for the customer's fault, assessed",
			events: assessed(rules.Platform, rules.Customer, rules.ReasonNotDelivered, 2500, 0, 0),
			checks: []artCheck{artRuled(rules.RefundPartial, 7500, 2500, rules.C3S5A4, rules.C2A9)},
		},
		{
			name:   "customer_reasons without a termination, assessed",
			events: []artEv{artPaid(rules.Video), artRefund(1*artH, rules.ReasonCustomerReasons), artAssess(90*time.Minute, 3000, 0, 0), artIntervene(2*artH, rules.Customer)},
			checks: []artCheck{artRuled(rules.RefundPartial, 7000, 3000, rules.C3S5A4, rules.C2A9)},
		},
		{
			name:   "customer_reasons without a termination, not assessed",
			events: artDispute(rules.Video, rules.ReasonCustomerReasons),
			checks: []artCheck{artEscalated(rules.C3S5A4)},
		},
		{
			name:   "fully delivered",
			events: assessed(rules.Customer, "", rules.ReasonCustomerReasons, 10000, 0, 0),
			checks: []artCheck{artRuled(rules.Release, 0, artAmount, rules.C3S5A4, rules.C2A9)},
		},
		{
			name:   "nothing delivered, cost incurred",
			events: assessed(rules.Customer, "", rules.ReasonCustomerReasons, 0, 1500, 0),
			checks: []artCheck{artRuled(rules.RefundPartial, 8500, 1500, rules.C3S5A4, rules.C2A8)},
		},
		{
			name:   "partly delivered, cost on the rest",
			events: assessed(rules.Customer, "", rules.ReasonCustomerReasons, 2000, 0, 1000),
			checks: []artCheck{artRuled(rules.RefundPartial, 7000, 3000, rules.C3S5A4, rules.C2A10)},
		},
		{
			name:   "capped at the request",
			events: artSeq(artPaid(rules.Video), artTerminate(1*artH, rules.Customer, "", false), artRefundOf(2*artH, rules.ReasonCustomerReasons, 5000), artAssess(150*time.Minute, 2000, 0, 0), artIntervene(3*artH, rules.Customer)),
			checks: []artCheck{artRuled(rules.RefundPartial, 5000, 5000, rules.C3S5A4, rules.C2A9, rules.C1S3A2)},
		},
		{
			name:   "under review, assessed",
			events: artSeq(artPaid(rules.Video), artRefund(1*artH, rules.ReasonQuality), artAssess(90*time.Minute, 4000, 0, 0), artIntervene(2*artH, rules.Customer), artTerminate(3*artH, rules.Customer, "", false)),
			checks: []artCheck{artRuled(rules.RefundPartial, 6000, 4000, rules.C3S5A4, rules.C2A9), artRuledAt(4)},
		},
		{
			// Once escalated the dispute is with a person (contract.md:
			// review.decided gives the final ruling).
			name:   "an assessment after the escalation waits for the reviewer",
			events: artSeq(artEnded(rules.Video, rules.Customer, "", false, rules.ReasonCustomerReasons), artAssess(10*artH, 4000, 0, 0)),
			until:  500 * artH,
			checks: []artCheck{artEscalated(rules.C3S5A4), artSilent(4)},
		},
		{
			name:   "the reviewer decides",
			events: artSeq(artEnded(rules.Video, rules.Customer, "", false, rules.ReasonCustomerReasons), artAssess(10*artH, 4000, 0, 0), artReview(11*artH, 6000, rules.C3S5A4, rules.C2A9)),
			checks: []artCheck{artHasEscalation(rules.C3S5A4), artRuled(rules.RefundPartial, 6000, 4000, rules.C1S1A4, rules.C3S5A4, rules.C2A9)},
		},
		{
			name:   "with a provider fault on record it escalates",
			events: artSeq(artPaid(rules.Video), artExtend(1*artH, false), artTerminate(2*artH, rules.Customer, "", false), artRefund(3*artH, rules.ReasonCustomerReasons), artAssess(3*artH, 4000, 0, 0), artIntervene(4*artH, rules.Customer)),
			checks: []artCheck{artEscalated(rules.C3S5A2, rules.C3S5A4)},
		},
	})
}

// c3.s5.a5: personalised video under a signed contract.
func TestC3S5A5(t *testing.T) {
	artRunCases(t, artCustomContractCases(rules.Video, rules.C3S5A5))
}
