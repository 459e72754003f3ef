package story

import (
	"time"

	"github.com/disputed/disputed/rules"
)

var sources = map[string]string{
	rules.TopicOrders: "order-service", rules.TopicDeliveries: "delivery-service",
	rules.TopicChats: "chat-service", rules.TopicRefundRequests: "refund-service",
}

// EncodeEvent makes an event's bytes as upstream systems write them, with
// the encoder every writer uses (rules.EncodeEvent), from the source of its
// type's topic.
func EncodeEvent(id, order string, typ rules.Type, at time.Time, data rules.Data) []byte {
	src := sources[typ.Topic()]
	if src == "" {
		src = "bench"
	}
	return rules.EncodeEvent(rules.Event{ID: id, Source: src, Type: typ, Time: at, OrderID: order, Data: data})
}
