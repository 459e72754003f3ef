package rules_test

import (
	"errors"
	"testing"

	"github.com/disputed/disputed/rules"
)

// ReadCommand gives back a command as published: its typed body, and the
// very bytes, which it publishes again; what is not a command of an order
// is ErrBadCommand.
func TestReadCommand(t *testing.T) {
	const ruling = `{"command_id":"o1/e/ruling","ruling_id":"o1/e","order_id":"o1","outcome":"release","refund_amount":0,"provider_amount":100,"amount":100,"currency":"EUR","articles":[],"reason":"r","decided_at":"2026-03-01T10:00:00Z","rule_set":"2018-03-12","cause":"e"}`
	c, err := rules.ReadCommand("o1/e/ruling", "disputes.ruling.o1", []byte(ruling))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.Body.(*rules.Ruling)
	if !ok || r.ProviderAmount != 100 || r.Outcome != rules.Release {
		t.Fatalf("body %#v", c.Body)
	}
	if data, _ := c.Data(); string(data) != ruling {
		t.Errorf("Data() = %s, want the bytes read", data)
	}
	for _, bad := range []struct{ name, subject, data string }{
		{"unknown subject", "disputes.other.o1", `{"order_id":"o1"}`},
		{"no order", "disputes.ruling", `{"order_id":""}`},
		{"an order that is no order ID", "disputes.ruling.o1.x", `{"order_id":"o1.x"}`},
		{"a body of another order", "finance.transfer.o2", `{"order_id":"o1"}`},
		{"a null body", "disputes.notice.o1", `null`},
		{"not JSON", "disputes.rejected.o1", `{`},
		{"a body of another shape", "disputes.ruling.o1", `{"order_id":"o1","refund_amount":"x"}`},
	} {
		if _, err := rules.ReadCommand("id", bad.subject, []byte(bad.data)); !errors.Is(err, rules.ErrBadCommand) {
			t.Errorf("%s: %v, want ErrBadCommand", bad.name, err)
		}
	}
}
