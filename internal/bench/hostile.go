package bench

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/rules"
)

// Hostile input: malformed messages, which must be dead-lettered, and
// well-formed ones meant to hurt (events the rules refuse, huge texts, a
// flood for one order), mixed into the load at --bad-share.

type hostileKind int

const (
	notHostile    hostileKind = iota
	badJSON                   // truncated JSON: dead letter
	unknownType               // a type contract v1 does not have: dead letter
	unknownOrder              // refund.requested for an order never paid: dead letter
	nestedJSON                // data nested 10,000 levels deep: dead letter
	textAtLimit               // a chat of exactly 16,384 bytes: applied (or rejected over the order's voucher limit)
	textOverLimit             // a chat of 17,000 bytes: dead letter
	notAllowed                // suspension.lifted of a dispute not suspended: rejected
	floodChat                 // one of --flood chats for one order: applied up to the order's voucher limit, then rejected
	oversized                 // a message of --oversized-bytes: dead letter
	nHostileKinds
)

var hostileNames = [nHostileKinds]string{
	notHostile: "none", badJSON: "bad_json", unknownType: "unknown_type", unknownOrder: "unknown_order",
	nestedJSON: "nested_10k_levels", textAtLimit: "text_at_16KiB_limit", textOverLimit: "text_over_16KiB_limit",
	notAllowed: "not_allowed_rejected", floodChat: "flood_one_order", oversized: "oversized_message",
}

// hostileOutcome is what the processor must do with each kind.
type hostileOutcome int

const (
	outcomeDeadLetter hostileOutcome = iota
	outcomeApplied                   // or rejected once the order is over a per-order limit
	outcomeRejected
)

func (k hostileKind) outcome() hostileOutcome {
	switch k {
	case textAtLimit, floodChat:
		return outcomeApplied
	case notAllowed:
		return outcomeRejected
	}
	return outcomeDeadLetter
}

// hostileMix is the rotation of kinds mixed in at --bad-share, by weight.
var hostileMix = []struct {
	kind   hostileKind
	weight int
}{
	{badJSON, 4}, {unknownType, 3}, {unknownOrder, 3}, {nestedJSON, 1},
	{textAtLimit, 1}, {textOverLimit, 1}, {notAllowed, 2},
}

// victims are paid orders that the hostile events aim at.
const victims = 50

type hostile struct {
	runID    string
	seq      int
	wheel    []hostileKind
	debt     float64 // hostile events owed to the share
	perGood  float64 // hostile events per good event
	floodLen int
	bigSize  int
}

func newHostile(runID string, share float64, flood, bigSize int) *hostile {
	h := &hostile{runID: runID, floodLen: flood, bigSize: bigSize}
	if share > 0 {
		h.perGood = share / (1 - share)
	}
	for _, m := range hostileMix {
		for range m.weight {
			h.wheel = append(h.wheel, m.kind)
		}
	}
	return h
}

func (h *hostile) victim(i int) string {
	return orderPrefix(h.runID, phaseHostile) + "v" + strconv.Itoa(i%victims)
}

func (h *hostile) floodOrder() string { return orderPrefix(h.runID, phaseHostile) + "flood" }

// setup returns the order.paid events of the victims and the flood order.
func (h *hostile) setup(now time.Time) []producedEvent {
	var out []producedEvent
	for i := range victims + 1 {
		o := h.victim(i)
		if i == victims {
			o = h.floodOrder()
		}
		id := o + "-paid"
		out = append(out, producedEvent{id: id, order: o, typ: rules.TypeOrderPaid, at: now, phase: phaseHostile,
			value: encodeEvent(id, o, rules.TypeOrderPaid, now, map[string]any{
				"customer_id": "mer-victim", "provider_id": "sp-victim", "category": rules.Video, "amount": 50000, "currency": "CNY",
			})})
	}
	return out
}

// owed returns how many hostile events go with one more good event.
func (h *hostile) owed() int {
	if h.perGood == 0 {
		return 0
	}
	h.debt += h.perGood
	n := int(h.debt)
	h.debt -= float64(n)
	return n
}

// next returns the next hostile event of the rotation.
func (h *hostile) next(now time.Time) producedEvent {
	k := h.wheel[h.seq%len(h.wheel)]
	return h.make(k, now)
}

func (h *hostile) make(k hostileKind, now time.Time) producedEvent {
	h.seq++
	id := orderPrefix(h.runID, phaseHostile) + "h" + strconv.Itoa(h.seq)
	order := h.victim(h.seq)
	e := producedEvent{id: id, order: order, typ: rules.TypeChatMessage, at: now, phase: phaseHostile, hostile: k}
	chatOf := func(n int) []byte {
		return encodeEvent(id, order, rules.TypeChatMessage, now, map[string]any{"from": rules.Customer, "text": strings.Repeat("x", n)})
	}
	switch k {
	case badJSON:
		full := encodeEvent(id, order, rules.TypeChatMessage, now, map[string]any{"from": rules.Customer, "text": "cut short"})
		e.value = full[:len(full)*2/3]
	case unknownType:
		e.typ = "order.exploded"
		e.topic = rules.TopicOrders
		e.value = encodeEvent(id, order, e.typ, now, map[string]any{"boom": true})
	case unknownOrder:
		e.order = orderPrefix(h.runID, phaseHostile) + "ghost" + strconv.Itoa(h.seq)
		e.typ = rules.TypeRefundRequested
		e.value = encodeEvent(id, e.order, e.typ, now, map[string]any{"reason": rules.ReasonNotDelivered})
	case nestedJSON:
		head := encodeEvent(id, order, rules.TypeChatMessage, now, nil)
		var b bytes.Buffer
		b.Write(head[:len(head)-1])
		b.WriteString(`,"data":{"from":"customer","text":`)
		b.WriteString(strings.Repeat("[", 10000))
		b.WriteString(strings.Repeat("]", 10000))
		b.WriteString("}}")
		e.value = b.Bytes()
	case textAtLimit:
		e.value = chatOf(16384)
	case textOverLimit:
		e.value = chatOf(17000)
	case notAllowed:
		e.typ = rules.TypeSuspensionLifted
		e.value = encodeEvent(id, order, e.typ, now, nil)
	case floodChat:
		e.order = h.floodOrder()
		e.value = encodeEvent(id, e.order, e.typ, now, map[string]any{"from": rules.Customer, "text": "Hello? Anyone there? I am still waiting for an answer about my refund."})
	case oversized:
		e.value = chatOf(h.bigSize)
	}
	if k == notAllowed {
		e.cmds = 1
	}
	return e
}

// flood returns --flood chat messages for one order.
func (h *hostile) flood(now time.Time) []producedEvent {
	out := make([]producedEvent, h.floodLen)
	for i := range out {
		out[i] = h.make(floodChat, now)
	}
	return out
}
