package rules_test

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// decT0 is the time of every event the decode tests build.
var decT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// decEnv returns a valid CloudEvents envelope of type typ, carrying data
// (omitted when nil). Tests change or delete its keys to break it.
func decEnv(typ string, data any) map[string]any {
	m := map[string]any{
		"specversion": "1.0",
		"id":          "evt-1",
		"source":      "order-service",
		"type":        typ,
		"time":        "2026-03-01T10:00:00Z",
		"subject":     "ord-1001",
	}
	if data != nil {
		m["data"] = data
	}
	return m
}

// decValidData returns valid data, with every field, for each event type.
func decValidData(typ rules.Type) map[string]any {
	switch typ {
	case rules.TypeOrderPaid:
		return map[string]any{"customer_id": "cus-1", "provider_id": "pro-1", "category": "video", "amount": 10000, "currency": "EUR",
			"delivery_due": "2026-03-08T10:00:00Z", "modification_days": 5, "custom_contract": false, "promised_transaction_amount": false}
	case rules.TypeServiceTerminated:
		return map[string]any{"by": "platform", "cause": "provider", "agreed": false}
	case rules.TypeServiceExtended:
		return map[string]any{"by": "provider", "agreed": true}
	case rules.TypeDeliverySubmitted:
		return map[string]any{"delivery_no": "dlv-1"}
	case rules.TypeModificationRequested:
		return map[string]any{"issue_id": "iss-1", "objective": true, "due": "2026-03-04T10:00:00Z"}
	case rules.TypeModificationRefused, rules.TypeModificationDelivered, rules.TypeModificationRejected:
		return map[string]any{"issue_id": "iss-1"}
	case rules.TypeCooperationRequested:
		return map[string]any{"due": "2026-03-04T10:00:00Z", "informed_in_advance": true}
	case rules.TypeChatMessage:
		return map[string]any{"from": "customer", "text": "hello"}
	case rules.TypeRefundRequested:
		return map[string]any{"reason": "quality", "amount": 500}
	case rules.TypeInterventionRequested, rules.TypeNegotiationRequested, rules.TypeJudicialFiled:
		return map[string]any{"by": "customer"}
	case rules.TypeEvidenceSubmitted:
		return map[string]any{"party": "provider", "kind": "valid", "note": "delivery record"}
	case rules.TypeSettlementAgreed:
		return map[string]any{"refund_amount": 300}
	case rules.TypeAssessmentRecorded:
		return map[string]any{"value_ratio_bp": 2500, "service_cost": 100, "unrealized_cost": 50}
	case rules.TypeReviewDecided:
		return map[string]any{"refund_amount": 300, "articles": []string{"c2.a9"}, "note": "looked at it"}
	}
	return map[string]any{}
}

// decWith returns a valid event of type typ whose data has key set to v, or
// deleted when v is decDelete.
func decWith(typ rules.Type, key string, v any) map[string]any {
	d := maps.Clone(decValidData(typ))
	if v == decDelete {
		delete(d, key)
	} else {
		d[key] = v
	}
	return decEnv(string(typ), d)
}

type decDeleteT struct{}

var decDelete = decDeleteT{}

// decEnvWith returns a valid refund.requested envelope with key set to v, or
// deleted when v is decDelete.
func decEnvWith(key string, v any) map[string]any {
	m := decEnv(string(rules.TypeRefundRequested), decValidData(rules.TypeRefundRequested))
	if v == decDelete {
		delete(m, key)
	} else {
		m[key] = v
	}
	return m
}

func decMarshal(t testing.TB, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal test input: %v", err)
	}
	return b
}

// decRaw builds an event by hand, for inputs a map cannot express (exact
// number literals, key order).
func decRaw(typ, data string) string {
	s := `{"specversion":"1.0","id":"evt-1","source":"order-service","type":"` + typ + `","time":"2026-03-01T10:00:00Z","subject":"ord-1001"`
	if data != "" {
		s += `,"data":` + data
	}
	return s + "}"
}

func decWant(typ rules.Type, d rules.Data) rules.Event {
	return rules.Event{ID: "evt-1", Source: "order-service", Type: typ, Time: decT0, OrderID: "ord-1001", Data: d}
}

func TestDecodeValid(t *testing.T) {
	due := time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)
	longText := strings.Repeat("x", rules.MaxTextLen)
	id128 := strings.Repeat("o", 128)
	tests := []struct {
		name string
		in   string
		want rules.Event
	}{
		{
			name: "order.paid with every field",
			in: decRaw("order.paid", `{"customer_id":"cus-1","provider_id":"pro-1","category":"software_app","amount":4611686018427387904,"currency":"EUR",`+
				`"delivery_due":"2026-03-08T10:00:00+02:00","modification_days":5,"custom_contract":true,"promised_transaction_amount":true}`),
			want: decWant(rules.TypeOrderPaid, rules.Data{CustomerID: "cus-1", ProviderID: "pro-1", Category: rules.SoftwareApp,
				Amount: 1 << 62, Currency: "EUR", DeliveryDue: due, ModificationDays: 5, CustomContract: true, PromisedTransactionAmount: true}),
		},
		{
			name: "order.paid minimal",
			in:   decRaw("order.paid", `{"customer_id":"cus-1","provider_id":"pro-1","category":"other","amount":1,"currency":"USD"}`),
			want: decWant(rules.TypeOrderPaid, rules.Data{CustomerID: "cus-1", ProviderID: "pro-1", Category: rules.OtherCategory, Amount: 1, Currency: "USD"}),
		},
		{
			name: "order.paid max int64 amount, explicit false flags",
			in: decRaw("order.paid", `{"customer_id":"cus-1","provider_id":"pro-1","category":"operational_service","amount":9223372036854775807,"currency":"JPY",`+
				`"custom_contract":false,"promised_transaction_amount":false}`),
			want: decWant(rules.TypeOrderPaid, rules.Data{CustomerID: "cus-1", ProviderID: "pro-1", Category: rules.OperationalService, Amount: 1<<63 - 1, Currency: "JPY"}),
		},
		{name: "order.accepted without data", in: decRaw("order.accepted", ""), want: decWant(rules.TypeOrderAccepted, rules.Data{})},
		{name: "order.accepted with empty data", in: decRaw("order.accepted", `{}`), want: decWant(rules.TypeOrderAccepted, rules.Data{})},
		{name: "order.accepted with null data", in: decRaw("order.accepted", `null`), want: decWant(rules.TypeOrderAccepted, rules.Data{})},
		{
			name: "service.terminated by customer, cause defaults to by",
			in:   decRaw("service.terminated", `{"by":"customer","agreed":true}`),
			want: decWant(rules.TypeServiceTerminated, rules.Data{By: rules.Customer, Cause: rules.Customer, Agreed: true}),
		},
		{
			name: "service.terminated by platform for the provider's fault",
			in:   decRaw("service.terminated", `{"by":"platform","cause":"provider","agreed":false}`),
			want: decWant(rules.TypeServiceTerminated, rules.Data{By: rules.Platform, Cause: rules.Provider}),
		},
		{
			name: "service.extended",
			in:   decRaw("service.extended", `{"by":"provider","agreed":false}`),
			want: decWant(rules.TypeServiceExtended, rules.Data{By: rules.Provider}),
		},
		{name: "delivery.submitted with number", in: decRaw("delivery.submitted", `{"delivery_no":"dlv-7"}`), want: decWant(rules.TypeDeliverySubmitted, rules.Data{DeliveryNo: "dlv-7"})},
		{name: "delivery.submitted without data", in: decRaw("delivery.submitted", ""), want: decWant(rules.TypeDeliverySubmitted, rules.Data{})},
		{
			name: "modification.requested with due",
			in:   decRaw("modification.requested", `{"issue_id":"iss-1","objective":true,"due":"2026-03-04T10:00:00.5Z"}`),
			want: decWant(rules.TypeModificationRequested, rules.Data{IssueID: "iss-1", Objective: true, Due: time.Date(2026, 3, 4, 10, 0, 0, 5e8, time.UTC)}),
		},
		{
			name: "modification.requested without due",
			in:   decRaw("modification.requested", `{"issue_id":"iss-1","objective":false}`),
			want: decWant(rules.TypeModificationRequested, rules.Data{IssueID: "iss-1"}),
		},
		{name: "modification.refused", in: decRaw("modification.refused", `{"issue_id":"iss-2"}`), want: decWant(rules.TypeModificationRefused, rules.Data{IssueID: "iss-2"})},
		{name: "modification.delivered", in: decRaw("modification.delivered", `{"issue_id":"iss-2"}`), want: decWant(rules.TypeModificationDelivered, rules.Data{IssueID: "iss-2"})},
		{name: "modification.rejected", in: decRaw("modification.rejected", `{"issue_id":"iss-2"}`), want: decWant(rules.TypeModificationRejected, rules.Data{IssueID: "iss-2"})},
		{
			name: "cooperation.requested",
			in:   decRaw("cooperation.requested", `{"due":"2026-03-04T12:00:00+02:00","informed_in_advance":true}`),
			want: decWant(rules.TypeCooperationRequested, rules.Data{Due: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC), InformedInAdvance: true}),
		},
		{name: "cooperation.provided", in: decRaw("cooperation.provided", `{}`), want: decWant(rules.TypeCooperationProvided, rules.Data{})},
		{
			name: "chat.message",
			in:   decRaw("chat.message", `{"from":"provider","text":"Delivered, see the link.\nRegards"}`),
			want: decWant(rules.TypeChatMessage, rules.Data{From: rules.Provider, Text: "Delivered, see the link.\nRegards"}),
		},
		{
			name: "chat.message with empty text",
			in:   decRaw("chat.message", `{"from":"platform","text":""}`),
			want: decWant(rules.TypeChatMessage, rules.Data{From: rules.Platform}),
		},
		{
			name: "chat.message with the longest text",
			in:   decRaw("chat.message", `{"from":"customer","text":"`+longText+`"}`),
			want: decWant(rules.TypeChatMessage, rules.Data{From: rules.Customer, Text: longText}),
		},
		{
			name: "refund.requested with amount",
			in:   decRaw("refund.requested", `{"reason":"modification_overdue","amount":2500}`),
			want: decWant(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonModificationOverdue, Amount: 2500}),
		},
		{
			name: "refund.requested for the whole order",
			in:   decRaw("refund.requested", `{"reason":"not_delivered"}`),
			want: decWant(rules.TypeRefundRequested, rules.Data{Reason: rules.ReasonNotDelivered}),
		},
		{name: "refund.withdrawn", in: decRaw("refund.withdrawn", ""), want: decWant(rules.TypeRefundWithdrawn, rules.Data{})},
		{name: "intervention.requested", in: decRaw("intervention.requested", `{"by":"customer"}`), want: decWant(rules.TypeInterventionRequested, rules.Data{By: rules.Customer})},
		{
			name: "evidence.submitted",
			in:   decRaw("evidence.submitted", `{"party":"provider","kind":"valid","note":"delivery record dlv-7"}`),
			want: decWant(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Provider, Kind: rules.Valid, Note: "delivery record dlv-7"}),
		},
		{
			name: "evidence.submitted reference without note",
			in:   decRaw("evidence.submitted", `{"party":"customer","kind":"reference"}`),
			want: decWant(rules.TypeEvidenceSubmitted, rules.Data{Party: rules.Customer, Kind: rules.Reference}),
		},
		{name: "settlement.agreed of nothing", in: decRaw("settlement.agreed", `{"refund_amount":0}`), want: decWant(rules.TypeSettlementAgreed, rules.Data{})},
		{name: "settlement.agreed", in: decRaw("settlement.agreed", `{"refund_amount":1234}`), want: decWant(rules.TypeSettlementAgreed, rules.Data{RefundAmount: 1234})},
		{name: "negotiation.requested", in: decRaw("negotiation.requested", `{"by":"provider"}`), want: decWant(rules.TypeNegotiationRequested, rules.Data{By: rules.Provider})},
		{name: "judicial.filed", in: decRaw("judicial.filed", `{"by":"customer"}`), want: decWant(rules.TypeJudicialFiled, rules.Data{By: rules.Customer})},
		{name: "suspension.lifted", in: decRaw("suspension.lifted", ""), want: decWant(rules.TypeSuspensionLifted, rules.Data{})},
		{
			name: "assessment.recorded with costs",
			in:   decRaw("assessment.recorded", `{"value_ratio_bp":10000,"service_cost":9223372036854775807,"unrealized_cost":50}`),
			want: decWant(rules.TypeAssessmentRecorded, rules.Data{ValueRatioBP: 10000, ServiceCost: 1<<63 - 1, UnrealizedCost: 50}),
		},
		{
			name: "assessment.recorded ratio only",
			in:   decRaw("assessment.recorded", `{"value_ratio_bp":0}`),
			want: decWant(rules.TypeAssessmentRecorded, rules.Data{}),
		},
		{
			name: "review.decided",
			in:   decRaw("review.decided", `{"refund_amount":500,"articles":["c1.s1.a4","c2.a9","c1.s2.service_cost"],"note":"split by value"}`),
			want: decWant(rules.TypeReviewDecided, rules.Data{RefundAmount: 500, Articles: []string{"c1.s1.a4", "c2.a9", "c1.s2.service_cost"}, Note: "split by value"}),
		},
		{
			name: "review.decided without articles",
			in:   decRaw("review.decided", `{"refund_amount":0}`),
			want: decWant(rules.TypeReviewDecided, rules.Data{}),
		},
		{
			name: "envelope: time with offset and nanoseconds, datacontenttype, longest subject, extension attribute",
			in: `{"specversion":"1.0","id":"evt-9","source":"/orders/eu","type":"refund.withdrawn","time":"2026-03-01T11:00:00.123456789+01:00",` +
				`"subject":"` + id128 + `","datacontenttype":"application/json","traceparent":"00-abc","data":{}}`,
			want: rules.Event{ID: "evt-9", Source: "/orders/eu", Type: rules.TypeRefundWithdrawn,
				Time: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC), OrderID: id128},
		},
		{
			name: "envelope: datacontenttype with parameters",
			in:   `{"specversion":"1.0","id":"evt-9","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o","datacontenttype":"application/json; charset=utf-8"}`,
			want: rules.Event{ID: "evt-9", Source: "s", Type: rules.TypeOrderAccepted, Time: decT0, OrderID: "o"},
		},
		{
			name: "envelope: subject with every allowed punctuation",
			in:   `{"specversion":"1.0","id":"evt-9","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"Ab-9_:@+=#~"}`,
			want: rules.Event{ID: "evt-9", Source: "s", Type: rules.TypeOrderAccepted, Time: decT0, OrderID: "Ab-9_:@+=#~"},
		},
		{
			name: "whitespace around the event and data",
			in:   " \n" + decRaw("intervention.requested", ` { "by" : "platform" } `) + "\n",
			want: decWant(rules.TypeInterventionRequested, rules.Data{By: rules.Platform}),
		},
	}
	covered := make(map[rules.Type]bool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tt.want)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("time %v is not in UTC", got.Time)
			}
		})
		covered[tt.want.Type] = true
	}
	for _, typ := range rules.Types() {
		if !covered[typ] {
			t.Errorf("no valid example of %s", typ)
		}
	}
}

// TestDecodeValidData checks that decValidData, which the malformed cases
// start from, is valid for every type.
func TestDecodeValidData(t *testing.T) {
	for _, typ := range rules.Types() {
		t.Run(string(typ), func(t *testing.T) {
			if _, err := rules.Decode(decMarshal(t, decEnv(string(typ), decValidData(typ)))); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	type tc struct {
		name  string
		in    any // string, []byte or a value to marshal
		field string
	}
	huge := `{"specversion":"1.0","id":"evt-1","source":"s","type":"chat.message","time":"2026-03-01T10:00:00Z","subject":"ord-1","data":{"from":"customer","text":"` +
		strings.Repeat("x", rules.MaxEventSize) + `"}}`
	tooManyArticles := make([]string, 65)
	for i := range tooManyArticles {
		tooManyArticles[i] = rules.C2A5
	}
	tests := []tc{
		// Not an event at all.
		{"empty input", "", ""},
		{"bad JSON", `{"specversion":"1.0",`, ""},
		{"bad JSON: single quotes", `{'specversion':'1.0'}`, ""},
		{"bad JSON: trailing garbage", decRaw("order.accepted", "") + " x", ""},
		{"bad JSON: two objects", decRaw("order.accepted", "") + decRaw("order.accepted", ""), ""},
		{"not an object: array", `[1,2]`, ""},
		{"not an object: string", `"order.paid"`, ""},
		{"not an object: number", `42`, ""},
		{"not an object: null", `null`, "specversion"},
		{"oversized message", huge, ""},

		// JSON read one way (v2): what another reader could read as
		// another event.
		{"a data member twice, in two letter cases", decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":100,"AMOUNT":99999999,"currency":"EUR"}`), "data.AMOUNT"},
		{"a data member twice", decRaw("refund.requested", `{"reason":"quality","reason":"not_delivered"}`), "data.reason"},
		{"a data member in another letter case", decRaw("refund.requested", `{"Reason":"quality"}`), "data.Reason"},
		{"an attribute twice", `{"specversion":"1.0","id":"a","id":"b","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o"}`, "id"},
		{"an attribute in another letter case", `{"specversion":"1.0","ID":"a","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o"}`, "ID"},
		{"an escaped name that unescapes to a member given already", decRaw("refund.requested", `{"reason":"quality","r\u0065ason":"not_delivered"}`), "data.reason"},
		{"a member twice in an extension object", `{"specversion":"1.0","id":"a","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o","ext":{"k":1,"k":2}}`, "ext.k"},
		{"invalid UTF-8 in a party ID", decRaw("order.paid", "{\"customer_id\":\"c\xff\",\"provider_id\":\"p\",\"category\":\"video\",\"amount\":100,\"currency\":\"EUR\"}"), ""},
		{"invalid UTF-8 in an extension", `{"specversion":"1.0","id":"a","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o","ext":"` + "\xfe" + `"}`, ""},
		{"a lone surrogate escaped", decRaw("chat.message", `{"from":"customer","text":"\ud800"}`), ""},
		{"a low surrogate alone", decRaw("chat.message", `{"from":"customer","text":"\udc00x"}`), ""},

		// Envelope.
		{"missing specversion", decEnvWith("specversion", decDelete), "specversion"},
		{"wrong specversion", decEnvWith("specversion", "0.3"), "specversion"},
		{"specversion 1.0 as a number", `{"specversion":1.0,"id":"e","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o"}`, "specversion"},
		{"missing id", decEnvWith("id", decDelete), "id"},
		{"empty id", decEnvWith("id", ""), "id"},
		{"id with a control character", decEnvWith("id", "evt\x01"), "id"},
		{"id too long", decEnvWith("id", strings.Repeat("i", rules.MaxIDLen+1)), "id"},
		{"id as a number", decEnvWith("id", 7), "id"},
		{"missing source", decEnvWith("source", decDelete), "source"},
		{"missing type", decEnvWith("type", decDelete), "type"},
		{"empty type", decEnvWith("type", ""), "type"},
		{"unknown type", decEnvWith("type", "order.refunded"), "type"},
		{"deadline type", decEnv("deadline", map[string]any{}), "type"},
		{"type in upper case", decEnvWith("type", "ORDER.PAID"), "type"},
		{"missing time", decEnvWith("time", decDelete), "time"},
		{"bad time", decEnvWith("time", "yesterday"), "time"},
		{"time without zone", decEnvWith("time", "2026-03-01T10:00:00"), "time"},
		{"time with a space", decEnvWith("time", "2026-03-01 10:00:00Z"), "time"},
		{"time out of range", decEnvWith("time", "2026-02-30T10:00:00Z"), "time"},
		{"time as a number", decEnvWith("time", 1772359200), "time"},
		// Forms Go's lenient time parser takes that RFC 3339 does not.
		{"time with a one-digit hour", decEnvWith("time", "2026-03-01T9:00:00Z"), "time"},
		{"time with a comma before the fraction", decEnvWith("time", "2026-03-01T10:00:00,5Z"), "time"},
		{"time with a dot and no fraction", decEnvWith("time", "2026-03-01T10:00:00.Z"), "time"},
		{"time with offset hour 24", decEnvWith("time", "2026-03-01T10:00:00+24:00"), "time"},
		{"time with offset minute 60", decEnvWith("time", "2026-03-01T10:00:00+01:60"), "time"},
		{"time with a lower-case t", decEnvWith("time", "2026-03-01t10:00:00Z"), "time"},
		{"time with a leap second", decEnvWith("time", "2026-12-31T23:59:60Z"), "time"},
		{"delivery_due with a one-digit hour", decWith(rules.TypeOrderPaid, "delivery_due", "2026-03-08T9:00:00Z"), "data.delivery_due"},
		{"missing subject", decEnvWith("subject", decDelete), "subject"},
		{"empty subject", decEnvWith("subject", ""), "subject"},
		{"subject with a dot", decEnvWith("subject", "ord.1001"), "subject"},
		{"subject with a star", decEnvWith("subject", "ord*"), "subject"},
		{"subject with a greater-than", decEnvWith("subject", "ord>"), "subject"},
		{"subject with a space", decEnvWith("subject", "ord 1001"), "subject"},
		{"subject with a slash", decEnvWith("subject", "ord/1001"), "subject"},
		{"subject with non-ASCII", decEnvWith("subject", "ordé"), "subject"},
		{"subject over 128 bytes", decEnvWith("subject", strings.Repeat("o", 129)), "subject"},
		{"datacontenttype not JSON", decEnvWith("datacontenttype", "text/plain"), "datacontenttype"},
		{"datacontenttype JSON-like", decEnvWith("datacontenttype", "application/jsonx"), "datacontenttype"},
		{"datacontenttype in upper case", decEnvWith("datacontenttype", "Application/JSON"), "datacontenttype"},

		// Data that is not an object.
		{"data is an array", decEnv("refund.requested", []any{}), "data"},
		{"data is a string", decEnv("refund.requested", "reason=quality"), "data"},
		{"data is a number", decEnv("order.accepted", 1), "data"},
		{"data is a bool", decEnv("order.accepted", true), "data"},
		{"data missing for order.paid", decEnv("order.paid", nil), "data.customer_id"},

		// Wrong-typed fields.
		{"amount as a string", decWith(rules.TypeOrderPaid, "amount", "10000"), "data.amount"},
		{"amount as a float", decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":10.5,"currency":"EUR"}`), "data.amount"},
		{"amount in exponent notation", decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":1e3,"currency":"EUR"}`), "data.amount"},
		{"amount beyond int64", decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":9223372036854775808,"currency":"EUR"}`), "data.amount"},
		{"amount as a bool", decWith(rules.TypeOrderPaid, "amount", true), "data.amount"},
		{"customer_id as a number", decWith(rules.TypeOrderPaid, "customer_id", 5), "data.customer_id"},
		{"custom_contract as a string", decWith(rules.TypeOrderPaid, "custom_contract", "true"), "data.custom_contract"},
		{"modification_days as a float", decWith(rules.TypeOrderPaid, "modification_days", 1.5), "data.modification_days"},
		{"agreed as a string", decWith(rules.TypeServiceTerminated, "agreed", "true"), "data.agreed"},
		{"objective as a number", decWith(rules.TypeModificationRequested, "objective", 1), "data.objective"},
		{"informed_in_advance as a string", decWith(rules.TypeCooperationRequested, "informed_in_advance", "false"), "data.informed_in_advance"},
		{"refund amount as a string", decWith(rules.TypeRefundRequested, "amount", "500"), "data.amount"},
		{"refund_amount as a float", decRaw("settlement.agreed", `{"refund_amount":0.5}`), "data.refund_amount"},
		{"value_ratio_bp as a string", decWith(rules.TypeAssessmentRecorded, "value_ratio_bp", "5000"), "data.value_ratio_bp"},
		{"articles as a string", decWith(rules.TypeReviewDecided, "articles", "c2.a5"), "data.articles"},
		{"text as a number", decWith(rules.TypeChatMessage, "text", 5), "data.text"},

		// Money.
		{"order.paid amount 0", decWith(rules.TypeOrderPaid, "amount", 0), "data.amount"},
		{"order.paid negative amount", decWith(rules.TypeOrderPaid, "amount", -100), "data.amount"},
		{"refund.requested amount 0", decWith(rules.TypeRefundRequested, "amount", 0), "data.amount"},
		{"refund.requested negative amount", decWith(rules.TypeRefundRequested, "amount", -1), "data.amount"},
		{"settlement negative refund", decWith(rules.TypeSettlementAgreed, "refund_amount", -1), "data.refund_amount"},
		{"review negative refund", decWith(rules.TypeReviewDecided, "refund_amount", -1), "data.refund_amount"},
		{"negative service cost", decWith(rules.TypeAssessmentRecorded, "service_cost", -1), "data.service_cost"},
		{"negative unrealized cost", decWith(rules.TypeAssessmentRecorded, "unrealized_cost", int64(-1<<63)), "data.unrealized_cost"},
		{"value_ratio_bp below 0", decWith(rules.TypeAssessmentRecorded, "value_ratio_bp", -1), "data.value_ratio_bp"},
		{"value_ratio_bp above 10000", decWith(rules.TypeAssessmentRecorded, "value_ratio_bp", 10001), "data.value_ratio_bp"},
		{"currency in lower case", decWith(rules.TypeOrderPaid, "currency", "eur"), "data.currency"},
		{"currency of four letters", decWith(rules.TypeOrderPaid, "currency", "EURO"), "data.currency"},

		// Closed sets.
		{"unknown category", decWith(rules.TypeOrderPaid, "category", "catering"), "data.category"},
		{"unknown reason", decWith(rules.TypeRefundRequested, "reason", "changed_mind"), "data.reason"},
		{"unknown party: terminated by", decWith(rules.TypeServiceTerminated, "by", "admin"), "data.by"},
		{"unknown party: cause platform", decWith(rules.TypeServiceTerminated, "cause", "platform"), "data.cause"},
		{"extended by the customer", decWith(rules.TypeServiceExtended, "by", "customer"), "data.by"},
		{"unknown party: chat from", decWith(rules.TypeChatMessage, "from", "bot"), "data.from"},
		{"unknown party: intervention by", decWith(rules.TypeInterventionRequested, "by", "merchant"), "data.by"},
		{"unknown party: evidence party", decWith(rules.TypeEvidenceSubmitted, "party", "seller"), "data.party"},
		{"unknown party: negotiation by", decWith(rules.TypeNegotiationRequested, "by", "Customer"), "data.by"},
		{"unknown party: judicial by", decWith(rules.TypeJudicialFiled, "by", ""), "data.by"},
		{"unknown evidence kind", decWith(rules.TypeEvidenceSubmitted, "kind", "strong"), "data.kind"},
		{"cause missing when by is platform", decWith(rules.TypeServiceTerminated, "cause", decDelete), "data.cause"},

		// Citations.
		{"unknown citation", decWith(rules.TypeReviewDecided, "articles", []string{"c1.s1.a4", "c9.a1"}), "data.articles[1]"},
		{"citation in upper case", decWith(rules.TypeReviewDecided, "articles", []string{"C2.A5"}), "data.articles[0]"},
		{"empty citation", decWith(rules.TypeReviewDecided, "articles", []string{""}), "data.articles[0]"},
		{"too many citations", decWith(rules.TypeReviewDecided, "articles", tooManyArticles), "data.articles"},

		// Sizes.
		{"oversized chat text", decWith(rules.TypeChatMessage, "text", strings.Repeat("x", rules.MaxTextLen+1)), "data.text"},
		{"oversized evidence note", decWith(rules.TypeEvidenceSubmitted, "note", strings.Repeat("x", rules.MaxTextLen+1)), "data.note"},
		{"oversized review note", decWith(rules.TypeReviewDecided, "note", strings.Repeat("x", rules.MaxTextLen+1)), "data.note"},
		{"oversized customer_id", decWith(rules.TypeOrderPaid, "customer_id", strings.Repeat("c", rules.MaxIDLen+1)), "data.customer_id"},
		{"oversized issue_id", decWith(rules.TypeModificationRefused, "issue_id", strings.Repeat("i", rules.MaxIDLen+1)), "data.issue_id"},

		// Other field values.
		{"bad delivery_due", decWith(rules.TypeOrderPaid, "delivery_due", "next week"), "data.delivery_due"},
		{"modification_days 0", decWith(rules.TypeOrderPaid, "modification_days", 0), "data.modification_days"},
		{"modification_days too many", decWith(rules.TypeOrderPaid, "modification_days", 3651), "data.modification_days"},
		{"bad modification due", decWith(rules.TypeModificationRequested, "due", "2026-13-01T00:00:00Z"), "data.due"},
		{"bad cooperation due", decWith(rules.TypeCooperationRequested, "due", ""), "data.due"},
		{"empty delivery_no", decWith(rules.TypeDeliverySubmitted, "delivery_no", ""), "data.delivery_no"},
		{"empty issue_id", decWith(rules.TypeModificationDelivered, "issue_id", ""), "data.issue_id"},
	}

	// Every required data field, missing, per type.
	required := map[rules.Type][]string{
		rules.TypeOrderPaid:             {"customer_id", "provider_id", "category", "amount", "currency"},
		rules.TypeServiceTerminated:     {"by", "agreed"},
		rules.TypeServiceExtended:       {"by", "agreed"},
		rules.TypeModificationRequested: {"issue_id", "objective"},
		rules.TypeModificationRefused:   {"issue_id"},
		rules.TypeModificationDelivered: {"issue_id"},
		rules.TypeModificationRejected:  {"issue_id"},
		rules.TypeCooperationRequested:  {"due", "informed_in_advance"},
		rules.TypeChatMessage:           {"from", "text"},
		rules.TypeRefundRequested:       {"reason"},
		rules.TypeInterventionRequested: {"by"},
		rules.TypeEvidenceSubmitted:     {"party", "kind"},
		rules.TypeSettlementAgreed:      {"refund_amount"},
		rules.TypeNegotiationRequested:  {"by"},
		rules.TypeJudicialFiled:         {"by"},
		rules.TypeAssessmentRecorded:    {"value_ratio_bp"},
		rules.TypeReviewDecided:         {"refund_amount"},
	}
	for _, typ := range rules.Types() {
		for _, f := range required[typ] {
			tests = append(tests, tc{"missing " + string(typ) + " " + f, decWith(typ, f, decDelete), "data." + f})
			tests = append(tests, tc{"null " + string(typ) + " " + f, decWith(typ, f, nil), "data." + f})
		}
		if len(required[typ]) > 0 {
			tests = append(tests, tc{"empty data for " + string(typ), decEnv(string(typ), map[string]any{}), "data." + required[typ][0]})
		}
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decMarshal(t, tt.in)
			e, err := rules.Decode(in)
			if err == nil {
				t.Fatalf("Decode(%.200s) = %+v, want an error on %q", in, e, tt.field)
			}
			if !errors.Is(err, rules.ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			var fe *rules.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FieldError", err, err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (error: %.300v)", fe.Field, tt.field, err)
			}
			if fe.Reason == "" {
				t.Errorf("empty Reason")
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error message is %d bytes: hostile input should not be echoed in full", len(err.Error()))
			}
			if !reflect.DeepEqual(e, rules.Event{}) {
				t.Errorf("Decode returned a partial event %+v with the error", e)
			}
		})
	}
}

// TestDecodeErrorsWrap pins that a FieldError unwraps to ErrInvalidEvent and
// that ErrUnknownOrder does too.
func TestDecodeErrorsWrap(t *testing.T) {
	if !errors.Is(&rules.FieldError{Field: "x", Reason: "y"}, rules.ErrInvalidEvent) {
		t.Error("FieldError does not wrap ErrInvalidEvent")
	}
	if !errors.Is(rules.ErrUnknownOrder, rules.ErrInvalidEvent) {
		t.Error("ErrUnknownOrder does not wrap ErrInvalidEvent")
	}
}

// TestDecodeTimeBeyondRFC3339 pins that a time which, in UTC, falls outside
// the years 1970..8999 is malformed: RFC 3339 and encoding/json cannot write
// years past 9999, so a state or a command carrying such a time (or a
// deadline years after it) could never be saved or published.
func TestDecodeTimeBeyondRFC3339(t *testing.T) {
	tests := []struct {
		name  string
		in    map[string]any
		field string
	}{
		{"event time after 9999 in UTC", decEnvWith("time", "9999-12-31T23:59:59-23:59"), "time"},
		{"event time before year 0 in UTC", decEnvWith("time", "0000-01-01T00:00:00+00:01"), "time"},
		{"delivery_due after 9999 in UTC", decWith(rules.TypeOrderPaid, "delivery_due", "9999-12-31T23:59:59-23:59"), "data.delivery_due"},
		{"modification due after 9999 in UTC", decWith(rules.TypeModificationRequested, "due", "9999-12-31T23:59:59-23:59"), "data.due"},
		{"cooperation due after 9999 in UTC", decWith(rules.TypeCooperationRequested, "due", "9999-12-31T23:59:59-23:59"), "data.due"},
		{"event time before 1970", decEnvWith("time", "1969-12-31T23:59:59Z"), "time"},
		{"delivery_due in year 9000, whose deadline could not be encoded", decWith(rules.TypeOrderPaid, "delivery_due", "9000-01-01T00:00:00Z"), "data.delivery_due"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := rules.Decode(decMarshal(t, tt.in))
			var fe *rules.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, rules.ErrInvalidEvent) || fe.Field != tt.field {
				t.Fatalf("Decode = %+v, %v; want a FieldError on %q", e, err, tt.field)
			}
		})
	}
}
