package testevent

import (
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

func TestRawKeepsTheDataAndTheEncodersEnvelope(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		typ  rules.Type
		data string
		want string
	}{
		{rules.TypeOrderPaid, `{"amount":-5}`, `{"specversion":"1.0","id":"e1","source":"s","type":"order.paid","time":"2026-03-01T10:00:00Z","subject":"o1","data":{"amount":-5}}`},
		{rules.TypeOrderAccepted, ``, `{"specversion":"1.0","id":"e1","source":"s","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o1"}`},
		{"order.shipped", `{}`, `{"specversion":"1.0","id":"e1","source":"s","type":"order.shipped","time":"2026-03-01T10:00:00Z","subject":"o1","data":{}}`},
	}
	for _, c := range cases {
		if got := string(Raw("e1", "s", c.typ, at, "o1", c.data)); got != c.want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.typ, c.data, got, c.want)
		}
	}
	// A valid event is what the encoder writes.
	if got, want := string(Raw("e1", "s", rules.TypeRefundRequested, at, "o1", `{"reason":"quality"}`)), string(JSON("e1", "s", rules.TypeRefundRequested, at, "o1", `{"reason":"quality"}`)); got != want {
		t.Errorf("Raw %s, JSON %s", got, want)
	}
}
