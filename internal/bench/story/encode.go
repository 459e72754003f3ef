package story

import (
	"encoding/json"
	"time"

	"github.com/disputed/disputed/rules"
)

// wireEvent is the CloudEvents envelope as upstream systems write it.
type wireEvent struct {
	SpecVersion string         `json:"specversion"`
	ID          string         `json:"id"`
	Source      string         `json:"source"`
	Type        rules.Type     `json:"type"`
	Time        string         `json:"time"`
	Subject     string         `json:"subject"`
	Data        map[string]any `json:"data,omitempty"`
}

var sources = map[string]string{
	rules.TopicOrders: "order-service", rules.TopicDeliveries: "delivery-service",
	rules.TopicChats: "chat-service", rules.TopicRefundRequests: "refund-service",
}

// EncodeEvent is the one place the bench makes an event's bytes: the
// CloudEvents envelope in structured content mode, as upstream systems write
// it. (rules.EncodeEvent, which every writer will use, is to replace it.)
func EncodeEvent(id, order string, typ rules.Type, at time.Time, data map[string]any) []byte {
	src := sources[typ.Topic()]
	if src == "" {
		src = "bench"
	}
	b, err := json.Marshal(wireEvent{SpecVersion: "1.0", ID: id, Source: src, Type: typ, Time: at.UTC().Format(time.RFC3339Nano), Subject: order, Data: data})
	if err != nil {
		panic(err) // maps of strings, numbers and booleans always encode
	}
	return b
}
