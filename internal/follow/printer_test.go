package follow

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPrinterPrintsEachCommandOnce(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := &Printer{Out: &out}
	ruling := `{"command_id":"o1/e4/ruling","ruling_id":"o1/e4","order_id":"o1","outcome":"refund_partial","refund_amount":7500,"provider_amount":2500,"amount":10000,"currency":"CNY","articles":["c2.a9"],"reason":"split","decided_at":"2026-03-01T10:00:00Z","rule_set":"2018-03-12","cause":"e4"}`
	transfer := `{"command_id":"o1/e4/transfer/customer","transfer_id":"o1/e4/transfer/customer","ruling_id":"o1/e4","order_id":"o1","to":"customer","party_id":"mer-7","amount":7500,"currency":"CNY"}`
	cases := []struct {
		subject, data string
		want          string // the line printed, "" for none
	}{
		{"disputes.ruling.o1", ruling, "ruling    o1          refund_partial: customer 75.00 CNY, provider 25.00 CNY [c2.a9]: split"},
		{"disputes.ruling.o1", ruling, ""}, // published again: printed once
		{"finance.transfer.o1", transfer, "transfer  o1          75.00 CNY to customer mer-7"},
		{"disputes.other.o1", `{"command_id":"x"}`, ""},
		{"disputes.notice.o1", `not json`, ""},
		{"disputes.notice.o1", `{"order_id":"o1","kind":"suspended"}`, ""}, // no command_id
		{"disputes.ruling.o2", ruling, ""},                                 // the body is o1's, not the subject's
	}
	for i, c := range cases {
		out.Reset()
		body := p.Print(at, c.subject, []byte(c.data))
		got := strings.TrimSpace(strings.TrimPrefix(out.String(), "2026-03-01T10:00:00Z"))
		if got != c.want {
			t.Errorf("case %d (%s): printed %q, want %q", i, c.subject, got, c.want)
		}
		if (body != nil) != (c.want != "") {
			t.Errorf("case %d: returned %v", i, body)
		}
	}
}
