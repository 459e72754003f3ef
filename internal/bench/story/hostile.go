package story

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/rules"
)

// hostileMix is the rotation of kinds mixed in at --bad-share, by weight.
var hostileMix = []struct {
	kind   HostileKind
	weight int
}{
	{BadJSON, 4}, {UnknownType, 3}, {UnknownOrder, 3}, {NestedJSON, 1},
	{TextAtLimit, 1}, {TextOverLimit, 1}, {NotAllowed, 2},
}

// victims are paid orders that the hostile events aim at.
const victims = 50

// Hostile makes the hostile input: a rotation of kinds at a share of the
// good events, aimed at a few victims (paid first, by Setup), and a flood of
// chats for one order.
type Hostile struct {
	runID    string
	seq      int
	wheel    []HostileKind
	debt     float64 // hostile events owed to the share
	perGood  float64 // hostile events per good event
	floodLen int
	bigSize  int
}

// NewHostile returns the hostile input of run runID at share of all events,
// with a flood of flood chats and oversized messages of bigSize bytes.
func NewHostile(runID string, share float64, flood, bigSize int) *Hostile {
	h := &Hostile{runID: runID, floodLen: flood, bigSize: bigSize}
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

func (h *Hostile) victim(i int) string {
	return OrderPrefix(h.runID, PhaseHostile) + "v" + strconv.Itoa(i%victims)
}

// FloodOrder is the order the flood aims at.
func (h *Hostile) FloodOrder() string { return OrderPrefix(h.runID, PhaseHostile) + "flood" }

// Setup returns the order.paid events of the victims and the flood order.
func (h *Hostile) Setup(now time.Time) []Event {
	var out []Event
	for i := range victims + 1 {
		o := h.victim(i)
		if i == victims {
			o = h.FloodOrder()
		}
		id := o + "-paid"
		out = append(out, Event{ID: id, Order: o, Type: rules.TypeOrderPaid, At: now, Phase: PhaseHostile,
			Value: EncodeEvent(id, o, rules.TypeOrderPaid, now, rules.Data{
				CustomerID: "mer-victim", ProviderID: "sp-victim", Category: rules.Video, Amount: 50000, Currency: "CNY",
			})})
	}
	return out
}

// Owed returns how many hostile events go with one more good event.
func (h *Hostile) Owed() int {
	if h.perGood == 0 {
		return 0
	}
	h.debt += h.perGood
	n := int(h.debt)
	h.debt -= float64(n)
	return n
}

// Next returns the next hostile event of the rotation.
func (h *Hostile) Next(now time.Time) Event {
	k := h.wheel[h.seq%len(h.wheel)]
	return h.Make(k, now)
}

// Make returns a hostile event of kind k.
func (h *Hostile) Make(k HostileKind, now time.Time) Event {
	h.seq++
	id := OrderPrefix(h.runID, PhaseHostile) + "h" + strconv.Itoa(h.seq)
	order := h.victim(h.seq)
	e := Event{ID: id, Order: order, Type: rules.TypeChatMessage, At: now, Phase: PhaseHostile, Hostile: k}
	chatOf := func(n int) []byte {
		return EncodeEvent(id, order, rules.TypeChatMessage, now, rules.Data{From: rules.Customer, Text: strings.Repeat("x", n)})
	}
	switch k {
	case BadJSON:
		full := EncodeEvent(id, order, rules.TypeChatMessage, now, rules.Data{From: rules.Customer, Text: "cut short"})
		e.Value = full[:len(full)*2/3]
	case UnknownType:
		e.Type = "order.exploded"
		e.Topic = rules.TopicOrders
		e.Value = EncodeEvent(id, order, e.Type, now, rules.Data{})
	case UnknownOrder:
		e.Order = OrderPrefix(h.runID, PhaseHostile) + "ghost" + strconv.Itoa(h.seq)
		e.Type = rules.TypeRefundRequested
		e.Value = EncodeEvent(id, e.Order, e.Type, now, rules.Data{Reason: rules.ReasonNotDelivered})
	case NestedJSON:
		full := EncodeEvent(id, order, rules.TypeChatMessage, now, rules.Data{From: rules.Customer})
		var b bytes.Buffer
		b.Write(full[:bytes.Index(full, []byte(`,"data":`))]) // the envelope without its data
		b.WriteString(`,"data":{"from":"customer","text":`)
		b.WriteString(strings.Repeat("[", 10000))
		b.WriteString(strings.Repeat("]", 10000))
		b.WriteString("}}")
		e.Value = b.Bytes()
	case TextAtLimit:
		e.Value = chatOf(16384)
	case TextOverLimit:
		e.Value = chatOf(17000)
	case NotAllowed:
		e.Type = rules.TypeSuspensionLifted
		e.Value = EncodeEvent(id, order, e.Type, now, rules.Data{})
	case FloodChat:
		e.Order = h.FloodOrder()
		e.Value = EncodeEvent(id, e.Order, e.Type, now, rules.Data{From: rules.Customer, Text: "Hello? Anyone there? I am still waiting for an answer about my refund."})
	case Oversized:
		e.Value = chatOf(h.bigSize)
	}
	if k == NotAllowed {
		e.Cmds = 1
	}
	return e
}

// Flood returns --flood chat messages for one order.
func (h *Hostile) Flood(now time.Time) []Event {
	out := make([]Event, h.floodLen)
	for i := range out {
		out[i] = h.Make(FloodChat, now)
	}
	return out
}
