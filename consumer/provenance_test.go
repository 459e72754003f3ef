package consumer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// The attacks of issue 19 on who may say what, written as the attacker
// writes them: their bytes, on the topic they can write. Each test has a
// control order that the same act, from its rightful writer, still rules.

// TestMisroutedActsMoveNoMoney: the chat service, which may write only the
// chats topic, writes a reviewer's decision, a provider's evidence and an
// assessment on it. Under v1 each ruled and paid; now each is dead-lettered
// (misrouted) and the disputes stay under review, while the control
// dispute, decided by the same review.decided on its own topic, is ruled.
func TestMisroutedActsMoveNoMoney(t *testing.T) {
	e := newEnv(t, 1)
	base := time.Now().UTC().Add(-time.Hour)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	const paid = `{"customer_id":"c","provider_id":"p","category":"software_app","amount":10000,"currency":"EUR"}`
	dispute := func(order string) []kafka.Message {
		return []kafka.Message{
			testevent.Message(order+"-paid", "orders", rules.TypeOrderPaid, at(0), order, paid),
			testevent.Message(order+"-refund", "refunds", rules.TypeRefundRequested, at(1), order, `{"reason":"not_delivered"}`),
			testevent.Message(order+"-intervene", "refunds", rules.TypeInterventionRequested, at(2), order, `{"by":"customer"}`),
		}
	}
	onChats := func(m kafka.Message) kafka.Message { m.Topic = topics.Chats; return m }
	attacks := []struct{ order, what string }{
		{"atk-review", "a review.decided of refund_full"},
		{"atk-evidence", "the provider's valid evidence"},
		{"atk-assessment", "an assessment of 10000 bp"},
	}
	var msgs []kafka.Message
	for _, a := range attacks {
		msgs = append(msgs, dispute(a.order)...)
	}
	msgs = append(msgs, dispute("control")...)
	msgs = append(msgs,
		onChats(testevent.Message("x1", "chat-service", rules.TypeReviewDecided, at(3), "atk-review", `{"refund_amount":10000}`)),
		onChats(testevent.Message("x2", "chat-service", rules.TypeEvidenceSubmitted, at(3), "atk-evidence", `{"party":"provider","kind":"valid"}`)),
		onChats(testevent.Message("x3", "chat-service", rules.TypeAssessmentRecorded, at(3), "atk-assessment", `{"value_ratio_bp":10000}`)),
		// The control: the same decision from the reviewers' tool, on its
		// own topic.
		testevent.Message("c1", "console/alice", rules.TypeReviewDecided, at(3), "control", `{"refund_amount":10000}`),
	)
	e.start(t, nil)
	e.kafka.Produce(context.Background(), t, msgs...)

	// Each dispute's evidence notice (4), then the control's ruling and
	// its transfer.
	got := e.waitFor(t, 6, 30*time.Second)
	rulings := map[string]int{}
	for _, m := range got {
		if order, ok := strings.CutPrefix(m.Subject, rules.SubjectRuling+"."); ok {
			rulings[order]++
		}
		if strings.HasPrefix(m.Subject, rules.SubjectTransfer+".atk-") {
			t.Errorf("an attacker's act paid: %s %s", m.Subject, m.Data)
		}
	}
	if rulings["control"] != 1 {
		t.Errorf("the control dispute has %d rulings, want 1 (its review.decided on %s)", rulings["control"], topics.RefundRequests)
	}
	for _, a := range attacks {
		if rulings[a.order] != 0 {
			t.Errorf("%s on the chats topic ruled %s", a.what, a.order)
		}
	}
	letters := e.deadLetters(t, len(attacks), "the three acts are dead-lettered")
	for _, l := range letters {
		if h := headers(l); h[consumer.HeaderCode] != rules.CodeMisrouted || h[consumer.HeaderSourceTopic] != e.topics.Chats {
			t.Errorf("letter %s: code %q from %q, want %q from %s", l.Key, h[consumer.HeaderCode], h[consumer.HeaderSourceTopic], rules.CodeMisrouted, e.topics.Chats)
		}
	}
}

// TestJSONReadOneWay: an order system's bug, or a writer that knows the
// decoder, sends an order.paid whose amount reads 100 to a case-sensitive
// reader and 99999999 to encoding/json, and two orders whose provider IDs
// differ only in bytes that are not UTF-8 (encoding/json would make both
// U+FFFD: the same party_id in FINANCE). Each is dead-lettered as
// malformed; the control order, written plainly, is settled and paid.
func TestJSONReadOneWay(t *testing.T) {
	e := newEnv(t, 1)
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	raw := func(id, order, data string) kafka.Message {
		v := `{"specversion":"1.0","id":"` + id + `","source":"orders","type":"order.paid","time":"` + at + `","subject":"` + order + `","data":` + data + `}`
		return kafka.Message{Topic: topics.Orders, Key: []byte(order), Value: []byte(v)}
	}
	attacks := []kafka.Message{
		raw("a1", "atk-amount", `{"customer_id":"c","provider_id":"p","category":"other","amount":100,"AMOUNT":99999999,"currency":"EUR"}`),
		raw("a2", "atk-utf8-1", `{"customer_id":"c","provider_id":"acct-`+"\xff"+`","category":"other","amount":100,"currency":"EUR"}`),
		raw("a3", "atk-utf8-2", `{"customer_id":"c","provider_id":"acct-`+"\xfe"+`","category":"other","amount":100,"currency":"EUR"}`),
	}
	control := []kafka.Message{
		raw("c1", "control", `{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR"}`),
		testevent.Message("c2", "refunds", rules.TypeRefundRequested, time.Now().Add(-50*time.Minute), "control", `{"reason":"quality"}`),
		testevent.Message("c3", "refunds", rules.TypeSettlementAgreed, time.Now().Add(-40*time.Minute), "control", `{"refund_amount":40}`),
	}
	e.start(t, nil)
	e.kafka.Produce(context.Background(), t, append(attacks, control...)...)
	got := e.waitFor(t, 3, 30*time.Second) // the control's settlement and two transfers
	for _, m := range got {
		if !strings.HasSuffix(m.Subject, ".control") {
			t.Errorf("published %s %s", m.Subject, m.Data)
		}
	}
	if len(got) != 3 {
		t.Errorf("published %d commands, want the control's 3", len(got))
	}
	letters := e.deadLetters(t, len(attacks), "the three orders are dead-lettered")
	for i, want := range []string{"AMOUNT", "UTF-8", "UTF-8"} {
		if h := headers(letters[i]); !strings.Contains(h[consumer.HeaderError], want) || h[consumer.HeaderCode] != rules.CodeMalformed {
			t.Errorf("letter %s: %q (%s), want a malformed letter about %s", letters[i].Key, h[consumer.HeaderError], h[consumer.HeaderCode], want)
		}
	}
}

// TestRejectedFloodSilencesNoReviewer: a writer of refund-requests sends
// 499 intervention.requested "by the platform" on a dispute the platform
// already handles; each is rejected. Under v1 they filled the platform's
// quota of 500 events (order.paid is the first), and the reviewer's
// decision that followed was refused: the money held for ever. Rejected
// events count against no quota now, and the decision rules and pays.
func TestRejectedFloodSilencesNoReviewer(t *testing.T) {
	e := newEnv(t, 1)
	base := time.Now().UTC().Add(-time.Hour)
	msgs := []kafka.Message{
		testevent.Message("p", "orders", rules.TypeOrderPaid, base, "o1", `{"customer_id":"c","provider_id":"p","category":"software_app","amount":10000,"currency":"EUR"}`),
		testevent.Message("r", "refunds", rules.TypeRefundRequested, base.Add(time.Minute), "o1", `{"reason":"quality"}`),
		testevent.Message("i", "refunds", rules.TypeInterventionRequested, base.Add(2*time.Minute), "o1", `{"by":"customer"}`),
	}
	const flood = 499
	for i := range flood {
		msgs = append(msgs, testevent.Message(fmt.Sprintf("x%d", i), "refunds", rules.TypeInterventionRequested, base.Add(3*time.Minute), "o1", `{"by":"platform"}`))
	}
	msgs = append(msgs, testevent.Message("rd", "console/alice", rules.TypeReviewDecided, base.Add(4*time.Minute), "o1", `{"refund_amount":4000}`))
	e.start(t, nil)
	e.kafka.Produce(context.Background(), t, msgs...)
	// The evidence notice, 499 rejections, the ruling and its two transfers.
	got := e.waitFor(t, 1+flood+3, 30*time.Second)
	var rejected, quota int
	var ruled bool
	for _, m := range got {
		switch {
		case strings.HasPrefix(m.Subject, rules.SubjectRejected+"."):
			rejected++
			if strings.Contains(string(m.Data), `"code":"quota"`) {
				quota++
			}
		case strings.HasPrefix(m.Subject, rules.SubjectRuling+"."):
			ruled = strings.Contains(string(m.Data), `"refund_amount":4000`)
		}
	}
	if rejected != flood || quota != 0 || !ruled {
		t.Errorf("%d rejections (%d for the quota), ruled by the reviewer %v; want %d, none for the quota, and the decision's ruling", rejected, quota, ruled, flood)
	}
}

// TestTimeBoundedByTheOrdersHistory: the attacks of issue 19 on time,
// through the broker. On the code before, an intervention stamped 1971
// opened and closed its evidence window in the past (an immediate
// refund_full), a modification due 1970 refunded a paid order at once, a
// cooperation due in 2000 released the money, and an order whose delivery
// date preceded its payment was refunded by its delivery deadline at once.
// Now each is refused (rejected before_payment or bad_due, or a letter with
// code bad_due) and nothing moves; the control dispute's intervention,
// stamped in its place, starts its evidence deadline.
func TestTimeBoundedByTheOrdersHistory(t *testing.T) {
	e := newEnv(t, 1)
	base := time.Now().UTC().Add(-time.Hour)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	paid := func(order string) kafka.Message {
		return testevent.Message(order+"-paid", "orders", rules.TypeOrderPaid, at(0), order, `{"customer_id":"c","provider_id":"p","category":"image_design","amount":10000,"currency":"EUR"}`)
	}
	refund := func(order string) kafka.Message {
		return testevent.Message(order+"-refund", "refunds", rules.TypeRefundRequested, at(1), order, `{"reason":"not_delivered"}`)
	}
	msgs := []kafka.Message{
		paid("atk-1971"), refund("atk-1971"),
		testevent.Message("x1", "refunds", rules.TypeInterventionRequested, time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC), "atk-1971", `{"by":"customer"}`),
		paid("atk-mod"),
		testevent.Message("x2", "deliveries", rules.TypeModificationRequested, at(2), "atk-mod", `{"issue_id":"logo","objective":true,"due":"1970-01-01T00:00:00Z"}`),
		paid("atk-coop"), refund("atk-coop"),
		testevent.Message("x3", "deliveries", rules.TypeCooperationRequested, at(2), "atk-coop", `{"due":"2000-01-01T00:00:00Z","informed_in_advance":true}`),
		{Topic: topics.Orders, Key: []byte("atk-due"), Value: testevent.Raw("x4", "orders", rules.TypeOrderPaid, at(0), "atk-due",
			`{"customer_id":"c","provider_id":"p","category":"image_design","amount":10000,"currency":"EUR","delivery_due":"2000-01-01T00:00:00Z"}`)},
		paid("control"), refund("control"),
		testevent.Message("c1", "refunds", rules.TypeInterventionRequested, at(2), "control", `{"by":"customer"}`),
	}
	e.start(t, nil)
	e.kafka.Produce(context.Background(), t, msgs...)
	// Three rejections and the control's evidence notice.
	got := e.waitFor(t, 4, 30*time.Second)
	codes := map[string]string{}
	for _, m := range got {
		if strings.HasPrefix(m.Subject, rules.SubjectRuling+".") || strings.HasPrefix(m.Subject, rules.SubjectTransfer+".") {
			t.Errorf("money moved: %s %s", m.Subject, m.Data)
		}
		var r rules.Rejection
		if strings.HasPrefix(m.Subject, rules.SubjectRejected+".") && json.Unmarshal(m.Data, &r) == nil {
			codes[r.OrderID] = r.Code
		}
	}
	want := map[string]string{"atk-1971": rules.CodeBeforePayment, "atk-mod": rules.CodeBadDue, "atk-coop": rules.CodeBadDue}
	if !maps.Equal(codes, want) {
		t.Errorf("rejections %v, want %v", codes, want)
	}
	if !slices.ContainsFunc(got, func(m testserver.Msg) bool { return m.Subject == rules.SubjectNotice+".control" }) {
		t.Errorf("the control dispute has no evidence notice: %v", got)
	}
	letters := e.deadLetters(t, 1, "the order paid after its delivery date is dead-lettered")
	if h := headers(letters[0]); h[consumer.HeaderCode] != rules.CodeBadDue || string(letters[0].Key) != "atk-due" {
		t.Errorf("letter %s: code %q", letters[0].Key, h[consumer.HeaderCode])
	}
}
